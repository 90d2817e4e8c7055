"""Vidu (Shengshu) video tasks, upstream side.

Wire (platform.vidu.com docs): ``POST /ent/v2/text2video`` (no image),
``/ent/v2/img2video`` (a first frame), ``/ent/v2/start-end2video`` (first and last frames),
``/ent/v2/reference2video`` (reference images, 1–7) → ``{task_id, state, ...}``; poll
``GET /ent/v2/tasks/{id}/creations`` → ``{id, state, err_code, credits, creations: [{url, cover_url}]}``.
Auth: ``Authorization: Token <key>`` (the channel's auth style).

Request mapping: ``model`` = upstream model; ``prompt``; ``images`` (URLs as given, uploads as
``data:`` URLs); ``seed``; ``audio`` → ``audio``; ``aspect_ratio`` 16:9, 9:16, 1:1, 3:4, 4:3 (text and
reference modes only: with frames the ratio follows the image, a ``size``'s ratio is not sent);
``resolution`` 360p, 540p, 720p, 1080p (which a model makes is Vidu's to check); ``extra`` merged
(``movement_amplitude``, ``bgm``, ``payload``, ``off_peak``, ...; never ``model`` or ``callback_url``).  The
external id is not forwarded (Vidu has no look-up by one: ``find`` is None).  ``callback_url``: the
gateway's own callback URL for the task when it has one (Vidu POSTs the GET body there on each state).

Durations (``duration``, whole seconds), nearest of the model's (Vidu's model pages; q3 check):

======================  =========================
model                   durations
======================  =========================
viduq1, viduq1-classic  5
vidu2.0, vidu1.5        4, 8
viduq2*                 1 … 10
viduq3*                 1 … 16
other                   the request rounded (≥ 1)
======================  =========================

Without a duration Vidu makes its default: 4 s on vidu2.0 and vidu1.5, 5 s on the others
(``vidu_seconds``, which ``seconds_for`` reports); a ``duration`` among the vendor-native fields is a 400.

Statuses: ``created``/``queueing`` → queued, ``processing`` → running, ``success`` → succeeded,
``failed`` → failed (reason ``err_code``); others → running.  Outputs: ``creations[0].url`` (video) and
``cover_url`` (thumbnail), valid 24 h; credits from ``credits``.  Cancel: none.  Timing: first poll
10 s, at most 30 s apart, deadline 1 h (1–5 minutes typical).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

__all__ = ["VIDU_VIDEO", "ViduVideo", "vidu_durations", "vidu_seconds"]

_VENDOR = "Vidu"
_RATIOS = ("16:9", "9:16", "1:1", "3:4", "4:3")
_RESOLUTIONS = ("360p", "540p", "720p", "1080p")
_STATUS = {
    "created": TaskStatus.QUEUED,
    "queueing": TaskStatus.QUEUED,
    "processing": TaskStatus.RUNNING,
    "success": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
}


def vidu_durations(model: str) -> tuple[int, ...] | None:
    """The durations ``model`` makes (None: not known here, the request is sent rounded)."""
    if model.startswith("viduq1"):
        return (5,)
    if model in ("vidu2.0", "vidu1.5"):
        return (4, 8)
    if model.startswith("viduq2"):
        return tuple(range(1, 11))
    if model.startswith("viduq3"):
        return tuple(range(1, 17))
    return None


def vidu_seconds(request: TaskRequest, model: str) -> int:
    """The clip length Vidu makes for ``request`` on ``model``: the nearest it makes (an unknown model's: the
    request rounded), its default when none is asked."""
    if request.seconds is None:
        return 4 if model in ("vidu2.0", "vidu1.5") else 5
    allowed = vidu_durations(model)
    return nearest(request.seconds, allowed) if allowed else max(1, round(request.seconds))


def _mode(roles: list[str]) -> str:
    if not roles:
        return "text2video"
    if "reference" in roles:
        if any(role != "reference" for role in roles):
            raise invalid("Vidu takes either frames or reference images in one task, not both.", "image_roles")
        return "reference2video"
    if roles == ["first_frame"]:
        return "img2video"
    if roles == ["first_frame", "last_frame"]:
        return "start-end2video"
    raise invalid("Vidu takes a first frame, or a first then a last frame.", "image_roles")


class ViduVideo(NoFind, NoCancel):
    """Vidu's ``/ent/v2`` task API."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=10.0, max_poll=30.0, deadline=3600.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``vidu_seconds``."""
        return float(vidu_seconds(request, upstream_model))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST /ent/v2/{mode}`` (a 400 names what Vidu cannot do)."""
        refuse(request, _VENDOR, ("n",))
        refuse_billed_extra(request, ("duration",))
        roles = image_roles(request, ("first_frame", "last_frame", "reference"), 7, _VENDOR)
        mode = _mode(roles)
        if mode in ("img2video", "start-end2video") and len(roles) > 2:
            raise invalid("Vidu takes at most 2 frames.", "images")
        ratio, resolution = ratio_and_resolution(request, _RATIOS, _RESOLUTIONS)
        body: dict[str, Any] = {"model": target.upstream_model}
        if request.prompt is not None:
            body["prompt"] = request.prompt
        if request.images:
            body["images"] = [image_ref(image, image_param(i)) for i, image in enumerate(request.images)]
        if request.seconds is not None:
            body["duration"] = vidu_seconds(request, target.upstream_model)
        if request.seed is not None:
            body["seed"] = request.seed
        if ratio is not None and mode in ("text2video", "reference2video"):
            body["aspect_ratio"] = ratio
        if resolution is not None:
            body["resolution"] = resolution
        if request.audio is not None:
            body["audio"] = request.audio
        merge_extra(body, request.extra)
        if target.callback_url is not None:
            body["callback_url"] = target.callback_url
        return UpstreamCall(f"/ent/v2/{mode}", dump(body))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """``task_id`` and the state the answer tells."""
        parsed = parse_json(answer.body, _VENDOR)
        task_id = parsed.get("task_id")
        if not isinstance(task_id, str | int) or isinstance(task_id, bool) or task_id == "":
            raise GatewayError(ErrorKind.UPSTREAM, "Vidu returned no task_id")
        return Submitted(str(task_id), self._state(parsed))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET /ent/v2/tasks/{id}/creations``."""
        return UpstreamCall(f"/ent/v2/tasks/{upstream_id}/creations", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The creations answer as a state."""
        return self._state(parse_json(answer.body, _VENDOR))

    def _state(self, obj: dict[str, Any]) -> TaskState:
        raw = text(obj.get("state")) or ""
        status = _STATUS.get(raw, TaskStatus.RUNNING)
        credits = obj.get("credits")
        state = TaskState(status=status, vendor_status=raw)
        if isinstance(credits, int | float) and not isinstance(credits, bool):
            state.credits = float(credits)
        if status is TaskStatus.FAILED:
            code = text(obj.get("err_code"))
            state.failure = f"Vidu: {code}" if code else "Vidu reported the task failed"
            state.failure_code = code
        if status is TaskStatus.SUCCEEDED:
            creations = obj.get("creations")
            first = creations[0] if isinstance(creations, list) and creations and isinstance(creations[0], dict) else {}
            url = text(first.get("url"))
            if url is None:
                raise GatewayError(ErrorKind.UPSTREAM, "Vidu reported success without a video URL")
            state.outputs = [TaskOutput(kind="video", url=url, mime="video/mp4")]
            if cover := text(first.get("cover_url")):
                state.outputs.append(TaskOutput(kind="thumbnail", url=cover))
        return state

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer (``{code, reason, message}``)."""
        return vendor_error(status, body, _VENDOR)


VIDU_VIDEO = ViduVideo()
