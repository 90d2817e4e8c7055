"""The ASGI application: lifespan, the one route table, and the WebSocket refusal.

Every route (client, key holder, admin, the OpenAPI documents) is a ``Route`` of one ``RouteTable``
(``http/routes.py``), which resolves a request (exact paths: one dict lookup), checks its auth kind with
the guards registered here, and answers misses and errors in the route's protocol.  ``GET /openapi.json``
describes every route but the admin ones, without a key; the admin routes are described behind the
admin key at ``GET /admin/openapi.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import msgspec

from omnirouter.api.admin import admin_key_from
from omnirouter.api.admin_router import ADMIN_AREA, AdminRoutes
from omnirouter.api.client_routes import ClientRoutes
from omnirouter.api.errors import CLIENT_ERRORS, client_protocol
from omnirouter.api.gc_tuning import tune_for_serving
from omnirouter.api.key_self import KeySelfAPI
from omnirouter.api.metrics import MetricsEndpoint
from omnirouter.api.openapi import openapi_document
from omnirouter.api.user_self import UserSelfAPI
from omnirouter.config import GatewayConfig
from omnirouter.dashboard import ConsoleApp, ConsoleSessions, is_console_path
from omnirouter.gateway import Gateway, prepare_database
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send, send_response
from omnirouter.http.header_deadline import HEADER_TIMEOUT_STATE
from omnirouter.http.routes import PATH_PARAMS, Area, Auth, Route, RouteDoc, RouteTable
from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["PUBLIC_AREA", "Companion", "GatewayApp", "client_protocol"]

log = logging.getLogger("omnirouter")

_DESCRIPTION = (
    "The client routes of omnirouter: OpenAI Chat Completions and Responses, Anthropic Messages and Gemini "
    "generateContent, each in its vendor's own wire format (see the vendors' API references for the bodies), "
    "token counting, model listings, the key holder's own routes and health. A client key goes in any one "
    "of the listed ways. Errors are in the route's protocol. The admin API is described at "
    "/admin/openapi.json (admin key required)."
)


def _not_found(method: str, path: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"Unknown endpoint: {method} {path}")


def _not_allowed(method: str, path: str, allowed: tuple[str, ...]) -> GatewayError:
    return GatewayError(ErrorKind.INVALID_REQUEST, f"Method {method} is not allowed on {path}.", status=405)


PUBLIC_AREA = Area("", CLIENT_ERRORS, _not_found, _not_allowed)
"""Misses outside ``/admin/``: no key needed to learn a path is unknown; the headers' protocol answers."""


class Companion(Protocol):
    """A service that lives beside a worker's gateway, on its event loop (demo mode's mock upstream)."""

    async def start(self) -> object: ...

    async def close(self) -> None: ...


class GatewayApp:
    """ASGI entry point of one worker.  ``demo``: the config's channels are demo mode's (``cli_demo.py``);
    ``companions`` start before the gateway and close after it."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        prepare: bool = False,
        tune_gc: bool = False,
        demo: bool = False,
        companions: Sequence[Companion] = (),
    ) -> None:
        self.gateway = Gateway(config, demo=demo)
        self._companions = tuple(companions)
        self._prepare = prepare
        self._tune_gc = tune_gc  # serving processes only: a test process hosts many apps
        key_self = KeySelfAPI(self.gateway)
        admin = AdminRoutes.build(self.gateway)
        sessions = ConsoleSessions(self.gateway, admin_key_from(config.admin_key))
        self.console = ConsoleApp(sessions)
        self._document: bytes | None = None
        docs = Route("GET", "/openapi.json", self._openapi, CLIENT_ERRORS, "This document (OpenAPI 3.1): every "
                     "route but the admin API's", doc=RouteDoc(errors=(), tag="docs"))  # fmt: skip
        metrics = MetricsEndpoint(self.gateway).route()
        self.routes = RouteTable(
            [
                *ClientRoutes(self.gateway, sessions.playground_key).routes(),
                *key_self.routes(),
                *UserSelfAPI(self.gateway).routes(),
                docs,
                metrics,
                *admin.routes,
            ],
            default=PUBLIC_AREA,
            areas=[ADMIN_AREA],
            guards={
                Auth.CLIENT_KEY: self._client_key,
                Auth.KEY_HOLDER: sessions.key_holder_guard(key_self.guard),
                Auth.ADMIN_KEY: sessions.admin_guard(admin.guard),
                Auth.USER_SESSION: sessions.user_guard(),
            },
        )
        self._direct = self.routes.direct

    def _client_key(self, scope: Scope) -> object:
        return self.gateway.auth.authenticate(scope)

    def public_document(self) -> dict[str, object]:
        """The OpenAPI 3.1 document of ``GET /openapi.json``: every route but the admin ones."""
        routes = [route for route in self.routes.routes if route.auth is not Auth.ADMIN_KEY]
        info = {"title": "omnirouter API", "version": "1", "description": _DESCRIPTION}
        return openapi_document(routes, info)

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._document is None:
            self._document = msgspec.json.encode(self.public_document())
        await send_response(send, 200, self._document, JSON_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            handler = self._direct.get((scope["method"], scope["path"]))  # the hot path: one dict lookup
            if handler is None:  # a key for the table to check, a template, the console, or a miss
                if is_console_path(scope["path"]):
                    await self.console(scope, receive, send)
                else:
                    await self.routes(scope, receive, send)
                return
            try:  # the chat routes, health: straight to the handler (they check their own key, if any)
                await handler(scope, receive, send)
            except Exception as exc:
                route, _ = self.routes.exact[(scope["method"], scope["path"])]
                await self.routes.failed(route.errors, scope, send, exc)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state")
        if state is not None:  # read by each connection's protocol (http/header_deadline.py)
            state[HEADER_TIMEOUT_STATE] = self.gateway.config.header_timeout
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for companion in self._companions:
                        await companion.start()
                    if self._prepare:
                        await prepare_database(self.gateway.config)
                    await self.gateway.start()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                if self._tune_gc:
                    tune_for_serving()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.stop()
                for companion in reversed(self._companions):
                    await companion.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A handshake: served by its WebSocket route (which answers the handshake, auth included), else
        refused with a 404 in the client's protocol.

        Servers without the ASGI denial-response extension get a plain close, which they answer with 403.
        """
        found = self.routes.websocket(scope["path"])
        if found is not None:  # GET /v1/realtime (realtime/session.py)
            scope[PATH_PARAMS] = found.params
            await found.route.handler(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        error = GatewayError(
            ErrorKind.NOT_FOUND, f"WebSocket connections are not supported on {scope['path']}; use HTTP requests."
        )
        status, payload = client_protocol(scope).encode_error(error)
        headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(payload))]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": payload})
