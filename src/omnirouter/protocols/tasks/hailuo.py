"""MiniMax Hailuo video tasks, upstream side.

Wire (platform.minimax.io docs): ``POST /v1/video_generation`` →
``{task_id, base_resp}``; poll ``GET /v1/query/video_generation?task_id=`` → ``{status, file_id,
video_width, video_height, base_resp}``; on ``Success`` a second call, ``GET /v1/files/retrieve?file_id=``
→ ``{file: {download_url}}`` (a ``Followup`` with step ``file``).  Auth: Bearer (the channel's).  Errors
come inside HTTP 200 bodies as ``base_resp.status_code`` ≠ 0 (1002 rate limit, 1004/2049 auth, 1008
balance, 1026 sensitive content, 2013 parameters).

Request mapping: ``model`` = upstream model; ``prompt``; images: first frame → ``first_frame_image``,
last frame → ``last_frame_image``, a reference → ``subject_reference: [{type: character, image: [..]}]``
(URLs as given, uploads as ``data:`` URLs; at most 2 frames or 1 reference); ``resolution`` 512P, 720P,
768P, 1080P (``size`` must be 16:9 at one of them; which a model makes is MiniMax's to check);
``aspect_ratio`` only 16:9 without images (MiniMax makes 16:9 from text; with a first frame the image's
ratio); ``extra`` merged (``prompt_optimizer``, ``fast_pretreatment``, ``aigc_watermark``; never ``model``
or ``callback_url``).  No external id (``find`` is None); ``seed`` is not sent (MiniMax has none).
``callback_url``: the gateway's own callback URL for the task when it has one (MiniMax first POSTs a
``challenge`` the gateway echoes, then status pushes).

Durations (``duration``), nearest of (MiniMax model pages):

=====================================================  ===============================
model                                                  durations
=====================================================  ===============================
MiniMax-Hailuo-02, MiniMax-Hailuo-2.3(-Fast)           6, 10 (6 only at 1080P)
T2V-01(-Director), I2V-01(-Director, -live), S2V-01    6
=====================================================  ===============================

Without a duration MiniMax makes 6 s (``hailuo_seconds``, which ``seconds_for`` reports); a ``duration``
among the vendor-native fields is a 400.

Statuses: ``Preparing``/``Queueing`` → queued, ``Processing`` → running, ``Success`` → succeeded (then
the file look-up), ``Fail`` → failed (reason ``base_resp.status_msg``); others → running.  Output: the
file's ``download_url`` (no cover, no reported seconds).  Cancel: none.  Timing: first poll 15 s, at
most 30 s apart, deadline 1 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
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

__all__ = ["HAILUO_VIDEO", "HailuoVideo", "hailuo_durations", "hailuo_seconds"]

_VENDOR = "MiniMax"
_FILE = "file"
_RESOLUTIONS = ("512P", "720P", "768P", "1080P")
_STATUS = {
    "Preparing": TaskStatus.QUEUED,
    "Queueing": TaskStatus.QUEUED,
    "Processing": TaskStatus.RUNNING,
    "Success": TaskStatus.SUCCEEDED,
    "Fail": TaskStatus.FAILED,
}
_KINDS = {
    1002: ErrorKind.RATE_LIMIT,
    1039: ErrorKind.RATE_LIMIT,
    1004: ErrorKind.AUTHENTICATION,
    2049: ErrorKind.AUTHENTICATION,
    1008: ErrorKind.INSUFFICIENT_QUOTA,
    1026: ErrorKind.INVALID_REQUEST,
    2013: ErrorKind.INVALID_REQUEST,
}


def hailuo_durations(model: str, resolution: str | None) -> tuple[int, ...]:
    """The durations ``model`` makes at ``resolution``."""
    if model.startswith("MiniMax-Hailuo") and resolution != "1080P":
        return (6, 10)
    return (6,)


def _resolution(request: TaskRequest) -> str | None:
    """The resolution asked in MiniMax's spelling (a 400 for one it does not make)."""
    # 16:9 is what MiniMax makes from text (nothing to send); with an image, the image's shape
    _, resolution = ratio_and_resolution(request, ("16:9",) if not request.images else (), _RESOLUTIONS)
    return resolution


def hailuo_seconds(request: TaskRequest, model: str) -> int:
    """The clip length MiniMax makes for ``request`` on ``model``: the nearest it makes at the resolution
    asked, its default 6 when none is asked."""
    if request.seconds is None:
        return 6
    return nearest(request.seconds, hailuo_durations(model, _resolution(request)))


