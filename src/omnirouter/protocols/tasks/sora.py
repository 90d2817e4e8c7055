"""OpenAI Sora (the Videos API) as a task upstream, under the channel's ``base_url`` (``…/v1``).

* submit: ``POST /videos``, JSON ``{model, prompt, seconds, size, input_reference{image_url|file_id}}``, or
  ``multipart/form-data`` with an ``input_reference`` file part when the reference image is an upload;
* poll: ``GET /videos/{id}`` → the video object (``queued`` / ``in_progress`` + ``progress`` /
  ``completed`` / ``failed`` + ``error{code, message}``; another value is still running);
* outputs: ``GET /videos/{id}/content?variant=video|thumbnail|spritesheet`` with the channel's key
  (``auth=True``): ``video/mp4``, ``image/webp`` previews;
* remix: ``POST /videos/{upstream id}/remix {prompt}`` when ``remix_of`` is set — the engine puts the
  vendor's id of the original there (our public id never reaches a vendor);
* ``find``: None (the API has no look-up by a client id); ``cancel``: None (``DELETE /videos/{id}``
  deletes a video's assets and is not documented to stop a job).

Durations (``seconds``, sent as the strings ``"4"``/``"8"``/``"12"``): the requested seconds go to the
nearest of 4, 8, 12 (a tie to the shorter), 4 when none is asked (``sora_seconds``, which ``seconds_for``
reports; a remix makes its source's, which the request carries); ``seconds`` among the vendor-native
fields is a 400.  Sizes: ``sora-2`` makes 720x1280 and 1280x720, ``sora-2-pro``
also 1024x1792 and 1792x1024; ``aspect_ratio`` 16:9 / 9:16 picks the 720p size (``resolution`` 1080p or
1792 the larger on pro); another size or ratio is a 400.  One reference image at most; ``n``,
``negative_prompt`` and ``seed`` are 400s (the API has none).  Billing signal: ``seconds`` on the object.
Timing: first poll after 15 s, at most 30 s apart, deadline 1 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omnirouter.http.multipart import FilePart, build_form
from omnirouter.ir import GatewayError
from omnirouter.ir.task import OutputKind, TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid, json_object
from omnirouter.protocols.openai_chat.errors import decode_error
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
    NoFind,
    check_count,
    nearest,
    parse_size,
    refuse,
    refuse_billed_extra,
    text,
    upstream_error,
)

__all__ = ["SORA_SECONDS", "SORA_VIDEO", "SoraVideo", "sora_seconds", "sora_sizes"]

SORA_SECONDS = (4, 8, 12)
_BASE_SIZES = ("720x1280", "1280x720")
_PRO_SIZES = (*_BASE_SIZES, "1024x1792", "1792x1024")
_STATUS = {
    "queued": TaskStatus.QUEUED,
    "in_progress": TaskStatus.RUNNING,
    "completed": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
}
_VARIANTS: tuple[tuple[OutputKind, str], ...] = (
    ("video", "video/mp4"),
    ("thumbnail", "image/webp"),
    ("spritesheet", "image/jpeg"),
)
_VENDOR = "OpenAI Sora"


def sora_seconds(request: TaskRequest) -> int:
    """The clip length Sora makes for ``request``: the nearest of 4, 8, 12, 4 when none is asked."""
    return 4 if request.seconds is None else nearest(request.seconds, SORA_SECONDS)


def sora_sizes(model: str) -> tuple[str, ...]:
    """The sizes ``model`` makes."""
    return _PRO_SIZES if model.startswith("sora-2-pro") else _BASE_SIZES


def _size(request: TaskRequest, model: str) -> str | None:
    sizes = sora_sizes(model)
    if request.size is not None:
        width, height = parse_size(request.size)
        size = f"{width}x{height}"
        if size not in sizes:
            raise invalid(f"'size' must be one of {', '.join(sizes)} for {model}.", "size")
        return size
    if request.aspect_ratio is None:
        if request.resolution is not None:
            raise invalid("'resolution' needs an 'aspect_ratio' or a 'size' for this model.", "resolution")
        return None
    if request.aspect_ratio not in ("16:9", "9:16"):
        raise invalid("'aspect_ratio' must be 16:9 or 9:16 for this model.", "aspect_ratio")
    large = (request.resolution or "").lower() in ("1080p", "1792", "1024p")
    if large and len(sizes) == len(_BASE_SIZES):
        raise invalid(f"'resolution' {request.resolution} is not made by {model} (720p only).", "resolution")
    landscape = request.aspect_ratio == "16:9"
    if large:
        return "1792x1024" if landscape else "1024x1792"
    return "1280x720" if landscape else "720x1280"


class SoraVideo(NoFind, NoCancel):
    """OpenAI's Videos API (Sora 2) as a task vendor."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=15.0, max_poll=30.0, deadline=3600.0)

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """``sora_seconds``."""
        return float(sora_seconds(request))

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        refuse(request, _VENDOR, ("n", "negative_prompt", "seed"))
        refuse_billed_extra(request, ("seconds",))
        check_count(request, 1, _VENDOR)
        if not request.prompt:
            raise invalid("'prompt' is required for this model.", "prompt")
        if request.remix_of is not None:
            path = f"/videos/{quote(request.remix_of, safe='')}/remix"
            return UpstreamCall(path, client_json({"prompt": request.prompt}))
        model = target.upstream_model
        fields: dict[str, Any] = {"model": model, "prompt": request.prompt}
        if request.seconds is not None:
            fields["seconds"] = str(sora_seconds(request))
        size = _size(request, model)
        if size is not None:
            fields["size"] = size
        for key, value in request.extra.items():
            if key != "model":
                fields[key] = value
        image = request.images[0] if request.images else None
        if image is not None and image.file is not None:
            pairs = [(key, value if isinstance(value, str) else str(value)) for key, value in fields.items()]
            upload = FilePart("input_reference", image.file.filename or "reference", image.file.content_type,
                              image.file.data)  # fmt: skip
            body, content_type = build_form(pairs, [upload])
            return UpstreamCall("/videos", body, content_type=content_type)
        if image is not None:
            if image.file_id is not None:
                fields["input_reference"] = {"file_id": image.file_id}
            elif image.url is not None:
                fields["input_reference"] = {"image_url": image.url}
        return UpstreamCall("/videos", client_json(fields))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        parsed = json_object(answer.body, _VENDOR)
        video_id = text(parsed.get("id"))
        if video_id is None:
            raise upstream_error(_VENDOR, "the create answer has no video id")
        return Submitted(video_id, self._state(parsed, target))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        return UpstreamCall(f"/videos/{quote(upstream_id, safe='')}", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        return self._state(json_object(answer.body, _VENDOR), target)

    def _state(self, parsed: dict[str, Any], target: TaskTarget) -> TaskState:
        raw = text(parsed.get("status")) or ""
        status = _STATUS.get(raw, TaskStatus.RUNNING)
        progress = parsed.get("progress")
        state = TaskState(status=status, vendor_status=raw, progress=progress if isinstance(progress, int) else None)
        seconds = text(parsed.get("seconds"))
        if seconds is not None and seconds.replace(".", "", 1).isdigit():
            state.seconds = float(seconds)
        if status is TaskStatus.FAILED:
            error = parsed.get("error")
            error = error if isinstance(error, dict) else {}
            state.failure = text(error.get("message")) or "the video failed"
            state.failure_code = text(error.get("code"))
        if status is TaskStatus.SUCCEEDED:
            video_id = quote(str(parsed.get("id", "")), safe="")
            base = f"{target.base_url}/videos/{video_id}/content?variant="
            state.outputs = [TaskOutput(kind=kind, url=base + kind, mime=mime, auth=True) for kind, mime in _VARIANTS]
        return state

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


SORA_VIDEO = SoraVideo()
