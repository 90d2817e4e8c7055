"""The media routes' handlers: each builds a ``relay.MediaOperation`` for its endpoint and hands it to the
one lifecycle.  A family of endpoints (embeddings, rerank, speech, ...) lists its routes with
``media_route``; ``client_routes.py`` gathers them."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from omnirouter.api.errors import GEMINI_ERRORS, OPENAI_ERRORS
from omnirouter.api.lifecycle import serve
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send, header
from omnirouter.http.routes import PATH_PARAMS, Auth, ErrorEncoder, FormField, Handler, Route, RouteDoc
from omnirouter.protocols.media.base import MediaInbound
from omnirouter.protocols.media.gemini_embeddings import GEMINI_BATCH_EMBED_IN, GEMINI_EMBED_IN
from omnirouter.protocols.media.openai_embeddings import OPENAI_EMBEDDINGS_IN
from omnirouter.providers import Capability
from omnirouter.relay.media import MediaOperation

__all__ = ["embedding_routes", "media_handler", "media_route"]

MEDIA_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)


def media_handler(
    gateway: Gateway, capability: Capability, inbound: MediaInbound[Any, Any], *, upload: bool = False
) -> Handler:
    """The handler of one media endpoint: ``upload`` bodies (multipart files) may be ``max_upload_bytes``
    long; a ``{model}`` in the path is the model."""
    client = gateway.client
    limit = gateway.config.max_upload_bytes if upload else None
    keepalive = gateway.config.routing.keepalive_interval

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        params = scope.get(PATH_PARAMS)
        model = unquote(params["model"]) if params and "model" in params else None
        content_type = header(scope, b"content-type")
        operation = MediaOperation(
            capability,
            inbound,
            client,
            content_type=content_type.decode("latin-1") if content_type else "",
            path_model=model,
            body_limit=limit,
            keepalive_interval=keepalive,
        )
        await serve(gateway, operation, scope, receive, send)

    return handle


def media_route(
    path: str,
    handler: Handler,
    errors: ErrorEncoder,
    summary: str,
    *,
    tag: str,
    body: Any = dict[str, Any],
    body_types: tuple[str, ...] = ("application/json",),
    form: tuple[FormField, ...] = (),
    answers: tuple[str, ...] = ("application/json",),
    streams: bool = False,
) -> Route:
    """A ``POST`` media route on the lifecycle (which checks the client key itself); ``body_types``,
    ``form``, ``answers`` and ``streams`` describe its bodies in the OpenAPI document (``RouteDoc``)."""
    doc = RouteDoc(body=body, body_types=body_types, form=form, answers=answers, streams=streams, errors=MEDIA_ERRORS,
                   tag=tag)  # fmt: skip
    return Route("POST", path, handler, errors, summary, Auth.CLIENT_KEY, auth_in_handler=True, doc=doc)


def embedding_routes(gateway: Gateway) -> list[Route]:
    """OpenAI ``/v1/embeddings`` and Gemini's ``:embedContent`` / ``:batchEmbedContents``."""
    routes = [
        media_route("/v1/embeddings", media_handler(gateway, Capability.EMBEDDINGS, OPENAI_EMBEDDINGS_IN),
                    OPENAI_ERRORS, "OpenAI embeddings (float or base64)", tag="embeddings"),
        media_route("/embeddings", media_handler(gateway, Capability.EMBEDDINGS, OPENAI_EMBEDDINGS_IN),
                    OPENAI_ERRORS, "OpenAI embeddings (without /v1)", tag="embeddings"),
    ]  # fmt: skip
    single = media_handler(gateway, Capability.EMBEDDINGS, GEMINI_EMBED_IN)
    batch = media_handler(gateway, Capability.EMBEDDINGS, GEMINI_BATCH_EMBED_IN)
    for version in ("v1beta", "v1"):
        base = f"/{version}/models/{{model:path}}"
        routes += [
            media_route(f"{base}:embedContent", single, GEMINI_ERRORS, f"Gemini embedContent ({version})",
                        tag="embeddings"),
            media_route(f"{base}:batchEmbedContents", batch, GEMINI_ERRORS,
                        f"Gemini batchEmbedContents ({version})", tag="embeddings"),
        ]  # fmt: skip
    return routes
