"""Clients of new-api's Suno routes: ``POST /suno/submit/{music,lyrics}``, ``GET /suno/fetch/{id}`` and
``POST /suno/fetch {ids}``, answered in the ``{code: "success", message, data}`` envelope.

Create body: music ``{prompt, gpt_description_prompt, mv, title, tags, make_instrumental, continue_at,
continue_clip_id, task_id}`` (a ``prompt`` or a ``gpt_description_prompt`` is required; ``continue_at``
needs ``continue_clip_id``, a clip id this gateway showed: ``{task id}-{index}``, resolved by the route),
lyrics ``{prompt}`` (required).  Either may name the client's webhook for the task as ``notify_hook``
(GoAPI's field) or ``callback_url`` (``TaskRequest.callback_url``, checked by the route, never sent upstream;
the webhook's ``data`` is the task as the fetch shows it).  The model is the action's, as new-api names
it: ``suno_music`` / ``suno_lyrics`` (what channels serve and prices name, billed ``per_call``).  The
Suno fields go upstream as given (``TaskRequest.extra``); ``mode`` carries the action.

Answers: the create ``{code: "success", message: "", data: "<task id>"}``; a fetch ``data`` = the task in
new-api's ``TaskDto`` form ``{task_id, action, status, fail_reason, submit_time, start_time, finish_time,
progress, data}`` with ``status`` in new-api's enum (pending → ``NOT_START``, queued → ``SUBMITTED``,
running → ``IN_PROGRESS``, succeeded → ``SUCCESS``, failed and cancelled → ``FAILURE``) and, once
succeeded, ``data`` the clips ``[{id, audio_url, image_url, title, tags, prompt}]`` whose URLs are the
gateway's signed result URLs (audio/image stored in pairs, in the vendor's order); a lyrics task's
``data`` is ``{id, text, title, status}`` (its text, kept in the result store, read back by the route).  Errors:
``{code, message, data: null}`` with the HTTP status of the error (``invalid_request`` 400 naming the field,
``task_not_exist`` 404 …).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.tasks.base import TaskView
from omnirouter.protocols.tasks.fields import invalid, opt_text

__all__ = [
    "HOOK_FIELDS",
    "SUNO_LYRICS",
    "SUNO_MUSIC_DIALECT",
    "SUNO_STATUS",
    "SunoDialect",
    "hook_field",
    "suno_error",
    "task_dto",
]

JSON: Final = b"application/json"
MAX_PROMPT: Final = 5000
SUNO_STATUS: Final = {
    TaskStatus.PENDING: "NOT_START",
    TaskStatus.QUEUED: "SUBMITTED",
    TaskStatus.RUNNING: "IN_PROGRESS",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILURE",
    TaskStatus.CANCELLED: "FAILURE",
}
_ERROR: Final[dict[ErrorKind, tuple[int, str]]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request"),
    ErrorKind.REQUEST_TOO_LARGE: (413, "invalid_request"),
    ErrorKind.AUTHENTICATION: (401, "unauthorized"),
    ErrorKind.PERMISSION: (403, "forbidden"),
    ErrorKind.NOT_FOUND: (404, "task_not_exist"),
    ErrorKind.INSUFFICIENT_QUOTA: (403, "insufficient_quota"),
    ErrorKind.RATE_LIMIT: (429, "rate_limited"),
    ErrorKind.UPSTREAM_UNREACHABLE: (503, "upstream_unavailable"),
    ErrorKind.OVERLOADED: (503, "upstream_unavailable"),
    ErrorKind.UPSTREAM_TIMEOUT: (504, "upstream_timeout"),
}
HOOK_FIELDS: Final = ("notify_hook", "callback_url")
"""Where a submit may name the client's webhook for the task (GoAPI's Suno field, the gateway's own)."""
_STRINGS: Final = ("gpt_description_prompt", "mv", "title", "tags", "continue_clip_id", "task_id")


def suno_error(error: GatewayError) -> tuple[int, bytes]:
    """``{code, message, data: null}`` with the error's HTTP status (409 for a reused Idempotency-Key)."""
    status, code = _ERROR.get(error.kind, (500, "internal_error"))
    if error.status == 409:
        status = 409
    return status, orjson.dumps({"code": code, "message": error.message, "data": None})


def _prompt(value: Any) -> str | None:
    text = opt_text(value, "prompt")
    if text is not None and len(text) > MAX_PROMPT:
        raise invalid(f"'prompt' must be at most {MAX_PROMPT} characters.", "prompt")
    return text


