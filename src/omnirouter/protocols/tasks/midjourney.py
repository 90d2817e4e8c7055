"""Midjourney through a midjourney-proxy (the open ``novicezk/midjourney-proxy`` and its "plus" API, what
new-api relays), as a task vendor: pure, the engine does the I/O (``protocols/tasks/base.py``).

Submits go to ``/mj/submit/{imagine,blend,describe,shorten,change,simple-change,action,modal}`` (under
``/mj-{mode}/mj`` when the channel's option ``mode`` is ``fast``, ``turbo`` or ``relax``) with the key as
``mj-api-secret``; the proxy answers ``{code, description, result, properties}``: ``1`` submitted and
``22`` queued carry the new task's id, ``21`` an existing task's id (or, on the plus API, a task now
waiting in ``MODAL`` for its dialog), ``4`` a bad request and ``24`` a banned prompt (400s), ``23`` a full
queue (429), anything else a 502.  Polls read ``GET /mj/task/{id}/fetch``, or many at once ``POST
/mj/task/list-by-condition {ids}``: ``NOT_START`` / ``SUBMITTED`` are queued, ``MODAL`` / ``IN_PROGRESS``
running, ``SUCCESS`` succeeded with ``imageUrl`` as the output, ``FAILURE`` (and the plus API's ``CANCEL``)
failed with ``failReason``.  The task's buttons, final prompt and description are kept in
``TaskState.details`` for a dialect to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.fields import invalid
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
    NoFind,
    dump,
    image_output,
    image_param,
    image_ref,
    merge_extra,
    parse_json,
    text,
    upstream_error,
    vendor_error,
)

__all__ = ["MIDJOURNEY", "MidjourneyProxy", "mj_state"]

_VENDOR = "midjourney-proxy"
ACTIONS = ("imagine", "blend", "describe", "shorten", "change", "simple-change", "action", "modal")
"""The proxy's submits (``TaskRequest.action``)."""
_MODES = ("fast", "turbo", "relax")
_CHANGES = ("UPSCALE", "VARIATION", "REROLL")
_DIMENSIONS = {"2:3": "PORTRAIT", "1:1": "SQUARE", "3:2": "LANDSCAPE"}
_STATUS = {
    "NOT_START": TaskStatus.QUEUED,
    "SUBMITTED": TaskStatus.QUEUED,
    "MODAL": TaskStatus.RUNNING,
    "IN_PROGRESS": TaskStatus.RUNNING,
    "SUCCESS": TaskStatus.SUCCEEDED,
    "FAILURE": TaskStatus.FAILED,
    "CANCEL": TaskStatus.FAILED,
}
_CODE_KINDS = {4: ErrorKind.INVALID_REQUEST, 24: ErrorKind.INVALID_REQUEST, 3: ErrorKind.INVALID_REQUEST}
_CODE_KINDS |= {23: ErrorKind.RATE_LIMIT}


def _base(target: TaskTarget) -> str:
    mode = target.options.get("mode")
    if mode is None or mode == "":
        return "/mj"
    if mode not in _MODES:
        raise GatewayError(ErrorKind.INTERNAL, f"the channel's Midjourney mode {mode!r} is not fast, turbo or relax")
    return f"/mj-{mode}/mj"


def _images(request: TaskRequest) -> list[str]:
    """The request's images as the data URIs the proxy's ``base64Array`` takes (a URL is a 400)."""
    refs = []
    for index, image in enumerate(request.images):
        ref = image_ref(image, image_param(index))
        if not ref.startswith("data:"):
            raise invalid("midjourney-proxy takes images inline: upload them or send data: URLs.", image_param(index))
        refs.append(ref)
    return refs


def _need(value: Any, param: str, what: str) -> Any:
    if value is None or value == "":
        raise invalid(f"Midjourney's {what} needs '{param}'.", param)
    return value


