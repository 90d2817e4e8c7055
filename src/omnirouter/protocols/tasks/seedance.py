"""Volcengine Ark / BytePlus ModelArk Seedance video tasks, upstream side.

Wire (Ark SDK ``content_generation.tasks`` and docs): ``POST
/api/v3/contents/generations/tasks`` ``{model, content: [{type: text, text}, {type: image_url,
image_url: {url}, role}], resolution, ratio, duration, seed, generate_audio, return_last_frame}`` →
``{id}``; poll ``GET /api/v3/contents/generations/tasks/{id}`` → ``{status, content: {video_url,
last_frame_url}, usage: {completion_tokens, total_tokens}, duration, error}``; ``DELETE …/{id}``
cancels a queued task.  Batch polls (``BatchPoll``): ``GET /api/v3/contents/generations/tasks?page_num=1
&page_size=N&filter.task_ids=ID1&filter.task_ids=ID2…`` → ``{items: [task object], total}`` (Ark's "list
video generation tasks"; ``page_size`` 1-500, the id filter repeated per id, tasks of the last 7 days),
at most 100 ids a call; an id missing from the list is polled alone.  Auth: Bearer (the channel's); the
channel's base URL is the bare host (``https://ark.cn-beijing.volces.com``, as for Seedream images).

Request mapping: ``model`` = upstream model; ``prompt`` → a text item; images → ``image_url`` items with
roles ``first_frame``, ``last_frame``, ``reference_image`` (the request's ``reference``; URLs as given,
uploads as ``data:`` URLs; up to 4 references, or 2 frames); ``resolution`` 480p, 720p, 1080p; ``ratio``
16:9, 9:16, 1:1, 4:3, 3:4, 21:9, adaptive (from ``aspect_ratio`` or a ``size``'s shape); ``seed``;
``audio`` → ``generate_audio``; ``return_last_frame: true`` (so the last frame is kept as an output);
``extra`` merged (``camera_fixed``, ``watermark``, ``service_tier``, ``draft``, ...; never ``model`` or
``callback_url``).  No external id (Ark has none: ``find`` is None).  ``callback_url``: the gateway's own
callback URL for the task when it has one.

Durations (``duration``, whole seconds), nearest of (Ark model pages — check per release):

=============================  ===========
model                          durations
=============================  ===========
doubao-seedance-1-0-*          2 … 12
doubao-seedance-1-5-*          4 … 12
*seedance-2-0*                 4 … 15
other                          the request rounded (≥ 1)
=============================  ===========

Without a duration Ark makes 5 s (``seedance_seconds``, which ``seconds_for`` reports); ``duration`` or
``frames`` among the vendor-native fields is a 400.

Statuses: ``queued`` → queued, ``running`` → running, ``succeeded`` → succeeded, ``failed`` → failed
(reason ``error.message``), ``expired`` → failed (Ark gave up on it), ``cancelled`` → cancelled; others →
running.  Outputs: ``content.video_url`` and ``content.last_frame_url`` (valid 24 h); seconds from
``duration``; usage ``completion_tokens`` (output tokens; ``total_tokens`` when only that is given), the
billing signal.  Timing: first poll 10 s, at most 30 s apart, deadline 1 h (``service_tier: flex`` tasks
may take longer: give such channels a longer deadline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.video_common import (
    NoFind,
    dump,
    image_param,
    image_ref,
    image_roles,
    merge_extra,
    nearest,
    parse_json,
    ratio_and_resolution,
    refuse,
    refuse_billed_extra,
    text,
    vendor_error,
)

__all__ = ["SEEDANCE_VIDEO", "SeedanceVideo", "seedance_durations", "seedance_seconds"]

_VENDOR = "Ark"
_PATH = "/api/v3/contents/generations/tasks"
_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive")
_RESOLUTIONS = ("480p", "720p", "1080p")
_ROLES = {"first_frame": "first_frame", "last_frame": "last_frame", "reference": "reference_image"}
_STATUS = {
    "queued": TaskStatus.QUEUED,
    "running": TaskStatus.RUNNING,
    "succeeded": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
    "expired": TaskStatus.FAILED,
    "cancelled": TaskStatus.CANCELLED,
}


def seedance_durations(model: str) -> tuple[int, ...] | None:
    """The durations ``model`` makes (None: not known here, the request is sent rounded)."""
    if "seedance-1-0" in model:
        return tuple(range(2, 13))
    if "seedance-1-5" in model:
        return tuple(range(4, 13))
    if "seedance-2-0" in model:
        return tuple(range(4, 16))
    return None


def seedance_seconds(request: TaskRequest, model: str) -> int:
    """The clip length Ark makes for ``request`` on ``model``: the nearest it makes (an unknown model's: the
    request rounded), its default 5 when none is asked."""
    if request.seconds is None:
        return 5
    allowed = seedance_durations(model)
    return nearest(request.seconds, allowed) if allowed else max(1, round(request.seconds))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _state(obj: dict[str, Any]) -> TaskState:
    """One task object (a poll's answer, or an item of the task list) as a state."""
    raw = text(obj.get("status")) or ""
    status = _STATUS.get(raw, TaskStatus.RUNNING)
    state = TaskState(status=status, vendor_status=raw)
    if status is TaskStatus.FAILED:
        error = obj.get("error")
        message = text(error.get("message")) if isinstance(error, dict) else None
        state.failure = message or ("Ark expired the task" if raw == "expired" else "Ark reported the task failed")
        state.failure_code = text(error.get("code")) if isinstance(error, dict) else raw
    if status is TaskStatus.SUCCEEDED:
        content = obj.get("content")
        video = text(content.get("video_url")) if isinstance(content, dict) else None
        if video is None:
            raise GatewayError(ErrorKind.UPSTREAM, "Ark reported success without a video_url")
        state.outputs = [TaskOutput(kind="video", url=video, mime="video/mp4")]
        last = text(content.get("last_frame_url")) if isinstance(content, dict) else None
        if last is not None:
            state.outputs.append(TaskOutput(kind="last_frame", url=last))
        duration = obj.get("duration")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            state.seconds = float(duration)
        usage = obj.get("usage")
        if isinstance(usage, dict):
            tokens = _int(usage.get("completion_tokens")) or _int(usage.get("total_tokens"))
            if tokens is not None:
                state.usage = Usage(output_tokens=tokens)
    return state


class SeedanceVideo(NoFind):
    """Ark's ``/api/v3/contents/generations/tasks`` API."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=10.0, max_poll=30.0, deadline=3600.0)
    batch_limit = 100

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``seedance_seconds``."""
        return float(seedance_seconds(request, upstream_model))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST /api/v3/contents/generations/tasks`` (a 400 names what Seedance cannot do)."""
        refuse(request, _VENDOR, ("n",))
        refuse_billed_extra(request, ("duration", "frames"))
        roles = image_roles(request, tuple(_ROLES), 4, _VENDOR)
        if "reference" in roles and any(role != "reference" for role in roles):
            raise invalid("Seedance takes either frames or reference images in one task, not both.", "image_roles")
        if "reference" not in roles and len(roles) > 2:
            raise invalid("Seedance takes at most 2 frames.", "images")
        ratio, resolution = ratio_and_resolution(request, _RATIOS, _RESOLUTIONS)
        content: list[dict[str, Any]] = []
        if request.prompt is not None:
            content.append({"type": "text", "text": request.prompt})
        for index, (image, role) in enumerate(zip(request.images, roles, strict=True)):
            url = image_ref(image, image_param(index))
            content.append({"type": "image_url", "image_url": {"url": url}, "role": _ROLES[role]})
        body: dict[str, Any] = {"model": target.upstream_model, "content": content}
        if resolution is not None:
            body["resolution"] = resolution
        if ratio is not None:
            body["ratio"] = ratio
        if request.seconds is not None:
            body["duration"] = seedance_seconds(request, target.upstream_model)
        if request.seed is not None:
            body["seed"] = request.seed
        if request.audio is not None:
            body["generate_audio"] = request.audio
        body["return_last_frame"] = True
        merge_extra(body, request.extra)
        if target.callback_url is not None:
            body["callback_url"] = target.callback_url
        return UpstreamCall(_PATH, dump(body))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """``id``."""
        parsed = parse_json(answer.body, _VENDOR)
        if isinstance(parsed.get("error"), dict):
            raise vendor_error(502, answer.body, _VENDOR)
        task_id = text(parsed.get("id"))
        if task_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, "Ark returned no task id")
        return Submitted(task_id)

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET /api/v3/contents/generations/tasks/{id}``."""
        return UpstreamCall(f"{_PATH}/{upstream_id}", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The task object as a state."""
        return _state(parse_json(answer.body, _VENDOR))

    def poll_many(self, upstream_ids: Sequence[str], target: TaskTarget) -> UpstreamCall | None:
        """``GET /api/v3/contents/generations/tasks?page_num=1&page_size=N&filter.task_ids=…`` (the id
        repeated once per task)."""
        if not upstream_ids or len(upstream_ids) > self.batch_limit:
            return None
        query = urlencode([("page_num", "1"), ("page_size", str(len(upstream_ids)))]
                          + [("filter.task_ids", upstream_id) for upstream_id in upstream_ids])  # fmt: skip
        return UpstreamCall(f"{_PATH}?{query}", method="GET")

    def parse_poll_many(self, answer: Answer, target: TaskTarget) -> dict[str, TaskState]:
        """``{items: [task object], total}``: each item's state by its ``id``."""
        obj = parse_json(answer.body, _VENDOR)
        if isinstance(obj.get("error"), dict):
            raise vendor_error(502, answer.body, _VENDOR)
        items = obj.get("items")
        if not isinstance(items, list):
            raise GatewayError(ErrorKind.UPSTREAM, "Ark's task list answered no items")
        states: dict[str, TaskState] = {}
        for item in items:
            task_id = text(item.get("id")) if isinstance(item, dict) else None
            if task_id is not None and isinstance(item, dict):
                states[task_id] = _state(item)
        return states

    def cancel(self, upstream_id: str, target: TaskTarget) -> UpstreamCall | None:
        """``DELETE …/tasks/{id}`` (cancels a queued task; Ark refuses to cancel a running one)."""
        return UpstreamCall(f"{_PATH}/{upstream_id}", method="DELETE")

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer (``{error: {code, message}}``)."""
        return vendor_error(status, body, _VENDOR)


SEEDANCE_VIDEO = SeedanceVideo()
