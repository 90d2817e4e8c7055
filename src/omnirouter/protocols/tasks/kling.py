"""Kling (Kuaishou) video tasks, upstream side.

Wire (docs: app.klingai.com dev document): ``POST /v1/videos/text2video`` or
``/v1/videos/image2video`` (with images) → ``{code: 0, data: {task_id, task_status}}``; poll
``GET /v1/videos/{text2video|image2video}/{task_id}``.  Auth: an HS256 JWT from the channel's
``ACCESS|SECRET`` pair (``signing.kling_jwt``; valid 30 minutes, reused for 5 per pair: ``KlingTokens``).
Our upstream id is ``{action}/{task_id}``
(the poll path needs the action).  ``external_task_id`` = our external id, so ``find`` can look the
task up after a submit whose answer was lost (``GET /v1/videos/{action}/{external_task_id}``: Kling's
query takes the task id or the external id in the path — check).

Request mapping: ``model_name`` = upstream model; ``prompt``, ``negative_prompt``; images: first frame →
``image``, last frame → ``image_tail`` (URLs as given, uploads as bare base64 without ``data:``, as Kling
wants), at most 2, no other roles; ``audio`` → ``sound: on|off``; ``mode`` std|pro as given, else from
``resolution`` (720p → std, 1080p → pro: Kling's modes); ``aspect_ratio`` 16:9, 9:16, 1:1 (text to
video only: with images the ratio follows the image, and a ``size``'s ratio is not sent).  ``seed`` is
not sent (Kling has none).  ``extra`` fields are merged (``cfg_scale``, ``camera_control``, ...;
never ``model``/``model_name``/``external_task_id``/``callback_url``).  ``callback_url``: the gateway's
own callback URL for the task when it has one (``TaskTarget.callback_url``; Kling POSTs the task object
there on each status change), never the client's.

Durations (``duration`` is a string): every model makes "5" or "10"; a request is mapped to the
nearest (≤ 7.5 s → 5, else 10; no ``seconds`` → Kling's default, 5): ``kling_seconds``, which
``seconds_for`` reports; a ``duration`` among the vendor-native fields is a 400.

Statuses: ``submitted`` → queued, ``processing`` → running, ``succeed`` → succeeded, ``failed`` →
failed (reason ``task_status_msg``); anything else → running.  Outputs: ``task_result.videos[0].url``
(no cover); seconds from ``videos[0].duration`` ("5.042"); credits from ``final_unit_deduction``.
Errors: a ``code`` ≠ 0 in a 2xx body (1000s auth, 1100s account, 1200s parameters, 1301 content,
1302–1304 rate limits, 5000s server).  Cancel: none.  Timing: first poll 10 s, polls at most 30 s
apart, deadline 1 h (generations take tens of seconds to minutes; pro mode at busy hours longer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.kling_common import (
    KLING_UPSTREAM_STATUS,
    KLING_VENDOR,
    KlingAuth,
    kling_data,
    kling_found,
    kling_number,
)
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
    dump,
    image_param,
    image_ref,
    image_roles,
    merge_extra,
    nearest,
    ratio_and_resolution,
    refuse,
    refuse_billed_extra,
    text,
    vendor_error,
)

__all__ = ["KLING_DEFAULT_SECONDS", "KLING_DURATIONS", "KLING_VIDEO", "KlingVideo", "kling_seconds"]

_VENDOR = KLING_VENDOR
KLING_DURATIONS = (5, 10)
KLING_DEFAULT_SECONDS = 5
_RATIOS = ("16:9", "9:16", "1:1")
_MODES = {"720p": "std", "1080p": "pro"}


def kling_seconds(request: TaskRequest) -> int:
    """The clip length Kling makes for ``request``: the nearest it makes, its default when none is asked."""
    return KLING_DEFAULT_SECONDS if request.seconds is None else nearest(request.seconds, KLING_DURATIONS)


def _action(request: TaskRequest) -> str:
    return "image2video" if request.images else "text2video"


class KlingVideo(NoCancel):
    """Kling's ``/v1/videos`` task API."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=10.0, max_poll=30.0, deadline=3600.0)

    def __init__(self) -> None:
        self.auth = KlingAuth()  # one token per key pair for a few minutes, not one per call

    def _get(self, path: str, target: TaskTarget) -> UpstreamCall:
        return self.auth.get(path, target)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``kling_seconds`` (every model makes the same lengths)."""
        return float(kling_seconds(request))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST /v1/videos/{text2video|image2video}`` (a 400 names what Kling cannot do)."""
        refuse(request, _VENDOR, ("n",))
        refuse_billed_extra(request, ("duration",))
        roles = image_roles(request, ("first_frame", "last_frame"), 2, _VENDOR)
        ratio, resolution = ratio_and_resolution(request, _RATIOS, _MODES)
        body: dict[str, Any] = {"model_name": target.upstream_model}
        if request.prompt is not None:
            body["prompt"] = request.prompt
        if request.negative_prompt is not None:
            body["negative_prompt"] = request.negative_prompt
        for index, (image, role) in enumerate(zip(request.images, roles, strict=True)):
            body["image" if role == "first_frame" else "image_tail"] = image_ref(
                image, image_param(index), data_prefix=False
            )
        if request.images and "image" not in body:
            raise invalid("Kling needs a first frame to animate; 'image_roles' names only a last frame.", "image_roles")
        mode = request.mode
        if mode is not None and mode not in ("std", "pro"):
            raise invalid(f"Kling's mode is std or pro; got {mode!r}.", "mode")
        if resolution is not None:
            if mode is not None and _MODES[resolution] != mode:
                raise invalid(
                    f"resolution {resolution} contradicts mode {mode} (std is 720p, pro 1080p).", "resolution"
                )
            mode = _MODES[resolution]
        if mode is not None:
            body["mode"] = mode
        if ratio is not None and not request.images:
            body["aspect_ratio"] = ratio
        if request.seconds is not None:
            body["duration"] = str(kling_seconds(request))
        if request.audio is not None:
            body["sound"] = "on" if request.audio else "off"
        merge_extra(body, request.extra, ("model_name", "external_task_id"))
        body["external_task_id"] = target.external_id
        if target.callback_url is not None:
            body["callback_url"] = target.callback_url
        path = f"/v1/videos/{_action(request)}"
        return self.auth.post(path, dump(body), target)

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """The task id (``{action}/{task_id}``) and its first status."""
        data = kling_data(answer.body)
        task_id = text(data.get("task_id"))
        if task_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, "Kling returned no task_id")
        return Submitted(f"{_action(request)}/{task_id}", self._state(data))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET /v1/videos/{action}/{task_id}``."""
        return self._get(f"/v1/videos/{upstream_id}", target)

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The task object as a state."""
        return self._state(kling_data(answer.body))

    def _state(self, data: dict[str, Any]) -> TaskState:
        raw = text(data.get("task_status")) or ""
        status = KLING_UPSTREAM_STATUS.get(raw, TaskStatus.RUNNING)
        state = TaskState(status=status, vendor_status=raw, credits=kling_number(data.get("final_unit_deduction")))
        if status is TaskStatus.FAILED:
            state.failure = text(data.get("task_status_msg")) or "Kling reported the task failed"
        result = data.get("task_result")
        videos = result.get("videos") if isinstance(result, dict) else None
        if status is TaskStatus.SUCCEEDED:
            first = videos[0] if isinstance(videos, list) and videos and isinstance(videos[0], dict) else {}
            url = text(first.get("url"))
            if url is None:
                raise GatewayError(ErrorKind.UPSTREAM, "Kling reported success without a video URL")
            state.outputs = [TaskOutput(kind="video", url=url, mime="video/mp4")]
            state.seconds = kling_number(first.get("duration"))
        return state

    def find(self, target: TaskTarget, request: TaskRequest | None = None) -> UpstreamCall | None:
        """``GET /v1/videos/{action}/{external_task_id}`` (text to video when the request is unknown)."""
        action = _action(request) if request is not None else "text2video"
        return self._get(f"/v1/videos/{action}/{target.external_id}", target)

    def parse_find(self, answer: Answer, target: TaskTarget, request: TaskRequest | None = None) -> str | None:
        """Kling's id for our task, None when it has none (404, or a task of another external id)."""
        task_id = kling_found(answer, target)
        if task_id is None:
            return None
        return f"{_action(request) if request is not None else 'text2video'}/{task_id}"

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer (``{code, message}``)."""
        return vendor_error(status, body, _VENDOR)


KLING_VIDEO = KlingVideo()