def _body(action: str, request: TaskRequest) -> dict[str, Any]:
    """The submit body of ``action`` (a 400 naming the field it lacks or cannot take)."""
    if action == "imagine":
        body: dict[str, Any] = {"prompt": _need(request.prompt, "prompt", "imagine")}
        if request.images:
            body["base64Array"] = _images(request)
        return body
    if action == "blend":
        if not 2 <= len(request.images) <= 5:
            raise invalid("Midjourney's blend takes 2 to 5 images.", "images")
        body = {"base64Array": _images(request)}
        if request.aspect_ratio is not None:
            if request.aspect_ratio not in _DIMENSIONS:
                raise invalid("Midjourney's blend makes 2:3, 1:1 or 3:2 images.", "aspect_ratio")
            body["dimensions"] = _DIMENSIONS[request.aspect_ratio]
        return body
    if action == "describe":
        if len(request.images) != 1:
            raise invalid("Midjourney's describe takes one image.", "images")
        return {"base64": _images(request)[0]}
    if action == "shorten":
        return {"prompt": _need(request.prompt, "prompt", "shorten")}
    parent = _need(request.parent_task_id, "task_id", action)
    if action == "change":
        if request.change not in _CHANGES:
            raise invalid("Midjourney's change is UPSCALE, VARIATION or REROLL.", "change")
        if request.change != "REROLL" and request.index not in (1, 2, 3, 4):
            raise invalid("Midjourney's change needs an 'index' of 1 to 4.", "index")
        return {"taskId": parent, "action": request.change, "index": request.index or 1}
    if action == "simple-change":
        change = _need(request.change, "change", action).upper()
        if change != "R" and (len(change) != 2 or change[0] not in "UV" or change[1] not in "1234"):
            raise invalid("Midjourney's simple change is U1-U4, V1-V4 or R.", "change")
        return {"content": f"{parent} {change}"}
    if action == "action":
        return {"taskId": parent, "customId": _need(request.custom_id, "custom_id", action)}
    body = {"taskId": parent}  # modal
    if request.prompt is not None:
        body["prompt"] = request.prompt
    if request.mask is not None:
        body["maskBase64"] = image_ref(request.mask, "mask")
    return body


def _output(url: str) -> TaskOutput:
    return image_output(url)


def _progress(value: Any) -> int | None:
    raw = text(value)
    number = raw.rstrip("%").strip() if raw is not None else ""
    return min(100, int(number)) if number.isdigit() else None


def mj_state(task: Mapping[str, Any]) -> TaskState:
    """One task object of the proxy as a state (an unknown status is running)."""
    raw = text(task.get("status")) or ""
    status = _STATUS.get(raw, TaskStatus.RUNNING)
    details: dict[str, Any] = {}
    buttons = task.get("buttons")
    if isinstance(buttons, list) and buttons:
        details["buttons"] = [b for b in buttons if isinstance(b, dict)]
    properties = task.get("properties")
    final_prompt = text(properties.get("finalPrompt")) if isinstance(properties, dict) else None
    if final_prompt is not None:
        details["final_prompt"] = final_prompt
    for name in ("action", "description"):
        if text(task.get(name)) is not None:
            details[name] = task[name]
    state = TaskState(status=status, vendor_status=raw, progress=_progress(task.get("progress")), details=details)
    if status is TaskStatus.FAILED:
        state.failure = text(task.get("failReason")) or ("cancelled at Midjourney" if raw == "CANCEL" else None)
        state.failure = state.failure or "Midjourney reported the task failed"
        state.failure_code = raw
    elif status is TaskStatus.SUCCEEDED:
        url = text(task.get("imageUrl"))
        state.outputs = [_output(url)] if url is not None else []
        state.progress = 100
    return state


