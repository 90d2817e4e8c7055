"""PixVerse (platform API v2) as a task upstream: ``https://app-api.pixverse.ai`` with headers ``API-KEY``
and ``Ai-trace-id`` (a UUID; PixVerse answers a repeated trace id with the earlier result instead of
generating again).

* upload (``UploadsFirst``, before an image-to-video submit): ``POST /openapi/v2/image/upload``,
  ``multipart/form-data`` with the image as the file ``image`` (an uploaded file, a ``data:`` URL or bare
  base64) or a public URL as the field ``image_url`` → ``{ErrCode: 0, Resp{img_id, img_url}}``;
* submit: ``POST /openapi/v2/video/text/generate`` ``{model, prompt, negative_prompt, duration, quality,
  aspect_ratio, seed, …}`` (``/openapi/v2/video/img/generate`` with the uploaded image's ``img_id``, or one
  the client passed among its vendor-native fields) → ``{ErrCode: 0, ErrMsg, Resp{video_id}}``.  The
  submit's trace id is derived from our external id, so a submit retried after a timeout gets the same
  video back, not a second one (hence no ``find``);
* poll: ``GET /openapi/v2/video/result/{video_id}`` → ``Resp{id, status, url, outputWidth, outputHeight}``
  with ``status`` 1 done, 5 generating, 7 moderation failure, 8 generation failure (other values: running);
* errors: ``{ErrCode ≠ 0, ErrMsg}`` (also inside HTTP 200); ``cancel``: None (no such call).

PixVerse requires ``duration``, ``quality`` and ``aspect_ratio`` and has no defaults; when the client gives
none the codec sends the channel's ``options`` (``duration``, ``quality``, ``aspect_ratio``) or else 5 s,
540p, 16:9 (its documented examples).  Durations: the nearest of 5 and 8 (a tie to 5; 1080p makes 5
only): ``pixverse_seconds``, which ``seconds_for`` reports; a ``duration`` among the vendor-native fields
is a 400.
``quality`` from ``resolution`` or a ``size``'s short side (360p, 540p, 720p, 1080p); ``aspect_ratio``
16:9, 4:3, 1:1, 3:4, 9:16 (or a ``size`` of that shape).  One image (the first frame); an OpenAI file id
is a 400 (PixVerse cannot read it), and so are an image and an ``img_id`` together.  Every call's
``Ai-trace-id`` is derived from our external id, so a repeated upload is the same upload.  Billing: no
signal (the seconds made).
Timing: first poll after 10 s (PixVerse suggests polling every 3–5 s), at most 15 s apart, deadline 30 min.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from omnirouter.http.multipart import FilePart, build_form
from omnirouter.ir import ErrorKind, GatewayError, kind_for_status
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid, json_object
from omnirouter.protocols.media.images import image_bytes
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
    NoFind,
    check_count,
    image_param,
    nearest,
    parse_size,
    refuse,
    refuse_billed_extra,
    text,
)

__all__ = ["PIXVERSE_VIDEO", "PixVerseVideo", "pixverse_seconds", "trace_id"]

_VENDOR = "PixVerse"
_QUALITIES = ("360p", "540p", "720p", "1080p")
_RATIOS = {(16, 9): "16:9", (4, 3): "4:3", (1, 1): "1:1", (3, 4): "3:4", (9, 16): "9:16"}
_SHORT_SIDES = {360: "360p", 540: "540p", 720: "720p", 1080: "1080p"}
_FAILED = {7: "content moderation failed", 8: "generation failed"}
_NAMESPACE = uuid.UUID("6f0b5c8e-52a1-4a55-9a0e-5d8f2f3b7c11")


def trace_id(*parts: str) -> str:
    """A UUID derived from ``parts``: the same submit gets the same trace id, every other call its own."""
    return str(uuid.uuid5(_NAMESPACE, "\x00".join(parts)))


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return max(a, 1)


def _shape(request: TaskRequest, options: Any) -> tuple[str, str]:
    quality = request.resolution.lower() if request.resolution else None
    ratio = request.aspect_ratio
    if request.size is not None:
        width, height = parse_size(request.size)
        divisor = _gcd(width, height)
        ratio = _RATIOS.get((width // divisor, height // divisor))
        quality = _SHORT_SIDES.get(min(width, height))
        if ratio is None or quality is None:
            raise invalid("'size' must be 16:9, 4:3, 1:1, 3:4 or 9:16 at 360, 540, 720 or 1080 lines.", "size")
    quality = quality or options.get("quality") or "540p"
    ratio = ratio or options.get("aspect_ratio") or "16:9"
    if quality not in _QUALITIES:
        raise invalid(f"'resolution' must be one of {', '.join(_QUALITIES)} for this model.", "resolution")
    if ratio not in _RATIOS.values():
        raise invalid(f"'aspect_ratio' must be one of {', '.join(_RATIOS.values())}.", "aspect_ratio")
    return quality, ratio


def pixverse_seconds(request: TaskRequest, options: Mapping[str, str]) -> int:
    """The clip length PixVerse makes for ``request``: the nearest of 5 and 8 (5 only at 1080p) to the asked
    duration, else to the channel's ``duration`` option, else 5."""
    quality, _ = _shape(request, options)
    choices = (5,) if quality == "1080p" else (5, 8)
    default = options.get("duration")
    asked = request.seconds if request.seconds is not None else float(default) if default else 5.0
    return nearest(asked, choices)


