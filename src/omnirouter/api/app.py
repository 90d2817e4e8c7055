"""The ASGI application: lifespan, a dict router for the hot routes, and a last-resort error guard."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson

from omnirouter.api.asgi import JSON_HEADERS, Receive, Scope, Send, send_response
from omnirouter.api.chat import handle_chat
from omnirouter.api.gateway import Gateway, prepare_database
from omnirouter.config import GatewayConfig
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.openai_chat import OPENAI_CHAT

log = logging.getLogger("omnirouter")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class GatewayApp:
    """ASGI entry point of one worker."""

    def __init__(self, config: GatewayConfig, *, prepare: bool = False) -> None:
        self.gateway = Gateway(config)
        self._prepare = prepare
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/chat/completions"): self._chat_completions,
            ("POST", "/chat/completions"): self._chat_completions,
            ("GET", "/v1/models"): self._models,
            ("GET", "/health"): self._health,
            ("HEAD", "/health"): self._health,
            ("GET", "/"): self._health,
            ("HEAD", "/"): self._health,
        }
        self._known_paths = {path for _, path in self._routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            handler = self._routes.get((scope["method"], scope["path"]))
            try:
                if handler is None:
                    await self._not_found(scope, send)
                else:
                    await handler(scope, receive, send)
            except Exception:
                log.exception("unhandled error serving %s %s", scope["method"], scope["path"])
                error = GatewayError(ErrorKind.INTERNAL, "The gateway hit an internal error.")
                status, payload = OPENAI_CHAT.encode_error(error)
                with contextlib.suppress(RuntimeError):  # the response may have started already
                    await send_response(send, status, payload, JSON_HEADERS)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._prepare:
                        await prepare_database(self.gateway.config)
                    await self.gateway.start()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        await handle_chat(self.gateway, OPENAI_CHAT, scope, receive, send)

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.gateway.auth.authenticate(scope)
        except GatewayError as error:
            status, payload = OPENAI_CHAT.encode_error(error)
            await send_response(send, status, payload, JSON_HEADERS)
            return
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "omnirouter"}
            for name in self.gateway.catalog.public_models()
        ]
        await send_response(send, 200, orjson.dumps({"object": "list", "data": data}), JSON_HEADERS)

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b"" if scope["method"] == "HEAD" else b'{"status":"ok"}'
        await send_response(send, 200, body, JSON_HEADERS)

    async def _not_found(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        if path in self._known_paths:
            error = GatewayError(
                ErrorKind.INVALID_REQUEST, f"Method {scope['method']} is not allowed on {path}.", status=405
            )
        else:
            error = GatewayError(ErrorKind.NOT_FOUND, f"Unknown endpoint: {scope['method']} {path}")
        status, payload = OPENAI_CHAT.encode_error(error)
        await send_response(send, status, payload, JSON_HEADERS)
