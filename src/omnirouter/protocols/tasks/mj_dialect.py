"""Clients of the midjourney-proxy API (what new-api-based services expose): ``POST /mj/submit/{action}``,
``POST /mj/insight-face/swap``, ``GET /mj/task/{id}/fetch``, ``POST /mj/task/list-by-condition`` — pure.

Each submit body is decoded into a ``TaskRequest(kind=MIDJOURNEY)`` whose ``action`` is the proxy's submit
(``MJ_ACTIONS``) and whose ``model`` is the name new-api prices it by (``mj_`` + the lower-case action:
``mj_imagine``, ``mj_upscale``, ``mj_variation``, ``mj_low_variation``, ``mj_high_variation``, ``mj_reroll``,
``mj_zoom``, ``mj_custom_zoom``, ``mj_pan``, ``mj_inpaint``, ``mj_describe``, ``mj_blend``, ``mj_shorten``,
``mj_modal``, ``mj_edits``, ``mj_video``, ``mj_upload``; the face swap ``swap_face``), billed ``per_call``.
An ``action``'s ``customId`` is decoded as new-api decodes it (split on ``::``; ``MJ::JOB::<kind>::…`` or
``MJ::<kind>::…``): ``upsample`` → upscale, ``variation`` / ``low_variation`` / ``high_variation``, ``pan*``,
``reroll``, ``Outpaint`` → zoom, ``CustomZoom``, ``Inpaint``; anything else is refused (``unknown action``).
A change / action / modal / video names its parent by the gateway's task id (``parent_task_id``); the
route checks the parent is the key's and puts the vendor's id in its place.  ``state`` is kept as the
task's ``client_ref`` (echoed back), ``notifyHook`` is the task's webhook (``callback_url``).

Answers: a submit ``{code, description, result, properties}`` with the proxy's codes (``1`` submitted,
``21`` a task now waiting in ``MODAL`` for its dialog); a task the proxy's task object (``encode_task``);
errors ``{code, description, result: null, properties: {}}`` with code ``4`` (a bad request), ``24`` (a
banned prompt), ``23`` (rate limited), ``9`` (the gateway or vendor failed) and the HTTP status of the
error kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.tasks.base import TaskView
from omnirouter.protocols.tasks.fields import image_string, invalid, opt_text

__all__ = [
    "JSON",
    "MJ_ACTIONS",
    "MJ_DIALECT",
    "MJ_SUBMITS",
    "MjDialect",
    "mj_error",
    "mj_task",
    "model_of_custom_id",
]

JSON: Final = b"application/json"
MJ_ACTIONS: Final = ("imagine", "blend", "describe", "shorten", "change", "simple-change", "action", "modal",
                     "edits", "video", "swap_face", "upload-discord-images")  # fmt: skip
"""The proxy's submits, as ``TaskRequest.action`` names them."""
MAX_PROMPT: Final = 8192
_CHANGES: Final = {"UPSCALE": "mj_upscale", "VARIATION": "mj_variation", "REROLL": "mj_reroll"}
_SIMPLE: Final = {"U": "UPSCALE", "V": "VARIATION", "R": "REROLL"}
_DIMENSIONS: Final = {"PORTRAIT": "2:3", "SQUARE": "1:1", "LANDSCAPE": "3:2"}
_MODELS: Final = {"imagine": "mj_imagine", "blend": "mj_blend", "describe": "mj_describe", "shorten": "mj_shorten",
                  "modal": "mj_modal", "edits": "mj_edits", "video": "mj_video", "swap_face": "swap_face",
                  "upload-discord-images": "mj_upload"}  # fmt: skip
_STATUS: Final = {
    TaskStatus.PENDING: "NOT_START",
    TaskStatus.QUEUED: "SUBMITTED",
    TaskStatus.RUNNING: "IN_PROGRESS",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILURE",
    TaskStatus.CANCELLED: "FAILURE",
}
_HTTP: Final[dict[ErrorKind, int]] = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.REQUEST_TOO_LARGE: 413,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.INSUFFICIENT_QUOTA: 403,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.UPSTREAM_UNREACHABLE: 503,
    ErrorKind.OVERLOADED: 503,
    ErrorKind.UPSTREAM_TIMEOUT: 504,
}


