"""One route table for every route of the gateway, and the dispatcher that serves it.

A :class:`Route` is a method, a path template, who may call it (:class:`Auth`), the error encoder of
its protocol and the handler.  ``{name}`` in a template matches one path segment and ``{name:path}``
the rest of the path (slashes included); literal text may follow a parameter within a segment, so
Gemini's ``/v1beta/models/{model:path}:generateContent`` is an ordinary template.  Parameters are
matched against the ASGI ``path`` (already percent-decoded) and handed to the handler as
``scope["path_params"]``, as Starlette does.

The dispatcher (``RouteTable.__call__``):

* exact paths are one dict lookup on ``(method, path)`` — the chat routes' hot path (``direct`` maps the
  exact paths with nothing to check to their handlers, so an app can call one right after that lookup);
* templates are tried after that, in registration order (a literal prefix check before each regex);
* a path no route knows is a 404, a known path with another method a 405 — worded and encoded by the
  :class:`Area` the path falls in (``/admin/`` answers misses in its own shape, after the admin key);
* the route's :class:`Auth` is checked once, here, by the guard the app registered for that kind, and
  what the guard returns (the caller's key record) is ``scope["auth"]``; a route whose handler needs
  the key record itself anyway (the chat lifecycle) says ``auth_in_handler`` and is not checked twice;
* a ``GatewayError`` a guard or handler raises is encoded by the route's encoder; an unexpected
  exception is logged and answered as a 500 in the same shape.

WebSocket routes (``kind=RouteKind.WEBSOCKET``) are held apart from HTTP ones; the app serves a
handshake only when :meth:`RouteTable.websocket` finds a route for it, whose handler answers the
handshake itself, auth included (so it is ``Auth.NONE`` or ``auth_in_handler``).

A leaf module: it imports only ``omnirouter.ir`` and ``omnirouter.http``.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from omnirouter.http.asgi import ClientDisconnected, Receive, Scope, Send, error_headers, send_response
from omnirouter.ir import ErrorKind, GatewayError

__all__ = [
    "AUTH",
    "PATH_PARAMS",
    "Area",
    "Auth",
    "Entry",
    "ErrorEncoder",
    "FormField",
    "Guard",
    "Handler",
    "Match",
    "Miss",
    "QueryParam",
    "Route",
    "RouteDoc",
    "RouteKind",
    "RouteTable",
    "openapi_path",
    "path_parameters",
]

log = logging.getLogger("omnirouter")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
Guard = Callable[[Scope], object]
"""Checks a request's credentials for one :class:`Auth` kind: raises ``GatewayError`` or returns the caller
(or an awaitable of it, when the check needs I/O: a console session is looked up in the database)."""
Entry = tuple["Route", Guard | None]
"""An exact path's route and the guard to run first (``None``: nothing to check here)."""

PATH_PARAMS = "path_params"
AUTH = "auth"

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
_CONVERTERS = {"str": "[^/]+", "path": ".+"}


class Auth(enum.StrEnum):
    """Who may call a route (each kind is one security scheme in the OpenAPI documents)."""

    NONE = "none"
    CLIENT_KEY = "client_key"  # any valid client key
    KEY_HOLDER = "key_holder"  # a client key about itself: its expiry and IP allow-list apply too
    ADMIN_KEY = "admin_key"  # the admin key (Authorization: Bearer)
    USER_SESSION = "user_session"  # a user signed in to the console with a name and password (its cookie)


class RouteKind(enum.StrEnum):
    """HTTP requests, or WebSocket handshakes."""

    HTTP = "http"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class ErrorEncoder:
    """How a route's protocol writes a :class:`GatewayError`: ``encode(scope, error) -> (status, body)``.

    ``alternatives`` names the encoders one that picks a protocol per request (by its headers) chooses
    among, so that the OpenAPI document can describe each shape.
    """

    name: str
    encode: Callable[[Scope, GatewayError], tuple[int, bytes]]
    alternatives: tuple[ErrorEncoder, ...] = ()


@dataclass(frozen=True, slots=True)
class QueryParam:
    """A query parameter a route reads (for the OpenAPI document)."""

    name: str
    description: str
    kind: str = "string"  # string | integer | date-time | date
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FormField:
    """A field of a ``multipart/form-data`` request body (for the OpenAPI document): ``kind`` is
    ``string``, ``file`` (one upload) or ``files`` (the field may be repeated, ``image[]``)."""

    name: str
    description: str
    kind: str = "string"  # string | file | files
    required: bool = False


