"""OpenAI ``POST /v1/embeddings``, ``/v1/moderations``, ``/v1/images/generations`` and ``/v1/images/edits``."""

from __future__ import annotations

import base64
import binascii
import io
import time
from typing import Any

import orjson
from aiohttp import web
from PIL import Image

from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.core import Exchange, as_int, begin, json_response, sse
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.media_common import (
    FormExchange,
    begin_media,
    directive,
    floats,
    image_url,
    seed_of,
    vector,
)
from omnirouter.mock_upstream.openai_chat import WIRE
from omnirouter.mock_upstream.tokens import count_input

_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


def _embedding_inputs(value: Any) -> tuple[list[str], int] | str:
    """(texts to embed, token count) or the error message OpenAI gives."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        return "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [" ".join(map(str, value))], len(value)
    texts: list[str] = []
    tokens = 0
    for item in value:
        if isinstance(item, str) and item:
            texts.append(item)
            tokens += count_input(item)
        elif isinstance(item, list) and item and all(isinstance(v, int) and not isinstance(v, bool) for v in item):
            texts.append(" ".join(map(str, item)))
            tokens += len(item)
        else:
            return (
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
            )
    if len(texts) > 2048:
        return f"Invalid 'input': array too long. Expected an array with maximum length 2048, but got {len(texts)}."
    return texts, tokens


async def embeddings(request: web.Request) -> web.StreamResponse:
    """``POST /v1/embeddings``: deterministic unit vectors, float or base64 (little-endian float32)."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return WIRE.error(400, "you must provide a model parameter")
    if "input" not in body:
        return WIRE.error(400, "Missing required parameter: 'input'.")
    parsed = _embedding_inputs(body["input"])
    if isinstance(parsed, str):
        return WIRE.error(400, parsed)
    texts, tokens = parsed
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        return WIRE.error(400, f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.")
    dims = _DIMS.get(model, 1536)
    asked = body.get("dimensions")
    if asked is not None:
        if "text-embedding-3" not in model and model in _DIMS:
            return WIRE.error(400, "This model does not support specifying dimensions.")
        if as_int(asked) is None or asked < 1 or asked > dims:
            return WIRE.error(400, f"Invalid value for 'dimensions' = {asked}. Must be between 1 and {dims}.")
        dims = asked
    got = await directive(ex, texts[0])
    if not isinstance(got, tuple):
        return got
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(vector(t, dims)).decode() if fmt == "base64" else floats(t, dims),
        }
        for i, t in enumerate(texts)
    ]
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    serial = ex.state.next_serial()
    return json_response({"object": "list", "data": data, "model": model, "usage": usage}, headers=WIRE.headers(serial))


