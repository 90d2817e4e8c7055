"""The ASGI application: lifespan, a dict router for the hot routes, and a last-resort error guard."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

import orjson

from omnirouter.api import models
from omnirouter.api.admin import AdminAPI
from omnirouter.api.admin_router import AdminRouter
from omnirouter.api.chat import handle_chat
from omnirouter.api.count_tokens import handle_count_tokens
from omnirouter.api.gc_tuning import tune_for_serving
from omnirouter.api.key_self import KeySelfAPI
from omnirouter.api.responses_state import ResponsesConversation
from omnirouter.config import GatewayConfig
from omnirouter.gateway import Gateway, prepare_database
from omnirouter.http.asgi import JSON_HEADERS, SSE_HEADERS, Receive, Scope, Send, header, send_response
from omnirouter.http.header_deadline import HEADER_TIMEOUT_STATE
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.anthropic import ANTHROPIC
from omnirouter.protocols.base import Codec
from omnirouter.protocols.gemini import GEMINI, GEMINI_JSON_ARRAY
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES

log = logging.getLogger("omnirouter")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

_GEMINI_PREFIXES = ("/v1beta/models/", "/v1/models/")


def client_protocol(scope: Scope) -> Codec:
    """The protocol a request on a shared path (``/v1/models``) speaks, judged by its headers.

    ``?key=`` alone does not mark a Gemini client here: ``/v1beta/...`` paths are Gemini's own.
    """
    if header(scope, b"anthropic-version") is not None:
        return ANTHROPIC
    if header(scope, b"x-goog-api-key") is not None:
        return GEMINI
    return OPENAI_CHAT


class GatewayApp:
    """ASGI entry point of one worker."""

    def __init__(self, config: GatewayConfig, *, prepare: bool = False, tune_gc: bool = False) -> None:
        self.gateway = Gateway(config)
        self._prepare = prepare
        self._tune_gc = tune_gc  # serving processes only: a test process hosts many apps
        self._admin = AdminRouter(self.gateway)
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/chat/completions"): self._chat_completions,
            ("POST", "/chat/completions"): self._chat_completions,
            ("POST", "/v1/messages"): self._messages,
            ("POST", "/v1/messages/count_tokens"): self._messages_count_tokens,
            ("POST", "/v1/responses"): self._responses,
            ("POST", "/responses"): self._responses,
            ("GET", "/v1/models"): self._models,
            ("GET", "/v1beta/models"): self._gemini_models,
            ("GET", "/health"): self._health,
            ("HEAD", "/health"): self._health,
            ("GET", "/"): self._health,
            ("HEAD", "/"): self._health,
            **AdminAPI(self.gateway).routes(),
            **self._admin.routes(),
            **KeySelfAPI(self.gateway).routes(),
        }
        self._known_paths = {path for _, path in self._routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            handler = self._routes.get((scope["method"], scope["path"]))
            if handler is None and scope["path"].startswith(_GEMINI_PREFIXES):
                handler = self._model_path
            elif handler is None and scope["path"].startswith("/admin/"):
                handler = self._admin.dispatch
            try:
                if handler is None:
                    await self._not_found(scope, send)
                else:
                    await handler(scope, receive, send)
            except Exception:
                log.exception("unhandled error serving %s %s", scope["method"], scope["path"])
                error = GatewayError(ErrorKind.INTERNAL, "The gateway hit an internal error.")
                status, payload = client_protocol(scope).encode_error(error)
                with contextlib.suppress(RuntimeError):  # the response may have started already
                    await send_response(send, status, payload, JSON_HEADERS)
        elif kind == "websocket":
            await self._refuse_websocket(scope, receive, send)
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
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _refuse_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """No WebSocket route exists: refuse the handshake with a 404 in the client's protocol.

        Servers without the ASGI denial-response extension get a plain close, which they answer with 403.
        """
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

    async def _chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        await handle_chat(self.gateway, OPENAI_CHAT, scope, receive, send)

    async def _messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        await handle_chat(self.gateway, ANTHROPIC, scope, receive, send)

    async def _messages_count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        await handle_count_tokens(self.gateway, ANTHROPIC, scope, receive, send)

    async def _responses(self, scope: Scope, receive: Receive, send: Send) -> None:
        conversation = ResponsesConversation(self.gateway.response_states)
        await handle_chat(self.gateway, OPENAI_RESPONSES, scope, receive, send, extension=conversation)

    async def _model_path(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``/v1beta/models/{model}[:method]`` (Gemini) and ``GET /v1/models/{id}`` (any protocol)."""
        path: str = scope["path"]
        rest = path.split("/models/", 1)[1]
        name, _, method = rest.partition(":")
        model = unquote(name)
        if scope["method"] == "GET" and not method:
            await self._one_model(scope, send, model, GEMINI if path.startswith("/v1beta/") else client_protocol(scope))
            return
        if scope["method"] != "POST":
            await self._not_found(scope, send)
        elif method == "generateContent":
            await handle_chat(self.gateway, GEMINI, scope, receive, send, path_model=model, path_stream=False)
        elif method == "streamGenerateContent":
            query: bytes = scope.get("query_string", b"")
            sse = b"alt=sse" in query
            await handle_chat(
                self.gateway,
                GEMINI if sse else GEMINI_JSON_ARRAY,
                scope,
                receive,
                send,
                path_model=model,
                path_stream=True,
                stream_headers=SSE_HEADERS if sse else JSON_HEADERS,
            )
        elif method == "countTokens":
            await handle_count_tokens(self.gateway, GEMINI, scope, receive, send)
        else:
            await self._not_found(scope, send)

    async def _authenticated(self, scope: Scope, send: Send, codec: Codec) -> bool:
        try:
            self.gateway.auth.authenticate(scope)
        except GatewayError as error:
            status, payload = codec.encode_error(error)
            await send_response(send, status, payload, JSON_HEADERS)
            return False
        return True

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        codec = client_protocol(scope)
        if not await self._authenticated(scope, send, codec):
            return
        names = self.gateway.catalog.public_models()
        if codec is ANTHROPIC:
            listing = models.anthropic_models(names)
        elif codec is GEMINI:
            listing = models.gemini_models(names)
        else:
            listing = models.openai_models(names)
        await send_response(send, 200, orjson.dumps(listing), JSON_HEADERS)

    async def _gemini_models(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self._authenticated(scope, send, GEMINI):
            listing = models.gemini_models(self.gateway.catalog.public_models())
            await send_response(send, 200, orjson.dumps(listing), JSON_HEADERS)

    async def _one_model(self, scope: Scope, send: Send, model: str, codec: Codec) -> None:
        if not await self._authenticated(scope, send, codec):
            return
        if model.startswith("models/"):
            model = model[len("models/") :]
        if not self.gateway.catalog.channels_for(model):
            error = GatewayError(ErrorKind.NOT_FOUND, f"The model '{model}' does not exist.", code="model_not_found")
            status, payload = codec.encode_error(error)
            await send_response(send, status, payload, JSON_HEADERS)
            return
        if codec is ANTHROPIC:
            found = models.anthropic_model(model)
        elif codec is GEMINI:
            found = models.gemini_model(model)
        else:
            found = models.openai_model(model)
        await send_response(send, 200, orjson.dumps(found), JSON_HEADERS)

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
        status, payload = client_protocol(scope).encode_error(error)
        await send_response(send, status, payload, JSON_HEADERS)
