"""Clients of Kling's own video API: ``POST /kling/v1/videos/{text2video,image2video}`` and
``GET /kling/v1/videos/{text2video,image2video}/{task_id}``, answered in Kling's envelope (new-api answers
these routes with its own TaskDto; Kling's SDKs and scripts expect Kling's).

Create body (docs/tasks.md, Kling): ``model_name`` (Kling's legacy ``model`` too; one is required: the
gateway does not pick Kling's default ``kling-v1`` for the client), ``prompt`` (required for text2video,
at most 2,500 characters), ``negative_prompt``, ``image`` and ``image_tail`` (image2video: at least one;
a URL or bare base64; roles ``first_frame`` / ``last_frame``), ``cfg_scale`` (0-1), ``mode``, ``duration``
("5", "10"; a number too), ``aspect_ratio``, ``camera_control`` (an object), ``callback_url``,
``external_task_id`` (the client's id, echoed in ``task_info``; our own deterministic id goes upstream).
``cfg_scale``, ``camera_control`` and Kling's other fields (``static_mask``, ``dynamic_masks``, ``sound``,
``multi_shot`` …) are vendor-native: they go to ``extra``.

Answer: ``{code: 0, message: "SUCCEED", request_id, data: {task_id, task_status, task_status_msg,
task_info: {external_task_id?}, created_at, updated_at (ms), task_result?: {videos: [{id, url,
duration}]}}}``; ``task_status``: pending and queued → ``submitted``, running → ``processing``,
succeeded → ``succeed``, failed and cancelled → ``failed`` (the reason in ``task_status_msg``).
``request_id`` is the task id (the gateway's request id is in its ``X-Request-Id`` header).
Errors: ``{code, message, request_id}`` with Kling's codes and HTTP statuses (``KLING_ERROR``).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.tasks.base import TaskView
from omnirouter.protocols.tasks.fields import image_string, invalid, opt_text, seconds_field, seconds_text, task_budget

__all__ = ["KLING_ERROR", "KLING_IMAGE2VIDEO", "KLING_STATUS", "KLING_TEXT2VIDEO", "KlingDialect"]

JSON: Final = b"application/json"
MAX_PROMPT: Final = 2500
KLING_STATUS: Final = {
    TaskStatus.PENDING: "submitted",
    TaskStatus.QUEUED: "submitted",
    TaskStatus.RUNNING: "processing",
    TaskStatus.SUCCEEDED: "succeed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "failed",
}
KLING_ERROR: Final[dict[ErrorKind, tuple[int, int]]] = {
    ErrorKind.INVALID_REQUEST: (400, 1201),
    ErrorKind.REQUEST_TOO_LARGE: (400, 1201),
    ErrorKind.AUTHENTICATION: (401, 1000),
    ErrorKind.PERMISSION: (403, 1103),
    ErrorKind.NOT_FOUND: (404, 1203),
    ErrorKind.INSUFFICIENT_QUOTA: (429, 1102),
    ErrorKind.RATE_LIMIT: (429, 1302),
    ErrorKind.UPSTREAM: (500, 5000),
    ErrorKind.INTERNAL: (500, 5000),
    ErrorKind.UPSTREAM_UNREACHABLE: (503, 5001),
    ErrorKind.OVERLOADED: (503, 5001),
    ErrorKind.UPSTREAM_TIMEOUT: (504, 5002),
}
"""Error kind → (HTTP status, Kling code): Kling's table (1000 auth failed, 1102 resource pack exhausted,
1103 no permission, 1201 invalid parameter, 1203 resource not found, 1302 rate limit, 5000 server error,
5001 unavailable, 5002 timeout)."""
_TYPED = frozenset({
    "model_name", "model", "prompt", "negative_prompt", "image", "image_tail", "mode", "duration",
    "aspect_ratio", "callback_url", "external_task_id",
})  # fmt: skip


def _model(parsed: dict[str, Any]) -> str:
    for key in ("model_name", "model"):
        value = parsed.get(key)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise invalid(f"'{key}' must be a non-empty string.", key)
            return value
    raise invalid("'model_name' is required.", "model_name")


def _prompt(value: Any, required: bool) -> str | None:
    text = opt_text(value, "prompt")
    if required and (text is None or not text.strip()):
        raise invalid("'prompt' is required and must be a non-empty string.", "prompt")
    if text is not None and len(text) > MAX_PROMPT:
        raise invalid(f"'prompt' must be at most {MAX_PROMPT} characters.", "prompt")
    return text


def _cfg_scale(value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
        raise invalid("'cfg_scale' must be a number from 0 to 1.", "cfg_scale")


class KlingDialect:
    """Kling's ``text2video`` or ``image2video`` endpoint as clients speak it."""

    protocol = "kling"
    name = "kling"  # webhook bodies carry the ``data`` of Kling's task query

    def __init__(self, action: Literal["text2video", "image2video"]) -> None:
        self.action = action

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        parsed = parse_json_object(body)
        images: list[ImageInput] = []
        roles: list[str] = []
        for key, role in (("image", "first_frame"), ("image_tail", "last_frame")):
            value = parsed.get(key)
            if value is not None and value != "":
                if self.action == "text2video":
                    raise invalid(f"'{key}' is not a field of text2video; use image2video.", key)
                images.append(image_string(value, key, raw_base64=True))
                roles.append(role)
        if self.action == "image2video" and not images:
            raise invalid("'image' is required (or 'image_tail'): image2video needs a frame.", "image")
        _cfg_scale(parsed.get("cfg_scale"))
        camera = parsed.get("camera_control")
        if camera is not None and not isinstance(camera, dict):
            raise invalid("'camera_control' must be an object.", "camera_control")
        return TaskRequest(
            kind=TaskKind.VIDEO,
            model=model or _model(parsed),
            prompt=_prompt(parsed.get("prompt"), self.action == "text2video"),
            negative_prompt=_prompt_text(parsed.get("negative_prompt")),
            images=images,
            image_roles=roles or None,
            seconds=seconds_field(parsed.get("duration"), "duration"),
            aspect_ratio=opt_text(parsed.get("aspect_ratio"), "aspect_ratio"),
            mode=opt_text(parsed.get("mode"), "mode"),
            callback_url=opt_text(parsed.get("callback_url"), "callback_url"),
            client_ref=opt_text(parsed.get("external_task_id"), "external_task_id"),
            extra={key: value for key, value in parsed.items() if key not in _TYPED},
        )

    def budget(self, request: TaskRequest) -> Budget:
        return task_budget(request)

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        data: dict[str, Any] = {
            "task_id": view.id,
            "task_status": KLING_STATUS[view.status],
            "task_status_msg": _failure(view),
            "task_info": {} if view.client_ref is None else {"external_task_id": view.client_ref},
            "created_at": view.created_at * 1000,
            "updated_at": (view.updated_at or view.created_at) * 1000,
        }
        if view.status is TaskStatus.SUCCEEDED:
            videos = [output for output in view.outputs if output.kind == "video"]
            data["task_result"] = {
                "videos": [
                    {
                        "id": view.id if index == 0 else f"{view.id}-{index}",
                        "url": output.url,
                        "duration": seconds_text(view.seconds) or "",
                    }
                    for index, output in enumerate(videos)
                ]
            }
        answer = {"code": 0, "message": "SUCCEED", "request_id": view.id, "data": data}
        return 200, orjson.dumps(answer), JSON

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return self.encode_task(view)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        status, code = KLING_ERROR.get(error.kind, (500, 5000))
        return status, orjson.dumps({"code": code, "message": error.message, "request_id": ""})


def _prompt_text(value: Any) -> str | None:
    text = opt_text(value, "negative_prompt")
    if text is not None and len(text) > MAX_PROMPT:
        raise invalid(f"'negative_prompt' must be at most {MAX_PROMPT} characters.", "negative_prompt")
    return text


def _failure(view: TaskView) -> str:
    if view.status is TaskStatus.CANCELLED:
        return view.error_message or "The task was cancelled."
    if view.status is TaskStatus.FAILED:
        return view.error_message or "The video could not be generated."
    return ""


KLING_TEXT2VIDEO = KlingDialect("text2video")
KLING_IMAGE2VIDEO = KlingDialect("image2video")
