"""Gemini media: ``:embedContent``, ``:batchEmbedContents``, Imagen ``:predict``, and generateContent with
``responseModalities`` IMAGE (``inlineData`` image/png) or AUDIO (raw 24 kHz PCM), plain or streamed."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.core import Exchange, as_int, json_response
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.gemini import WIRE, turn_text, validate
from omnirouter.mock_upstream.media_common import directive, floats, seed_of
from omnirouter.mock_upstream.media_openai_audio import CHUNK
from omnirouter.mock_upstream.tokens import count_input, count_words

IMAGE_TOKENS = 1290  # gemini-2.5-flash-image, per 1024px image
AUDIO_TOKENS_PER_SECOND = 25
PCM_MIME = "audio/L16;codec=pcm;rate=24000"
_EMBED_FIELDS = frozenset(
    {"model", "content", "taskType", "task_type", "title", "outputDimensionality", "output_dimensionality"}
)
_IMAGE_CONFIG = frozenset({"aspectRatio", "aspect_ratio", "imageSize", "image_size"})
_ASPECTS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"})
_IMAGEN_ASPECTS = frozenset({"1:1", "3:4", "4:3", "9:16", "16:9"})


def _get(obj: Any, camel: str, snake: str) -> Any:
    if not isinstance(obj, dict):
        return None
    return obj.get(camel, obj.get(snake))


def unknown_field(name: str, where: str = "") -> web.Response:
    """Gemini's 400 for a field its proto does not have."""
    at = f" at '{where}'" if where else ""
    message = f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": where, "description": message}],
        }
    ]
    body = {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT", "details": details}}
    return json_response(body, status=400)


def _embed_dims(model: str) -> int:
    return 768 if "text-embedding-004" in model or model == "embedding-001" else 3072


def _embedding(req: Any, model: str, where: str) -> dict[str, Any] | web.Response:
    """``{values}`` for one EmbedContentRequest, or the 400 Gemini answers."""
    if not isinstance(req, dict):
        return WIRE.error(400, f"Invalid value at '{where}'")
    for name in req:
        if name not in _EMBED_FIELDS:
            return unknown_field(name, where)
    parts = _get(req.get("content"), "parts", "parts")
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)] if parts else []
    if not texts:
        return WIRE.error(400, f"* {where or 'EmbedContentRequest'}.content: contents is not specified\n")
    full = _embed_dims(model)
    dims = as_int(_get(req, "outputDimensionality", "output_dimensionality")) or full
    if not 1 <= dims <= full:
        return WIRE.error(400, f"* outputDimensionality must be between 1 and {full}\n")
    return {"values": floats("\n".join(texts), full)[:dims]}


async def _embed(ex: Exchange, model: str) -> web.StreamResponse:
    text = " ".join(
        p.get("text", "") for p in (_get(ex.body.get("content"), "parts", "parts") or []) if isinstance(p, dict)
    )
    resolved = await directive(ex, text, False)
    if not isinstance(resolved, tuple):
        return resolved
    result = _embedding(ex.body, model, "")
    return result if isinstance(result, web.Response) else json_response({"embedding": result})


async def _batch_embed(ex: Exchange, model: str) -> web.StreamResponse:
    body = ex.body
    for name in body:
        if name != "requests":
            return unknown_field(name)
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        return WIRE.error(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
    if len(requests) > 100:
        return WIRE.error(400, "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n")
    first = requests[0].get("content") if isinstance(requests[0], dict) else None
    text = " ".join(p.get("text", "") for p in (_get(first, "parts", "parts") or []) if isinstance(p, dict))
    resolved = await directive(ex, text, False)
    if not isinstance(resolved, tuple):
        return resolved
    out: list[dict[str, Any]] = []
    for i, req in enumerate(requests):
        inner = req.get("model") if isinstance(req, dict) else None
        if inner != f"models/{model}":
            return WIRE.error(
                400,
                f"* BatchEmbedContentsRequest.requests[{i}].model: the model ({inner}) must be the batch's "
                f"model (models/{model})\n",
            )
        result = _embedding(req, model, f"requests[{i}]")
        if isinstance(result, web.Response):
            return result
        out.append(result)
    return json_response({"embeddings": out})


async def _predict(ex: Exchange, model: str) -> web.StreamResponse:
    if not model.startswith("imagen"):
        return WIRE.error(404, f"models/{model} is not found for API version v1beta, or is not supported for predict.")
    instances = ex.body.get("instances")
    prompt = (
        instances[0].get("prompt")
        if isinstance(instances, list) and instances and isinstance(instances[0], dict)
        else None
    )
    if not isinstance(prompt, str) or not prompt:
        return WIRE.error(400, "* instances[0].prompt: prompt is required\n")
    params = ex.body.get("parameters") if isinstance(ex.body.get("parameters"), dict) else {}
    count = as_int(params.get("sampleCount")) or 4
    if not 1 <= count <= 4:
        return WIRE.error(400, "Number of images must be between 1 and 4.")
    ratio = params.get("aspectRatio") or "1:1"
    if ratio not in _IMAGEN_ASPECTS:
        return WIRE.error(400, f"Unsupported aspect ratio: {ratio}. Supported: 1:1, 3:4, 4:3, 9:16, 16:9.")
    base = 2048 if (params.get("sampleImageSize") or params.get("imageSize")) == "2K" else 1024
    resolved = await directive(ex, prompt, False)
    if not isinstance(resolved, tuple):
        return resolved
    d, clean = resolved
    width, height = media_bytes.ratio_size(ratio, base)
    seed = seed_of(clean) % 16
    predictions = [
        {
            "bytesBase64Encoded": base64.b64encode(_png(d, width, height, (seed + i) % 16)).decode(),
            "mimeType": "image/png",
        }
        for i in range(count)
    ]
    return json_response({"predictions": predictions})


def _png(d: Directive, width: int, height: int, seed: int) -> bytes:
    return media_bytes.padded(media_bytes.image("png", width, height, seed), "png", d.media_bytes)


def modalities(body: dict[str, Any]) -> set[str]:
    """``generationConfig.responseModalities`` in upper case."""
    config = _get(body, "generationConfig", "generation_config")
    value = _get(config, "responseModalities", "response_modalities")
    return {str(m).upper() for m in value} if isinstance(value, list) else set()


def _usage(prompt: int, text: int, modality: str, media: int) -> dict[str, Any]:
    details = [{"modality": modality, "tokenCount": media}]
    if text:
        details.insert(0, {"modality": "TEXT", "tokenCount": text})
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": text + media,
        "totalTokenCount": prompt + text + media,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        "candidatesTokensDetails": details,
    }


