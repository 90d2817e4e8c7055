"""OpenAI's ``/images/generations`` and ``/images/edits`` as an upstream (and every OpenAI-compatible one).

A request without reference images is a generation: the client's JSON goes on with the upstream model
(Omni-Image's ``resolution`` / ``aspect_ratio`` become a ``size``; ``images`` and ``input_region`` are not
OpenAI fields).  With images it is an edit: uploaded files are sent as real multipart file parts (one
``image``, or repeated ``image[]``, and ``mask``) with their bytes, filenames and types; URLs go in the
JSON form (``images: [{image_url}]``).  GPT image models refuse ``response_format`` (they answer base64
only): it is sent to the other models only.  Usage tokens are kept with their image parts.

An answer in the form the client asked passes through to an OpenAI client as it arrives (``ImagesScan``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from omnirouter.http.multipart import FilePart, build_form
from omnirouter.ir import ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import GeneratedImage, ImageInput, ImageRequest, ImageResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, json_object
from omnirouter.protocols.media.images import (
    DOWNLOAD,
    RESOLUTIONS,
    closest_ratio,
    finish,
    invalid,
    label_usage,
    ratio_of,
    resume_download,
)
from omnirouter.protocols.media.json_skeleton import JsonSkeleton
from omnirouter.protocols.media.sniff import sniff_image_mime
from omnirouter.protocols.openai_chat.errors import decode_error

__all__ = ["OPENAI_IMAGES_UP", "ImagesScan", "OpenAIImagesUpstream", "openai_size"]

_VENDOR = "the upstream"
_GPT_SIZES = {"1:1": "1024x1024", "3:2": "1536x1024", "2:3": "1024x1536"}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def _gpt_image(model: str) -> bool:
    return model.lower().startswith(("gpt-image", "chatgpt-image"))


def openai_size(request: ImageRequest, model: str) -> str | None:
    """The ``size`` to send: the client's ``WxH`` or ``auto``; else from its ratio and resolution (any
    ``WxH`` for gpt-image-2, the nearest of the three fixed sizes for the others); else none."""
    size = request.size
    if size is not None and ("x" in size or size == "auto"):
        return size
    ratio = ratio_of(request)
    side = RESOLUTIONS.get((request.resolution or size or "").upper())
    if ratio is None and side is None:
        return None
    ratio = ratio or (1, 1)
    if model.lower().startswith("gpt-image-2"):  # the longer side at the resolution, within 3840x2160
        long_side = min(side or 1024, 3840)
        wide, tall = max(ratio), min(ratio)
        scale = min(long_side / wide, 2160 / tall)
        long_px, short_px = int(wide * scale) // 16 * 16, int(tall * scale) // 16 * 16
        return f"{long_px}x{short_px}" if ratio[0] >= ratio[1] else f"{short_px}x{long_px}"
    return _GPT_SIZES[closest_ratio(ratio, tuple(_GPT_SIZES))]


def _options(request: ImageRequest, model: str) -> dict[str, Any]:
    """The client's options for ``model``, as sent (nothing invented)."""
    body: dict[str, Any] = {}
    size = openai_size(request, model)
    for key, value in (
        ("n", request.n),
        ("size", size),
        ("quality", request.quality),
        ("response_format", None if _gpt_image(model) else request.response_format),
        ("output_format", request.output_format),
        ("output_compression", request.output_compression),
        ("background", request.background),
        ("moderation", request.moderation),
        ("input_fidelity", request.input_fidelity if request.images else None),
        ("style", request.style),
        ("user", request.user),
    ):
        if value is not None:
            body[key] = value
    return body


def _filename(file_name: str, mime: str, index: int) -> str:
    if "." in file_name:
        return file_name
    return f"{file_name or 'image'}-{index}.{_EXTENSIONS.get(mime, 'png')}"


def _file_part(field: str, image: ImageInput, index: int) -> FilePart:
    assert image.file is not None
    file = image.file
    return FilePart(field, _filename(file.filename, file.content_type, index), file.content_type, file.data)


def _reference(image: ImageInput) -> dict[str, str]:
    return {"file_id": image.file_id} if image.file_id is not None else {"image_url": image.url or ""}


def _edit_call(request: ImageRequest, model: str, options: dict[str, Any]) -> UpstreamCall:
    uploaded = [image for image in request.images if image.file is not None]
    if uploaded:
        if len(uploaded) != len(request.images) or (request.mask is not None and request.mask.file is None):
            raise invalid("images must all be files or all be URLs.", "image")
        fields = [("model", model), ("prompt", request.prompt)]
        fields += [
            (key, str(value).lower() if isinstance(value, bool) else str(value)) for key, value in options.items()
        ]
        fields += [(key, value) for key, value in request.extra.items() if isinstance(value, str)]
        field = "image" if len(uploaded) == 1 else "image[]"
        files = [_file_part(field, image, index) for index, image in enumerate(uploaded)]
        if request.mask is not None:
            files.append(_file_part("mask", request.mask, 0))
        body, content_type = build_form(fields, files)
        return UpstreamCall("/images/edits", body, content_type)
    payload: dict[str, Any] = {**request.extra, "model": model, "prompt": request.prompt, **options}
    payload["images"] = [_reference(image) for image in request.images]
    if request.mask is not None:
        payload["mask"] = _reference(request.mask)
    return UpstreamCall("/images/edits", client_json(payload))