def _check(obj: dict[str, Any]) -> None:
    base = obj.get("base_resp")
    code = base.get("status_code", 0) if isinstance(base, dict) else 0
    if code not in (0, None):
        kind = _KINDS.get(code, ErrorKind.UPSTREAM) if isinstance(code, int) else ErrorKind.UPSTREAM
        message = text(base.get("status_msg")) if isinstance(base, dict) else None
        raise GatewayError(kind, f"MiniMax error {code}: {message or 'failed'}", code=str(code))


class HailuoVideo(NoFind, NoCancel):
    """MiniMax's ``/v1/video_generation`` task API."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=15.0, max_poll=30.0, deadline=3600.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``hailuo_seconds``."""
        return float(hailuo_seconds(request, upstream_model))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST /v1/video_generation`` (a 400 names what MiniMax cannot do)."""
        refuse(request, _VENDOR, ("n",))
        refuse_billed_extra(request, ("duration",))
        roles = image_roles(request, ("first_frame", "last_frame", "reference"), 2, _VENDOR)
        if "reference" in roles and len(roles) > 1:
            raise invalid("MiniMax takes one subject reference image, and no frames with it.", "images")
        if request.size is not None and request.images:
            raise invalid("With an input image MiniMax's video has the image's shape: send 'resolution'.", "size")
        resolution = _resolution(request)
        body: dict[str, Any] = {"model": target.upstream_model}
        if request.prompt is not None:
            body["prompt"] = request.prompt
        for index, (image, role) in enumerate(zip(request.images, roles, strict=True)):
            ref = image_ref(image, image_param(index))
            if role == "reference":
                body["subject_reference"] = [{"type": "character", "image": [ref]}]
            else:
                body[f"{role}_image"] = ref
        if request.images and roles != ["reference"] and "first_frame_image" not in body:
            raise invalid("MiniMax needs a first frame when a last frame is given.", "image_roles")
        if resolution is not None:
            body["resolution"] = resolution
        if request.seconds is not None:
            body["duration"] = hailuo_seconds(request, target.upstream_model)
        merge_extra(body, request.extra)
        if target.callback_url is not None:
            body["callback_url"] = target.callback_url
        return UpstreamCall("/v1/video_generation", dump(body))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """``task_id`` (the task is queued)."""
        parsed = parse_json(answer.body, _VENDOR)
        _check(parsed)
        task_id = text(parsed.get("task_id"))
        if task_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, "MiniMax returned no task_id")
        return Submitted(task_id, TaskState(status=TaskStatus.QUEUED, vendor_status="Queueing"))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET /v1/query/video_generation?task_id=``."""
        return UpstreamCall(f"/v1/query/video_generation?task_id={quote(upstream_id, safe='')}", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The query answer as a state, or (on ``Success``) the file look-up; the file's download URL."""
        parsed = parse_json(answer.body, _VENDOR)
        if step is not None and step.step == _FILE:
            _check(parsed)
            file = parsed.get("file")
            url = text(file.get("download_url")) if isinstance(file, dict) else None
            if url is None:
                raise GatewayError(ErrorKind.UPSTREAM, "MiniMax returned a file without a download_url")
            state: TaskState = step.carry
            state.outputs = [TaskOutput(kind="video", url=url, mime="video/mp4")]
            return state
        raw = text(parsed.get("status")) or ""
        status = _STATUS.get(raw, TaskStatus.RUNNING)
        if status is TaskStatus.FAILED:
            base = parsed.get("base_resp")
            reason = text(base.get("status_msg")) if isinstance(base, dict) else None
            code = base.get("status_code") if isinstance(base, dict) else None
            failure = reason if reason and reason != "success" else "MiniMax reported the task failed"
            return TaskState(
                status=status, vendor_status=raw, failure=failure, failure_code=str(code) if code else None
            )
        _check(parsed)
        if status is TaskStatus.SUCCEEDED:
            file_id = parsed.get("file_id")
            if not isinstance(file_id, str | int) or isinstance(file_id, bool) or file_id == "":
                raise GatewayError(ErrorKind.UPSTREAM, "MiniMax reported success without a file_id")
            call = UpstreamCall(f"/v1/files/retrieve?file_id={quote(str(file_id), safe='')}", method="GET")
            return Followup(call, _FILE, carry=TaskState(status=status, vendor_status=raw))
        return TaskState(status=status, vendor_status=raw)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer."""
        return vendor_error(status, body, _VENDOR)


HAILUO_VIDEO = HailuoVideo()
