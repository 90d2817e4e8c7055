"""OpenAI's image routes: ``/v1/images/generations`` (OpenAI and Omni-Image bodies) and ``/v1/images/edits``
(multipart uploads, bounded by ``max_upload_bytes``, or the JSON form).

``?async=true`` (Omni-Image's asynchronous tasks) makes a task on the engine and
``GET /v1/images/generations/{task_id}`` reads it; synchronous calls to models served only by image task
vendors wait on an engine task (``api/images_async.py``).
"""

from __future__ import annotations

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.api.images_async import ImageTasks, generations_handler
from omnirouter.api.media import media_handler, media_route
from omnirouter.gateway import Gateway
from omnirouter.http.routes import Auth, FormField, Handler, Route, RouteDoc
from omnirouter.protocols.media.openai_images_in import OPENAI_IMAGE_EDITS_IN, OPENAI_IMAGE_GENERATIONS_IN
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


def _generations(gateway: Gateway) -> Handler:
    return generations_handler(gateway, media_handler(gateway, Capability.IMAGE_GENERATION,
                                                      OPENAI_IMAGE_GENERATIONS_IN))  # fmt: skip


def image_routes(gateway: Gateway) -> list[Route]:
    """``/v1/images/generations`` and ``/v1/images/edits`` (also without ``/v1``)."""
    generations = _generations(gateway)
    fetch = ImageTasks(gateway).fetch
    fetch_doc = RouteDoc(errors=(401, 404), tag="images")
    edits = media_handler(gateway, Capability.IMAGE_EDIT, OPENAI_IMAGE_EDITS_IN, upload=True)
    routes = []
    for prefix in ("/v1", ""):
        routes += [
            media_route(f"{prefix}/images/generations", generations, OPENAI_ERRORS,
                        "OpenAI image generation (also the Omni-Image body)", tag="images"),
            media_route(f"{prefix}/images/edits", edits, OPENAI_ERRORS,
                        "OpenAI image edits (multipart or JSON)", tag="images", body_types=_EDIT_TYPES,
                        form=_EDIT_FORM),
            Route("GET", f"{prefix}/images/generations/{{task_id}}", fetch, OPENAI_ERRORS,
                  "An Omni-Image asynchronous image task (?async=true)", Auth.CLIENT_KEY, auth_in_handler=True,
                  doc=fetch_doc),
        ]  # fmt: skip
    return routes
