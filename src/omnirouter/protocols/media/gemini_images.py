"""Gemini image models as an image upstream: ``:generateContent`` with ``responseModalities: ["TEXT",
"IMAGE"]`` for Gemini image models, ``:predict`` for Imagen (``imagen-*``).

generateContent: the prompt is the first text part of one user turn, reference images follow as
``inlineData`` (uploaded files or ``data:`` URLs; the gateway does not fetch http(s) URLs for these
codecs yet: a 400 naming the image); ``imageConfig.aspectRatio`` is the nearest Gemini ratio to the
client's ``aspect_ratio`` or ``size``; ``imageConfig.imageSize`` is the client's ``resolution``, else
``2K`` for ``quality`` ``hd``/``high`` (new-api's mapping), else from the pixels of ``size``.  Each call
makes one image: ``n`` images are ``n`` calls.  IMAGE modality tokens are image output tokens.

Imagen: ``instances[{prompt}]``, ``parameters{sampleCount (only when n was given), aspectRatio,
sampleImageSize}``; billed per image returned.  Imagen on the Gemini API does not edit images.
"""

from __future__ import annotations

import base64
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import GeneratedImage, ImageRequest, ImageResult
from omnirouter.protocols.gemini.errors import decode_error
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, json_object
from omnirouter.protocols.media.images import (
    RESOLUTIONS,
    closest_ratio,
    image_bytes,
    invalid,
    label_usage,
    ratio_of,
)

__all__ = ["GEMINI_IMAGES_UP", "GeminiImagesUpstream", "gemini_image_config"]

_VENDOR = "Gemini"
GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "21:9")
IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
IMAGEN_MAX = 4
_GENERATE = "generate"


def _model_path(model: str) -> str:
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def _image_size(request: ImageRequest) -> str | None:
    """``1K``/``2K``/``4K`` from the client's resolution, quality or pixel size; None when it said none."""
    resolution = (request.resolution or "").upper()
    if resolution not in RESOLUTIONS and (request.size or "").upper() in RESOLUTIONS:
        resolution = (request.size or "").upper()  # a size given as a preset (``2K``) says the same
    if resolution in RESOLUTIONS:
        return "4K" if resolution in ("3K", "4K") else resolution
    if request.quality in ("hd", "high"):
        return "2K"
    size = (request.size or "").lower()
    if "x" in size:
        width, _, height = size.partition("x")
        if width.isdigit() and height.isdigit():
            side = max(int(width), int(height))
            return None if side <= 1024 else "2K" if side <= 2048 else "4K"
    return None


def gemini_image_config(request: ImageRequest) -> dict[str, str]:
    """``imageConfig`` for the request (empty when the client asked no shape or size)."""
    config: dict[str, str] = {}
    ratio = ratio_of(request)
    if ratio is not None:
        config["aspectRatio"] = closest_ratio(ratio, GEMINI_RATIOS)
    image_size = _image_size(request)
    if image_size is not None:
        config["imageSize"] = image_size
    return config