def _music_fields(parsed: dict[str, Any]) -> dict[str, Any]:
    """The Suno music fields, each checked for its type (a 400 naming the first bad one)."""
    extra: dict[str, Any] = {}
    for key in _STRINGS:
        value = opt_text(parsed.get(key), key)
        if value is not None:
            extra[key] = value
    instrumental = parsed.get("make_instrumental")
    if instrumental is not None:
        if not isinstance(instrumental, bool):
            raise invalid("'make_instrumental' must be true or false.", "make_instrumental")
        extra["make_instrumental"] = instrumental
    at = parsed.get("continue_at")
    if at is not None:
        if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
            raise invalid("'continue_at' must be a number of seconds (0 or more).", "continue_at")
        if "continue_clip_id" not in extra:
            raise invalid("'continue_at' needs the 'continue_clip_id' it continues.", "continue_clip_id")
        extra["continue_at"] = at
    return extra


def hook_field(parsed: dict[str, Any]) -> str:
    """The field that names the client's webhook in a submit body: ``notify_hook`` (GoAPI's) when sent."""
    return "notify_hook" if parsed.get("notify_hook") is not None else "callback_url"


def _hook(parsed: dict[str, Any]) -> str | None:
    """The client's webhook for the task: ``notify_hook`` or ``callback_url`` (one of them; never sent upstream)."""
    hooks = {name: opt_text(parsed.get(name), name) for name in HOOK_FIELDS}
    given = [name for name, url in hooks.items() if url is not None]
    if len(given) > 1:
        raise invalid("Give the webhook as 'notify_hook' or as 'callback_url', not both.", "notify_hook")
    return hooks[given[0]] if given else None


class SunoDialect:
    """new-api's ``/suno/submit/{action}`` and ``/suno/fetch`` as clients speak them."""

    protocol = "suno"
    name = "suno"

    def __init__(self, action: Literal["music", "lyrics"]) -> None:
        self.action = action
        self.model = f"suno_{action}"

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        parsed = parse_json_object(body)
        prompt = _prompt(parsed.get("prompt"))
        extra = _music_fields(parsed) if self.action == "music" else {}
        if self.action == "lyrics" and not (prompt or "").strip():
            raise invalid("'prompt' is required and must be a non-empty string.", "prompt")
        if self.action == "music" and not (prompt or "").strip() and "gpt_description_prompt" not in extra:
            raise invalid("'prompt' (or 'gpt_description_prompt') is required.", "prompt")
        return TaskRequest(kind=TaskKind.MUSIC, model=model or self.model, prompt=prompt, mode=self.action,
                           extra=extra, callback_url=_hook(parsed))  # fmt: skip

    def budget(self, request: TaskRequest) -> Budget:
        texts = (request.prompt or "", str(request.extra.get("gpt_description_prompt") or ""))
        return Budget(input_bytes=sum(len(text.encode()) for text in texts), calls=1)

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps({"code": "success", "message": "", "data": task_dto(view)}), JSON

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps({"code": "success", "message": "", "data": view.id}), JSON

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return suno_error(error)


def task_dto(view: TaskView, lyrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task in new-api's ``TaskDto`` form (``data``: its clips once it succeeded, or for a lyrics task
    its ``lyrics`` ``{text, title}`` as ``{id, text, title, status}``: ``view.details["lyrics"]``, else the
    ``lyrics`` given, read from the result store for tasks that finished before details were kept)."""
    finished = view.status.terminal
    shown = view.details.get("lyrics")
    if isinstance(shown, dict):
        lyrics = {"text": str(shown.get("text", "")), "title": str(shown.get("title", ""))}
    dto: dict[str, Any] = {
        "task_id": view.id,
        "platform": "suno",
        "action": "LYRICS" if view.model.endswith("lyrics") else "MUSIC",
        "status": SUNO_STATUS[view.status],
        "fail_reason": (view.error_message or "The task failed.") if view.status in _ENDED_BADLY else "",
        "submit_time": view.created_at,
        "start_time": view.started_at or (view.created_at if view.status is not TaskStatus.PENDING else 0),
        "finish_time": (view.completed_at or view.updated_at or 0) if finished else 0,
        "progress": f"{100 if view.status is TaskStatus.SUCCEEDED else view.progress or 0}%",
        "data": None,
    }
    if view.status is TaskStatus.SUCCEEDED and lyrics is not None:
        dto["data"] = {"id": f"{view.id}-0", **lyrics, "status": "complete"}
    elif view.status is TaskStatus.SUCCEEDED:
        audio = [output for output in view.outputs if output.kind == "audio"]
        images = [output for output in view.outputs if output.kind == "image"]
        dto["data"] = [
            {
                "id": f"{view.id}-{index}",
                "audio_url": output.url,
                "image_url": images[index].url if index < len(images) else "",
                "prompt": view.prompt or "",
                "status": "complete",
            }
            for index, output in enumerate(audio)
        ]
    return dto


_ENDED_BADLY: Final = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})

SUNO_MUSIC_DIALECT = SunoDialect("music")
SUNO_LYRICS = SunoDialect("lyrics")
