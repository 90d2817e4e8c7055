"""What every admin resource module shares: the request, the route builder, the error shape, bodies, writes.

A handler takes an ``AdminRequest`` and returns ``(status, payload)``; :func:`admin_route` makes it a
``Route`` of the one route table (``http/routes.py``), which checks the admin key, matches the path and
encodes a raised ``GatewayError`` with :data:`ADMIN_ERRORS` as ``{"error": {message, type, param, code}}``.
The repositories' refusals become 404 / 409 / 400 here.  The same routes give the OpenAPI document
(``api/openapi.py``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.gateway import Gateway, notify_change
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send, read_body, send_response
from omnirouter.http.routes import PATH_PARAMS, Auth, ErrorEncoder, QueryParam, Route, RouteDoc
from omnirouter.ir import ErrorKind, GatewayError, kind_for_status
from omnirouter.storage.ownership import ConfigOwned, config_owned
from omnirouter.storage.repo_common import Conflict, NotFound, RepoError
from omnirouter.storage.settings_repo import bump_config_version

__all__ = [
    "ADMIN_ERRORS",
    "MAX_ID",
    "AdminContext",
    "AdminRequest",
    "Handler",
    "QueryParam",
    "Reply",
    "admin_route",
    "listing",
    "parse_id",
    "refusal",
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

_ADMIN_TYPES: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
}


def _encode_admin_error(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    """``{"error": {message, type, param, code}}``: OpenAI's shape, with ``conflict_error`` for a 409."""
    kind = "conflict_error" if error.status == 409 else _ADMIN_TYPES.get(error.kind, "server_error")
    payload = {"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}}
    return error.status, orjson.dumps(payload)


ADMIN_ERRORS = ErrorEncoder("Admin", _encode_admin_error)
"""The admin API's error shape (its own type names, so a codec's change cannot move it)."""


def refusal(status: int, message: str, code: str, param: str | None = None) -> GatewayError:
    """An admin refusal: its kind follows ``status`` (a 409 is a conflict, a 405 an invalid request)."""
    return GatewayError(kind_for_status(status), message, status=status, code=code, param=param)


def parse_id(value: str) -> int | None:
    """``value`` as a row id: ASCII digits up to :data:`MAX_ID`; ``None`` when it is not one."""
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def _storable(value: object) -> GatewayError | None:
    """Why a decoded body cannot be stored as JSON (an integer beyond 64 bits, too deep), if it cannot."""
    try:
        orjson.dumps(msgspec.to_builtins(value))
    except TypeError as exc:
        problem = "an integer beyond 64 bits" if "Integer" in str(exc) else "values nested too deeply"
        return refusal(400, f"Invalid body: it holds {problem}.", "invalid_value")
    return None


def admin_route(
    method: str,
    path: str,
    summary: str,
    handler: Handler,
    body: Any = None,
    response: Any = None,
    many: bool = False,
    *,
    array: bool = False,
    status: int = 200,
    query: tuple[QueryParam, ...] = (),
    errors: tuple[int, ...] = (400, 401, 404),
    body_required: bool = True,
) -> Route:
    """An admin operation as a ``Route``: admin key, admin error shape; the reply is encoded with msgspec.

    ``response`` is the payload type (for the document); ``many`` wraps it as ``{"object": "list",
    "data": [...]}``, ``array`` makes it a bare JSON array.  A payload that is ``bytes`` goes out as is.
    """

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            code, payload = await handler(AdminRequest(scope, receive, scope.get(PATH_PARAMS) or {}))
        except RepoError as error:
            raise repo_failure(error) from None
        answer = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
        await send_response(send, code, answer, JSON_HEADERS)

    doc = RouteDoc(
        body=body,
        body_required=body_required,
        response=response,
        many=many,
        array=array,
        status=status,
        query=query,
        errors=errors,
        tag=path.split("/")[2].split(".")[0],
    )
    return Route(method, path, serve, ADMIN_ERRORS, summary, Auth.ADMIN_KEY, doc=doc)


def listing(items: list[Any]) -> dict[str, Any]:
    """A list payload: ``{"object": "list", "data": items}``."""
    return {"object": "list", "data": items}


def validation_failure(exc: msgspec.ValidationError | msgspec.DecodeError) -> GatewayError:
    """A 400 that names the field msgspec complained about."""
    if not isinstance(exc, msgspec.ValidationError):
        return refusal(400, f"The body is not valid JSON: {exc}.", "invalid_json")
    reason, _, at = str(exc).partition(" - at `$")
    path = at.rstrip("`").lstrip(".")
    for prefix, wording, code in (
        ("Object contains unknown field", "Unknown field '{}' (no such setting here).", "unknown_field"),
        ("Object missing required field", "Missing required field '{}'.", "missing_field"),
    ):
        if reason.startswith(prefix):
            name = reason.split("`")[1] if "`" in reason else ""
            param = f"{path}.{name}" if path else name
            return refusal(400, wording.format(param), code, param)
    if path:
        return refusal(400, f"Invalid value for '{path}': {reason}.", "invalid_value", path)
    return refusal(400, f"Invalid body: {reason}.", "invalid_body")


def repo_failure(error: RepoError) -> GatewayError:
    """The admin answer to a repository's refusal: 404, 409 or 400."""
    if isinstance(error, NotFound):
        return refusal(404, error.message, error.code, error.param)
    if isinstance(error, Conflict):
        return refusal(409, error.message, error.code, error.param)
    return refusal(400, error.message, error.code, error.param)  # Invalid (a bare RepoError is never raised)


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
            raise refusal(error.status, error.message, "body_too_large") from None
        if not raw.strip():
            raise refusal(400, "A JSON object body is required.", "missing_body")
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
            raise refusal(404, f"No {what} with id {value!r}.", f"{what}_not_found")
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
            raise refusal(400, message, "invalid_value", name)
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
            raise refusal(
                400,
                f"'{name}' must be an ISO 8601 time or date, e.g. 2026-01-31 or 2026-01-31T12:00:00Z; got {value!r}.",
                "invalid_value",
                name,
            )
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        """A query parameter restricted to ``options``."""
        value = self.text(name) or default
        if value not in options:
            raise refusal(
                400,
                f"'{name}' must be one of {', '.join(options)}; got {value!r}.",
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

    async def commit(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, for rows no worker keeps in memory (no reload)."""
        async with self.gateway.db.engine.begin() as conn:
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
