"""The client routes: chat in each protocol, token counting, model listings and health.

The chat and count-tokens routes authenticate inside their handlers (``auth_in_handler``): the request
lifecycle needs the key record for access, limits and billing, and checking it twice would cost the hot
path.  The model listings are checked by the route table (``Auth.CLIENT_KEY``).  Gemini's
``/v1beta/models/{model}:generateContent`` and friends are ordinary templates (also under ``/v1/``); a
generateContent asking for images or speech may be served as media (``relay/gemini_generate.py``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import msgspec
import orjson

from omnirouter.api import models
from omnirouter.api.chat import chat_operation
from omnirouter.api.count_tokens import handle_count_tokens
from omnirouter.api.errors import (
    ANTHROPIC_ERRORS,
    CLIENT_ERRORS,
    GEMINI_ERRORS,
    OPENAI_ERRORS,
    RESPONSES_ERRORS,
    client_protocol,
)
from omnirouter.api.lifecycle import ConsoleAuth, serve
from omnirouter.api.media import embedding_routes
from omnirouter.api.media_images import image_routes
from omnirouter.api.media_rerank import rerank_routes
from omnirouter.api.media_speech import speech_routes
from omnirouter.api.media_stt import transcription_routes
from omnirouter.api.responses_state import ResponsesConversation
from omnirouter.api.search import search_routes
from omnirouter.api.task_callbacks import callback_routes
from omnirouter.api.tasks import task_routes
from omnirouter.api.tasks_mj import mj_routes
from omnirouter.api.tasks_native import native_task_routes
from omnirouter.api.tasks_suno import suno_routes
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, SSE_HEADERS, Receive, Scope, Send, send_response
from omnirouter.http.routes import PATH_PARAMS, Auth, ErrorEncoder, Handler, QueryParam, Route, RouteDoc, RouteKind
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.anthropic import ANTHROPIC
from omnirouter.protocols.base import Codec
from omnirouter.protocols.gemini import GEMINI, GEMINI_JSON_ARRAY
from omnirouter.protocols.media.gemini_generate_in import GeminiFraming
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES
from omnirouter.relay.gemini_generate import GeminiGenerateOperation

__all__ = ["ClientRoutes"]

_JSON_BODY = dict[str, Any]


def _realtime(gateway: Gateway) -> Handler:
    """``GET /v1/realtime``'s handler: the relay (with the ``websockets`` package, ~3 MB) is imported at a
    worker's first realtime session, not by every worker."""
    endpoint: list[Handler] = []

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if not endpoint:
            from omnirouter.realtime import RealtimeEndpoint

            endpoint.append(RealtimeEndpoint(gateway))
        await endpoint[0](scope, receive, send)

    return handler


_CHAT_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)


class Health(msgspec.Struct):
    """``GET /health``: ``demo`` is true while the gateway serves demo mode's mock channels."""

    status: str
    demo: bool


_HEALTH = {demo: msgspec.json.encode(Health("ok", demo)) for demo in (False, True)}


