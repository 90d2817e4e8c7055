"""Alibaba DashScope Wan 2.x video (``wan2.6-t2v``, ``wan2.6-i2v``, ``wan2.1-kf2v-plus`` …) as a task upstream.

* submit: ``POST /api/v1/services/aigc/video-generation/video-synthesis`` with ``X-DashScope-Async: enable``
  (the HTTP API is asynchronous only): ``{model, input{prompt, negative_prompt, img_url |
  first_frame_url, last_frame_url}, parameters{size "W*H" (t2v) | resolution "720P" (i2v, kf2v),
  duration, seed, audio}}`` → ``{output{task_id, task_status}, request_id}``; errors ``{code, message}``;
* poll: ``GET /api/v1/tasks/{id}`` → ``output{task_status PENDING|RUNNING|SUCCEEDED|FAILED|CANCELED|UNKNOWN,
  video_url, code, message}``, ``usage{video_duration, video_count, SR}``.  ``UNKNOWN`` (the id is not
  known, or expired) maps to running like any unknown value: the engine retries right after a submit
  and its deadline ends a task that stays so;
* outputs: ``video_url`` (a signed OSS link, 24 h, fetched without the key);
* ``cancel``: ``POST /api/v1/tasks/{id}/cancel`` (only a task still ``PENDING``); ``find``: None.

Durations, the nearest the model makes (a tie to the shorter): ``wan2.6*`` 5/10/15, ``wan2.5*`` 5/10, others
5; 5 when none is asked (``wan_seconds``, which ``seconds_for`` reports; a ``duration`` among the
vendor-native fields, or in their ``parameters``, is a 400).  Text-to-video sizes (``size`` WxH, or
``resolution`` with ``aspect_ratio`` 16:9 / 9:16 / 1:1 / 4:3 / 3:4): 480P 832x480 480x832 624x624; 720P
1280x720 720x1280 960x960 1088x832 832x1088; 1080P 1920x1080 1080x1920 1440x1440 1632x1248 1248x1632.
Image-to-video follows the image's shape and takes ``resolution`` 480P/720P/1080P (a ``size`` is read as
its short side).  Images: t2v none, i2v one (the first frame), kf2v two (first and last frame), as http
URLs or base64 ``data:`` URLs.  The client's
vendor-native fields merge in (``input`` / ``parameters`` objects into theirs).  Billing signal:
``usage.video_duration``.  Timing: first poll after 15 s (DashScope suggests ~15 s), at most 30 s apart,
deadline 1 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omnirouter.ir import GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid, json_object
from omnirouter.protocols.media.speech import vendor_error
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.video_common import (
    NoFind,
    check_count,
    image_param,
    image_ref,
    merge_extra,
    nearest,
    parse_size,
    refuse_billed_extra,
    text,
    upstream_error,
)

__all__ = ["WAN_SIZES", "WAN_VIDEO", "WanVideo", "wan_durations", "wan_seconds"]

_VENDOR = "DashScope"
WAN_SIZES: dict[str, dict[str, str]] = {
    "480P": {"16:9": "832*480", "9:16": "480*832", "1:1": "624*624"},
    "720P": {"16:9": "1280*720", "9:16": "720*1280", "1:1": "960*960", "4:3": "1088*832", "3:4": "832*1088"},
    "1080P": {"16:9": "1920*1080", "9:16": "1080*1920", "1:1": "1440*1440", "4:3": "1632*1248", "3:4": "1248*1632"},
}
_ALL_SIZES = {size for by_ratio in WAN_SIZES.values() for size in by_ratio.values()}
_SHORT_SIDES = {480: "480P", 720: "720P", 1080: "1080P"}
_STATUS = {
    "PENDING": TaskStatus.QUEUED,
    "RUNNING": TaskStatus.RUNNING,
    "SUCCEEDED": TaskStatus.SUCCEEDED,
    "FAILED": TaskStatus.FAILED,
    "CANCELED": TaskStatus.CANCELLED,
}


def wan_durations(model: str) -> tuple[int, ...]:
    """The clip lengths ``model`` makes."""
    if model.startswith("wan2.6"):
        return (5, 10, 15)
    if model.startswith("wan2.5"):
        return (5, 10)
    return (5,)


def wan_seconds(request: TaskRequest, model: str) -> int:
    """The clip length ``model`` makes for ``request``: the nearest it makes, 5 when none is asked."""
    return 5 if request.seconds is None else nearest(request.seconds, wan_durations(model))


def _t2v_size(request: TaskRequest) -> str | None:
    if request.size is not None:
        width, height = parse_size(request.size)
        size = f"{width}*{height}"
        if size not in _ALL_SIZES:
            allowed = ", ".join(sorted(s.replace("*", "x") for s in _ALL_SIZES))
            raise invalid(f"'size' must be one of {allowed} for this model.", "size")
        return size
    if request.resolution is None and request.aspect_ratio is None:
        return None
    tier = (request.resolution or "1080P").upper()  # DashScope's own default size is 1920*1080
    if tier not in WAN_SIZES:
        raise invalid("'resolution' must be 480P, 720P or 1080P for this model.", "resolution")
    found = WAN_SIZES[tier].get(request.aspect_ratio or "16:9")
    if found is None:
        raise invalid(f"'aspect_ratio' must be one of {', '.join(WAN_SIZES[tier])} at {tier}.", "aspect_ratio")
    return found


def _i2v_resolution(request: TaskRequest) -> str | None:
    if request.size is not None:
        width, height = parse_size(request.size)
        tier = _SHORT_SIDES.get(min(width, height))
        if tier is None:
            raise invalid("'size' must be 480, 720 or 1080 lines for this model.", "size")
        return tier
    if request.resolution is None:
        return None
    tier = request.resolution.upper()
    if tier not in WAN_SIZES:
        raise invalid("'resolution' must be 480P, 720P or 1080P for this model.", "resolution")
    return tier


class WanVideo(NoFind):
    """DashScope's video synthesis (Wan) as a task vendor."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=15.0, max_poll=30.0, deadline=3600.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``wan_seconds``."""
        return float(wan_seconds(request, upstream_model))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        refuse_billed_extra(request, ("duration",))
        refuse_billed_extra(request, ("duration",), nested="parameters")
        if request.n not in (None, 1):
            raise invalid("this model makes one video a task: 'n' must be 1.", "n")
        if request.remix_of is not None:
            raise invalid("'remix_of' is not supported by this model's upstream (DashScope).", "remix_of")
        model = target.upstream_model
        inputs: dict[str, Any] = {}
        if request.prompt:
            inputs["prompt"] = request.prompt
        if request.negative_prompt:
            inputs["negative_prompt"] = request.negative_prompt
        parameters: dict[str, Any] = {}
        if "kf2v" in model:
            check_count(request, 2, _VENDOR)
            for index, field in enumerate(("first_frame_url", "last_frame_url")[: len(request.images)]):
                inputs[field] = image_ref(request.images[index], image_param(index))
            if not request.images:
                raise invalid("this model needs a first-frame image.", "images")
        elif "i2v" in model:
            check_count(request, 1, _VENDOR)
            if not request.images:
                raise invalid("this model needs an image (the first frame).", "images")
            inputs["img_url"] = image_ref(request.images[0], image_param(0))
        else:
            check_count(request, 0, _VENDOR)
        if inputs.get("prompt") is None and not request.images:
            raise invalid("'prompt' is required for this model.", "prompt")
        if "i2v" in model or "kf2v" in model:
            resolution = _i2v_resolution(request)
            if resolution is not None:
                parameters["resolution"] = resolution
        else:
            size = _t2v_size(request)
            if size is not None:
                parameters["size"] = size
        if request.seconds is not None:
            parameters["duration"] = wan_seconds(request, model)
        if request.seed is not None:
            parameters["seed"] = request.seed
        if request.audio is not None:
            parameters["audio"] = request.audio
        body: dict[str, Any] = {"model": model, "input": inputs, "parameters": parameters}
        merge_extra(body, request.extra, nested={"input": inputs, "parameters": parameters})
        return UpstreamCall(
            "/api/v1/services/aigc/video-generation/video-synthesis",
            client_json(body),
            headers={"X-DashScope-Async": "enable"},
        )

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        parsed = _checked(answer)
        output = parsed.get("output")
        task_id = text(output.get("task_id")) if isinstance(output, dict) else None
        if task_id is None:
            raise upstream_error(_VENDOR, "the answer has no task id")
        return Submitted(task_id, self._state(parsed))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        return UpstreamCall(f"/api/v1/tasks/{quote(upstream_id, safe='')}", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        return self._state(_checked(answer))

    def _state(self, parsed: dict[str, Any]) -> TaskState:
        output = parsed.get("output")
        output = output if isinstance(output, dict) else {}
        raw = text(output.get("task_status")) or ""
        state = TaskState(status=_STATUS.get(raw, TaskStatus.RUNNING), vendor_status=raw)
        usage = parsed.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("video_duration"), int | float):
            state.seconds = float(usage["video_duration"])
        if state.status is TaskStatus.FAILED:
            state.failure = text(output.get("message")) or "the task failed"
            state.failure_code = text(output.get("code"))
        elif state.status is TaskStatus.SUCCEEDED:
            url = text(output.get("video_url"))
            if url is None:
                raise upstream_error(_VENDOR, "a succeeded task without a video_url")
            state.outputs = [TaskOutput(kind="video", url=url, mime="video/mp4", auth=False)]
        return state

    def cancel(self, upstream_id: str, target: TaskTarget) -> UpstreamCall | None:
        return UpstreamCall(f"/api/v1/tasks/{quote(upstream_id, safe='')}/cancel", b"")

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        error = vendor_error(status, body, _VENDOR)
        parsed = _maybe_json(body)
        if isinstance(parsed, dict) and text(parsed.get("code")):
            error.code = str(parsed["code"])
        return error


def _maybe_json(body: bytes) -> Any:
    try:
        return json_object(body, _VENDOR)
    except GatewayError:
        return None


def _checked(answer: Answer) -> dict[str, Any]:
    """The JSON answer; an error DashScope put in a 200 (``code`` without an ``output``) raises."""
    parsed = json_object(answer.body, _VENDOR)
    code = text(parsed.get("code"))
    if code is not None and not isinstance(parsed.get("output"), dict):
        raise upstream_error(_VENDOR, text(parsed.get("message")) or "an error", code=code)
    return parsed


WAN_VIDEO = WanVideo()
