"""The admin API: channel health and live channel probes, behind a separate admin key.

``GET /admin/channels`` lists every channel with this worker's view of its health;
``POST /admin/channels/test`` (optional body ``{"name": ..., "model": ...}``) probes one channel or
all of them concurrently.  Both answer JSON arrays.  The admin key is ``config.admin_key`` or else
``$OMNIROUTER_ADMIN_KEY``, read once when the worker starts, and is accepted only as
``Authorization: Bearer``.  Without an admin key the admin API answers 404 (disabled); a missing
or wrong key is 401; client keys never grant access.  Errors are ``{"error": {message, type, param, code}}``.

The other admin resources (users, keys, groups, prices, channel CRUD, usage, ledger, OpenAPI) are
``admin_router.py`` and its ``admin_*.py`` modules; they reuse ``AdminAPI.check`` and ``send_admin_error``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable

import msgspec
import orjson

from omnirouter.gateway import Gateway
from omnirouter.http.asgi import (
    JSON_HEADERS,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_response,
)
from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import GatewayError
from omnirouter.routing.probe import channel_health, probe_channels

ADMIN_KEY_ENV = "OMNIROUTER_ADMIN_KEY"
_MAX_BODY = 64 * 1024


def admin_key_from(config_key: str | None) -> str | None:
    """The admin key: the configured one, else ``$OMNIROUTER_ADMIN_KEY``; ``None`` disables the admin API."""
    return config_key or os.environ.get(ADMIN_KEY_ENV) or None


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class AdminError(Exception):
    """An admin request refused: status, message and the OpenAI-style error fields."""

    def __init__(self, status: int, message: str, error_type: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param


class AdminAPI:
    """The admin routes of one worker."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        key = admin_key_from(gateway.config.admin_key)
        self._key_digest = _digest(key.encode()) if key else None

    def routes(self) -> dict[tuple[str, str], Callable[[Scope, Receive, Send], Awaitable[None]]]:
        """The ``(method, path) -> handler`` entries for the app's router."""
        return {("GET", "/admin/channels"): self.list_channels, ("POST", "/admin/channels/test"): self.test_channels}

    def check(self, scope: Scope) -> None:
        """Raise ``AdminError`` unless the request carries the admin key (and the admin API is enabled)."""
        if self._key_digest is None:
            raise AdminError(
                404, "admin API disabled: set admin_key or $OMNIROUTER_ADMIN_KEY", "not_found_error", "admin_disabled"
            )
        auth = header(scope, b"authorization") or b""
        scheme, _, token = auth.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            raise AdminError(
                401,
                "Missing admin key: send 'Authorization: Bearer <admin key>'.",
                "authentication_error",
                "missing_admin_key",
            )
        # Compare digests so that neither the content nor the length of the key leaks through timing.
        if not hmac.compare_digest(_digest(token), self._key_digest):
            raise AdminError(401, "Invalid admin key.", "authentication_error", "invalid_admin_key")
        try:
            self.gateway.auth.authenticate(scope)
        except GatewayError:
            return
        raise AdminError(
            403,
            "The admin key is also a client key; use a separate admin key.",
            "permission_error",
            "admin_key_is_client_key",
        )

    async def list_channels(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /admin/channels``: every channel with its health."""
        try:
            self.check(scope)
        except AdminError as failure:
            await send_admin_error(send, failure)
            return
        listing = [channel_health(channel) for channel in self.gateway.catalog.channels]
        await send_response(send, 200, orjson.dumps(listing), JSON_HEADERS)

    async def test_channels(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /admin/channels/test``: probe the named channel, or all of them concurrently."""
        try:
            self.check(scope)
            name, model = await self._read_selection(receive)
        except AdminError as failure:
            await send_admin_error(send, failure)
            return
        except ClientDisconnected:
            return
        channels = self.gateway.catalog.channels
        if name is not None:
            channels = tuple(c for c in channels if c.name == name)
            if not channels:
                await send_admin_error(
                    send, AdminError(404, f"No channel named {name!r}.", "not_found_error", "channel_not_found", "name")
                )
                return
        results = await probe_channels(self.gateway.client.session, channels, model)
        await send_response(send, 200, msgspec.json.encode(results), JSON_HEADERS)

    async def _read_selection(self, receive: Receive) -> tuple[str | None, str | None]:
        try:
            raw = await read_body(receive, _MAX_BODY)
            body = parse_json_object(raw) if raw.strip() else {}
        except GatewayError as error:
            raise AdminError(error.status, error.message, "invalid_request_error", "invalid_body") from None
        selection: list[str | None] = []
        for field in ("name", "model"):
            value = body.get(field)
            if value is not None and (not isinstance(value, str) or not value):
                raise AdminError(
                    400, f"'{field}' must be a non-empty string.", "invalid_request_error", "invalid_value", field
                )
            selection.append(value)
        name, model = selection
        if model is not None and name is None:
            raise AdminError(
                400,
                "'model' needs 'name': a model is probed on one channel.",
                "invalid_request_error",
                "missing_name",
                "name",
            )
        return name, model


async def send_admin_error(send: Send, failure: AdminError) -> None:
    """Answer with ``failure`` as ``{"error": {message, type, param, code}}``."""
    payload = {
        "error": {"message": failure.message, "type": failure.error_type, "param": failure.param, "code": failure.code}
    }
    await send_response(send, failure.status, orjson.dumps(payload), JSON_HEADERS)
