"""A google-genai client asking ``generateContent`` for images (``responseModalities: ["IMAGE"]`` or
``["TEXT", "IMAGE"]``) of a model served by an image upstream: OpenAI (gpt-image, dall-e), Imagen,
Ark Seedream, BFL FLUX, DashScope wanx (docs/media.md, "Gemini-speaking client → OpenAI images").

Text parts of the user turns are the prompt (joined by newlines); ``inlineData`` image parts are the
images to edit (sent on as uploaded files: an OpenAI upstream gets real multipart file parts);
``generationConfig.imageConfig.aspectRatio`` / ``imageSize`` become the request's ``aspect_ratio`` /
``resolution`` (each upstream codec turns them into its own ``size``); ``candidateCount`` is ``n`` (1 when
absent: Gemini's own default, sent on, since Imagen would make four).
Images are always asked as bytes: vendors that answer URLs have them downloaded.

The answer: ``candidates[i].content.parts[{inlineData {mimeType, data}}]`` (one candidate per image),
``finishReason: STOP``, ``usageMetadata`` when the upstream counted tokens (IMAGE output tokens).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput, ImageRequest, ImageResult, MediaFile
from omnirouter.protocols.gemini.errors import encode_error
from omnirouter.protocols.media.gemini_generate_in import (
    GeminiFraming,
    client_field,
    field,
    invalid,
    media_output,
    usage_metadata,
    user_parts,
)
from omnirouter.protocols.media.sniff import sniff_image_mime

__all__ = ["GeminiImagesInbound"]

MAX_IMAGES = 16
MAX_CANDIDATES = 8
_RATIO = re.compile(r"\d{1,3}:\d{1,3}")
_SIZES = ("1K", "2K", "4K")
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_CONFIG = "generationConfig"
_URL_SAFE = str.maketrans("-_", "+/")
_IMAGE_CONFIG = "generationConfig.imageConfig"
# Fields upstream image codecs name in their refusals → the Gemini field that asked for it.
_FIELDS = {"image": "contents.inlineData", "images": "contents.inlineData", "n": f"{_CONFIG}.candidateCount",
           "size": f"{_IMAGE_CONFIG}.aspectRatio", "aspect_ratio": f"{_IMAGE_CONFIG}.aspectRatio",
           "resolution": f"{_IMAGE_CONFIG}.imageSize", "prompt": "contents"}  # fmt: skip


def _image(inline: Any, path: str, count: int) -> ImageInput:
    if not isinstance(inline, dict):
        raise invalid("must be an object {mimeType, data}.", path)
    data = inline.get("data")
    if not isinstance(data, str) or not data:
        raise invalid("'data' must be base64 image bytes.", path)
    try:  # proto JSON bytes: standard or URL-safe base64 (the google-genai SDK sends URL-safe)
        raw = base64.b64decode(data.translate(_URL_SAFE) + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("'data' is not valid base64.", path) from None
    mime = sniff_image_mime(raw)
    if mime is None:
        raise invalid("is not a PNG, JPEG, WebP or GIF image: only images can be sent to this model.", path)
    return ImageInput(file=MediaFile(raw, f"image-{count}.{_EXTENSIONS[mime]}", mime))


def _prompt_and_images(body: dict[str, Any]) -> tuple[str, list[ImageInput]]:
    texts: list[str] = []
    images: list[ImageInput] = []
    for path, part in user_parts(body):
        text = part.get("text")
        inline = field(part, "inlineData", "inline_data")
        if isinstance(text, str):
            if not part.get("thought"):
                texts.append(text)
        elif inline is not None:
            images.append(_image(inline, f"{path}.inlineData", len(images)))
        elif field(part, "fileData", "file_data") is not None:
            raise invalid("file URIs are not fetched for this model: send the image as inlineData.", f"{path}.fileData")
        else:
            raise invalid("only text and inlineData image parts can be sent to this model.", path)
    if len(images) > MAX_IMAGES:
        raise invalid(f"at most {MAX_IMAGES} images can be sent at once.", "contents")
    prompt = "\n".join(text for text in texts if text.strip())
    if not prompt.strip():
        raise invalid("a text part with the prompt is required.", "contents")
    return prompt, images


def _image_config(config: dict[str, Any]) -> tuple[str | None, str | None]:
    raw = field(config, "imageConfig", "image_config")
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise invalid("must be an object.", _IMAGE_CONFIG)
    ratio = field(raw, "aspectRatio", "aspect_ratio")
    if ratio is not None and (not isinstance(ratio, str) or not _RATIO.fullmatch(ratio) or ratio.startswith("0")):
        raise invalid("must be a ratio such as '1:1' or '16:9'.", f"{_IMAGE_CONFIG}.aspectRatio")
    size = field(raw, "imageSize", "image_size")
    if size is not None and (not isinstance(size, str) or size.upper() not in _SIZES):
        raise invalid(f"must be one of {', '.join(_SIZES)}.", f"{_IMAGE_CONFIG}.imageSize")
    return ratio, size.upper() if isinstance(size, str) else None


def _count(config: dict[str, Any]) -> int | None:
    value = field(config, "candidateCount", "candidate_count")
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= MAX_CANDIDATES:
        raise invalid(f"must be a whole number from 1 to {MAX_CANDIDATES}.", f"{_CONFIG}.candidateCount")
    return value


class GeminiImagesInbound:
    """The client side: a generateContent body (``decode_object`` once the route parsed it)."""

    protocol = "gemini"

    def __init__(self, framing: GeminiFraming = GeminiFraming.PLAIN) -> None:
        self.framing = framing

    def decode(self, body: bytes, content_type: str, model: str | None) -> ImageRequest:
        return self.decode_object(parse_json_object(body), model or "")

    def decode_object(self, body: dict[str, Any], model: str) -> ImageRequest:
        """The request of a parsed body for the model the URL names (a 400 naming the bad field)."""
        if media_output(body) is None:
            wanted = "must ask for IMAGE output (['IMAGE'] or ['TEXT', 'IMAGE'])."
            raise invalid(wanted, f"{_CONFIG}.responseModalities")
        config = field(body, "generationConfig", "generation_config")
        assert isinstance(config, dict)
        prompt, images = _prompt_and_images(body)
        ratio, size = _image_config(config)
        return ImageRequest(
            model=model,
            prompt=prompt,
            n=_count(config) or 1,  # Gemini's candidateCount is 1 unless the client says (Imagen's sampleCount is 4)
            response_format="b64_json",
            aspect_ratio=ratio,
            resolution=size,
            images=images,
            edit=bool(images),
        )

    def budget(self, request: ImageRequest, body_size: int) -> Budget:
        return Budget(input_bytes=body_size, max_output=0, images=request.n or 1)

    def encode(self, result: ImageResult, request: ImageRequest, public_model: str) -> tuple[bytes, bytes]:
        candidates = []
        for index, image in enumerate(result.images):
            if image.b64 is None:  # upstream codecs download URLs when bytes are asked: not reached
                raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned an image without data")
            parts: list[dict[str, Any]] = []
            if image.revised_prompt:
                parts.append({"text": image.revised_prompt})
            parts.append({"inlineData": {"mimeType": image.mime, "data": image.b64}})
            candidates.append({"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": index})
        answer: dict[str, Any] = {"candidates": candidates, "modelVersion": public_model}
        meta = usage_metadata(result.usage, "IMAGE")
        if meta is not None:
            answer["usageMetadata"] = meta
        return self.framing.frame(answer)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        """Gemini's error shape; an upstream codec's refusal names the client's own field."""
        return encode_error(client_field(error, _FIELDS))
