"""What every admin resource module shares: the request, the route description, bodies, writes.

A handler takes an ``AdminRequest`` and returns ``(status, payload)``; the router (``admin_router``)
checks the admin key, matches the path, encodes the payload with msgspec and turns ``AdminError``
and the repositories' errors into ``{"error": {message, type, param, code}}`` answers.  The same
route descriptions give the OpenAPI document (``admin_openapi``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.api.admin import AdminError
from omnirouter.gateway import Gateway, notify_change
from omnirouter.http.asgi import Receive, Scope, read_body
from omnirouter.ir import GatewayError
from omnirouter.storage.ownership import ConfigOwned, config_owned
from omnirouter.storage.repo_common import Conflict, Invalid, NotFound, RepoError
from omnirouter.storage.settings_repo import bump_config_version

__all__ = [
    "MAX_ID",
    "AdminContext",
    "AdminRequest",
    "AdminRoute",
    "Handler",
    "QueryParam",
    "Reply",
    "listing",
    "parse_id",
    "repo_failure",
    "validation_failure",
]

log = logging.getLogger("omnirouter.admin")
T = TypeVar("T")
Reply = tuple[int, Any]
Handler = Callable[["AdminRequest"], Awaitable[Reply]]
MAX_BODY = 256 * 1024
MAX_ID = 2**63 - 1
"""The largest id a database row can have (a signed 64-bit integer)."""


def parse_id(value: str) -> int | None:
    """``value`` as a row id: ASCII digits up to :data:`MAX_ID`; ``None`` when it is not one."""
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def _storable(value: object) -> AdminError | None:
    """Why a decoded body cannot be stored as JSON (an integer beyond 64 bits, too deep), if it cannot."""
    try:
        orjson.dumps(msgspec.to_builtins(value))
    except TypeError as exc:
        problem = "an integer beyond 64 bits" if "Integer" in str(exc) else "values nested too deeply"
        return AdminError(400, f"Invalid body: it holds {problem}.", "invalid_request_error", "invalid_value")
    return None


@dataclass(frozen=True)
class QueryParam:
    """A query parameter a route reads (for the OpenAPI document)."""

    name: str
    description: str
    kind: str = "string"  # string | integer | date-time | date
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AdminRoute:
    """One admin operation: ``path`` may hold ``{name}`` segments (``{name:path}`` takes the rest).

    ``handler`` ``None`` marks a route served elsewhere (``api/admin.py``) and only documented here.
    ``response`` is the payload type; ``many`` wraps it as ``{"object": "list", "data": [...]}``,
    ``array`` makes it a bare JSON array.
    """

    method: str
    path: str
    summary: str
    handler: Handler | None
    body: Any = None
    response: Any = None
    many: bool = False
    array: bool = False
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = field(default=(400, 401, 404))


def listing(items: list[Any]) -> dict[str, Any]:
    """A list payload: ``{"object": "list", "data": items}``."""
    return {"object": "list", "data": items}


def validation_failure(exc: msgspec.ValidationError | msgspec.DecodeError) -> AdminError:
    """A 400 that names the field msgspec complained about."""
    if not isinstance(exc, msgspec.ValidationError):
        return AdminError(400, f"The body is not valid JSON: {exc}.", "invalid_request_error", "invalid_json")
    reason, _, at = str(exc).partition(" - at `$")
    path = at.rstrip("`").lstrip(".")
    for prefix, wording, code in (
        ("Object contains unknown field", "Unknown field '{}' (no such setting here).", "unknown_field"),
        ("Object missing required field", "Missing required field '{}'.", "missing_field"),
    ):
        if reason.startswith(prefix):
            name = reason.split("`")[1] if "`" in reason else ""
            param = f"{path}.{name}" if path else name
            return AdminError(400, wording.format(param), "invalid_request_error", code, param)
    if path:
        return AdminError(400, f"Invalid value for '{path}': {reason}.", "invalid_request_error", "invalid_value", path)
    return AdminError(400, f"Invalid body: {reason}.", "invalid_request_error", "invalid_body")


def repo_failure(error: RepoError) -> AdminError:
    """The admin answer to a repository's refusal: 404, 409 or 400."""
    if isinstance(error, NotFound):
        return AdminError(404, error.message, "not_found_error", error.code, error.param)
    if isinstance(error, Conflict):
        return AdminError(409, error.message, "conflict_error", error.code, error.param)
    kind = "invalid_request_error" if isinstance(error, Invalid) else "api_error"
    return AdminError(400, error.message, kind, error.code, error.param)


