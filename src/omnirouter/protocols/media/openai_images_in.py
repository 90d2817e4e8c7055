"""Clients of OpenAI's ``POST /v1/images/generations`` and ``POST /v1/images/edits``.

Generations take OpenAI's JSON body and, on the same route, the Omni-Image body (``resolution``,
``aspect_ratio``, ``images`` as reference URLs, ``input_region``).  Edits take multipart (``image`` once,
repeated ``image[]`` or ``image[0]``…, ``mask``; files only: a text field under those names is a 400)
or the JSON form (``images: [{image_url} | {file_id}]``, ``mask: {image_url}``).

Answers are OpenAI's ``{created, data: [{b64_json | url, revised_prompt?}], usage?, size?, quality?,
output_format?, background?}``.  ``response_format: url`` with an upstream that answered bytes (GPT image
models, Gemini, FLUX after download) gives a ``data:`` URL: the gateway keeps no images to serve yet.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.http.multipart import Form, parse_form
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage
from omnirouter.ir.media import ImageInput, ImageRequest, ImageResult, MediaFile
from omnirouter.protocols.fields import opt_bool, opt_str
from omnirouter.protocols.limits import Bounds, field_error, number_field
from omnirouter.protocols.media.images import data_url, invalid
from omnirouter.protocols.media.sniff import sniff_image_mime
from omnirouter.protocols.openai_chat.errors import encode_error

__all__ = ["OPENAI_IMAGE_EDITS_IN", "OPENAI_IMAGE_GENERATIONS_IN", "OpenAIImagesInbound"]

COUNT = Bounds(1, 10, True)
COMPRESSION = Bounds(0, 100, True)
MAX_IMAGES = 16
UNASKED_IMAGES = 4
"""The most images reserved for a request without ``n``: some vendors make several unasked (Imagen's
default ``sampleCount`` is 4)."""
OUTPUT_TOKENS_PER_IMAGE = 8192
"""The most output tokens reserved per image: GPT image's largest is 6,240 (high quality, 1536x1024),
Gemini's 1,120-2,000 plus thoughts."""
INPUT_TOKENS_PER_IMAGE = 8192
"""The most prompt tokens reserved per reference image (and mask): tiles, not bytes, count (GPT image's
high input fidelity adds thousands)."""
_SIZE = re.compile(r"auto|\d{2,5}x\d{2,5}|\d{1,3}:\d{1,3}|[1-4][kK]")
_CHOICES = {
    "response_format": ("url", "b64_json"),
    "output_format": ("png", "jpeg", "webp"),
}
_TYPED = frozenset({
    "model", "prompt", "n", "size", "quality", "response_format", "output_format", "output_compression",
    "background", "moderation", "input_fidelity", "style", "user", "stream", "partial_images", "resolution",
    "aspect_ratio", "images", "image", "mask", "input_region",
})  # fmt: skip


def _choice(value: str | None, param: str) -> str | None:
    allowed = _CHOICES.get(param)
    if value is not None and allowed is not None and value not in allowed:
        raise invalid(f"'{param}' must be one of: {', '.join(allowed)}.", param)
    return value


def _size(value: str | None) -> str | None:
    if value is not None and _SIZE.fullmatch(value) is None:
        raise invalid("'size' must be 'auto', WIDTHxHEIGHT (1024x1024), a ratio (16:9) or 1K/2K/4K.", "size")
    return value


def _no_stream(stream: bool | None) -> None:
    if stream:
        raise invalid("Streaming image generation ('stream': true) is not available on this gateway yet.", "stream")


def _url_ref(value: Any, param: str) -> ImageInput:
    """A reference given as a URL string (Omni-Image) or ``{image_url}`` / ``{file_id}`` (OpenAI)."""
    if isinstance(value, dict):
        if isinstance(value.get("file_id"), str) and value["file_id"]:
            return ImageInput(file_id=value["file_id"])
        value = value.get("image_url")
        param = f"{param}.image_url"
        if isinstance(value, dict):  # {"image_url": {"url": ...}} as chat clients write it
            value = value.get("url")
    if not isinstance(value, str) or not value:
        raise invalid(f"'{param}' must be an image URL (https or data:), or an object with 'image_url'.", param)
    if not value[:8].lower().startswith(("https://", "http://", "data:")):
        raise invalid(f"'{param}' must be an http(s) or data: URL.", param)
    return ImageInput(url=value)


