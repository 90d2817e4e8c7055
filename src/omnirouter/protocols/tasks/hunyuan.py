"""Tencent Hunyuan video (Tencent Cloud VCLM, API 3.0) as a task upstream.

Tencent Cloud fronts Hunyuan video with ``vclm.tencentcloudapi.com`` (Version ``2024-05-23``): every call is
``POST /`` with the action in ``X-TC-Action`` and a TC3-HMAC-SHA256 signature made from the channel's key
pair ``SecretId|SecretKey`` (so the provider adds no auth header; the codec signs with
``signing.tc3_authorization`` and the injected clock):

* submit: ``SubmitHunyuanToVideoJob {Prompt (≤200 characters), Image{Url|Base64}, Resolution "720p",
  LogoAdd}`` → ``{Response{JobId, RequestId}}``;
* poll: ``DescribeHunyuanToVideoJob {JobId}`` → ``{Response{Status WAIT|RUN|FAIL|DONE, ErrorCode,
  ErrorMessage, ResultVideoUrl (24 h)}}``;
* errors come as HTTP 200 ``{Response{Error{Code, Message}}}``: ``AuthFailure.*`` is an auth error,
  ``RequestLimitExceeded*`` / ``LimitExceeded*`` a rate limit, ``InvalidParameter*`` / ``MissingParameter``
  a 400, the rest an upstream error (all transient for a poll);
* ``find``/``cancel``: None (neither exists).

The job API takes no duration (the model's own clip length is made: the request's ``seconds`` are not
sent, ``seconds_for`` is None, and billing falls back to them) and no size or aspect ratio (the output
follows the image, or the model's default): ``size``, ``aspect_ratio``, ``n``, ``seed``, ``negative_prompt`` are 400s, a
``resolution`` other than 720p too.  One image at most.  Channel options: ``region`` (``X-TC-Region``,
default ``ap-guangzhou``, the region the VCLM API is served in), ``service`` (signature scope, default
``vclm``), ``logo_add`` (``0``/``1``).  The client's vendor-native fields merge into the body.
Timing: first poll after 15 s, at most 30 s apart, deadline 1 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.tencent_cloud import tc3_call, tc_decode_error, tc_response
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
    NoFind,
    check_count,
    image_param,
    inline_image,
    refuse,
    text,
)

__all__ = ["HUNYUAN_VIDEO", "HunyuanVideo"]

_VENDOR = "Tencent Hunyuan"
VERSION = "2024-05-23"
MAX_PROMPT = 200
_STATUS = {
    "WAIT": TaskStatus.QUEUED,
    "RUN": TaskStatus.RUNNING,
    "DONE": TaskStatus.SUCCEEDED,
    "FAIL": TaskStatus.FAILED,
}


def _call(action: str, body: Mapping[str, Any], target: TaskTarget) -> UpstreamCall:
    return tc3_call(action, body, target, version=VERSION, service="vclm")


def _response(answer: Answer) -> dict[str, Any]:
    return tc_response(answer, _VENDOR)


class HunyuanVideo(NoFind, NoCancel):
    """Tencent Cloud VCLM Hunyuan video jobs as a task vendor."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=15.0, max_poll=30.0, deadline=3600.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """None: the job API takes no duration and says none (the model makes its own length)."""
        return None

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        refuse(request, _VENDOR, ("n", "seed", "negative_prompt", "size", "aspect_ratio", "remix_of"))
        check_count(request, 1, _VENDOR)
        if not request.prompt:
            raise invalid("'prompt' is required for this model.", "prompt")
        if len(request.prompt.strip()) > MAX_PROMPT:
            raise invalid(f"'prompt' must be at most {MAX_PROMPT} characters for this model.", "prompt")
        if request.resolution is not None and request.resolution.lower() != "720p":
            raise invalid("'resolution' must be 720p for this model.", "resolution")
        body: dict[str, Any] = {"Prompt": request.prompt}
        if request.images:
            image = request.images[0]
            if image.url is not None and image.url[:4].lower() == "http":
                body["Image"] = {"Url": image.url}
            else:
                body["Image"] = {"Base64": inline_image(image, image_param(0))[1]}
        if request.resolution is not None:
            body["Resolution"] = "720p"
        logo = target.options.get("logo_add")
        if logo is not None:
            body["LogoAdd"] = 0 if logo in ("0", "false") else 1
        body.update({key: value for key, value in request.extra.items() if key != "model"})
        return _call("SubmitHunyuanToVideoJob", body, target)

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        job_id = text(_response(answer).get("JobId"))
        if job_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} returned no JobId")
        return Submitted(job_id)

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        return _call("DescribeHunyuanToVideoJob", {"JobId": upstream_id}, target)

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        response = _response(answer)
        raw = text(response.get("Status")) or ""
        state = TaskState(status=_STATUS.get(raw.upper(), TaskStatus.RUNNING), vendor_status=raw)
        if state.status is TaskStatus.FAILED:
            state.failure = text(response.get("ErrorMessage")) or "the job failed"
            state.failure_code = text(response.get("ErrorCode"))
        elif state.status is TaskStatus.SUCCEEDED:
            url = text(response.get("ResultVideoUrl"))
            if url is None:
                raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} reported DONE without a ResultVideoUrl")
            state.outputs = [TaskOutput(kind="video", url=url, mime="video/mp4", auth=False)]
        return state

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return tc_decode_error(status, body, _VENDOR)


HUNYUAN_VIDEO = HunyuanVideo()
