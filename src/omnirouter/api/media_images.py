"""OpenAI's image routes: ``/v1/images/generations`` (OpenAI and Omni-Image bodies) and ``/v1/images/edits``
(multipart uploads, bounded by ``max_upload_bytes``, or the JSON form).

``?async=true`` (Omni-Image's asynchronous tasks) is answered 400 until the task engine serves it.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.api.media import media_handler, media_route
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send
from omnirouter.http.routes import FormField, Handler, Route
from omnirouter.ir.media import ImageRequest
from omnirouter.protocols.media.images import invalid
from omnirouter.protocols.media.openai_images_in import (
    OPENAI_IMAGE_EDITS_IN,
    OPENAI_IMAGE_GENERATIONS_IN,
    OpenAIImagesInbound,
)
from omnirouter.providers import Capability

__all__ = ["image_routes"]

_EDIT_TYPES = ("multipart/form-data", "application/json")
_EDIT_FORM = (
    FormField("image", "the image(s) to edit: one 'image', or repeated 'image[]' / 'image[0]'… (PNG, JPEG, WebP, GIF)",
              "files", required=True),
    FormField("mask", "one mask file", "file"),
    FormField("model", "the public model", required=True),
    FormField("prompt", "what to change", required=True),
    *(FormField(name, "as in the JSON body") for name in ("n", "size", "quality", "response_format", "output_format",
                                                          "output_compression", "background", "moderation",
                                                          "input_fidelity", "user")),
)  # fmt: skip


class _AsyncRefused(OpenAIImagesInbound):
    """A generations client asking ``?async=true``: a 400 naming ``async`` (after the key is checked)."""

    def decode(self, body: bytes, content_type: str, model: str | None) -> ImageRequest:
        raise invalid(
            "Asynchronous image tasks ('async=true') are not available on this gateway yet; "
            "call /v1/images/generations without it.",
            "async",
        )


def _generations(gateway: Gateway) -> Handler:
    sync = media_handler(gateway, Capability.IMAGE_GENERATION, OPENAI_IMAGE_GENERATIONS_IN)
    refused = media_handler(gateway, Capability.IMAGE_GENERATION, _AsyncRefused(edit=False))

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        wants_async = any(value.lower() in ("true", "1") for value in query.get("async", []))
        await (refused if wants_async else sync)(scope, receive, send)

    return handle


def image_routes(gateway: Gateway) -> list[Route]:
    """``/v1/images/generations`` and ``/v1/images/edits`` (also without ``/v1``)."""
    generations = _generations(gateway)
    edits = media_handler(gateway, Capability.IMAGE_EDIT, OPENAI_IMAGE_EDITS_IN, upload=True)
    routes = []
    for prefix in ("/v1", ""):
        routes += [
            media_route(f"{prefix}/images/generations", generations, OPENAI_ERRORS,
                        "OpenAI image generation (also the Omni-Image body)", tag="images"),
            media_route(f"{prefix}/images/edits", edits, OPENAI_ERRORS,
                        "OpenAI image edits (multipart or JSON)", tag="images", body_types=_EDIT_TYPES,
                        form=_EDIT_FORM),
        ]  # fmt: skip
    return routes
