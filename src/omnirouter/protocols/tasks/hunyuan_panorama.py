"""Tencent Hunyuan world panorama (``Hunyuan-3d-2.0``: a 360° equirectangular image) as a task upstream.

Tencent Cloud serves the Hunyuan world model's panoramas through MPS (media processing), API 3.0 at
``mps.tencentcloudapi.com``, Version ``2019-06-12`` (signature service ``mps``), signed TC3-HMAC-SHA256 from
the channel's ``SecretId|SecretKey`` (``tencent_cloud.tc3_call``); sources in docs/tasks.md:

* submit: ``CreateAigcImageTask {ModelName: "Hunyuan", ModelVersion?, SceneType: "3d_panorama", Prompt,
  NegativePrompt?, ImageInfos[{ImageUrl}], ExtraParameters{Resolution}?}`` → ``{Response{TaskId, RequestId}}``
  (a panorama is made from a prompt *or* one reference image URL, not both);
* poll: ``DescribeAigcImageTask {TaskId}`` → ``{Response{Status WAIT|RUN|FAIL|DONE, ImageUrls[] (kept 12 h),
  Message}}``;
* no look-up by our id and no cancel (``find``/``cancel`` are None).

The channel's base URL is the MPS host; a channel left on the provider's default host (VCLM, where Hunyuan
video lives) is sent to ``https://mps.tencentcloudapi.com`` instead.  ``ModelVersion``: the channel option
``model_version``, else what follows ``:`` in the upstream model (``Hunyuan:3.0``), else not sent (MPS picks
its stable version; which version ``Hunyuan-3d-2.0`` is could not be confirmed).  One image per task (``n``
1), aspect ratio 2:1 only, no pixel ``size`` or seed; ``resolution`` ``720P``/``1080P``/``2K``/``4K`` goes in
``ExtraParameters.Resolution`` (MPS's image resolution; whether panoramas honour it is unconfirmed).  Channel
option ``region`` (default ``ap-guangzhou``); the signature's service is always ``mps`` (the channel's
``service`` option is Hunyuan video's).  Timing: first poll 10 s, at most 20 s apart,
deadline 30 min.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.tencent_cloud import tc3_call, tc_decode_error, tc_response
from omnirouter.protocols.tasks.video_common import NoCancel, NoFind, image_output, merge_extra, refuse, text

__all__ = ["HUNYUAN_PANORAMA", "MPS_URL", "HunyuanPanorama"]

_VENDOR = "Tencent Hunyuan (MPS)"
VERSION = "2019-06-12"
MPS_URL = "https://mps.tencentcloudapi.com"
_VCLM_HOST = "vclm.tencentcloudapi.com"
_RESOLUTIONS = {"720p": "720P", "1080p": "1080P", "2k": "2K", "4k": "4K"}
_STATUS = {
    "WAIT": TaskStatus.QUEUED,
    "RUN": TaskStatus.RUNNING,
    "DONE": TaskStatus.SUCCEEDED,
    "FAIL": TaskStatus.FAILED,
}


def _model_version(target: TaskTarget) -> str | None:
    option = target.options.get("model_version")
    if option:
        return option
    _, sep, version = target.upstream_model.partition(":")
    return version.strip() or None if sep else None


def _base_url(target: TaskTarget) -> str | None:
    """The MPS host when the channel is on the provider's default (VCLM) host, else None (the channel's)."""
    return MPS_URL if urlsplit(target.base_url).netloc in ("", _VCLM_HOST) else None


def _mps_call(action: str, body: Mapping[str, Any], target: TaskTarget) -> UpstreamCall:
    """``action`` on MPS, signed for service ``mps`` whatever the channel's ``service`` option says."""
    return tc3_call(
        action, body, target, version=VERSION, service="mps", base_url=_base_url(target), service_option=None
    )


class HunyuanPanorama(NoFind, NoCancel):
    """Tencent Cloud MPS Hunyuan panoramas (``SceneType 3d_panorama``) as an image task vendor."""

    kind = TaskKind.IMAGE
    timing = TaskTiming(first_poll=10.0, max_poll=20.0, deadline=1800.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """None: images have no duration."""
        return None

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``CreateAigcImageTask`` (a 400 names what a panorama cannot take)."""
        refuse(request, _VENDOR, ("seconds", "seed", "size", "audio", "mode", "remix_of", "image_roles"))
        if request.n not in (None, 1):
            raise invalid("a Hunyuan panorama task makes one image; 'n' must be 1.", "n")
        if len(request.images) > 1:
            raise invalid("a Hunyuan panorama takes at most 1 reference image.", "images")
        if request.aspect_ratio is not None and request.aspect_ratio != "2:1":
            raise invalid("a panorama is equirectangular: 'aspect_ratio' can only be 2:1.", "aspect_ratio")
        prompt = request.prompt.strip() if request.prompt else ""
        if not prompt and not request.images:
            raise invalid("'prompt' (or one reference image) is required for this model.", "prompt")
        if prompt and request.images:
            raise invalid("a Hunyuan panorama is made from a prompt or from one image, not both.", "images")
        body: dict[str, Any] = {"ModelName": "Hunyuan"}
        version = _model_version(target)
        if version is not None:
            body["ModelVersion"] = version
        body["SceneType"] = "3d_panorama"
        if prompt:
            body["Prompt"] = request.prompt
        if request.negative_prompt is not None:
            body["NegativePrompt"] = request.negative_prompt
        if request.images:
            url = request.images[0].url
            if url is None or url[:4].lower() != "http":
                raise invalid("MPS fetches reference images by URL: 'images[0]' must be an http(s) URL.", "images[0]")
            body["ImageInfos"] = [{"ImageUrl": url}]
        if request.resolution is not None:
            resolution = _RESOLUTIONS.get(request.resolution.strip().lower())
            if resolution is None:
                made = ", ".join(_RESOLUTIONS.values())
                raise invalid(f"resolution {request.resolution!r} is not one MPS makes: {made}.", "resolution")
            body["ExtraParameters"] = {"Resolution": resolution}
        merge_extra(body, request.extra, ("ModelName", "SceneType", "OutputImageCount"))
        return _mps_call("CreateAigcImageTask", body, target)

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        task_id = text(tc_response(answer, _VENDOR).get("TaskId"))
        if task_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} returned no TaskId")
        return Submitted(task_id)

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``DescribeAigcImageTask {TaskId}``."""
        body = {"TaskId": upstream_id}
        return _mps_call("DescribeAigcImageTask", body, target)

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        response = tc_response(answer, _VENDOR)
        raw = text(response.get("Status")) or ""
        state = TaskState(status=_STATUS.get(raw.upper(), TaskStatus.RUNNING), vendor_status=raw)
        if state.status is TaskStatus.FAILED:
            state.failure = text(response.get("Message")) or "the panorama task failed"
        elif state.status is TaskStatus.SUCCEEDED:
            urls = response.get("ImageUrls")
            found = [url for url in (text(u) for u in urls) if url] if isinstance(urls, list) else []
            if not found:
                raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} reported DONE without ImageUrls")
            state.outputs = [image_output(url) for url in found]
        return state

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return tc_decode_error(status, body, _VENDOR)


HUNYUAN_PANORAMA = HunyuanPanorama()
