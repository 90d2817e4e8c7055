"""The admin key, and the admin API's channel health and live channel probes.

``GET /admin/channels`` lists every channel with this worker's view of its health;
``POST /admin/channels/test`` (optional body ``{"name": ..., "model": ...}``) probes one channel or
all of them concurrently.  Both answer JSON arrays.  The admin key is ``config.admin_key`` or else
``$OMNIROUTER_ADMIN_KEY``, read once when the worker starts, and is accepted only as
``Authorization: Bearer``.  Without an admin key the admin API answers 404 (disabled); a missing
or wrong key is 401; client keys never grant access.  Errors are ``{"error": {message, type, param, code}}``
(``admin_common.ADMIN_ERRORS``).

``AdminAPI.check`` is the route table's guard for every admin route (``admin_router.py`` gathers them).
"""

from __future__ import annotations

import hashlib
import hmac
import os

import msgspec
import orjson

from omnirouter.api.admin_common import AdminRequest, Reply, admin_route, refusal
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Scope, header, read_body
from omnirouter.http.json_body import parse_json_object
from omnirouter.http.routes import Route
from omnirouter.ir import GatewayError
from omnirouter.routing.probe import ProbeResult, channel_health, probe_channels

__all__ = ["ADMIN_KEY_ENV", "AdminAPI", "admin_key_from"]

ADMIN_KEY_ENV = "OMNIROUTER_ADMIN_KEY"
_MAX_BODY = 64 * 1024


def admin_key_from(config_key: str | None) -> str | None:
    """The admin key: the configured one, else ``$OMNIROUTER_ADMIN_KEY``; ``None`` disables the admin API."""
    return config_key or os.environ.get(ADMIN_KEY_ENV) or None


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class ChannelHealth(msgspec.Struct, kw_only=True):
    """``GET /admin/channels``: this worker's view of a routed channel (documentation shape)."""

    name: str
    provider: str
    breaker: str
    in_flight: int
    max_concurrency: int | None
    usable_keys: int
    total_keys: int
    models: list[str]
    priority: int
    weight: int


class ProbeSelection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/channels/test``: optional; no body probes every channel."""

    name: str | None = None
    model: str | None = None


class AdminAPI:
    """The admin key check and the channel health routes of one worker."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        key = admin_key_from(gateway.config.admin_key)
        self._key_digest = _digest(key.encode()) if key else None

    def routes(self) -> list[Route]:
        """``GET /admin/channels`` and ``POST /admin/channels/test``."""
        return [
            admin_route("GET", "/admin/channels", "Every routed channel with this worker's view of its health "
                        "(a JSON array)", self.list_channels, None, ChannelHealth, array=True, errors=(401, 404)),
            admin_route("POST", "/admin/channels/test", "Probe all channels, or one ({\"name\", \"model\"}) "
                        "(a JSON array)", self.test_channels, ProbeSelection, ProbeResult, array=True,
                        body_required=False),
        ]  # fmt: skip

    def check(self, scope: Scope) -> None:
        """Raise ``GatewayError`` unless the request carries the admin key (and the admin API is enabled)."""
        if self._key_digest is None:
            raise refusal(404, "admin API disabled: set admin_key or $OMNIROUTER_ADMIN_KEY", "admin_disabled")
        auth = header(scope, b"authorization") or b""
        scheme, _, token = auth.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            raise refusal(401, "Missing admin key: send 'Authorization: Bearer <admin key>'.", "missing_admin_key")
        # Compare digests so that neither the content nor the length of the key leaks through timing.
        if not hmac.compare_digest(_digest(token), self._key_digest):
            raise refusal(401, "Invalid admin key.", "invalid_admin_key")
        try:
            self.gateway.auth.authenticate(scope)
        except GatewayError:
            return
        raise refusal(403, "The admin key is also a client key; use a separate admin key.", "admin_key_is_client_key")

    async def list_channels(self, req: AdminRequest) -> Reply:
        """``GET /admin/channels``: every channel with its health."""
        return 200, orjson.dumps([channel_health(channel) for channel in self.gateway.catalog.channels])

    async def test_channels(self, req: AdminRequest) -> Reply:
        """``POST /admin/channels/test``: probe the named channel, or all of them concurrently."""
        name, model = await self._read_selection(req)
        channels = self.gateway.catalog.channels
        if name is not None:
            channels = tuple(c for c in channels if c.name == name)
            if not channels:
                raise refusal(404, f"No channel named {name!r}.", "channel_not_found", "name")
        return 200, msgspec.json.encode(await probe_channels(self.gateway.client.session, channels, model))

    async def _read_selection(self, req: AdminRequest) -> tuple[str | None, str | None]:
        try:
            raw = await read_body(req.receive, _MAX_BODY)
            body = parse_json_object(raw) if raw.strip() else {}
        except GatewayError as error:
            raise refusal(error.status, error.message, "invalid_body") from None
        selection: list[str | None] = []
        for field in ("name", "model"):
            value = body.get(field)
            if value is not None and (not isinstance(value, str) or not value):
                raise refusal(400, f"'{field}' must be a non-empty string.", "invalid_value", field)
            selection.append(value)
        name, model = selection
        if model is not None and name is None:
            raise refusal(400, "'model' needs 'name': a model is probed on one channel.", "missing_name", "name")
        return name, model