def _frame(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\r\n\r\n"


async def _generate_media(
    ex: Exchange, model: str, stream: bool, sse_mode: bool, kinds: set[str]
) -> web.StreamResponse:
    body = ex.body
    contents = body.get("contents")
    problem = validate(contents, model)
    if problem:
        return WIRE.error(400, problem)
    config = _get(body, "generationConfig", "generation_config")
    image_config = _get(config, "imageConfig", "image_config")
    for name in image_config if isinstance(image_config, dict) else {}:
        if name not in _IMAGE_CONFIG:
            return unknown_field(name, "generation_config.image_config")
    ratio = _get(image_config, "aspectRatio", "aspect_ratio") or "1:1"
    if ratio not in _ASPECTS:
        return WIRE.error(400, f"Unsupported aspect ratio: {ratio}")
    resolved = await directive(ex, turn_text(contents), stream)
    if not isinstance(resolved, tuple):
        return resolved
    d, clean = resolved
    prompt_tokens = count_input([_get(body, "systemInstruction", "system_instruction"), contents])
    chunks: list[list[dict[str, Any]]] = []
    text_tokens = 0
    if "IMAGE" in kinds:
        if "TEXT" in kinds:
            text = d.text if d.text is not None else f"Here is the image: {clean or 'a picture'}"
            text_tokens = count_words(text)
            chunks.append([{"text": text}])
        size = str(_get(image_config, "imageSize", "image_size") or "1K").upper()
        base = {"2K": 2048, "4K": 4096}.get(size, 1024)
        width, height = media_bytes.ratio_size(ratio, base)
        data = base64.b64encode(_png(d, width, height, seed_of(clean) % 16)).decode()
        chunks.append([{"inlineData": {"mimeType": "image/png", "data": data}}])
        tokens = 2000 if "pro-image" in model and size == "4K" else 1120 if "pro-image" in model else IMAGE_TOKENS
        usage = _usage(prompt_tokens, text_tokens, "IMAGE", tokens)
    else:
        seconds = d.media_seconds or media_bytes.speech_seconds(clean)
        pcm = media_bytes.padded(media_bytes.pcm(seconds), "pcm", d.media_bytes)
        step = CHUNK if stream else max(1, len(pcm))
        for i in range(0, len(pcm), step):
            chunks.append(
                [{"inlineData": {"mimeType": PCM_MIME, "data": base64.b64encode(pcm[i : i + step]).decode()}}]
            )
        usage = _usage(prompt_tokens, 0, "AUDIO", round(seconds * AUDIO_TOKENS_PER_SECOND))
    serial = ex.state.next_serial()
    rid = f"mockresp{serial:012d}"

    def wrap(parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": rid}

    if not stream:
        return json_response(wrap([p for parts in chunks for p in parts], True))
    items = [wrap(parts, i == len(chunks) - 1) for i, parts in enumerate(chunks)]
    if sse_mode:
        return await ex.stream([_frame(item) for item in items], d, serial=serial)
    frames = [(b",\r\n" if i else b"") + orjson.dumps(item) for i, item in enumerate(items)]
    return await ex.stream(frames, d, serial=serial, content_type="application/json", prefix=b"[", suffix=b"]")


async def dispatch(ex: Exchange, model: str, method: str, sse_mode: bool) -> web.StreamResponse | None:
    """Answer the media methods; None for what gemini.py serves itself."""
    if method == "embedContent":
        return await _embed(ex, model)
    if method == "batchEmbedContents":
        return await _batch_embed(ex, model)
    if method == "predict":
        return await _predict(ex, model)
    if method in ("generateContent", "streamGenerateContent"):
        kinds = modalities(ex.body)
        if "IMAGE" in kinds or "AUDIO" in kinds:
            return await _generate_media(ex, model, method == "streamGenerateContent", sse_mode, kinds)
    return None
