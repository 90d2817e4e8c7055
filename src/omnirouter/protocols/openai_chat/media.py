"""Image output through Chat Completions (the OpenRouter / LiteLLM / Vercel convention).

Requests: ``modalities`` (``["image", "text"]``, ``["text", "audio"]``) → ``ChatRequest.modalities``;
the look of generated images from the top-level ``image_config {aspect_ratio, image_size}``
(OpenRouter) or ``google.image_config`` (new-api's ``extra_body.google.image_config``), each in
snake_case or camelCase; a top-level value wins over the ``google`` one.  Other ``google`` keys
stay in ``extra``.

Answers: images are ``message.images: [{type: "image_url", image_url: {url}, index}]`` beside
``content`` (``url`` a ``data:`` URL for inline data), streamed as ``delta.images`` with one whole
image per chunk; both are read back from upstreams that answer that way.
"""

from __future__ import annotations

from typing import Any, get_args

from omnirouter.ir import ImageDelta, ImageOutput, ImagePart, Modality
from omnirouter.protocols.common import data_uri, split_data_uri
from omnirouter.protocols.openai_chat._shared import invalid

_MODALITIES: frozenset[str] = frozenset(get_args(Modality))
_IMAGE_KEYS = (("aspect_ratio", "aspectRatio"), ("image_size", "imageSize"))


def decode_modalities(value: Any) -> list[Modality] | None:
    """``modalities``: an array of ``text``, ``image``, ``audio``."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) and m in _MODALITIES for m in value):
        raise invalid("'modalities' must be an array of 'text', 'image' or 'audio'", "modalities")
    return list(value) or None


def _image_config(value: Any, param: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"'{param}' must be an object", param)
    found: dict[str, str] = {}
    for snake, camel in _IMAGE_KEYS:
        raw = value.get(snake, value.get(camel))
        if raw is None:
            continue
        if not isinstance(raw, str) or not raw:
            name = snake if snake in value else camel
            raise invalid(f"'{param}.{name}' must be a non-empty string", f"{param}.{name}")
        found[snake] = raw
    return found


def decode_image_output(body: dict[str, Any], extra: dict[str, Any]) -> ImageOutput | None:
    """``image_config`` and ``google.image_config`` as one :class:`ImageOutput`; ``extra`` loses them."""
    config = _image_config(body.get("image_config", body.get("imageConfig")), "image_config")
    extra.pop("image_config", None)
    extra.pop("imageConfig", None)
    google = body.get("google")
    if isinstance(google, dict):
        key = "image_config" if "image_config" in google else "imageConfig"
        nested = _image_config(google.get(key), f"google.{key}")
        config = {**nested, **config}
        rest = {k: v for k, v in google.items() if k not in ("image_config", "imageConfig")}
        if rest:
            extra["google"] = rest
        else:
            extra.pop("google", None)
    if not config:
        return None
    return ImageOutput(aspect_ratio=config.get("aspect_ratio"), image_size=config.get("image_size"))


def encode_image_output(image: ImageOutput) -> dict[str, str]:
    """``image_config`` for an upstream (OpenRouter's top-level form)."""
    out = {"aspect_ratio": image.aspect_ratio, "image_size": image.image_size}
    return {k: v for k, v in out.items() if v is not None}


def image_entry(url: str | None, data: str | None, media_type: str | None, index: int) -> dict[str, Any] | None:
    """One ``images[]`` entry; ``None`` for an image with neither URL nor data."""
    if url is None and data is None:
        return None
    link = url if url is not None else data_uri(data or "", media_type)
    return {"type": "image_url", "image_url": {"url": link}, "index": index}


def encode_images(parts: list[ImagePart]) -> list[dict[str, Any]]:
    """``message.images`` for the image parts of an answer."""
    entries = (image_entry(p.url, p.data, p.media_type, i) for i, p in enumerate(parts))
    return [e for e in entries if e is not None]


def _image_of(entry: Any) -> tuple[str | None, str | None, str | None]:
    """``(url, data, media type)`` of an ``images[]`` entry (``url`` None for data URLs)."""
    image = entry.get("image_url") if isinstance(entry, dict) else None
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        return None, None, None
    split = split_data_uri(url)
    if split is not None:
        return None, split[0], split[1]
    return url, None, None


def decode_images(value: Any) -> list[ImagePart]:
    """``message.images`` of an upstream's answer; malformed entries are skipped."""
    parts: list[ImagePart] = []
    for entry in value if isinstance(value, list) else []:
        url, data, media_type = _image_of(entry)
        if url is not None or data is not None:
            parts.append(ImagePart(url=url, data=data, media_type=media_type))
    return parts


def image_deltas(value: Any, choice: int) -> list[ImageDelta]:
    """``delta.images`` of an upstream's stream chunk as events."""
    return [ImageDelta(url=p.url, data=p.data, media_type=p.media_type, choice=choice) for p in decode_images(value)]