def mj_error(error: GatewayError) -> tuple[int, bytes]:
    """``{code, description, result: null, properties: {}}`` with the error's HTTP status: code ``24`` for a
    prompt the vendor banned, ``23`` for a rate limit, ``9`` for a failure of ours or the vendor's, else ``4``."""
    status = 409 if error.status == 409 else _HTTP.get(error.kind, 502 if error.kind is ErrorKind.UPSTREAM else 500)
    code = 4
    if error.code == "24":
        code = 24
    elif error.kind is ErrorKind.RATE_LIMIT:
        code = 23
    elif status >= 500:
        code = 9
    body = {"code": code, "description": error.message, "result": None, "properties": {}}
    return status, orjson.dumps(body)


def model_of_custom_id(custom_id: str) -> tuple[str, int]:
    """The model a button's ``customId`` is priced by and its index, as new-api decodes it (split on
    ``::``); a 400 ``unknown action`` for anything else."""
    parts = custom_id.split("::")
    kind = (parts[2] if parts[1] == "JOB" and len(parts) > 2 else parts[1]) if len(parts) > 1 else ""
    index = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 1
    if "upsample" in kind:
        return "mj_upscale", index
    if kind in ("variation", "low_variation", "high_variation"):
        return f"mj_{kind}", index
    if kind.startswith("pan"):
        return "mj_pan", 1
    if kind == "reroll":
        return "mj_reroll", 1
    models = {"Outpaint": "mj_zoom", "CustomZoom": "mj_custom_zoom", "Inpaint": "mj_inpaint"}
    if kind in models:
        return models[kind], 1
    raise invalid(f"unknown action: the customId {custom_id!r} is no Midjourney button this gateway knows.",
                  "customId")  # fmt: skip


def _text(parsed: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = opt_text(parsed.get(name), name)
    if value is not None and len(value) > MAX_PROMPT:
        raise invalid(f"'{name}' must be at most {MAX_PROMPT} characters.", name)
    if required and not (value or "").strip():
        raise invalid(f"'{name}' is required.", name)
    return value


def _image(parsed: dict[str, Any], name: str, *, required: bool = True) -> ImageInput | None:
    value = parsed.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"'{name}' is required (a data: URL or base64 image).", name)
        return None
    return image_string(value, name, raw_base64=True)


def _images(parsed: dict[str, Any], name: str, least: int, most: int) -> list[ImageInput]:
    value = parsed.get(name)
    if value is None and least == 0:
        return []
    if not isinstance(value, list) or not least <= len(value) <= most:
        raise invalid(f"'{name}' must be a list of {least} to {most} images (data: URLs or base64).", name)
    return [image_string(one, f"{name}[{i}]", raw_base64=True) for i, one in enumerate(value)]


def _parent(parsed: dict[str, Any]) -> str:
    value = _text(parsed, "taskId", required=True)
    assert value is not None
    return value.strip()


def _index(parsed: dict[str, Any], *, required: bool) -> int | None:
    value = parsed.get("index")
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
        raise invalid("'index' must be 1 to 4.", "index")
    return value


