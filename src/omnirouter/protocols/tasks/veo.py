"""Google Veo on the Gemini API as a task upstream (bare host, key in ``x-goog-api-key``).

* submit: ``POST /v1beta/models/{model}:predictLongRunning`` with ``{instances: [{prompt, image, lastFrame,
  referenceImages}], parameters: {aspectRatio, durationSeconds, resolution, negativePrompt, sampleCount,
  personGeneration, enhancePrompt}}`` (the client's vendor-native fields join ``parameters``; an
  ``instance`` object joins the instance; images inline as ``{bytesBase64Encoded, mimeType}``: the Gemini
  API takes no image URLs, so an http URL is a 400) → a long-running operation ``{name}``;
* poll: ``GET /v1beta/{name}`` → ``{done, error{code, message}, response{generateVideoResponse{
  generatedSamples[{video{uri}}], raiMediaFilteredCount, raiMediaFilteredReasons}}}``: not done is
  running (no progress, no queue), an ``error`` or a done operation with no sample (filtered) failed;
* outputs: each sample's ``uri`` is a Files download link that needs the API key (``auth=True``);
* ``find``/``cancel``: None (no look-up by client id; cancelling is not documented for Veo).

Durations (``durationSeconds``), the nearest the model makes (a tie to the shorter): ``veo-2*`` 5–8,
``veo-3*`` 4, 6, 8; 8 when none is asked (``veo_seconds``, which ``seconds_for`` reports).  Aspect ratios 16:9
and 9:16; resolutions ``veo-3.1*`` 720p/1080p/4k, ``veo-3.0*`` 720p/1080p, ``veo-2*`` 720p; a ``size`` is read
as its ratio and its short side (1280x720 → 16:9 720p).
Images: by ``image_roles`` (first_frame, last_frame, reference: up to 3), else one image is the first
frame and a second the last.  ``seed`` and ``audio`` are 400s (the Gemini API refuses both; Veo 3 always
makes sound).  ``n`` → ``sampleCount`` (1–4).  Billing: no signal (the seconds made, times the samples);
``durationSeconds`` or ``sampleCount`` among the vendor-native fields is a 400.
Timing: first poll after 10 s (the fastest take ~11 s), at most 20 s apart, deadline 30 min.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omnirouter.ir import GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.gemini.errors import decode_error
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid, json_object
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
    NoFind,
    image_param,
    image_roles,
    inline_image,
    nearest,
    parse_size,
    refuse,
    refuse_billed_extra,
    text,
    upstream_error,
)

__all__ = ["VEO_VIDEO", "VeoVideo", "veo_durations", "veo_resolutions", "veo_seconds"]

_VENDOR = "Gemini Veo"
_RATIOS = {(16, 9): "16:9", (9, 16): "9:16"}
_SHORT_SIDES = {720: "720p", 1080: "1080p", 2160: "4k"}
MAX_REFERENCES = 3


def veo_durations(model: str) -> tuple[int, ...]:
    """The clip lengths ``model`` makes."""
    return (5, 6, 7, 8) if model.startswith("veo-2") else (4, 6, 8)


def veo_seconds(request: TaskRequest, model: str) -> int:
    """The clip length Veo makes for ``request`` on ``model``: the nearest it makes, 8 when none is asked."""
    return 8 if request.seconds is None else nearest(request.seconds, veo_durations(model))


def veo_resolutions(model: str) -> tuple[str, ...]:
    """The resolutions ``model`` makes."""
    if model.startswith("veo-3.1"):
        return ("720p", "1080p", "4k")
    if model.startswith("veo-3"):
        return ("720p", "1080p")
    return ("720p",)


def _shape(request: TaskRequest, model: str) -> tuple[str | None, str | None]:
    ratio, resolution = request.aspect_ratio, request.resolution
    if request.size is not None:
        width, height = parse_size(request.size)
        divisor = _gcd(width, height)
        ratio = _RATIOS.get((width // divisor, height // divisor))
        resolution = _SHORT_SIDES.get(min(width, height))
        if ratio is None or resolution is None:
            raise invalid("'size' must be 16:9 or 9:16 at 720, 1080 or 2160 lines (e.g. 1280x720).", "size")
    if ratio is not None and ratio not in _RATIOS.values():
        raise invalid("'aspect_ratio' must be 16:9 or 9:16 for this model.", "aspect_ratio")
    if resolution is not None:
        resolution = resolution.lower()
        allowed = veo_resolutions(model)
        if resolution not in allowed:
            param = "size" if request.size is not None else "resolution"
            raise invalid(f"'{param}': {model} makes {', '.join(allowed)}.", param)
    return ratio, resolution


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return max(a, 1)


def _image(request: TaskRequest, index: int) -> dict[str, str]:
    mime, b64 = inline_image(request.images[index], image_param(index))
    return {"bytesBase64Encoded": b64, "mimeType": mime}


_ROLES = ("first_frame", "last_frame", "reference", "asset", "style")


class VeoVideo(NoFind, NoCancel):
    """Veo (Gemini API long-running operations) as a task vendor."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=10.0, max_poll=20.0, deadline=1800.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``veo_seconds`` (each of the ``n`` samples is that long)."""
        return float(veo_seconds(request, upstream_model))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        refuse(request, _VENDOR, ("seed", "audio", "remix_of"))
        refuse_billed_extra(request, ("durationSeconds", "sampleCount"))
        if not request.prompt and not request.images:
            raise invalid("'prompt' is required for this model.", "prompt")
        model = target.upstream_model
        instance: dict[str, Any] = {}
        if request.prompt:
            instance["prompt"] = request.prompt
        references: list[dict[str, Any]] = []
        for index, role in enumerate(image_roles(request, _ROLES, 2 + MAX_REFERENCES, _VENDOR)):
            if role == "first_frame" and "image" not in instance:
                instance["image"] = _image(request, index)
            elif role == "last_frame" and "lastFrame" not in instance:
                instance["lastFrame"] = _image(request, index)
            elif role in ("reference", "asset", "style"):
                references.append({"image": _image(request, index), "referenceType": "asset"})
            else:
                raise invalid(f"image role '{role}' is not taken by this model (twice, or unknown).", "image_roles")
        if len(references) > MAX_REFERENCES:
            raise invalid(f"this model takes at most {MAX_REFERENCES} reference images.", "images")
        if references:
            instance["referenceImages"] = references
        parameters: dict[str, Any] = {}
        ratio, resolution = _shape(request, model)
        if ratio is not None:
            parameters["aspectRatio"] = ratio
        if resolution is not None:
            parameters["resolution"] = resolution
        if request.seconds is not None:
            parameters["durationSeconds"] = veo_seconds(request, model)
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        if request.n is not None and request.n != 1:
            if not 1 <= request.n <= 4:
                raise invalid("'n' must be between 1 and 4 for this model.", "n")
            parameters["sampleCount"] = request.n
        body: dict[str, Any] = {"instances": [instance], "parameters": parameters}
        for key, value in request.extra.items():  # vendor-native knobs are parameters; ``instance`` merges
            if key == "instance" and isinstance(value, dict):
                instance.update(value)
            elif key != "model":
                parameters[key] = value
        path = f"/v1beta/models/{quote(model, safe='')}:predictLongRunning"
        return UpstreamCall(path, client_json(body))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        parsed = json_object(answer.body, _VENDOR)
        name = text(parsed.get("name"))
        if name is None:
            raise upstream_error(_VENDOR, "the answer has no operation name")
        state = self._state(parsed) if parsed.get("done") else None
        return Submitted(name, state)

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        return UpstreamCall("/v1beta/" + quote(upstream_id, safe="/"), method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        return self._state(json_object(answer.body, _VENDOR))

    def _state(self, parsed: dict[str, Any]) -> TaskState:
        error = parsed.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            return TaskState(
                status=TaskStatus.FAILED,
                vendor_status="error",
                failure=text(error.get("message")) or "the operation failed",
                failure_code=str(code) if code is not None else None,
            )
        if parsed.get("done") is not True:
            return TaskState(status=TaskStatus.RUNNING, vendor_status="running")
        response = parsed.get("response")
        result = response.get("generateVideoResponse") if isinstance(response, dict) else None
        result = result if isinstance(result, dict) else {}
        outputs: list[TaskOutput] = []
        for sample in result.get("generatedSamples") or []:
            video = sample.get("video") if isinstance(sample, dict) else None
            uri = text(video.get("uri")) if isinstance(video, dict) else None
            if uri is not None:
                mime = text(video.get("mimeType")) if isinstance(video, dict) else None
                outputs.append(TaskOutput(kind="video", url=uri, mime=mime or "video/mp4", auth=True))
        if outputs:
            return TaskState(status=TaskStatus.SUCCEEDED, vendor_status="done", outputs=outputs)
        reasons = result.get("raiMediaFilteredReasons")
        reason = reasons[0] if isinstance(reasons, list) and reasons and isinstance(reasons[0], str) else None
        filtered = result.get("raiMediaFilteredCount")
        return TaskState(
            status=TaskStatus.FAILED,
            vendor_status="done",
            failure=reason or ("the video was filtered by safety rules" if filtered else "no video in the result"),
            failure_code="rai_media_filtered" if filtered or reason else None,
        )

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


VEO_VIDEO = VeoVideo()