def _body(answer: Answer) -> dict[str, Any]:
    """``Resp`` of an answer; ``ErrCode`` ≠ 0 raises."""
    parsed = json_object(answer.body, _VENDOR)
    code = parsed.get("ErrCode")
    if code not in (0, None):
        message = text(parsed.get("ErrMsg")) or "an error"
        raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR}: {message}", code=str(code))
    resp = parsed.get("Resp")
    if not isinstance(resp, dict):
        raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} returned an unexpected answer shape")
    return resp


class PixVerseVideo(NoFind, NoCancel):
    """PixVerse video generation as a task vendor."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=10.0, max_poll=15.0, deadline=1800.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``pixverse_seconds``."""
        return float(pixverse_seconds(request, options))

    def upload(self, request: TaskRequest, target: TaskTarget) -> Followup | None:
        """The upload of the client's image (checked with the whole request first); None without one."""
        if not request.images:
            return None
        check_count(request, 1, _VENDOR)
        if "img_id" in request.extra:
            raise invalid("give either an image or PixVerse's 'img_id', not both.", "images")
        self._body(msgspec.structs.replace(request, images=[], extra={**request.extra, "img_id": 0}), target)
        image, param = request.images[0], image_param(0)
        if image.file_id is not None:
            raise invalid("this model's upstream (PixVerse) cannot read an OpenAI file id: send the image.", param)
        if image.url is not None and image.url[:5].lower() != "data:":
            body, content_type = build_form([("image_url", image.url)], [])
        else:
            mime, data = image_bytes(image, param)
            name = image.file.filename if image.file is not None and image.file.filename else None
            name = name or "image" + (mimetypes.guess_extension(mime) or ".png")
            body, content_type = build_form([], [FilePart("image", name, mime, data)])
        headers = {"Ai-trace-id": trace_id(target.external_id, "upload")}
        return Followup(UpstreamCall("/openapi/v2/image/upload", body, content_type, headers), "upload")

    def parse_upload(
        self, answer: Answer, request: TaskRequest, target: TaskTarget, step: Followup
    ) -> TaskRequest | Followup:
        """The request with the uploaded image's ``img_id`` in place of the image; PixVerse's refusal of the
        image itself (its ``400…`` codes) is a 400 naming it."""
        try:
            img_id = _body(answer).get("img_id")
        except GatewayError as error:
            if error.code is not None and error.code.startswith("400"):
                message = f"the image was refused by this model's upstream ({error.message})."
                raise invalid(message, image_param(0)) from None
            raise
        if not isinstance(img_id, int) or isinstance(img_id, bool) or img_id <= 0:
            raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} returned no img_id for the uploaded image")
        return msgspec.structs.replace(request, images=[], extra={**request.extra, "img_id": img_id})

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        if request.images:
            raise invalid("this model's upstream (PixVerse) takes images only once uploaded to it.", "images")
        body = self._body(request, target)
        path = "/openapi/v2/video/img/generate" if "img_id" in body else "/openapi/v2/video/text/generate"
        headers = {"Ai-trace-id": trace_id(target.external_id, "submit")}
        return UpstreamCall(path, client_json(body), headers=headers)

    def _body(self, request: TaskRequest, target: TaskTarget) -> dict[str, Any]:
        """The generate call's body (a 400 naming the field for what PixVerse cannot make)."""
        refuse(request, _VENDOR, ("n", "remix_of"))
        refuse_billed_extra(request, ("duration",))
        if not request.prompt:
            raise invalid("'prompt' is required for this model.", "prompt")
        quality, ratio = _shape(request, target.options)
        body: dict[str, Any] = {
            "model": target.upstream_model,
            "prompt": request.prompt,
            "duration": pixverse_seconds(request, target.options),
            "quality": quality,
            "aspect_ratio": ratio,
        }
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            body["seed"] = request.seed
        body.update({key: value for key, value in request.extra.items() if key != "model"})
        return body

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        video_id = _body(answer).get("video_id")
        if not isinstance(video_id, int | str) or isinstance(video_id, bool) or video_id in (0, ""):
            raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} returned no video_id")
        return Submitted(str(video_id))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        headers = {"Ai-trace-id": trace_id(target.external_id, "poll", repr(target.now))}
        return UpstreamCall(f"/openapi/v2/video/result/{quote(upstream_id, safe='')}", method="GET", headers=headers)

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        resp = _body(answer)
        raw = resp.get("status")
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        state = TaskState(status=TaskStatus.RUNNING, vendor_status=str(raw))
        if code == 1:
            url = text(resp.get("url"))
            if url is None:
                raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} reported success without a url")
            state.status = TaskStatus.SUCCEEDED
            state.outputs = [TaskOutput(kind="video", url=url, mime="video/mp4", auth=False)]
        elif code in _FAILED:
            state.status = TaskStatus.FAILED
            state.failure = _FAILED[code]
            state.failure_code = str(code)
        return state

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        try:
            parsed = json_object(body, _VENDOR)
        except GatewayError:
            parsed = {}
        message = text(parsed.get("ErrMsg"))
        code = parsed.get("ErrCode")
        return GatewayError(
            kind_for_status(status),
            f"{_VENDOR}: {message}" if message else f"{_VENDOR} returned HTTP {status}",
            status=status,
            code=str(code) if code is not None else None,
        )


PIXVERSE_VIDEO = PixVerseVideo()