def _check_code(parsed: Mapping[str, Any]) -> int:
    code = parsed.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise upstream_error(_VENDOR, "the submit answered no code")
    if code in (1, 21, 22):
        return code
    description = text(parsed.get("description")) or "refused"
    kind = _CODE_KINDS.get(code, ErrorKind.UPSTREAM)
    param = "prompt" if code == 24 else None
    raise GatewayError(kind, f"{_VENDOR} error {code}: {description}", code=str(code), param=param)


class MidjourneyProxy(NoFind, NoCancel):
    """A midjourney-proxy's task API (``TaskVendor`` and ``BatchPoll``)."""

    kind = TaskKind.MIDJOURNEY
    timing = TaskTiming(first_poll=5.0, max_poll=15.0, deadline=1800.0)
    batch_limit = 100

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """None: Midjourney makes images, not seconds."""
        return None

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST {base}/submit/{action}`` (a 400 names the field the action lacks or cannot take).

        The client's webhook is not sent as ``notifyHook``: the engine follows the task by polling."""
        action = request.action or "imagine"
        if action not in ACTIONS:
            raise invalid(f"Midjourney actions are {', '.join(ACTIONS)}; got {action!r}.", "action")
        body = _body(action, request)
        merge_extra(body, request.extra)
        return UpstreamCall(f"{_base(target)}/submit/{action}", dump(body))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """``result`` (the task's id) for codes 1, 22 and 21; a ``MODAL`` task (21 waiting for its dialog)
        is running, the others queued."""
        parsed = parse_json(answer.body, _VENDOR)
        code = _check_code(parsed)
        task_id = text(parsed.get("result"))
        if task_id is None:
            raise upstream_error(_VENDOR, f"code {code} came without a task id", str(code))
        properties = parsed.get("properties")
        props = properties if isinstance(properties, dict) else {}
        description = text(parsed.get("description")) or ""
        if code == 21 and (props.get("status") == "MODAL" or "window confirm" in description.lower()):
            return Submitted(task_id, TaskState(status=TaskStatus.RUNNING, vendor_status="MODAL"))
        if code == 21:
            return Submitted(task_id)  # an existing task: its state comes with the first poll
        return Submitted(task_id, TaskState(status=TaskStatus.QUEUED, vendor_status="SUBMITTED"))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET {base}/task/{id}/fetch``."""
        return UpstreamCall(f"{_base(target)}/task/{quote(upstream_id, safe='')}/fetch", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The task object as a state (``null``: the proxy has no such task, an upstream error)."""
        if answer.body.strip() == b"null":
            raise upstream_error(_VENDOR, "the proxy has no such task", "not_found")
        return mj_state(parse_json(answer.body, _VENDOR))

    def poll_many(self, upstream_ids: Sequence[str], target: TaskTarget) -> UpstreamCall | None:
        """``POST {base}/task/list-by-condition {ids}``."""
        if not upstream_ids or len(upstream_ids) > self.batch_limit:
            return None
        return UpstreamCall(f"{_base(target)}/task/list-by-condition", dump({"ids": list(upstream_ids)}))

    def parse_poll_many(self, answer: Answer, target: TaskTarget) -> dict[str, TaskState]:
        """A JSON list of task objects: each one's state by its ``id``."""
        try:
            items = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            raise upstream_error(_VENDOR, "the task list is not JSON") from None
        if not isinstance(items, list):
            raise upstream_error(_VENDOR, "the task list is not a list")
        states: dict[str, TaskState] = {}
        for item in items:
            task_id = text(item.get("id")) if isinstance(item, dict) else None
            if task_id is not None and isinstance(item, dict):
                states[task_id] = mj_state(item)
        return states

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer: the proxy's ``description`` (or ``message``) with its status."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        description = text(parsed.get("description")) if isinstance(parsed, dict) else None
        if description is None:
            return vendor_error(status, body, _VENDOR)
        error = vendor_error(status, b"{}", _VENDOR)
        return GatewayError(error.kind, f"{_VENDOR}: {description}", status=status, code=str(parsed.get("code")))


MIDJOURNEY = MidjourneyProxy()