CATEGORIES = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_CATEGORIES = frozenset(
    {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic"}
)
_TRIGGERS = {
    "violence": ("kill", "murder", "stab", "shoot", "attack"),
    "violence/graphic": ("gore", "blood"),
    "hate": ("hate",),
    "harassment": ("idiot", "stupid"),
    "harassment/threatening": ("threaten",),
    "self-harm": ("suicide", "self-harm"),
    "sexual": ("porn", "nsfw"),
    "illicit": ("drugs", "steal"),
}


def _moderate(texts: list[str], images: int, model: str) -> dict[str, Any]:
    words = " ".join(texts).lower()
    omni = "omni" in model
    categories: dict[str, bool | None] = {}
    scores: dict[str, float] = {}
    applied: dict[str, list[str]] = {}
    for name in CATEGORIES:
        hit = any(t in words for t in _TRIGGERS.get(name, ()))
        scores[name] = 0.91 + seed_of(name, words) / 10_000 if hit else 0.0001 + seed_of(name, words) / 1_000_000
        categories[name] = None if not omni and name.startswith("illicit") else hit
        kinds = ["text"] if texts else []
        if images and name in _IMAGE_CATEGORIES:
            kinds.append("image")
        applied[name] = kinds
    flagged = any(v for v in categories.values())
    return {
        "flagged": flagged,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    }


async def moderations(request: web.Request) -> web.StreamResponse:
    """``POST /v1/moderations``: one result per string (one for a list of parts); trigger words flag."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    value = body.get("input")
    model = body.get("model") or "omni-moderation-latest"
    groups: list[tuple[list[str], int]] = []
    if isinstance(value, str):
        groups = [([value], 0)]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        groups = [([v], 0) for v in value]
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        texts = [str(v.get("text", "")) for v in value if v.get("type") == "text"]
        images = sum(1 for v in value if v.get("type") == "image_url")
        if images and "omni" not in model:
            return WIRE.error(400, f"Model {model} does not support image inputs.")
        groups = [(texts, images)]
    else:
        return WIRE.error(400, "Missing required parameter: 'input'." if value is None else "Invalid 'input'.")
    got = await directive(ex, " ".join(groups[0][0]))
    if not isinstance(got, tuple):
        return got
    serial = ex.state.next_serial()
    results = [_moderate(texts, images, model) for texts, images in groups]
    return json_response({"id": f"modr-mock{serial:012d}", "model": model, "results": results})


_PIECE = 64 * 1024


def _gpt_image(model: str) -> bool:
    return model.startswith(("gpt-image", "chatgpt-image"))


_OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "auto": 1056, "standard": 1056, "hd": 4160}


def _images_answer(
    request: web.Request,
    d: Directive,
    *,
    model: str,
    prompt: str,
    n: int,
    size: str,
    quality: str,
    fmt: str,
    response_format: str,
    input_images: int = 0,
) -> tuple[dict[str, Any], list[bytes]]:
    """The ImagesResponse body and the image bytes it carries."""
    width, height = media_bytes.parse_size(size)
    seed = seed_of(prompt) % 16
    blobs = [
        media_bytes.padded(media_bytes.image(fmt, width, height, (seed + i) % 16), fmt, d.media_bytes) for i in range(n)
    ]
    items: list[dict[str, Any]] = []
    for i, blob in enumerate(blobs):
        if response_format == "url":
            item: dict[str, Any] = {"url": image_url(request, fmt, width, height, (seed + i) % 16, d.media_bytes)}
        else:
            item = {"b64_json": base64.b64encode(blob).decode()}
        if model == "dall-e-3":
            item["revised_prompt"] = f"A detailed rendering of: {prompt}"
        items.append(item)
    answer: dict[str, Any] = {"created": int(time.time()), "data": items}
    if _gpt_image(model):
        text_tokens = count_input(prompt)
        image_in = 388 * input_images
        out = _OUTPUT_TOKENS.get(quality, 1056) * n
        answer.update({"background": "opaque", "output_format": fmt, "quality": quality, "size": f"{width}x{height}"})
        answer["usage"] = {
            "input_tokens": text_tokens + image_in,
            "output_tokens": out,
            "total_tokens": text_tokens + image_in + out,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_in},
            "output_tokens_details": {"image_tokens": out, "text_tokens": 0},
        }
    return answer, blobs


def _image_options(body: dict[str, Any], model: str) -> tuple[int, str, str, str, str] | str:
    """(n, size, quality, output format, response format) or an OpenAI error message."""
    n = body.get("n", 1)
    if as_int(n) is None or not 1 <= n <= 10:
        return f"Invalid 'n': integer must be between 1 and 10, got {n}."
    if model == "dall-e-3" and n != 1:
        return "You must provide n=1 for this model."
    gpt = _gpt_image(model)
    if gpt and body.get("response_format") is not None:
        return "Unknown parameter: 'response_format'."
    fmt = body.get("output_format") or "png"
    if fmt not in ("png", "jpeg", "webp"):
        return f"Invalid value: '{fmt}'. Supported values are: 'png', 'jpeg', and 'webp'."
    size = str(body.get("size") or ("auto" if gpt else "1024x1024"))
    response_format = "b64_json" if gpt else str(body.get("response_format") or "url")
    if response_format not in ("url", "b64_json"):
        return f"Invalid value: '{response_format}'. Supported values are: 'url' and 'b64_json'."
    return n, size, str(body.get("quality") or ("auto" if gpt else "standard")), fmt, response_format


async def _answer_images(
    ex: Exchange, model: str, prompt: str, options: tuple[int, str, str, str, str], *, event: str, input_images: int
) -> web.StreamResponse:
    n, size, quality, fmt, response_format = options
    stream = str(ex.body.get("stream")).lower() == "true"
    got = await directive(ex, prompt, stream)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    answer, blobs = _images_answer(
        ex.request,
        d,
        model=model,
        prompt=clean,
        n=n,
        size=size,
        quality=quality,
        fmt=fmt,
        response_format=response_format,
        input_images=input_images,
    )
    serial = ex.state.next_serial()
    if not stream and d.cut_after is not None:  # the JSON body in 64 KiB writes, the connection cut after N
        body = orjson.dumps(answer)
        pieces = [body[i : i + _PIECE] for i in range(0, len(body), _PIECE)]
        return await ex.stream(pieces, d, serial=serial, content_type="application/json")
    if not stream:
        return json_response(answer, headers=WIRE.headers(serial))
    if not _gpt_image(model):
        return WIRE.error(400, "Streaming is not supported for this model.")
    raw_partials = str(ex.body.get("partial_images", 0))
    partials = int(raw_partials) if raw_partials.isdigit() else 0
    common = {"size": answer["size"], "quality": quality, "background": "opaque", "output_format": fmt}
    frames: list[bytes] = []
    for blob in blobs:
        b64 = base64.b64encode(blob).decode()
        for i in range(min(3, partials)):
            kind = f"{event}.partial_image"
            item = {"type": kind, "b64_json": b64, "created_at": answer["created"], **common, "partial_image_index": i}
            frames.append(sse(item, kind))
        kind = f"{event}.completed"
        frames.append(
            sse(
                {"type": kind, "b64_json": b64, "created_at": answer["created"], **common, "usage": answer["usage"]},
                kind,
            )
        )
    return await ex.stream(frames, d, serial=serial)


async def images_generations(request: web.Request) -> web.StreamResponse:
    """``POST /v1/images/generations``: b64_json (GPT image, with usage) or url/b64_json (dall-e)."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return WIRE.error(400, "Missing required parameter: 'prompt'.")
    model = str(body.get("model") or "dall-e-2")
    options = _image_options(body, model)
    if isinstance(options, str):
        return WIRE.error(400, options)
    return await _answer_images(ex, model, prompt, options, event="image_generation", input_images=0)


def _valid_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except Exception:  # Pillow raises many types for bad files
        return False
    return True


def _form_images(ex: FormExchange) -> int | str:
    """The number of input images of a multipart edit, or OpenAI's error message."""
    form = ex.form
    for part in form.parts:
        if part.name in ("image", "mask") and not part.is_file:
            return f"Invalid type for '{part.name}': expected a file, but got a string instead."
        if part.name.startswith("image[") and not part.is_file:
            return "Invalid type for 'image[0]': expected a file, but got a string instead."
    images = [p for p in form.parts if p.is_file and (p.name == "image" or p.name.startswith("image["))]
    if not images:
        return "Missing required parameter: 'image'."
    for i, part in enumerate([*images, *form.files("mask")]):
        if not _valid_image(part.data):
            which = "mask" if part.name == "mask" else f"image {i + 1}"
            return f"Invalid image file or mode for {which}, please check your image file."
    return len(images)


def _json_images(body: dict[str, Any]) -> int | str:
    images = body.get("images")
    if not isinstance(images, list) or not images:
        return "Missing required parameter: 'image'." if images is None else "Invalid 'images': empty array."
    for i, ref in enumerate(images):
        url = ref.get("image_url") if isinstance(ref, dict) else None
        if isinstance(url, str) and url.startswith("data:"):
            try:
                ok = _valid_image(base64.b64decode(url.partition(",")[2], validate=True))
            except (binascii.Error, ValueError):
                ok = False
            if not ok:
                return f"Invalid image file or mode for image {i + 1}, please check your image file."
        elif not isinstance(url, str) and not (isinstance(ref, dict) and isinstance(ref.get("file_id"), str)):
            return f"Invalid 'images[{i}]': expected an object with 'image_url' or 'file_id'."
    return len(images)


async def images_edits(request: web.Request) -> web.StreamResponse:
    """``POST /v1/images/edits``: multipart with ``image``/``image[]``/``mask`` file parts, or JSON ``images``."""
    ex = await begin_media(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return WIRE.error(400, "Missing required parameter: 'prompt'.")
    model = str(body.get("model") or "gpt-image-1.5")
    if isinstance(ex, FormExchange):
        if "n" in body:
            body["n"] = int(body["n"]) if str(body["n"]).isdigit() else body["n"]
        count = _form_images(ex)
    elif not _gpt_image(model):
        return WIRE.error(400, "JSON image edits are only supported for GPT image models; use multipart/form-data.")
    else:
        count = _json_images(body)
    if isinstance(count, str):
        return WIRE.error(400, count)
    options = _image_options(body, model)
    if isinstance(options, str):
        return WIRE.error(400, options)
    return await _answer_images(ex, model, prompt, options, event="image_edit", input_images=count)