def _mime(item_b64: str, declared: str | None) -> str:
    try:
        head = base64.b64decode(item_b64[:64] + "=" * (-len(item_b64[:64]) % 4))
    except (binascii.Error, ValueError):
        head = b""
    return sniff_image_mime(head) or (f"image/{declared}" if declared else "image/png")


def _usage(parsed: dict[str, Any], count: int) -> Usage:
    usage = Usage(images=count)
    raw = parsed.get("usage")
    if not isinstance(raw, dict):
        return usage
    usage.input_tokens = token_count(raw.get("input_tokens"))
    usage.output_tokens = token_count(raw.get("output_tokens"))
    details_in = raw.get("input_tokens_details")
    if isinstance(details_in, dict):
        usage.image_input_tokens = token_count(details_in.get("image_tokens"))
    details_out = raw.get("output_tokens_details")
    if isinstance(details_out, dict) and "image_tokens" in details_out:
        usage.image_output_tokens = token_count(details_out.get("image_tokens"))
    else:
        usage.image_output_tokens = usage.output_tokens
    return usage


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class OpenAIImagesUpstream:
    """OpenAI's image endpoints as an upstream (generations and edits alike)."""

    answer_wire = "openai-images"

    def build(self, request: ImageRequest, target: Target) -> UpstreamCall:
        model = target.upstream_model
        options = _options(request, model)
        if request.images:
            return _edit_call(request, model, options)
        if request.mask is not None:
            raise invalid("'mask' needs an image to edit.", "mask")
        payload: dict[str, Any] = {**request.extra, "model": model, "prompt": request.prompt, **options}
        return UpstreamCall("/images/generations", client_json(payload))

    def parse(
        self, answer: Answer, request: ImageRequest, target: Target, step: Followup | None
    ) -> ImageResult | Followup:
        if step is not None and step.step == DOWNLOAD:
            return resume_download(answer, step)
        result = _result(json_object(answer.body, _VENDOR), request)
        return finish(result, download=request.response_format == "b64_json")

    def pass_through(self, request: ImageRequest, target: Target) -> ImagesScan:
        """Every answer may pass through: the scan's verdict tells whether it is what the client asked."""
        return ImagesScan(request)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


def _result(parsed: dict[str, Any], request: ImageRequest) -> ImageResult:
    """An ImagesResponse as a result (images kept as sent: URLs not yet downloaded)."""
    error = parsed.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else error
        raise GatewayError(ErrorKind.UPSTREAM, f"the upstream reported an error: {message}")
    data = parsed.get("data")
    if not isinstance(data, list) or not data:
        raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned no images")
    declared = _text(parsed.get("output_format")) or request.output_format
    images: list[GeneratedImage] = []
    for item in data:
        b64 = _text(item.get("b64_json")) if isinstance(item, dict) else None
        url = _text(item.get("url")) if isinstance(item, dict) else None
        if b64 is None and url is None:
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned an image without b64_json or url")
        mime = _mime(b64, declared) if b64 is not None else f"image/{declared or 'png'}"
        images.append(GeneratedImage(b64=b64, url=url, mime=mime, revised_prompt=_text(item.get("revised_prompt"))))
    size, quality = _text(parsed.get("size")), _text(parsed.get("quality"))
    created = parsed.get("created")
    result = ImageResult(
        images=images,
        usage=label_usage(_usage(parsed, len(images)), request, size, quality),
        created=created if isinstance(created, int) else None,
        size=size,
        quality=quality,
        output_format=_text(parsed.get("output_format")),
        background=_text(parsed.get("background")),
    )
    return result


class ImagesScan:
    """An ImagesResponse passing through to an OpenAI client (``pass_through.py``): relayed as is when its
    first image is in the form the client asked (``b64_json`` or ``url``; either without
    ``response_format``) and it names no model; billed from its skeleton (``json_skeleton.py``)."""

    __slots__ = ("_accepted", "_request", "_skeleton")

    def __init__(self, request: ImageRequest) -> None:
        self._request = request
        fmt = request.response_format
        self._accepted = ("b64_json", "url") if fmt is None else (fmt,)
        self._skeleton = JsonSkeleton("data", ("b64_json", "url"))

    def feed(self, chunk: bytes) -> None:
        self._skeleton.feed(chunk)

    def verdict(self) -> bool | None:
        skeleton = self._skeleton
        if skeleton.complete or "model" in skeleton.top_keys or "error" in skeleton.top_keys:
            return False  # whole already (small, or an error), or a model name to rewrite
        if not skeleton.kinds:
            return None
        return skeleton.kinds[0] in self._accepted

    def finish(self) -> Usage:
        skeleton = self._skeleton
        if not skeleton.complete:
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream's answer ended before its end")
        if any(kind not in self._accepted for kind in skeleton.kinds):
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream answered images in another form than asked")
        return _result(json_object(skeleton.skeleton, _VENDOR), self._request).usage


OPENAI_IMAGES_UP = OpenAIImagesUpstream()
