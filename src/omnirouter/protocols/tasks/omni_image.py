"""Clients of Omni-Image's asynchronous image tasks: ``POST /v1/images/generations?async=true`` with the
Omni-Image body (``model, prompt, resolution, aspect_ratio, images[], quality, n, input_region``) or
OpenAI's (``size``, ``response_format``, ``output_format``, ...), and ``GET /v1/images/generations/{id}``.

The body is decoded exactly as the synchronous route decodes it (``protocols/media/openai_images_in.py``);
the ``ImageRequest`` travels with the task (``TaskRequest.extra["image"]``) so the vendor gets what the
synchronous call would have sent (for codecs that merge ``extra`` into their bodies, as Kling's, it is
replaced by the client's other fields: ``vendor_native``); ``response_format`` is kept as
``TaskRequest.answer_format``.  ``input_region`` must be ``Mainland``, ``Oversea`` or ``OverseaUSWest``.

The task object: ``{id, task_id, object: "image.generation.task", model, status, progress, created_at,
completed_at, error, data}`` with ``status`` ``queued`` (pending, queued), ``in_progress`` (running),
``completed`` or ``failed`` (failed, cancelled); once completed ``data`` is ``[{url}]``, the gateway's
signed URLs of the stored images (the route puts ``b64_json`` there instead when the client asked
``response_format: b64_json``); ``error`` is ``{code, message}`` once failed, else null.  Errors are
OpenAI's ``{"error": {...}}``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import orjson

from omnirouter.ir import Budget, GatewayError
from omnirouter.ir.media import ImageRequest
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.media.images import invalid
from omnirouter.protocols.media.openai_images_in import OPENAI_IMAGE_GENERATIONS_IN
from omnirouter.protocols.openai_chat.errors import encode_error
from omnirouter.protocols.tasks.base import TaskView

__all__ = [
    "INPUT_REGIONS",
    "OMNI_IMAGE",
    "OMNI_STATUS",
    "OmniImageDialect",
    "image_request",
    "task_object",
    "task_request",
    "vendor_native",
]

JSON: Final = b"application/json"
INPUT_REGIONS: Final = ("Mainland", "Oversea", "OverseaUSWest")
"""The regions ``input_region`` may name (where the reference image URLs are hosted)."""
OMNI_STATUS: Final = {
    TaskStatus.PENDING: "queued",
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "in_progress",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "failed",
}


def image_request(task: TaskRequest) -> ImageRequest:
    """The image request a task carries (as the synchronous route decoded it); for a task made by another
    dialect, one built from the task's own fields."""
    carried = task.extra.get("image")
    if isinstance(carried, dict):
        return msgspec.convert(carried, ImageRequest)
    return ImageRequest(
        model=task.model,
        prompt=task.prompt or "",
        n=task.n,
        size=task.size,
        resolution=task.resolution,
        aspect_ratio=task.aspect_ratio,
        images=list(task.images),
    )


def task_request(image: ImageRequest) -> TaskRequest:
    """An image request as an image task (the request itself kept in ``extra["image"]``)."""
    if image.input_region is not None and image.input_region not in INPUT_REGIONS:
        raise invalid(f"'input_region' must be one of: {', '.join(INPUT_REGIONS)}.", "input_region")
    return TaskRequest(kind=TaskKind.IMAGE, model=image.model, prompt=image.prompt, images=list(image.images),
                       size=image.size, resolution=image.resolution, aspect_ratio=image.aspect_ratio, n=image.n,
                       extra={"image": msgspec.to_builtins(image)},
                       answer_format=image.response_format)  # fmt: skip


def vendor_native(request: TaskRequest) -> TaskRequest:
    """``request`` for a task codec that reads ``TaskRequest`` fields and merges ``extra`` into its body
    (Kling's, Hunyuan's): ``extra`` the client's other JSON fields only (as the synchronous route passes
    them on), the carried image request left out."""
    carried = request.extra.get("image")
    native = carried.get("extra") if isinstance(carried, dict) else None
    return msgspec.structs.replace(request, extra=dict(native) if isinstance(native, dict) else {})


def task_object(view: TaskView, b64: list[str] | None = None) -> dict[str, Any]:
    """The task as clients see it; ``b64``: the images' base64 in place of their URLs."""
    status = OMNI_STATUS[view.status]
    task: dict[str, Any] = {
        "id": view.id,
        "task_id": view.id,
        "object": "image.generation.task",
        "model": view.model,
        "status": status,
        "progress": 100 if status == "completed" else view.progress or 0,
        "created_at": view.created_at,
        "completed_at": view.completed_at,
        "error": None,
    }
    if status == "failed":
        task["error"] = {"code": view.error_code or "task_failed", "message": view.error_message or "The task failed."}
    if status == "completed":
        images = [output for output in view.outputs if output.kind == "image"]
        if b64 is not None:
            task["data"] = [{"b64_json": data} for data in b64]
        else:
            task["data"] = [{"url": output.url} for output in images]
    return task


class OmniImageDialect:
    """Omni-Image's ``/v1/images/generations?async=true`` and ``/v1/images/generations/{task_id}``."""

    protocol = "openai"
    name = "omni_image"

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        return task_request(OPENAI_IMAGE_GENERATIONS_IN.decode(body, content_type, model))

    def budget(self, request: TaskRequest) -> Budget:
        """As the synchronous call would reserve: ``n`` images (four without it) and their tokens."""
        image = image_request(request)
        return OPENAI_IMAGE_GENERATIONS_IN.budget(image, len(image.prompt.encode()))

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps(task_object(view)), JSON

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return self.encode_task(view)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


OMNI_IMAGE = OmniImageDialect()
