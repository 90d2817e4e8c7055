"""Rerank routes (``/v1/rerank`` and ``/rerank`` in the Cohere v1 / Jina shape, Cohere's ``/v2/rerank``)
and OpenAI's ``/v1/moderations``."""

from __future__ import annotations

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.api.media import media_handler, media_route
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Scope
from omnirouter.http.routes import ErrorEncoder, Route
from omnirouter.ir import GatewayError
from omnirouter.protocols.media.openai_moderations import OPENAI_MODERATIONS_IN
from omnirouter.protocols.media.rerank import COHERE_V2_RERANK_IN, RERANK_IN, encode_rerank_error
from omnirouter.providers import Capability

__all__ = ["RERANK_ERRORS", "rerank_routes"]


def _encode(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    return encode_rerank_error(error)


RERANK_ERRORS = ErrorEncoder("Rerank", _encode)
"""OpenAI's error object plus a top-level ``message`` (what Cohere's and Jina's clients print)."""


def rerank_routes(gateway: Gateway) -> list[Route]:
    """``/v1/rerank``, ``/rerank``, ``/v2/rerank`` and ``/v1/moderations`` (``/moderations``)."""
    v1 = media_handler(gateway, Capability.RERANK, RERANK_IN)
    moderations = media_handler(gateway, Capability.MODERATION, OPENAI_MODERATIONS_IN)
    return [
        media_route("/v1/rerank", v1, RERANK_ERRORS, "Rerank (Cohere v1 / Jina shape)", tag="rerank"),
        media_route("/rerank", v1, RERANK_ERRORS, "Rerank (without /v1)", tag="rerank"),
        media_route("/v2/rerank", media_handler(gateway, Capability.RERANK, COHERE_V2_RERANK_IN), RERANK_ERRORS,
                    "Rerank (Cohere v2: strings only, no documents back)", tag="rerank"),
        media_route("/v1/moderations", moderations, OPENAI_ERRORS, "OpenAI moderations", tag="moderations"),
        media_route("/moderations", moderations, OPENAI_ERRORS, "OpenAI moderations (without /v1)",
                    tag="moderations"),
    ]  # fmt: skip
