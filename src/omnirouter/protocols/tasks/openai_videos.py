"""Clients of OpenAI's Videos API: ``POST /v1/videos`` (JSON or multipart), ``POST /v1/videos/{id}/remix``,
``GET /v1/videos/{id}``, ``GET /v1/videos`` and ``DELETE /v1/videos/{id}`` (OpenAPI ``VideoResource``,
``VideoListResource``, ``DeletedVideoResource``).

Create: ``model`` and ``prompt`` are required (the gateway picks no model for the client), ``seconds`` is
a string in OpenAI's API ("4", "8", "12") and any duration a vendor makes is accepted, as a number too;
``size`` is ``WIDTHxHEIGHT``; ``input_reference`` is one image: a file part (multipart) or
``{image_url}`` / ``{file_id}`` (JSON, or ``input_reference[image_url]`` form fields).

The video object carries only OpenAI's four statuses, the only ones ``videos.create_and_poll`` handles:
pending and queued → ``queued``, running → ``in_progress``, succeeded → ``completed``, failed and cancelled
→ ``failed`` (``error.code`` ``cancelled`` for the latter).  ``progress`` is 100 once completed, else the
vendor's, else 0; ``seconds`` and ``size`` are what was made when known (``null`` while nobody knows: the
engine fills the requested or the vendor's default duration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.http.multipart import Form, parse_form
from omnirouter.ir import Budget, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.media.sniff import sniff_image_mime
from omnirouter.protocols.openai_chat.errors import encode_error
from omnirouter.protocols.tasks.base import TaskView
from omnirouter.protocols.tasks.fields import (
    image_string,
    invalid,
    seconds_field,
    seconds_text,
    size_field,
    task_budget,
)

__all__ = [
    "OPENAI_VIDEOS",
    "OPENAI_VIDEO_STATUS",
    "ListQuery",
    "OpenAIVideosDialect",
    "decode_list_query",
    "video_object",
]

JSON: Final = b"application/json"
MAX_PROMPT = 32000
OPENAI_VIDEO_STATUS: Final[Mapping[TaskStatus, str]] = {
    TaskStatus.PENDING: "queued",
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "in_progress",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "failed",
}
_FIELDS = frozenset({"model", "prompt", "seconds", "size", "input_reference"})
MAX_LIST = 100


class ListQuery(NamedTuple):
    """``GET /v1/videos`` paging: after the id ``after``, at most ``limit``, newest first unless ``asc``."""

    after: str | None
    limit: int
    order: str


def _prompt(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("'prompt' is required and must be a non-empty string.", "prompt")
    if len(value) > MAX_PROMPT:
        raise invalid(f"'prompt' must be at most {MAX_PROMPT} characters.", "prompt")
    return value


def _model(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("'model' is required and must be a string.", "model")
    return value


def _reference_object(value: Any) -> ImageInput:
    """``{image_url}`` or ``{file_id}``: exactly one."""
    if not isinstance(value, dict):
        raise invalid("'input_reference' must be an object with 'image_url' or 'file_id'.", "input_reference")
    url, file_id = value.get("image_url"), value.get("file_id")
    if (url is None) == (file_id is None):
        raise invalid("'input_reference' needs exactly one of 'image_url' and 'file_id'.", "input_reference")
    if file_id is not None:
        if not isinstance(file_id, str) or not file_id:
            raise invalid("'input_reference.file_id' must be a string.", "input_reference.file_id")
        return ImageInput(file_id=file_id)
    return image_string(url, "input_reference.image_url", raw_base64=False)


def _json_request(body: bytes, model: str | None) -> TaskRequest:
    parsed = parse_json_object(body)
    reference = parsed.get("input_reference")
    return TaskRequest(
        kind=TaskKind.VIDEO,
        model=model or _model(parsed.get("model")),
        prompt=_prompt(parsed.get("prompt")),
        seconds=seconds_field(parsed.get("seconds"), "seconds"),
        size=size_field(parsed.get("size")),
        images=[] if reference is None else [_reference_object(reference)],
        image_roles=None if reference is None else ["first_frame"],
        extra={key: value for key, value in parsed.items() if key not in _FIELDS},
    )


def _form_reference(form: Form) -> ImageInput | None:
    files = form.files_named("input_reference")
    for part in form.files:
        if part not in files:
            raise invalid(f"'{part.field}' is not a file field of video creation (input_reference).", part.field)
    if len(files) > 1:
        raise invalid("'input_reference' must be one image.", "input_reference")
    sub = form.subfields("input_reference")
    if files:
        if sub or form.text("input_reference") is not None:
            raise invalid("'input_reference' must be sent once: a file or an object.", "input_reference")
        part = files[0]
        if not part.data:
            raise invalid("'input_reference' is an empty file.", "input_reference")
        mime = sniff_image_mime(part.data)
        if mime is None:
            raise invalid("'input_reference' is not a PNG, JPEG, WebP or GIF image.", "input_reference")
        declared = part.content_type.lower()
        content_type = declared if declared.startswith("image/") else mime
        return ImageInput(file=MediaFile(part.data, part.filename or "input_reference", content_type))
    if sub:
        return _reference_object(sub)
    text = form.text("input_reference")
    return None if text is None else image_string(text, "input_reference", raw_base64=False)


def _form_request(body: bytes, content_type: str, model: str | None) -> TaskRequest:
    form = parse_form(body, content_type)
    reference = _form_reference(form)
    return TaskRequest(
        kind=TaskKind.VIDEO,
        model=model or _model(form.text("model")),
        prompt=_prompt(form.text("prompt")),
        seconds=seconds_field(form.text("seconds"), "seconds"),
        size=size_field(form.text("size")),
        images=[] if reference is None else [reference],
        image_roles=None if reference is None else ["first_frame"],
        extra={
            key: value for key, value in form.pairs if key not in _FIELDS and not key.startswith("input_reference[")
        },
    )


def is_multipart(content_type: str) -> bool:
    """Whether the body is a form (else it is read as JSON)."""
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def video_object(view: TaskView) -> dict[str, Any]:
    """The OpenAI ``VideoResource`` of a task (every key the spec requires, nothing else)."""
    status = OPENAI_VIDEO_STATUS[view.status]
    error: dict[str, str] | None = None
    if view.status is TaskStatus.CANCELLED:
        error = {"code": view.error_code or "cancelled", "message": view.error_message or "The task was cancelled."}
    elif view.status is TaskStatus.FAILED:
        error = {
            "code": view.error_code or "video_generation_failed",
            "message": view.error_message or "The video could not be generated.",
        }
    progress = 100 if status == "completed" else min(max(view.progress or 0, 0), 100)
    return {
        "id": view.id,
        "object": "video",
        "model": view.model,
        "status": status,
        "progress": progress,
        "created_at": view.created_at,
        "completed_at": view.completed_at if view.status.terminal else None,
        "expires_at": view.expires_at,
        "prompt": view.prompt,
        "size": view.size,
        "seconds": seconds_text(view.seconds),
        "remixed_from_video_id": view.remix_of,
        "error": error,
    }


def decode_list_query(query: Mapping[str, str]) -> ListQuery:
    """``after``, ``limit`` (1-100, default 20) and ``order`` (``asc`` | ``desc``, default ``desc``)."""
    limit_text = query.get("limit")
    limit = 20
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIST:
            raise invalid(f"'limit' must be an integer from 1 to {MAX_LIST}.", "limit")
        limit = int(limit_text)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid("'order' must be 'asc' or 'desc'.", "order")
    return ListQuery(query.get("after") or None, limit, order)


class OpenAIVideosDialect:
    """OpenAI's Videos API as clients speak it (the official SDK's ``videos.*``)."""

    protocol = "openai"
    name = "openai"  # webhook bodies carry the video object of ``GET /v1/videos/{id}``

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        """A ``POST /v1/videos`` body, JSON or multipart."""
        if is_multipart(content_type):
            return _form_request(body, content_type, model)
        return _json_request(body, model)

    def decode_remix(self, body: bytes, content_type: str, source: TaskView) -> TaskRequest:
        """A ``POST /v1/videos/{id}/remix`` body (``{prompt}``) continuing the task ``source``."""
        if is_multipart(content_type):
            prompt = parse_form(body, content_type).text("prompt")
        else:
            prompt = parse_json_object(body).get("prompt")
        return TaskRequest(
            kind=source.kind,
            model=source.model,
            prompt=_prompt(prompt),
            seconds=source.seconds,
            size=source.size,
            remix_of=source.id,
        )

    def budget(self, request: TaskRequest) -> Budget:
        return task_budget(request)

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps(video_object(view)), JSON

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return self.encode_task(view)

    def encode_list(self, views: Sequence[TaskView], has_more: bool) -> tuple[int, bytes, bytes]:
        """``GET /v1/videos``: one page of video objects, in the order given."""
        page = {
            "object": "list",
            "data": [video_object(view) for view in views],
            "first_id": views[0].id if views else None,
            "last_id": views[-1].id if views else None,
            "has_more": has_more,
        }
        return 200, orjson.dumps(page), JSON

    def encode_deleted(self, video_id: str) -> tuple[int, bytes, bytes]:
        """``DELETE /v1/videos/{id}``."""
        return 200, orjson.dumps({"object": "video.deleted", "deleted": True, "id": video_id}), JSON

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


OPENAI_VIDEOS = OpenAIVideosDialect()