class MjDialect:
    """One submit of the midjourney-proxy API (``action``), and the proxy's task objects and errors."""

    protocol = "midjourney"
    name = "midjourney"

    def __init__(self, action: str) -> None:
        if action not in MJ_ACTIONS:
            raise ValueError(action)
        self.action = action

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        """The submit body (a 400 naming the bad field; ``model`` is not taken: the action names it)."""
        parsed = parse_json_object(body)
        fields: dict[str, Any] = {"kind": TaskKind.MIDJOURNEY, "action": self.action}
        fields["client_ref"] = opt_text(parsed.get("state"), "state")
        fields["callback_url"] = opt_text(parsed.get("notifyHook"), "notifyHook") or None
        decoders: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "imagine": self._imagine, "blend": self._blend, "describe": self._describe, "shorten": self._shorten,
            "change": self._change, "simple-change": self._simple_change, "action": self._action,
            "modal": self._modal, "edits": self._edits, "video": self._video, "swap_face": self._swap_face,
            "upload-discord-images": self._upload_discord_images,
        }  # fmt: skip
        return TaskRequest(**fields, **decoders[self.action](parsed))

    # ------------------------------------------------------------------ one method per submit

    def _imagine(self, parsed: dict[str, Any]) -> dict[str, Any]:
        extra = {"botType": parsed["botType"]} if parsed.get("botType") in ("MID_JOURNEY", "NIJI_JOURNEY") else {}
        return {"model": "mj_imagine", "prompt": _text(parsed, "prompt", required=True),
                "images": _images(parsed, "base64Array", 0, 5), "extra": extra}  # fmt: skip

    def _blend(self, parsed: dict[str, Any]) -> dict[str, Any]:
        dimensions = parsed.get("dimensions")
        if dimensions is not None and dimensions not in _DIMENSIONS:
            raise invalid("'dimensions' must be PORTRAIT, SQUARE or LANDSCAPE.", "dimensions")
        return {"model": "mj_blend", "images": _images(parsed, "base64Array", 2, 5),
                "aspect_ratio": _DIMENSIONS.get(dimensions) if dimensions is not None else None}  # fmt: skip

    def _describe(self, parsed: dict[str, Any]) -> dict[str, Any]:
        return {"model": "mj_describe", "images": [_image(parsed, "base64")]}

    def _shorten(self, parsed: dict[str, Any]) -> dict[str, Any]:
        return {"model": "mj_shorten", "prompt": _text(parsed, "prompt", required=True)}

    def _change(self, parsed: dict[str, Any]) -> dict[str, Any]:
        change = parsed.get("action")
        if change not in _CHANGES:
            raise invalid("'action' must be UPSCALE, VARIATION or REROLL.", "action")
        index = _index(parsed, required=change != "REROLL")
        return {"model": _CHANGES[change], "parent_task_id": _parent(parsed), "change": change, "index": index}

    def _simple_change(self, parsed: dict[str, Any]) -> dict[str, Any]:
        content = _text(parsed, "content", required=True) or ""
        parts = content.split()
        code = parts[1].upper() if len(parts) == 2 else ""
        if not (code == "R" or (len(code) == 2 and code[0] in "UV" and code[1] in "1234")):
            raise invalid("'content' must be '<taskId> U1..U4', '<taskId> V1..V4' or '<taskId> R'.", "content")
        return {"model": _CHANGES[_SIMPLE[code[0]]], "parent_task_id": parts[0], "change": code}

    def _action(self, parsed: dict[str, Any]) -> dict[str, Any]:
        custom_id = (_text(parsed, "customId", required=True) or "").strip()
        model, index = model_of_custom_id(custom_id)
        extra = {"enableRemix": True} if parsed.get("enableRemix") is True else {}
        return {"model": model, "parent_task_id": _parent(parsed), "custom_id": custom_id, "index": index,
                "extra": extra}  # fmt: skip

    def _modal(self, parsed: dict[str, Any]) -> dict[str, Any]:
        return {"model": "mj_modal", "parent_task_id": _parent(parsed), "prompt": _text(parsed, "prompt"),
                "mask": _image(parsed, "maskBase64", required=False)}  # fmt: skip

    def _edits(self, parsed: dict[str, Any]) -> dict[str, Any]:
        return {"model": "mj_edits", "prompt": _text(parsed, "prompt", required=True),
                "images": [_image(parsed, "image")], "mask": _image(parsed, "maskBase64", required=False)}  # fmt: skip

    def _video(self, parsed: dict[str, Any]) -> dict[str, Any]:
        images = [one for one in (_image(parsed, "image", required=False), _image(parsed, "endImage", required=False))
                  if one is not None]  # fmt: skip
        parent = _parent(parsed) if parsed.get("taskId") not in (None, "") else None
        if parent is None and not images:
            raise invalid("Midjourney's video needs an 'image' or the 'taskId' of an image task.", "image")
        extra = {name: parsed[name] for name in ("motion", "loop", "videoType", "batchSize", "action")
                 if parsed.get(name) is not None}  # fmt: skip
        return {"model": "mj_video", "prompt": _text(parsed, "prompt"), "images": images, "parent_task_id": parent,
                "index": _index(parsed, required=False), "extra": extra}  # fmt: skip

    def _swap_face(self, parsed: dict[str, Any]) -> dict[str, Any]:
        return {"model": "swap_face", "images": [_image(parsed, "sourceBase64"), _image(parsed, "targetBase64")]}

    def _upload_discord_images(self, parsed: dict[str, Any]) -> dict[str, Any]:
        return {"model": "mj_upload", "images": _images(parsed, "base64Array", 1, 10)}

    # ------------------------------------------------------------------ answers

    def budget(self, request: TaskRequest) -> Budget:
        """One call (``per_call`` at the action's model's price)."""
        return Budget(input_bytes=len((request.prompt or "").encode()), calls=1)

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps(mj_task(view)), JSON

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        """``code 1`` with the task's id; ``21`` when it waits in ``MODAL`` for the client's ``modal``; ``22``
        when the proxy queued it behind others (``numberOfQueues``), as the proxy answers."""
        if view.vendor_status == "MODAL":
            properties = {"finalPrompt": view.details.get("final_prompt") or view.prompt or "", "remix": True}
            body = {"code": 21, "description": "Waiting for window confirm", "result": view.id,
                    "properties": properties}  # fmt: skip
        elif isinstance(ahead := view.details.get("queue_ahead"), int) and view.status is TaskStatus.QUEUED:
            body = {"code": 22, "description": f"Waiting in queue, {ahead} tasks ahead", "result": view.id,
                    "properties": {"numberOfQueues": ahead}}  # fmt: skip
        else:
            body = {"code": 1, "description": "Submit success", "result": view.id, "properties": {}}
        return 200, orjson.dumps(body), JSON

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return mj_error(error)