@dataclass(frozen=True, slots=True)
class RouteDoc:
    """What the OpenAPI document says of a route beyond its method, path, summary and auth.

    ``body`` and ``response`` are msgspec types (``None``: any JSON object); ``many`` wraps the response
    as ``{"object": "list", "data": [...]}``, ``array`` makes it a bare JSON array; ``streams``: the
    answer may be a ``text/event-stream``; ``errors``: the error statuses worth listing.
    ``body_types``: the request body's content types (``multipart/form-data`` is described by ``form``,
    JSON by ``body``); ``answers``: the success answer's content types (``application/json`` is
    described by ``response``, any other as a string, binary unless it is ``text/…``).
    """

    body: Any = None
    body_types: tuple[str, ...] = ("application/json",)
    form: tuple[FormField, ...] = ()
    answers: tuple[str, ...] = ("application/json",)
    body_required: bool = True
    response: Any = None
    many: bool = False
    array: bool = False
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = (400, 401, 404)
    streams: bool = False
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: ``method`` and ``path`` (a template), its handler, its error shape and who may call it."""

    method: str
    path: str
    handler: Handler
    errors: ErrorEncoder
    summary: str
    auth: Auth = Auth.NONE
    auth_in_handler: bool = False
    kind: RouteKind = RouteKind.HTTP
    doc: RouteDoc = RouteDoc()


@dataclass(frozen=True, slots=True)
class Area:
    """The paths under ``prefix`` answer a miss (404 / 405) after checking ``auth``, in ``errors``' shape.

    ``not_found(method, path)`` and ``not_allowed(method, path, allowed)`` word the error.
    """

    prefix: str
    errors: ErrorEncoder
    not_found: Callable[[str, str], GatewayError]
    not_allowed: Callable[[str, str, tuple[str, ...]], GatewayError]
    auth: Auth = Auth.NONE


@dataclass(frozen=True, slots=True)
class Match:
    """A route found for a request, with its guard (``None``: nothing to check) and path parameters."""

    route: Route
    guard: Guard | None
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Miss:
    """No route for a request: the area it fell in, and the methods its path allows (empty: 404)."""

    area: Area
    allowed: tuple[str, ...]


async def _checked(guard: Guard, scope: Scope) -> object:
    """What ``guard`` returns for ``scope``, awaited when it is awaitable."""
    caller = guard(scope)
    return await caller if inspect.isawaitable(caller) else caller


def path_parameters(template: str) -> list[str]:
    """The parameter names of a path template, in order."""
    return [name for name, _ in _PARAM.findall(template)]


def openapi_path(template: str) -> str:
    """The template as OpenAPI writes it: ``{name:path}`` becomes ``{name}``."""
    return _PARAM.sub(r"{\1}", template)


def _compile(template: str) -> re.Pattern[str]:
    regex, end = "", 0
    for found in _PARAM.finditer(template):
        converter = found.group(2) or "str"
        if converter not in _CONVERTERS:
            raise ValueError(f"{template}: unknown converter {converter!r} (use {sorted(_CONVERTERS)})")
        regex += re.escape(template[end : found.start()]) + f"(?P<{found.group(1)}>{_CONVERTERS[converter]})"
        end = found.end()
    return re.compile(f"{regex}{re.escape(template[end:])}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Template:
    """A route whose path has parameters (``/admin/keys/{id:int}``), with its guard and compiled pattern."""

    route: Route
    guard: Guard | None
    prefix: str  # the literal text before the first parameter
    pattern: re.Pattern[str]


class _Lookup:
    """The routes of one kind: exact paths in a dict, templates in a list, each path's methods."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], Entry] = {}
        self.templates: list[_Template] = []
        self.methods: dict[str, list[str]] = {}

    def add(self, route: Route, guard: Guard | None) -> None:
        if "{" in route.path:
            if any(t.route.method == route.method and t.route.path == route.path for t in self.templates):
                raise ValueError(f"route registered twice: {route.method} {route.path}")
            prefix = route.path.split("{", 1)[0]
            self.templates.append(_Template(route, guard, prefix, _compile(route.path)))
            return
        if (route.method, route.path) in self.exact:
            raise ValueError(f"route registered twice: {route.method} {route.path}")
        self.exact[(route.method, route.path)] = (route, guard)
        self.methods.setdefault(route.path, []).append(route.method)

    def find(self, method: str, path: str) -> Match | tuple[str, ...]:
        """The route for ``method`` and ``path``, or the methods the path allows."""
        entry = self.exact.get((method, path))
        if entry is not None:
            return Match(entry[0], entry[1], {})
        allowed = list(self.methods.get(path, ()))
        for template in self.templates:
            if not path.startswith(template.prefix):
                continue
            found = template.pattern.fullmatch(path)
            if found is None:
                continue
            if template.route.method == method:
                return Match(template.route, template.guard, found.groupdict())
            allowed.append(template.route.method)
        return tuple(sorted(set(allowed)))