class ClientRoutes:
    """The client routes of one worker."""

    def __init__(self, gateway: Gateway, console: ConsoleAuth | None = None) -> None:
        self.gateway = gateway
        self.console = console  # the console playground's sessions, on the chat routes only

    def routes(self) -> list[Route]:
        """Every client route (the key holders' own are ``key_self.py``'s)."""
        chat = RouteDoc(body=_JSON_BODY, streams=True, errors=_CHAT_ERRORS, tag="chat")
        count = RouteDoc(body=_JSON_BODY, errors=(400, 401, 413), tag="chat")
        listing = RouteDoc(errors=(401,), tag="models")
        one = RouteDoc(errors=(401, 404), tag="models")
        health = RouteDoc(response=Health, errors=(), tag="health")

        def lifecycle(
            method: str, path: str, handler: Handler, errors: ErrorEncoder, summary: str, doc: RouteDoc = chat
        ) -> Route:
            return Route(method, path, handler, errors, summary, Auth.CLIENT_KEY, auth_in_handler=True, doc=doc)

        def keyed(path: str, handler: Handler, errors: ErrorEncoder, summary: str, doc: RouteDoc) -> Route:
            return Route("GET", path, handler, errors, summary, Auth.CLIENT_KEY, doc=doc)

        routes = [
            *native_task_routes(self.gateway),  # before /v1beta/models/{model:path}, which they refine
            *suno_routes(self.gateway),
            *mj_routes(self.gateway),
            lifecycle("POST", "/v1/chat/completions", self.chat_completions, OPENAI_ERRORS, "OpenAI Chat Completions"),
            lifecycle("POST", "/chat/completions", self.chat_completions, OPENAI_ERRORS,
                      "OpenAI Chat Completions (without /v1)"),
            lifecycle("POST", "/v1/messages", self.messages, ANTHROPIC_ERRORS, "Anthropic Messages"),
            lifecycle("POST", "/v1/messages/count_tokens", self.messages_count_tokens, ANTHROPIC_ERRORS,
                      "Anthropic token counting (estimated locally)", count),
            lifecycle("POST", "/v1/responses", self.responses, RESPONSES_ERRORS, "OpenAI Responses"),
            lifecycle("POST", "/responses", self.responses, RESPONSES_ERRORS, "OpenAI Responses (without /v1)"),
            keyed("/v1/models", self.list_models, CLIENT_ERRORS, "Public models, in the shape of the protocol the "
                  "headers name (anthropic-version: Anthropic; x-goog-api-key: Gemini; else OpenAI)", listing),
            keyed("/v1/models/{model:path}", self.one_model, CLIENT_ERRORS, "One public model, in the shape of "
                  "the protocol the headers name", one),
            keyed("/v1beta/models", self.gemini_models, GEMINI_ERRORS, "Public models (Gemini)", listing),
            keyed("/v1beta/models/{model:path}", self.one_model, GEMINI_ERRORS, "One public model (Gemini)", one),
            *(Route(method, path, self.health, CLIENT_ERRORS, "Liveness: 200 while the worker serves", doc=health)
              for path in ("/health", "/") for method in ("GET", "HEAD")),
        ]  # fmt: skip
        for version in ("v1beta", "v1"):
            base = f"/{version}/models/{{model:path}}"
            routes += [
                lifecycle("POST", f"{base}:generateContent", self.generate_content, GEMINI_ERRORS,
                          f"Gemini generateContent ({version})"),
                lifecycle("POST", f"{base}:streamGenerateContent", self.stream_generate_content, GEMINI_ERRORS,
                          f"Gemini streamGenerateContent ({version}; ?alt=sse for SSE, else a JSON array)"),
                lifecycle("POST", f"{base}:countTokens", self.gemini_count_tokens, GEMINI_ERRORS,
                          f"Gemini countTokens ({version}; estimated locally)", count),
            ]  # fmt: skip
        routes += embedding_routes(self.gateway)
        routes += rerank_routes(self.gateway)
        routes += speech_routes(self.gateway)
        routes += image_routes(self.gateway)
        routes += transcription_routes(self.gateway)
        routes += search_routes(self.gateway)
        routes += task_routes(self.gateway)
        routes += callback_routes(self.gateway)
        realtime = RouteDoc(
            errors=(400, 401, 403, 404, 429, 502, 503),
            tag="realtime",
            query=(QueryParam("model", "The realtime model (routed like any other)"),),
        )
        routes.append(Route("GET", "/v1/realtime", _realtime(self.gateway), OPENAI_ERRORS,
                            "OpenAI Realtime over WebSocket (GA and beta events; docs/realtime.md)", Auth.CLIENT_KEY,
                            auth_in_handler=True, kind=RouteKind.WEBSOCKET, doc=realtime))  # fmt: skip
        return routes

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve(self.gateway, chat_operation(self.gateway, OPENAI_CHAT), scope, receive, send, self.console)

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve(self.gateway, chat_operation(self.gateway, ANTHROPIC), scope, receive, send, self.console)

    async def messages_count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        await handle_count_tokens(self.gateway, ANTHROPIC, scope, receive, send)

    async def responses(self, scope: Scope, receive: Receive, send: Send) -> None:
        conversation = ResponsesConversation(self.gateway.response_states)
        operation = chat_operation(self.gateway, OPENAI_RESPONSES, extension=conversation)
        await serve(self.gateway, operation, scope, receive, send, self.console)

    async def generate_content(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = unquote(scope[PATH_PARAMS]["model"])
        chat = chat_operation(self.gateway, GEMINI, path_model=model, path_stream=False)
        operation = GeminiGenerateOperation(chat, self.gateway.client, GeminiFraming.PLAIN)
        await serve(self.gateway, operation, scope, receive, send, self.console)

    async def stream_generate_content(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = unquote(scope[PATH_PARAMS]["model"])
        query: bytes = scope.get("query_string", b"")
        sse = b"alt=sse" in query
        chat = chat_operation(
            self.gateway,
            GEMINI if sse else GEMINI_JSON_ARRAY,
            path_model=model,
            path_stream=True,
            stream_headers=SSE_HEADERS if sse else JSON_HEADERS,
        )
        framing = GeminiFraming.SSE if sse else GeminiFraming.ARRAY
        operation = GeminiGenerateOperation(chat, self.gateway.client, framing)
        await serve(self.gateway, operation, scope, receive, send, self.console)

    async def gemini_count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        await handle_count_tokens(self.gateway, GEMINI, scope, receive, send)

    async def list_models(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/models`` in the shape of the protocol the headers name."""
        codec = client_protocol(scope)
        names = self.gateway.catalog.public_models()
        if codec is ANTHROPIC:
            listing = models.anthropic_models(names)
        elif codec is GEMINI:
            listing = models.gemini_models(names)
        else:
            listing = models.openai_models(names)
        await send_response(send, 200, orjson.dumps(listing), JSON_HEADERS)

    async def gemini_models(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1beta/models``."""
        listing = models.gemini_models(self.gateway.catalog.public_models())
        await send_response(send, 200, orjson.dumps(listing), JSON_HEADERS)

    async def one_model(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1beta/models/{model}`` (Gemini) and ``GET /v1/models/{model}`` (the headers' protocol)."""
        codec: Codec = GEMINI if scope["path"].startswith("/v1beta/") else client_protocol(scope)
        model = unquote(scope[PATH_PARAMS]["model"]).removeprefix("models/")
        if not self.gateway.catalog.channels_for(model):
            raise GatewayError(ErrorKind.NOT_FOUND, f"The model '{model}' does not exist.", code="model_not_found")
        if codec is ANTHROPIC:
            found = models.anthropic_model(model)
        elif codec is GEMINI:
            found = models.gemini_model(model)
        else:
            found = models.openai_model(model)
        await send_response(send, 200, orjson.dumps(found), JSON_HEADERS)

    async def health(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b"" if scope["method"] == "HEAD" else _HEALTH[self.gateway.demo]
        await send_response(send, 200, body, JSON_HEADERS)
