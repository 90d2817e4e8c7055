"""Clients of new-api's unified video API: ``POST /v1/video/generations`` and
``GET /v1/video/generations/{task_id}`` (new-api's shapes; docs/tasks.md), with OmniRouters' Omni-Create
(Omni-Video) bodies on the same route.

Create, JSON or multipart: ``model`` and ``prompt`` required; ``image`` (one) or ``images`` (URLs,
``data:`` URLs or bare base64; ``images`` wins when both are sent, as in new-api; at most ``MAX_IMAGES``);
``input_reference`` (a URL, OpenAI style) when neither is sent; ``duration`` (int or numeric string) or
``seconds`` (string), equal when both; ``size``, ``resolution``, ``aspect_ratio``, ``mode``,
``negative_prompt``, ``seed``, ``callback_url``, ``generate_audio`` / ``audio``; ``metadata`` (an object or
a JSON string: vendor-native fields, without ``model``, which cannot re-route billing).  Omni-Create
template fields (``input_region``, ``scene_type``, ``enhance_prompt``, Kling's ``multi_shot`` …) and any
other top-level field go to ``extra`` with the metadata (metadata wins on a clash).  In a multipart body,
images are file parts (``image``, ``images[]``, ``input_reference``) or text fields, and other fields go
to ``extra`` with integers and decimals read as numbers, as new-api does.

Answers: the create answers new-api's OpenAI-style video object, ``task_id`` equal to ``id``; the fetch
answers new-api's envelope ``{code: "success", message: "", data: TaskDto}`` — the shape new-api gives for
every non-Gemini channel — with only the client's own fields of TaskDto: ``task_id``, ``status``
(pending → ``NOT_START``, queued → ``QUEUED``, running → ``IN_PROGRESS``, succeeded → ``SUCCESS``,
failed and cancelled → ``FAILURE``), ``progress`` ("30%"), ``fail_reason``, ``result_url`` (a gateway URL),
``submit_time``, ``start_time``, ``finish_time``, ``created_at``, ``updated_at``, plus ``model``.
new-api's private fields (``id``, ``channel_id``, ``user_id``, ``group``, ``quota``, ``platform``,
``properties``, the raw vendor ``data``) are never written.  The simple ``{task_id, status: succeeded,
url, format}`` shape of new-api's Gemini path and mixroute is not answered: one status vocabulary per route.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.http.multipart import Form, parse_form
from omnirouter.ir import Budget, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.limits import SEED, bounded_int
from omnirouter.protocols.media.sniff import sniff_image_mime
from omnirouter.protocols.openai_chat.errors import encode_error
from omnirouter.protocols.tasks.base import TaskView
from omnirouter.protocols.tasks.fields import (
    image_string,
    invalid,
    opt_text,
    seconds_field,
    size_field,
    task_budget,
)
from omnirouter.protocols.tasks.openai_videos import is_multipart, video_object

__all__ = ["NEW_API_STATUS", "UNIFIED_VIDEO", "UnifiedVideoDialect"]

JSON: Final = b"application/json"
MAX_IMAGES: Final = 9
"""The most reference images a unified create may carry (Seedance 2.0's omni reference takes 9)."""
NEW_API_STATUS: Final = {
    TaskStatus.PENDING: "NOT_START",
    TaskStatus.QUEUED: "QUEUED",
    TaskStatus.RUNNING: "IN_PROGRESS",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILURE",
    TaskStatus.CANCELLED: "FAILURE",
}
_TYPED = frozenset({
    "model", "prompt", "negative_prompt", "image", "images", "input_reference", "duration", "seconds", "size",
    "resolution", "aspect_ratio", "mode", "seed", "callback_url", "generate_audio", "audio", "metadata",
})  # fmt: skip
_IMAGE_FILES = ("image", "images", "input_reference")


def _required(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"'{name}' is required and must be a non-empty string.", name)
    return value


def _metadata(value: Any) -> dict[str, Any]:
    """``metadata`` as an object (a JSON string of one is accepted), without ``model``."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = orjson.loads(value) if value.strip() else {}
        except orjson.JSONDecodeError:
            raise invalid("'metadata' must be an object (or a JSON string of one).", "metadata") from None
    if not isinstance(value, dict):
        raise invalid("'metadata' must be an object (or a JSON string of one).", "metadata")
    return {key: item for key, item in value.items() if key != "model"}


def _seconds(duration: Any, seconds: Any) -> float | None:
    from_duration = seconds_field(duration, "duration")
    from_seconds = seconds_field(seconds, "seconds")
    if from_duration is not None and from_seconds is not None and from_duration != from_seconds:
        raise invalid("'seconds' and 'duration' disagree; send one of them.", "seconds")
    return from_seconds if from_seconds is not None else from_duration


def _audio(parsed: dict[str, Any]) -> bool | None:
    for key in ("generate_audio", "audio"):
        value = parsed.get(key)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if value is not None and not isinstance(value, bool):
            raise invalid(f"'{key}' must be a boolean.", key)
        if value is not None:
            return value
    return None


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    seed = bounded_int(value, SEED)
    if seed is None:
        raise invalid("'seed' must be an integer.", "seed")
    return seed


def _string_images(parsed: dict[str, Any]) -> list[ImageInput]:
    images = parsed.get("images")
    if images is not None and not isinstance(images, list):
        raise invalid("'images' must be an array of image URLs or base64 images.", "images")
    if images:
        if len(images) > MAX_IMAGES:
            raise invalid(f"'images' takes at most {MAX_IMAGES} images.", "images")
        return [image_string(item, f"images[{index}]", raw_base64=True) for index, item in enumerate(images)]
    for name in ("image", "input_reference"):
        value = parsed.get(name)
        if value is not None and value != "":
            return [image_string(value, name, raw_base64=True)]
    return []


def _request(parsed: dict[str, Any], images: list[ImageInput], extra: dict[str, Any], model: str | None) -> TaskRequest:
    return TaskRequest(
        kind=TaskKind.VIDEO,
        model=model or _required(parsed.get("model"), "model"),
        prompt=_required(parsed.get("prompt"), "prompt"),
        negative_prompt=opt_text(parsed.get("negative_prompt"), "negative_prompt"),
        images=images,
        seconds=_seconds(parsed.get("duration"), parsed.get("seconds")),
        size=size_field(parsed.get("size")),
        resolution=opt_text(parsed.get("resolution"), "resolution"),
        aspect_ratio=opt_text(parsed.get("aspect_ratio"), "aspect_ratio"),
        mode=opt_text(parsed.get("mode"), "mode"),
        seed=_seed(parsed.get("seed")),
        audio=_audio(parsed),
        callback_url=opt_text(parsed.get("callback_url"), "callback_url"),
        extra=extra | _metadata(parsed.get("metadata")),
    )


def _number(text: str) -> Any:
    """A multipart field as new-api reads unknown ones: an integer or a decimal when it is one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _form_images(form: Form) -> list[ImageInput]:
    files = [part for name in _IMAGE_FILES for part in form.files_named(name)]
    for part in form.files:
        if part not in files:
            raise invalid(f"'{part.field}' is not a file field of video creation (image, images[]).", part.field)
    if len(files) > MAX_IMAGES:
        raise invalid(f"'images' takes at most {MAX_IMAGES} images.", "images")
    images: list[ImageInput] = []
    for index, part in enumerate(files):
        mime = sniff_image_mime(part.data)
        if mime is None:
            raise invalid(f"'images[{index}]' is not a PNG, JPEG, WebP or GIF image.", f"images[{index}]")
        images.append(ImageInput(file=MediaFile(part.data, part.filename or part.field, mime)))
    return images


def _form_request(body: bytes, content_type: str, model: str | None) -> TaskRequest:
    form = parse_form(body, content_type)
    parsed: dict[str, Any] = {key: form.text(key) for key, _ in form.pairs if "[" not in key}
    texts = form.texts("images")
    if texts:
        parsed["images"] = texts
    files = _form_images(form)
    if files and (texts or parsed.get("image")):
        raise invalid("Send images either as files or as URLs, not both.", "images")
    extra = {key: _number(value) for key, value in parsed.items() if key not in _TYPED}
    return _request(parsed, files or _string_images(parsed), extra, model)


def _percent(view: TaskView) -> str:
    if view.status is TaskStatus.SUCCEEDED:
        return "100%"
    return f"{min(max(view.progress or 0, 0), 100)}%"


def task_dto(view: TaskView) -> dict[str, Any]:
    """new-api's TaskDto with only what is the client's."""
    video = next((output.url for output in view.outputs if output.kind == "video"), None)
    failed = view.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)
    reason = ""
    if failed:
        default = (
            "The task was cancelled." if view.status is TaskStatus.CANCELLED else "The video could not be generated."
        )
        reason = view.error_message or default
    return {
        "task_id": view.id,
        "model": view.model,
        "status": NEW_API_STATUS[view.status],
        "progress": _percent(view),
        "fail_reason": reason,
        "result_url": video or "",
        "submit_time": view.created_at,
        "start_time": view.started_at or 0,
        "finish_time": (view.completed_at or 0) if view.status.terminal else 0,
        "created_at": view.created_at,
        "updated_at": view.updated_at or view.created_at,
    }


class UnifiedVideoDialect:
    """new-api's ``/v1/video/generations`` (and Omni-Create bodies) as clients speak it."""

    protocol = "openai"
    name = "new-api"  # webhook bodies carry the ``data`` of ``GET /v1/video/generations/{task_id}``

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        if is_multipart(content_type):
            return _form_request(body, content_type, model)
        parsed = parse_json_object(body)
        extra = {key: value for key, value in parsed.items() if key not in _TYPED}
        return _request(parsed, _string_images(parsed), extra, model)

    def budget(self, request: TaskRequest) -> Budget:
        return task_budget(request)

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        """``GET /v1/video/generations/{task_id}``: ``{code: "success", message: "", data: TaskDto}``."""
        return 200, orjson.dumps({"code": "success", "message": "", "data": task_dto(view)}), JSON

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        """The create: an OpenAI-style video object with ``task_id`` (= ``id``) for new-api's older clients."""
        return 200, orjson.dumps(video_object(view) | {"task_id": view.id}), JSON

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


UNIFIED_VIDEO = UnifiedVideoDialect()