def _json_request(parsed: dict[str, Any], edit: bool) -> ImageRequest:
    model = parsed.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("'model' is required and must be a string.", "model")
    prompt = parsed.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("'prompt' is required and must be a non-empty string.", "prompt")
    _no_stream(opt_bool(parsed, "stream", "stream"))
    raw_images = parsed.get("images", parsed.get("image"))
    name = "images" if "images" in parsed else "image"
    images: list[ImageInput] = []
    if raw_images is not None:
        if isinstance(raw_images, str | dict):
            raw_images = [raw_images]
        if not isinstance(raw_images, list) or len(raw_images) > MAX_IMAGES:
            raise invalid(f"'{name}' must be an array of at most {MAX_IMAGES} image references.", name)
        images = [_url_ref(item, f"{name}[{index}]") for index, item in enumerate(raw_images)]
    if edit and not images:
        raise invalid("'images' is required: at least one image to edit.", "images")
    mask = parsed.get("mask")
    return ImageRequest(
        model=model,
        prompt=prompt,
        n=number_field(parsed, "n", COUNT, "n"),
        size=_size(opt_str(parsed, "size", "size")),
        quality=opt_str(parsed, "quality", "quality"),
        response_format=_choice(opt_str(parsed, "response_format", "response_format"), "response_format"),
        output_format=_choice(opt_str(parsed, "output_format", "output_format"), "output_format"),
        output_compression=number_field(parsed, "output_compression", COMPRESSION, "output_compression"),
        background=opt_str(parsed, "background", "background"),
        moderation=opt_str(parsed, "moderation", "moderation"),
        input_fidelity=opt_str(parsed, "input_fidelity", "input_fidelity"),
        style=opt_str(parsed, "style", "style"),
        aspect_ratio=opt_str(parsed, "aspect_ratio", "aspect_ratio"),
        resolution=opt_str(parsed, "resolution", "resolution"),
        input_region=opt_str(parsed, "input_region", "input_region"),
        images=images,
        mask=None if mask is None else _url_ref(mask, "mask"),
        edit=edit,
        user=opt_str(parsed, "user", "user"),
        extra={key: value for key, value in parsed.items() if key not in _TYPED},
    )


def _form_int(form: Form, name: str, bounds: Bounds) -> int | None:
    text = form.text(name)
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise field_error(name, bounds) from None
    if not bounds.low <= value <= bounds.high:
        raise field_error(name, bounds)
    return value


def _form_file(field: str, filename: str, content_type: str, data: bytes, param: str) -> ImageInput:
    if not data:
        raise invalid(f"'{param}' is an empty file.", param)
    mime = sniff_image_mime(data)
    if mime is None:
        raise invalid(f"'{param}' is not a PNG, JPEG, WebP or GIF image.", param)
    declared = content_type.lower()
    return ImageInput(file=MediaFile(data, filename or field, declared if declared.startswith("image/") else mime))


def _form_request(form: Form) -> ImageRequest:
    for key, _ in form.pairs:
        for name in ("image", "mask"):
            if key == name or (key.startswith(name + "[") and key.endswith("]")):
                raise invalid(f"'{name}' must be sent as a file, not as a text field ('{key}').", name)
    files = form.files_named("image")
    masks = form.files_named("mask")
    for part in form.files:
        if part not in files and part not in masks:
            raise invalid(f"'{part.field}' is not a file field of image edits (image, image[], mask).", part.field)
    if not files:
        raise invalid("'image' is required: at least one image file to edit.", "image")
    if len(files) > MAX_IMAGES:
        raise invalid(f"at most {MAX_IMAGES} images can be edited at once.", "image")
    images = [_form_file(p.field, p.filename, p.content_type, p.data, f"image[{i}]") for i, p in enumerate(files)]
    if len(masks) > 1:
        raise invalid("'mask' must be one file.", "mask")
    mask = masks[0] if masks else None
    fields = {key: form.text(key) for key, _ in form.pairs}
    model = fields.get("model")
    if not model:
        raise invalid("'model' is required.", "model")
    prompt = fields.get("prompt")
    if not prompt or not prompt.strip():
        raise invalid("'prompt' is required and must be a non-empty string.", "prompt")
    stream = fields.get("stream")
    _no_stream(stream is not None and stream.lower() == "true")
    return ImageRequest(
        model=model,
        prompt=prompt,
        n=_form_int(form, "n", COUNT),
        size=_size(fields.get("size")),
        quality=fields.get("quality"),
        response_format=_choice(fields.get("response_format"), "response_format"),
        output_format=_choice(fields.get("output_format"), "output_format"),
        output_compression=_form_int(form, "output_compression", COMPRESSION),
        background=fields.get("background"),
        moderation=fields.get("moderation"),
        input_fidelity=fields.get("input_fidelity"),
        style=fields.get("style"),
        aspect_ratio=fields.get("aspect_ratio"),
        resolution=fields.get("resolution"),
        input_region=fields.get("input_region"),
        images=images,
        mask=None if mask is None else _form_file("mask", mask.filename, mask.content_type, mask.data, "mask"),
        edit=True,
        user=fields.get("user"),
        extra={key: value for key, value in fields.items() if key not in _TYPED and value is not None},
    )


