"""The console's ASGI app, mounted at ``/dashboard``: its static files and its session endpoint.

* ``GET /dashboard`` (and ``/dashboard/``): the page (``static/index.html``); ``GET /dashboard/<file>``:
  a shipped file (``static_files.py``), with ETag / ``If-None-Match``; HEAD too;
* ``POST /dashboard/api/session`` ``{"key": "..."}`` or ``{"user": "...", "password": "..."}``: sign in
  (sets the session cookie; answers
  :class:`~omnirouter.dashboard.sessions.SignedIn`; failures are throttled per address, ``throttle.py``);
  ``GET``: the current session; ``DELETE``: sign out (CSRF token required).

Every answer under ``/dashboard`` carries :data:`SECURITY_HEADERS`: a Content-Security-Policy whose
``script-src`` is ``'self'`` only (no inline script, no inline handlers, no ``eval``), ``nosniff``, no
framing, no referrer.  The pages read their data from the admin API and the key holder's routes with
the session cookie; nothing here serves data.
"""

from __future__ import annotations

import logging
import math

import msgspec
import orjson

from omnirouter.accounts.access import client_address
from omnirouter.dashboard.sessions import ConsoleSessions, same_origin
from omnirouter.dashboard.static_files import StaticFiles
from omnirouter.dashboard.throttle import SignInThrottle
from omnirouter.http.asgi import ClientDisconnected, Headers, Receive, Scope, Send, header, read_body, send_response
from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["CSP", "PREFIX", "SECURITY_HEADERS", "ConsoleApp", "is_console_path"]

log = logging.getLogger("omnirouter.dashboard")

PREFIX = "/dashboard"
SESSION_PATH = "/dashboard/api/session"
CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Headers = [
    (b"content-security-policy", CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_NO_STORE: Headers = [(b"cache-control", b"no-store")]
_MAX_BODY = 8 * 1024
_TYPES = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
}


def is_console_path(path: str) -> bool:
    """Whether ``path`` is ``/dashboard`` or under it."""
    return path == PREFIX or path.startswith(PREFIX + "/")


class SignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /dashboard/api/session``: a key, or a user's name and password."""

    key: str | None = None
    user: str | None = None
    password: str | None = None


class ConsoleApp:
    """Serves everything under ``/dashboard``."""

    def __init__(
        self, sessions: ConsoleSessions, files: StaticFiles | None = None, throttle: SignInThrottle | None = None
    ) -> None:
        self.sessions = sessions
        self.files = files or StaticFiles()
        self.throttle = throttle or SignInThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["path"] == SESSION_PATH:
                await self._session(scope, receive, send)
            else:
                await self._static(scope, send)
        except GatewayError as error:
            retry: Headers = []
            if error.retry_after is not None:
                retry.append((b"retry-after", b"%d" % max(1, math.ceil(error.retry_after))))
            await self._json(send, error.status, _error_body(error), retry)
        except ClientDisconnected:
            return
        except Exception:
            log.exception("console error serving %s %s", scope["method"], scope["path"])
            failure = GatewayError(ErrorKind.INTERNAL, "The gateway hit an internal error.")
            await self._json(send, failure.status, _error_body(failure), [])

    async def _static(self, scope: Scope, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, f"Method {method} is not allowed on {scope['path']}.", status=405
            )
        path: str = scope["path"]
        name = "index.html" if path in (PREFIX, PREFIX + "/") else path[len(PREFIX) + 1 :]
        found = self.files.get(name)
        if found is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"No console file at {path}.", code="not_found")
        headers: Headers = [
            *SECURITY_HEADERS,
            (b"content-type", found.content_type),
            (b"etag", found.etag),
            (b"cache-control", b"no-cache"),
        ]
        if _matches(header(scope, b"if-none-match"), found.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b"" if method == "HEAD" else found.body
        headers.append((b"content-length", b"%d" % len(found.body)))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "GET":
            await self._json(send, 200, msgspec.json.encode(await self.sessions.current(scope)), [])
        elif method == "POST":
            same_origin(scope)
            address = client_address(scope) or ""
            self.throttle.check(address)
            body = await _read_sign_in(scope, receive)
            try:
                if body.key is not None:
                    token, signed_in = await self.sessions.sign_in(scope, body.key)
                else:
                    token, signed_in = await self.sessions.sign_in_user(body.user or "", body.password or "")
            except GatewayError as error:
                if error.status == 401:
                    self.throttle.failed(address)
                raise
            cookie = (b"set-cookie", self.sessions.set_cookie(scope, token))
            await self._json(send, 200, msgspec.json.encode(signed_in), [cookie])
        elif method == "DELETE":
            same_origin(scope)
            await self.sessions.sign_out(scope)
            cookie = (b"set-cookie", self.sessions.clear_cookie(scope))
            await self._json(send, 200, b'{"signed_out":true}', [cookie])
        else:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, f"Method {method} is not allowed on {SESSION_PATH}.", status=405
            )

    @staticmethod
    async def _json(send: Send, status: int, body: bytes, extra: Headers) -> None:
        headers = [*SECURITY_HEADERS, *_NO_STORE, (b"content-type", b"application/json"), *extra]
        await send_response(send, status, body, headers)


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")]
    return etag in tags or b"*" in tags


_SEND_AS_JSON = 'Send the key as JSON: {"key": "..."}, or a user\'s {"user": "...", "password": "..."}.'


async def _read_sign_in(scope: Scope, receive: Receive) -> SignIn:
    """The sign-in body: a non-empty ``key`` (stripped), or a ``user`` name (stripped) and a ``password``."""
    content_type = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != b"application/json":
        raise GatewayError(ErrorKind.INVALID_REQUEST, _SEND_AS_JSON, code="invalid_body")
    raw = await read_body(receive, _MAX_BODY, scope)
    try:
        body = msgspec.json.decode(raw, type=SignIn)
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise GatewayError(ErrorKind.INVALID_REQUEST, _SEND_AS_JSON, code="invalid_body") from None
    if body.key is not None and (body.user is not None or body.password is not None):
        raise GatewayError(
            ErrorKind.INVALID_REQUEST, "Send a key or a user and password, not both.", code="invalid_body"
        )
    if body.user is not None or body.password is not None:
        user = (body.user or "").strip()
        if not user or not body.password:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "Enter a user name and a password.", code="missing_password")
        return SignIn(user=user, password=body.password)
    key = (body.key or "").strip()
    if not key:
        raise GatewayError(ErrorKind.INVALID_REQUEST, "Enter a key.", code="missing_key")
    return SignIn(key=key)


def _error_body(error: GatewayError) -> bytes:
    kind = _TYPES.get(error.kind, "server_error")
    return orjson.dumps({"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}})