class RouteTable:
    """Every route of one app, resolved and served in one place (see the module docstring).

    ``guards`` checks each :class:`Auth` kind but ``NONE``; ``default`` answers misses outside every
    other area.  Registering a path twice, or a guarded route whose kind has no guard, is an error.
    """

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        default: Area,
        areas: Iterable[Area] = (),
        guards: Mapping[Auth, Guard] | None = None,
    ) -> None:
        self.routes: tuple[Route, ...] = tuple(routes)
        self._guards = dict(guards or {})
        self._http = _Lookup()
        self._websocket = _Lookup()
        for route in self.routes:
            guard = None if route.auth_in_handler else self._guard(route.auth)
            if route.kind is RouteKind.HTTP:
                self._http.add(route, guard)
            elif guard is None:
                self._websocket.add(route, None)
            else:
                raise ValueError(f"{route.path}: a WebSocket route answers its own handshake (auth_in_handler)")
        self.exact = self._http.exact
        """``(method, path) -> (route, guard)`` of the exact HTTP paths."""
        self.direct: dict[tuple[str, str], Handler] = {
            key: route.handler for key, (route, guard) in self.exact.items() if guard is None
        }
        """``(method, path) -> handler`` of the exact HTTP paths with nothing for the table to check: an app's
        hot path may call the handler straight after this one lookup, and hand an exception to :meth:`failed`."""
        self._areas = sorted(areas, key=lambda area: len(area.prefix), reverse=True)
        self._default = default
        for area in (*self._areas, default):
            self._guard(area.auth)

    def _guard(self, auth: Auth) -> Guard | None:
        if auth is Auth.NONE:
            return None
        if auth not in self._guards:
            raise ValueError(f"no guard registered for {auth.value!r} routes")
        return self._guards[auth]

    def resolve(self, method: str, path: str) -> Match | Miss:
        """The HTTP route for ``method`` and ``path``, or why there is none."""
        found = self._http.find(method, path)
        if isinstance(found, Match):
            return found
        return Miss(self.area(path), found)

    def websocket(self, path: str) -> Match | None:
        """The WebSocket route for a handshake on ``path``, if any."""
        found = self._websocket.find("GET", path)
        return found if isinstance(found, Match) else None

    def area(self, path: str) -> Area:
        """The area ``path`` falls in."""
        for area in self._areas:
            if path.startswith(area.prefix):
                return area
        return self._default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        await self.serve(self.exact.get((scope["method"], scope["path"])), scope, receive, send)

    async def serve(self, entry: Entry | None, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request whose exact-path lookup gave ``entry`` (``None``: a template, or a miss)."""
        if entry is None:
            await self._serve_slow(scope, receive, send)
            return
        route, guard = entry
        try:
            if guard is not None:
                scope[AUTH] = await _checked(guard, scope)
            await route.handler(scope, receive, send)
        except Exception as exc:
            await self.failed(route.errors, scope, send, exc)

    async def _serve_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A templated path, or a miss."""
        found = self.resolve(scope["method"], scope["path"])
        errors = found.route.errors if isinstance(found, Match) else found.area.errors
        try:
            if isinstance(found, Miss):
                guard = self._guard(found.area.auth)
                if guard is not None:
                    await _checked(guard, scope)
                await _send_error(errors, scope, send, _miss_error(found, scope))
                return
            if found.guard is not None:
                scope[AUTH] = await _checked(found.guard, scope)
            scope[PATH_PARAMS] = found.params
            await found.route.handler(scope, receive, send)
        except Exception as exc:
            await self.failed(errors, scope, send, exc)

    @staticmethod
    async def failed(errors: ErrorEncoder, scope: Scope, send: Send, exc: Exception) -> None:
        """Answer what a guard or handler raised: a ``GatewayError`` as itself, a bug (logged) as a 500.

        A client that left before its body was read gets nothing.
        """
        if isinstance(exc, ClientDisconnected):
            return
        if not isinstance(exc, GatewayError):
            log.error("unhandled error serving %s %s", scope["method"], scope["path"], exc_info=exc)
            exc = GatewayError(ErrorKind.INTERNAL, "The gateway hit an internal error.")
        await _send_error(errors, scope, send, exc)


def _miss_error(miss: Miss, scope: Scope) -> GatewayError:
    method, path = scope["method"], scope["path"]
    if miss.allowed:
        return miss.area.not_allowed(method, path, miss.allowed)
    return miss.area.not_found(method, path)


async def _send_error(errors: ErrorEncoder, scope: Scope, send: Send, error: GatewayError) -> None:
    status, payload = errors.encode(scope, error)
    with contextlib.suppress(RuntimeError):  # the response may have started already
        await send_response(send, status, payload, error_headers(error.retry_after))
