"""Jimeng (Volcengine visual "CV sync2async") video tasks, upstream side.

Wire (new-api's jimeng adaptor and volcengine.com/docs/85621): ``POST
/?Action=CVSync2AsyncSubmitTask&Version=2022-08-31`` ``{req_key, prompt, image_urls | binary_data_base64,
seed, aspect_ratio, frames}`` → ``{code: 10000, data: {task_id}}``; poll ``POST
/?Action=CVSync2AsyncGetResult&Version=2022-08-31`` ``{req_key, task_id}`` → ``{code, data: {status,
video_url}}``.  Success only when ``code`` is 10000.  Auth: Volcengine signature V4 over every call from
the channel's ``ACCESS|SECRET`` pair (``signing.volcengine_headers``, region cn-north-1, service cv).

Request mapping: ``req_key`` = upstream model (``jimeng_t2v_v30``, ``jimeng_i2v_first_v30``,
``jimeng_i2v_first_tail_v30``, ``jimeng_t2v_v30_1080p``, ...: the model decides the mode and resolution);
``prompt``; images (first frame, then last frame; at most 2): all http URLs → ``image_urls``, else all
inline → ``binary_data_base64`` (Jimeng takes one kind per call); ``seed``; ``aspect_ratio`` 16:9, 4:3,
1:1, 3:4, 9:16, 21:9 (text to video only); ``resolution``/``size`` only the model's own (1080p for a
``*1080p`` req_key, else 720p); ``extra`` merged (never ``model``/``req_key``).  No external id, no cancel.

Durations are frames at 24 fps: 5 s → ``frames: 121``, 10 s → ``241``; the nearest of 5 and 10, and
Jimeng's default 5 s when none is asked (``jimeng_seconds``, which ``seconds_for`` reports); ``frames``
among the vendor-native fields is a 400.

Statuses (``data.status``): ``in_queue`` → queued, ``generating`` → running, ``done`` → succeeded
(``video_url``, valid about 1 h — check), ``expired`` → failed, ``not_found`` → running (Jimeng's
eventual consistency right after a submit; the engine counts it), others → running.  A poll with
``code`` 50411–50413 / 50511–50513 (input or output failed content review) is a terminal failure;
other codes ≠ 10000 are errors (50429 / 50430: rate limits), never a failure by themselves.
Timing: first poll 10 s, at most 20 s apart, deadline 30 min.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.signing import split_pair, volcengine_headers
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
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

__all__ = ["JIMENG_FRAMES", "JIMENG_VIDEO", "JimengVideo", "jimeng_seconds"]

_VENDOR = "Jimeng"
_VERSION = "2022-08-31"
_SUBMIT = "CVSync2AsyncSubmitTask"
_RESULT = "CVSync2AsyncGetResult"
JIMENG_FRAMES = {5: 121, 10: 241}
_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
_STATUS = {
    "in_queue": TaskStatus.QUEUED,
    "generating": TaskStatus.RUNNING,
    "done": TaskStatus.SUCCEEDED,
    "expired": TaskStatus.FAILED,
    "not_found": TaskStatus.RUNNING,
}
_REVIEW = frozenset({50411, 50412, 50413, 50511, 50512, 50513})
_RATE = frozenset({50429, 50430})


def jimeng_seconds(request: TaskRequest) -> int:
    """The clip length Jimeng makes for ``request``: the nearest of 5 and 10 s, 5 when none is asked."""
    return 5 if request.seconds is None else nearest(request.seconds, tuple(JIMENG_FRAMES))


def _error(parsed: dict[str, Any]) -> GatewayError:
    code = parsed.get("code")
    kind = ErrorKind.RATE_LIMIT if code in _RATE else ErrorKind.UPSTREAM
    message = text(parsed.get("message")) or "failed"
    return GatewayError(kind, f"Jimeng error {code}: {message}", code=str(code))


class JimengVideo(NoFind, NoCancel):
    """Jimeng's CVSync2Async task API on ``visual.volcengineapi.com``."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=10.0, max_poll=20.0, deadline=1800.0)

    def _call(self, action: str, body: dict[str, Any], target: TaskTarget) -> UpstreamCall:
        access, secret = split_pair(target.upstream_key, _VENDOR)
        raw = dump(body)
        base = urlsplit(target.base_url)
        query = {"Action": action, "Version": _VERSION}
        headers = volcengine_headers(
            access_key=access,
            secret_key=secret,
            method="POST",
            host=base.netloc,
            path=base.path.rstrip("/") + "/",
            query=query,
            body=raw,
            content_type="application/json",
            now=target.now,
        )
        return UpstreamCall(f"/?Action={action}&Version={_VERSION}", raw, headers=headers, auth=False)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``jimeng_seconds``."""
        return float(jimeng_seconds(request))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``CVSync2AsyncSubmitTask`` (a 400 names what Jimeng cannot do)."""
        refuse(request, _VENDOR, ("n",))
        refuse_billed_extra(request, ("frames",))
        roles = image_roles(request, ("first_frame", "last_frame"), 2, _VENDOR)
        if request.images and roles[0] != "first_frame":
            raise invalid("Jimeng needs the first frame first.", "image_roles")
        own = "1080p" if target.upstream_model.endswith("1080p") else "720p"
        ratio, _ = ratio_and_resolution(request, _RATIOS if not request.images else (), (own,))
        body: dict[str, Any] = {"req_key": target.upstream_model}
        if request.prompt is not None:
            body["prompt"] = request.prompt
        refs = [image_ref(image, image_param(i), data_prefix=False) for i, image in enumerate(request.images)]
        urls = [ref for ref in refs if ref[:4].lower() == "http"]
        if urls and len(urls) != len(refs):
            raise invalid("Jimeng takes images all as URLs or all as uploads in one task.", "images")
        if refs:
            body["image_urls" if urls else "binary_data_base64"] = refs
        if request.seed is not None:
            body["seed"] = request.seed
        if ratio is not None:
            body["aspect_ratio"] = ratio
        if request.seconds is not None:
            body["frames"] = JIMENG_FRAMES[jimeng_seconds(request)]
        merge_extra(body, request.extra, ("req_key",))
        return self._call(_SUBMIT, body, target)

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """``data.task_id`` (when ``code`` is 10000)."""
        parsed = parse_json(answer.body, _VENDOR)
        if parsed.get("code") != 10000:
            raise _error(parsed)
        data = parsed.get("data")
        task_id = text(data.get("task_id")) if isinstance(data, dict) else None
        if task_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, "Jimeng returned no task_id")
        return Submitted(task_id)

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``CVSync2AsyncGetResult`` with the submit's ``req_key`` (the channel's model)."""
        return self._call(_RESULT, {"req_key": target.upstream_model, "task_id": upstream_id}, target)

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """``data.status`` as a state."""
        parsed = parse_json(answer.body, _VENDOR)
        code = parsed.get("code")
        if code in _REVIEW:
            message = text(parsed.get("message")) or "content review failed"
            return TaskState(status=TaskStatus.FAILED, vendor_status=str(code), failure=message, failure_code=str(code))
        if code != 10000:
            raise _error(parsed)
        data = parsed.get("data")
        data = data if isinstance(data, dict) else {}
        raw = text(data.get("status")) or ""
        status = _STATUS.get(raw, TaskStatus.RUNNING)
        state = TaskState(status=status, vendor_status=raw)
        if raw == "expired":
            state.failure = "Jimeng expired the task"
        if status is TaskStatus.SUCCEEDED:
            url = text(data.get("video_url"))
            if url is None:
                raise GatewayError(ErrorKind.UPSTREAM, "Jimeng reported done without a video_url")
            state.outputs = [TaskOutput(kind="video", url=url, mime="video/mp4")]
        return state

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer (``{code, message}`` or ``ResponseMetadata.Error``)."""
        return vendor_error(status, body, _VENDOR)


JIMENG_VIDEO = JimengVideo()
