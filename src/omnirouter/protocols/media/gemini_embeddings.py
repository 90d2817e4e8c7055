"""Gemini ``:embedContent`` and ``:batchEmbedContents``, both ways.

google-genai always calls the batch form.  Gemini takes text only (a token array is a 400 before any
call), at most 100 requests per batch (longer lists go in several calls, re-joined in order), and
reports no usage: input tokens are estimated and marked so.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage
from omnirouter.ir.media import EmbeddingRequest, EmbeddingResult, Vector
from omnirouter.protocols.fields import opt_str
from omnirouter.protocols.gemini.errors import decode_error, encode_error
from omnirouter.protocols.limits import client_json, number_field
from omnirouter.protocols.media.base import (
    Answer,
    Followup,
    Target,
    UpstreamCall,
    estimated_tokens,
    invalid,
    json_object,
)
from omnirouter.protocols.media.openai_embeddings import DIMENSIONS
from omnirouter.protocols.media.vectors import vector_floats, vector_from_wire

__all__ = ["GEMINI_BATCH_EMBED_IN", "GEMINI_EMBEDDINGS_UP", "GEMINI_EMBED_IN", "GeminiEmbeddingsInbound"]

MAX_BATCH = 100
_VENDOR = "Gemini"


def _text_of(content: Any, param: str) -> str:
    """The text parts of one ``content``, joined (only text is embedded)."""
    if not isinstance(content, dict):
        raise invalid(f"'{param}' must be an object with 'parts'.", param)
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise invalid(f"'{param}.parts' must be a non-empty array.", f"{param}.parts")
    texts = []
    for index, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else None
        if not isinstance(text, str):
            raise invalid(f"'{param}.parts[{index}].text' must be a string.", f"{param}.parts[{index}].text")
        texts.append(text)
    return "\n".join(texts) if len(texts) > 1 else texts[0]


def _model_name(value: str) -> str:
    return value.removeprefix("models/")


class GeminiEmbeddingsInbound:
    """A google-genai client: ``:embedContent`` (``batch=False``) or ``:batchEmbedContents``."""

    protocol = "gemini"

    def __init__(self, batch: bool) -> None:
        self.batch = batch

    def decode(self, body: bytes, content_type: str, model: str | None) -> EmbeddingRequest:
        parsed = parse_json_object(body)
        name = _model_name(model or "")
        if not name:
            raise invalid("the model is required in the URL.", "model")
        if not self.batch:
            items, prefix = [parsed], ""
        else:
            requests = parsed.get("requests")
            if not isinstance(requests, list) or not requests:
                raise invalid("'requests' must be a non-empty array.", "requests")
            if len(requests) > MAX_BATCH:
                raise invalid(f"at most {MAX_BATCH} requests can be in one batch.", "requests")
            items, prefix = requests, "requests"
        texts: list[str] = []
        for index, item in enumerate(items):
            where = f"{prefix}[{index}]" if prefix else ""
            if not isinstance(item, dict):
                raise invalid(f"'{where}' must be an object.", where)
            item_model = item.get("model")
            if item_model is not None and (not isinstance(item_model, str) or _model_name(item_model) != name):
                raise invalid(f"'{where}.model' must be the model in the URL (models/{name}).", f"{where}.model")
            texts.append(_text_of(item.get("content"), f"{where}.content" if where else "content"))
        first = items[0]
        return EmbeddingRequest(
            model=name,
            texts=texts,
            dimensions=number_field(first, "outputDimensionality", DIMENSIONS, "outputDimensionality"),
            task_type=opt_str(first, "taskType", "taskType"),
            title=opt_str(first, "title", "title"),
            single=not self.batch,
        )

    def budget(self, request: EmbeddingRequest, body_size: int) -> Budget:
        return Budget(input_bytes=body_size, max_output=0)

    def encode(self, result: EmbeddingResult, request: EmbeddingRequest, public_model: str) -> tuple[bytes, bytes]:
        if request.single:
            answer: dict[str, Any] = {"embedding": {"values": vector_floats(result.vectors[0])}}
        else:
            answer = {"embeddings": [{"values": vector_floats(vector)} for vector in result.vectors]}
        return orjson.dumps(answer), b"application/json"

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


def _batch_call(request: EmbeddingRequest, target: Target, start: int) -> UpstreamCall:
    model = target.upstream_model
    if not model.startswith(("models/", "tunedModels/")):
        model = f"models/{model}"
    items = []
    for text in (request.texts or [])[start : start + MAX_BATCH]:
        item: dict[str, Any] = {"model": model, "content": {"parts": [{"text": text}]}}
        if request.task_type is not None:
            item["taskType"] = request.task_type
        if request.title is not None:
            item["title"] = request.title
        if request.dimensions is not None:
            item["outputDimensionality"] = request.dimensions
        items.append(item)
    return UpstreamCall(f"/v1beta/{model}:batchEmbedContents", client_json({"requests": items}))


class GeminiEmbeddingsUpstream:
    """Gemini's ``:batchEmbedContents`` as an upstream (batches of at most 100, in order)."""

    def build(self, request: EmbeddingRequest, target: Target) -> UpstreamCall:
        if request.tokens is not None:
            raise invalid("'input' as token arrays is not supported by this model's upstream (text only).", "input")
        return _batch_call(request, target, 0)

    def parse(
        self, answer: Answer, request: EmbeddingRequest, target: Target, step: Followup | None
    ) -> EmbeddingResult | Followup:
        parsed = json_object(answer.body, _VENDOR)
        embeddings = parsed.get("embeddings")
        if not isinstance(embeddings, list):
            raise GatewayError(ErrorKind.UPSTREAM, "Gemini returned no embeddings")
        done: list[Vector] = list(step.carry) if step is not None else []
        for item in embeddings:
            values = item.get("values") if isinstance(item, dict) else None
            done.append(vector_from_wire(values, _VENDOR))
        texts = request.texts or []
        if len(done) < len(texts):
            if len(embeddings) == 0:
                raise GatewayError(ErrorKind.UPSTREAM, "Gemini returned fewer embeddings than inputs")
            return Followup(_batch_call(request, target, len(done)), "batch", carry=done)
        if len(done) != len(texts):
            raise GatewayError(ErrorKind.UPSTREAM, "Gemini returned more embeddings than inputs")
        return EmbeddingResult(vectors=done, usage=Usage(input_tokens=estimated_tokens(texts), estimated=True))

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


GEMINI_EMBED_IN = GeminiEmbeddingsInbound(batch=False)
GEMINI_BATCH_EMBED_IN = GeminiEmbeddingsInbound(batch=True)
GEMINI_EMBEDDINGS_UP = GeminiEmbeddingsUpstream()
