"""OpenAI ``POST /v1/embeddings``, both ways: what clients send the gateway, and what OpenAI and every
OpenAI-compatible upstream take.

``encoding_format`` is honoured exactly: ``base64`` is the little-endian float32 bytes OpenAI sends (the
official SDKs ask for it unless told otherwise), ``float`` a JSON list.  An upstream is asked for the
client's own encoding and either form it answers with is converted, never relayed mislabelled.

An OpenAI client served by an OpenAI upstream (``whole_wire``), without ``dimensions``, gets the
upstream's answer as it was written when it is in the encoding asked: checked and renamed without
parsing its vectors (``embeddings_pass.py``); anything else is parsed and encoded again.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import EmbeddingRequest, EmbeddingResult, Vector
from omnirouter.protocols.fields import opt_str
from omnirouter.protocols.limits import INT32_MAX, Bounds, client_json, number_field
from omnirouter.protocols.media.base import (
    Answer,
    Followup,
    Target,
    UpstreamCall,
    estimated_tokens,
    invalid,
    json_object,
    required_model,
)
from omnirouter.protocols.media.embeddings_pass import pass_embeddings
from omnirouter.protocols.media.pass_through import Rewritten
from omnirouter.protocols.media.vectors import vector_base64, vector_floats, vector_from_wire
from omnirouter.protocols.openai_chat.errors import decode_error, encode_error

__all__ = ["OPENAI_EMBEDDINGS_IN", "OPENAI_EMBEDDINGS_UP", "OpenAIEmbeddingsInbound", "OpenAIEmbeddingsUpstream"]

MAX_INPUTS = 2048
DIMENSIONS = Bounds(1, INT32_MAX, True)
_TOKEN = Bounds(0, INT32_MAX, True)


def _is_token_array(value: Any) -> bool:
    return isinstance(value, list) and all(type(t) is int and 0 <= t <= INT32_MAX for t in value)


def _read_input(value: Any) -> tuple[list[str] | None, list[list[int]] | None, bool]:
    """``input`` as texts or token arrays, and whether it was a single input."""
    if isinstance(value, str):
        if not value:
            raise invalid("'input' cannot be an empty string.", "input")
        return [value], None, True
    if not isinstance(value, list) or not value:
        raise invalid("'input' must be a non-empty string, array of strings, or array of token arrays.", "input")
    if len(value) > MAX_INPUTS:
        raise invalid(f"'input' may hold at most {MAX_INPUTS} items.", "input")
    first = value[0]
    if isinstance(first, str):
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise invalid(f"'input[{index}]' must be a non-empty string.", f"input[{index}]")
        return value, None, False
    if type(first) is int:
        if not _is_token_array(value):
            raise invalid("'input' must be an array of token ids (integers from 0).", "input")
        return None, [value], True
    for index, item in enumerate(value):
        if not _is_token_array(item) or not item:
            raise invalid(f"'input[{index}]' must be a non-empty array of token ids.", f"input[{index}]")
    return None, value, False


def _inputs(request: EmbeddingRequest) -> int:
    """How many vectors the answer must hold."""
    return 1 if request.single else len(request.texts or request.tokens or ())


def _usage(parsed: dict[str, Any], request: EmbeddingRequest) -> Usage:
    """The tokens an answer reports, else counted from the request (and marked estimated)."""
    usage = parsed.get("usage")
    if isinstance(usage, dict) and ("prompt_tokens" in usage or "total_tokens" in usage):
        return Usage(input_tokens=token_count(usage.get("prompt_tokens", usage.get("total_tokens"))))
    counted = Usage(input_tokens=estimated_tokens(request.texts or []), estimated=True)
    if request.tokens is not None:
        counted.input_tokens = sum(len(t) for t in request.tokens)
    return counted


class OpenAIEmbeddingsInbound:
    """A client of ``POST /v1/embeddings``."""

    protocol = "openai"
    whole_wire = "openai-embeddings"

    def decode(self, body: bytes, content_type: str, model: str | None) -> EmbeddingRequest:
        parsed = parse_json_object(body)
        name = required_model(parsed)
        if "input" not in parsed:
            raise invalid("'input' is required.", "input")
        texts, tokens, single = _read_input(parsed["input"])
        encoding = parsed.get("encoding_format")
        if encoding is not None and encoding != "float" and encoding != "base64":
            raise invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
        return EmbeddingRequest(
            model=name,
            texts=texts,
            tokens=tokens,
            dimensions=number_field(parsed, "dimensions", DIMENSIONS, "dimensions"),
            encoding="base64" if encoding == "base64" else "float",
            user=opt_str(parsed, "user", "user"),
            single=single,
        )

    def budget(self, request: EmbeddingRequest, body_size: int) -> Budget:
        return Budget(input_bytes=body_size, max_output=0)

    def encode(self, result: EmbeddingResult, request: EmbeddingRequest, public_model: str) -> tuple[bytes, bytes]:
        as_base64 = request.encoding == "base64"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": vector_base64(vector) if as_base64 else vector_floats(vector),
            }
            for index, vector in enumerate(result.vectors)
        ]
        tokens = result.usage.input_tokens
        answer = {
            "object": "list",
            "data": data,
            "model": public_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return orjson.dumps(answer), b"application/json"

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


class OpenAIEmbeddingsUpstream:
    """OpenAI's embeddings endpoint (and every OpenAI-compatible vendor's) as an upstream."""

    vendor = "the upstream"
    whole_wire = "openai-embeddings"

    def build(self, request: EmbeddingRequest, target: Target) -> UpstreamCall:
        body: dict[str, Any] = {"model": target.upstream_model, "encoding_format": request.encoding}
        if request.tokens is not None:
            body["input"] = request.tokens[0] if request.single else request.tokens
        else:
            texts = request.texts or []
            body["input"] = texts[0] if request.single else texts
        if request.dimensions is not None and not target.upstream_model.startswith("text-embedding-ada"):
            body["dimensions"] = request.dimensions  # ada-002 refuses it: dropped, not failed
        if request.user is not None:
            body["user"] = request.user
        return UpstreamCall("/embeddings", client_json(body))

    def parse(
        self, answer: Answer, request: EmbeddingRequest, target: Target, step: Followup | None
    ) -> EmbeddingResult:
        parsed = json_object(answer.body, self.vendor)
        data = parsed.get("data")
        if not isinstance(data, list) or not data:
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned no embedding data")
        if len(data) != _inputs(request):
            raise GatewayError(
                ErrorKind.UPSTREAM, "the upstream returned a number of embeddings other than the inputs'"
            )
        vectors: list[Vector | None] = [None] * len(data)
        for position, item in enumerate(data):
            if not isinstance(item, dict):
                raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned an embedding that is not an object")
            index = item.get("index", position)
            if type(index) is not int or not 0 <= index < len(data) or vectors[index] is not None:
                raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned embeddings with bad indexes")
            vectors[index] = vector_from_wire(item.get("embedding"), self.vendor)
        return EmbeddingResult(vectors=[v for v in vectors if v is not None], usage=_usage(parsed, request))

    def pass_whole(self, answer: Answer, request: EmbeddingRequest, public_model: str) -> Rewritten | None:
        """The answer as written, renamed, when it is in the encoding asked and no ``dimensions`` were."""
        if request.dimensions is not None:
            return None
        skeleton = pass_embeddings(answer.body, _inputs(request), request.encoding, public_model)
        if skeleton is None:
            return None
        return Rewritten(skeleton.body, _usage(skeleton.parsed, request))

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


OPENAI_EMBEDDINGS_IN = OpenAIEmbeddingsInbound()
OPENAI_EMBEDDINGS_UP = OpenAIEmbeddingsUpstream()