def _usage_body(usage: Usage) -> dict[str, Any] | None:
    """OpenAI's ``usage`` object when the upstream counted tokens (GPT image, Gemini)."""
    if usage.estimated or not (usage.input_tokens or usage.output_tokens):
        return None
    body: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "input_tokens_details": {
            "text_tokens": usage.input_tokens - usage.image_input_tokens,
            "image_tokens": usage.image_input_tokens,
        },
    }
    if usage.image_output_tokens:
        body["output_tokens_details"] = {
            "image_tokens": usage.image_output_tokens,
            "text_tokens": usage.output_tokens - usage.image_output_tokens,
        }
    return body


class OpenAIImagesInbound:
    """A client of ``/v1/images/generations`` (``edit=False``) or ``/v1/images/edits``."""

    protocol = "openai"
    answer_wire = "openai-images"
    """An upstream answer in this wire passes through as it arrives (``pass_through.py``)."""

    def __init__(self, edit: bool) -> None:
        self.edit = edit

    def decode(self, body: bytes, content_type: str, model: str | None) -> ImageRequest:
        if self.edit and content_type.lower().startswith("multipart/"):
            return _form_request(parse_form(body, content_type))
        return _json_request(parse_json_object(body), self.edit)

    def budget(self, request: ImageRequest, body_size: int) -> Budget:
        """``n`` images (``UNASKED_IMAGES`` without it), each with ``OUTPUT_TOKENS_PER_IMAGE`` output tokens
        (GPT image and Gemini bill images as tokens), and ``INPUT_TOKENS_PER_IMAGE`` per reference image."""
        images = request.n or UNASKED_IMAGES
        references = len(request.images) + (request.mask is not None)
        return Budget(
            input_bytes=body_size,
            input_tokens=references * INPUT_TOKENS_PER_IMAGE,
            max_output=OUTPUT_TOKENS_PER_IMAGE,
            choices=images,
            images=images,
        )

    def encode(self, result: ImageResult, request: ImageRequest, public_model: str) -> tuple[bytes, bytes]:
        data: list[dict[str, Any]] = []
        for image in result.images:
            item: dict[str, Any]
            if image.b64 is not None and request.response_format != "url":
                item = {"b64_json": image.b64}
            elif image.url is not None and request.response_format != "b64_json":
                item = {"url": image.url}
            elif image.b64 is not None:  # url asked, bytes made: the gateway has no image store yet
                item = {"url": data_url(image.mime, image.b64)}
            else:  # upstream codecs download URLs when base64 is asked: not reached
                raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned an image without data")
            if image.revised_prompt is not None:
                item["revised_prompt"] = image.revised_prompt
            data.append(item)
        answer: dict[str, Any] = {"created": result.created or int(time.time()), "data": data}
        for key in ("background", "output_format", "size", "quality"):
            value = getattr(result, key)
            if value is not None:
                answer[key] = value
        usage = _usage_body(result.usage)
        if usage is not None:
            answer["usage"] = usage
        return orjson.dumps(answer), b"application/json"

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


OPENAI_IMAGE_GENERATIONS_IN = OpenAIImagesInbound(edit=False)
OPENAI_IMAGE_EDITS_IN = OpenAIImagesInbound(edit=True)