class AdminRequest:
    """One admin request: path parameters, query parameters and the body on demand."""

    __slots__ = ("params", "query", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive, params: dict[str, str]) -> None:
        self.scope = scope
        self.receive = receive
        self.params = params
        raw: bytes = scope.get("query_string", b"")
        self.query = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))

    async def body(self, kind: type[T]) -> T:
        """The JSON body decoded as ``kind`` (a Struct that forbids unknown fields)."""
        try:
            raw = await read_body(self.receive, MAX_BODY)
        except GatewayError as error:
            raise AdminError(error.status, error.message, "invalid_request_error", "body_too_large") from None
        if not raw.strip():
            raise AdminError(400, "A JSON object body is required.", "invalid_request_error", "missing_body")
        try:
            decoded = msgspec.json.decode(raw, type=kind)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise validation_failure(exc) from None
        failure = _storable(decoded)
        if failure is not None:
            raise failure
        return decoded

    def int_param(self, name: str, what: str) -> int:
        """A path parameter that must be an integer id (else 404: no such object)."""
        value = self.params[name]
        number = parse_id(value)
        if number is None:
            raise AdminError(404, f"No {what} with id {value!r}.", "not_found_error", f"{what}_not_found")
        return number

    def text(self, name: str) -> str | None:
        """A query parameter (``None`` when absent or empty)."""
        return self.query.get(name) or None

    def integer(self, name: str, *, default: int | None = None, low: int = 0, high: int = 2**31 - 1) -> int | None:
        """An integer query parameter within ``[low, high]``, or a 400 naming it."""
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            message = f"'{name}' must be an integer from {low} to {high}."
            raise AdminError(400, message, "invalid_request_error", "invalid_value", name)
        return number

    def time(self, name: str) -> datetime | None:
        """An ISO 8601 time or date query parameter (UTC when no zone is given), or a 400 naming it."""
        value = self.text(name)
        if value is None:
            return None
        parsed = None
        for candidate in (value, value.replace(" ", "+")):  # a '+' offset arrives as a space unless escaped
            with contextlib.suppress(ValueError):
                parsed = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
                break
        if parsed is None:
            raise AdminError(
                400,
                f"'{name}' must be an ISO 8601 time or date, e.g. 2026-01-31 or 2026-01-31T12:00:00Z; got {value!r}.",
                "invalid_request_error",
                "invalid_value",
                name,
            )
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        """A query parameter restricted to ``options``."""
        value = self.text(name) or default
        if value not in options:
            raise AdminError(
                400,
                f"'{name}' must be one of {', '.join(options)}; got {value!r}.",
                "invalid_request_error",
                "invalid_value",
                name,
            )
        return value


class AdminContext:
    """The gateway as the admin resources see it: reads, and writes that every replica picks up."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.owned: ConfigOwned = config_owned(gateway.config)

    async def read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` on a connection."""
        async with self.gateway.db.engine.connect() as conn:
            return await work(conn)

    async def write(self, kind: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` and bump ``config_version`` in one transaction; then reload this worker and tell the others."""
        async with self.gateway.db.engine.begin() as conn:
            result = await work(conn)
            await bump_config_version(conn)
        await notify_change(self.gateway, kind)
        try:
            await self.gateway.reloader.refresh()
        except Exception:  # committed all the same: the background poll retries
            log.warning("reload after an admin change failed", exc_info=True)
        return result