def _generate_call(request: ImageRequest, target: Target) -> UpstreamCall:
    parts: list[dict[str, Any]] = [{"text": request.prompt}]
    for index, image in enumerate(request.images):
        mime, data = image_bytes(image, f"image[{index}]" if image.file is not None else f"images[{index}]")
        parts.append({"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode("ascii")}})
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    image_config = gemini_image_config(request)
    if image_config:
        config["imageConfig"] = image_config
    body = {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}
    return UpstreamCall(f"/v1beta/{_model_path(target.upstream_model)}:generateContent", client_json(body))


def _predict_call(request: ImageRequest, target: Target) -> UpstreamCall:
    if request.images:
        raise invalid("this model (Imagen) makes images from a prompt only: it cannot edit images.", "image")
    if request.n is not None and request.n > IMAGEN_MAX:
        raise invalid(f"'n' must be at most {IMAGEN_MAX} for this model.", "n")
    parameters: dict[str, Any] = {}
    if request.n is not None:
        parameters["sampleCount"] = request.n
    ratio = ratio_of(request)
    if ratio is not None:
        parameters["aspectRatio"] = closest_ratio(ratio, IMAGEN_RATIOS)
    image_size = _image_size(request)
    if image_size is not None and "fast" not in target.upstream_model:
        parameters["sampleImageSize"] = "2K" if image_size != "1K" else "1K"
    body: dict[str, Any] = {"instances": [{"prompt": request.prompt}]}
    if parameters:
        body["parameters"] = parameters
    return UpstreamCall(f"/v1beta/{_model_path(target.upstream_model)}:predict", client_json(body))


def _modality_tokens(details: Any, modality: str) -> int:
    if not isinstance(details, list):
        return 0
    return sum(
        token_count(item.get("tokenCount"))
        for item in details
        if isinstance(item, dict) and item.get("modality") == modality
    )


def _add_usage(usage: Usage, metadata: Any) -> None:
    if not isinstance(metadata, dict):
        return
    thoughts = token_count(metadata.get("thoughtsTokenCount"))
    usage.input_tokens += token_count(metadata.get("promptTokenCount"))
    usage.output_tokens += token_count(metadata.get("candidatesTokenCount")) + thoughts
    usage.reasoning_tokens += thoughts
    usage.image_input_tokens += _modality_tokens(metadata.get("promptTokensDetails"), "IMAGE")
    usage.image_output_tokens += _modality_tokens(metadata.get("candidatesTokensDetails"), "IMAGE")


def _generated(parsed: dict[str, Any]) -> list[GeneratedImage]:
    """The images of one generateContent answer; an upstream error when it made none (with the reason)."""
    candidates = parsed.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else None
    content = candidate.get("content") if isinstance(candidate, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    images = []
    for part in parts if isinstance(parts, list) else []:
        inline = part.get("inlineData") if isinstance(part, dict) else None
        if isinstance(inline, dict) and str(inline.get("mimeType", "")).startswith("image/"):
            data = inline.get("data")
            if isinstance(data, str) and data:
                images.append(GeneratedImage(b64=data, mime=str(inline["mimeType"])))
    if not images:
        feedback = parsed.get("promptFeedback")
        reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        reason = reason or (candidate.get("finishReason") if isinstance(candidate, dict) else None)
        raise GatewayError(ErrorKind.UPSTREAM, f"Gemini made no image (reason: {reason or 'none given'})")
    return images


class GeminiImagesUpstream:
    """Gemini image models (``:generateContent``) and Imagen (``:predict``) as an image upstream."""

    def build(self, request: ImageRequest, target: Target) -> UpstreamCall:
        if request.mask is not None:
            raise invalid("this model's upstream (Gemini) takes no mask: describe the edit in the prompt.", "mask")
        if request.images and any(image.file_id is not None for image in request.images):
            raise invalid("file ids are only understood by OpenAI upstreams: send the image itself.", "images")
        if "imagen" in target.upstream_model.lower():
            return _predict_call(request, target)
        return _generate_call(request, target)

    def parse(
        self, answer: Answer, request: ImageRequest, target: Target, step: Followup | None
    ) -> ImageResult | Followup:
        parsed = json_object(answer.body, _VENDOR)
        if "imagen" in target.upstream_model.lower():
            return self._predictions(parsed, request)
        result: ImageResult = step.carry if step is not None else ImageResult(images=[], usage=Usage())
        result.images += _generated(parsed)
        _add_usage(result.usage, parsed.get("usageMetadata"))
        if len(result.images) < (request.n or 1):
            return Followup(_generate_call(request, target), _GENERATE, carry=result)
        result.usage.images = len(result.images)
        config = gemini_image_config(request)
        label_usage(result.usage, request, config.get("imageSize"))
        return result

    def _predictions(self, parsed: dict[str, Any], request: ImageRequest) -> ImageResult:
        predictions = parsed.get("predictions")
        images = []
        filtered = None
        for item in predictions if isinstance(predictions, list) else []:
            if not isinstance(item, dict):
                continue
            data = item.get("bytesBase64Encoded")
            if isinstance(data, str) and data:
                images.append(GeneratedImage(b64=data, mime=str(item.get("mimeType") or "image/png")))
            elif item.get("raiFilteredReason"):
                filtered = item["raiFilteredReason"]
        if not images:
            raise GatewayError(ErrorKind.UPSTREAM, f"Imagen made no image (reason: {filtered or 'none given'})")
        return ImageResult(images=images, usage=label_usage(Usage(images=len(images)), request))

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


GEMINI_IMAGES_UP = GeminiImagesUpstream()