_DESCRIPTIONS: Final = {"MODAL": "Waiting for window confirm"}


def _action_name(model: str) -> str:
    return "SWAP_FACE" if model == "swap_face" else model.removeprefix("mj_").upper()


def _button(raw: dict[str, Any]) -> dict[str, Any]:
    return {"customId": str(raw.get("customId") or ""), "label": str(raw.get("label") or ""),
            "emoji": str(raw.get("emoji") or ""), "style": raw.get("style", 2), "type": raw.get("type", 2)}  # fmt: skip


def mj_task(view: TaskView) -> dict[str, Any]:
    """The task as the proxy's task object (times in milliseconds; ``imageUrl`` the gateway's signed URL of
    the stored image (the grid; a video's thumbnail, else the video, as the plus API sets it), "" before
    there is one; ``imageUrls`` the single images, ``videoUrl(s)`` the videos: all stored copies)."""
    status = _STATUS[view.status]
    if view.status is TaskStatus.RUNNING and view.vendor_status == "MODAL":
        status = "MODAL"
    elif view.status is TaskStatus.QUEUED and view.vendor_status == "NOT_START":
        status = "NOT_START"
    details = view.details
    images = [output.url for output in view.outputs if output.kind in ("image", "thumbnail")]
    videos = [output.url for output in view.outputs if output.kind == "video"]
    started = view.started_at or (view.updated_at if status not in ("NOT_START", "SUBMITTED") else None)
    failed = view.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)
    progress = 100 if view.status is TaskStatus.SUCCEEDED else view.progress or 0
    return {
        "id": view.id,
        "action": _action_name(view.model),
        "status": status,
        "progress": f"{progress}%",
        "prompt": view.prompt or "",
        "promptEn": view.prompt or "",
        "description": str(details.get("description") or _DESCRIPTIONS.get(status, "Submit success")),
        "state": view.client_ref,
        "submitTime": view.created_at * 1000,
        "startTime": started * 1000 if started else None,
        "finishTime": view.completed_at * 1000 if view.completed_at and view.status.terminal else None,
        "imageUrl": images[0] if images else (videos[0] if videos else ""),  # the plus API: a video's link
        "imageUrls": [{"url": link} for link in images[1:]],
        "videoUrl": videos[0] if videos else None,
        "videoUrls": [{"url": link} for link in videos],
        "seed": details.get("seed"),
        "failReason": (view.error_message or "The task failed.") if failed else "",
        "properties": {"finalPrompt": details.get("final_prompt") or view.prompt or ""},
        "buttons": [_button(raw) for raw in details.get("buttons", []) if isinstance(raw, dict)],
    }


MJ_SUBMITS: Final = {action: MjDialect(action) for action in MJ_ACTIONS}
"""Each submit's dialect, by ``TaskRequest.action``."""
MJ_DIALECT: Final = MJ_SUBMITS["imagine"]
"""The dialect tasks of any submit are shown (and their webhooks rendered) in."""
