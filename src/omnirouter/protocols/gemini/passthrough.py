"""Gemini on both sides: forward bodies and stream chunks with only ``modelVersion`` changed.

The model is in the URL, so :meth:`GeminiPassthrough.prepare` only serialises
the body (a stray ``model`` field is removed).  The upstream is always asked for
SSE; the stream filter writes SSE or, for clients that asked without
``alt=sse``, one JSON array.  Chunks are relayed with a byte-level rename of
``modelVersion``; only chunks that end the stream (``finishReason``,
``blockReason``) or report an error are parsed.  Usage is read from the last
chunk that carried ``usageMetadata`` (it is cumulative), parsed when asked for.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.protocols.base import PreparedBody
from omnirouter.protocols.gemini._shared import camel_keys
from omnirouter.protocols.gemini.errors import encode_stream_error, read_error
from omnirouter.protocols.gemini.response import usage_from_gemini
from omnirouter.protocols.limits import (
    CHOICES,
    GEMINI_THINKING_BUDGET,
    GEMINI_TOP_K,
    PENALTY,
    SEED,
    TEMPERATURE,
    TOKENS,
    TOP_P,
    check_nesting,
    check_numbers,
    client_json,
)
from omnirouter.protocols.passthrough_rewrite import AnswerFacts
from omnirouter.protocols.sse import SSEEvent

_USAGE_KEY = b'"usageMetadata"'
NUMBERS = (
    ("maxOutputTokens", TOKENS),
    ("temperature", TEMPERATURE),
    ("topP", TOP_P),
    ("topK", GEMINI_TOP_K),
    ("seed", SEED),
    ("candidateCount", CHOICES),
    ("presencePenalty", PENALTY),
    ("frequencyPenalty", PENALTY),
)
"""The numeric ``generationConfig`` fields and their ranges (checked on every path, see :mod:`..limits`)."""
NESTED = ("tools", "generationConfig")
"""The fields whose nesting is limited (translation recurses into their JSON schemas)."""
_ENDING_KEYS = (b'"finishReason"', b'"blockReason"', b'"finish_reason"', b'"block_reason"')


ANSWER = AnswerFacts(
    model_key="modelVersion",
    usage_key="usageMetadata",
    read_usage=usage_from_gemini,
    is_answer=lambda body: "candidates" in body or "promptFeedback" in body,
)
"""Where a ``GenerateContentResponse`` (or chunk) names the model and carries usage."""


def _ends(chunk: dict[str, Any]) -> bool:
    candidates = chunk.get("candidates")
    for candidate in candidates if isinstance(candidates, list) else []:
        if isinstance(candidate, dict) and (candidate.get("finishReason") or candidate.get("finish_reason")):
            return True
    feedback = chunk.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))


_FUNCTION_PARTS = ("functionCall", "function_call", "functionResponse", "function_response")


class GeminiStreamFilter:
    """Relays one Gemini stream as SSE or as a JSON array, capturing usage and renaming the model."""

    __slots__ = ("_array", "_frames", "_model", "_usage", "_usage_data", "completed", "failure")
    answer: dict[str, Any] | None = None  # the protocol ends its streams with no answer object

    def __init__(self, public_model: str, *, json_array: bool) -> None:
        self._model = ANSWER.renamer(public_model)
        self._array = json_array
        self._frames = 0
        self._usage_data: bytes | None = None
        self._usage: Usage | None = None
        self.failure: str | None = None
        self.completed = False

    @property
    def usage(self) -> Usage | None:
        """The usage of the last chunk that carried it (parsed lazily, once per chunk)."""
        data, self._usage_data = self._usage_data, None
        if data is not None:
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
            usage = ANSWER.usage_of(parsed) if isinstance(parsed, dict) else None
            self._usage = usage if usage is not None else self._usage
        return self._usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self._usage_data, self._usage = None, value

    def _frame(self, data: bytes) -> bytes:
        if not self._array:
            return b"data: " + data + b"\r\n\r\n"
        prefix = b"[" if self._frames == 0 else b",\r\n"
        self._frames += 1
        return prefix + data

    def process(self, event: SSEEvent) -> bytes:
        data = event.data.strip()
        if not data:
            return b""
        is_error = data.lstrip(b"{ \t\r\n").startswith(b'"error"')
        if is_error or b"\n" in data or any(key in data for key in _ENDING_KEYS):
            return self._process_parsed(data)
        if _USAGE_KEY in data:
            self._usage_data = data
        return self._frame(self._model.rename(data))

    def _process_parsed(self, data: bytes) -> bytes:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.failure = "upstream sent a malformed stream chunk"
            return b""
        if not isinstance(chunk, dict):
            return self._frame(orjson.dumps(chunk))
        if "error" in chunk and "candidates" not in chunk:
            message = read_error(chunk)[0]
            self.failure = message or "upstream reported an error mid-stream"
            self.completed = True
            return self._frame(data if b"\n" not in data else orjson.dumps(chunk))
        if "modelVersion" in chunk:
            chunk["modelVersion"] = self._model.name
        usage = ANSWER.usage_of(chunk)
        if usage is not None:
            self._usage_data, self._usage = None, usage
        if _ends(chunk):
            self.completed = True
        return self._frame(orjson.dumps(chunk))

    def finish(self) -> bytes:
        if not self._array:
            return b""
        return b"[]" if self._frames == 0 else b"]"

    def error(self, error: GatewayError) -> bytes:
        out = self._frame(encode_stream_error(error))
        return out + b"]" if self._array else out


class GeminiPassthrough:
    """The pass-through adapter for Gemini ``generateContent``; ``json_array`` picks the stream form."""

    def __init__(self, *, json_array: bool = False) -> None:
        self.json_array = json_array

    def check(self, body: dict[str, Any]) -> None:
        body = camel_keys(body)
        check_nesting(body, NESTED)
        config = body.get("generationConfig")
        if isinstance(config, dict):
            config = camel_keys(config)
            check_numbers(config, NUMBERS, "generationConfig.")
            thinking = config.get("thinkingConfig")
            if isinstance(thinking, dict):
                prefix = "generationConfig.thinkingConfig."
                check_numbers(camel_keys(thinking), (("thinkingBudget", GEMINI_THINKING_BUDGET),), prefix)
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'contents' must be a non-empty array.", param="contents")
        for index, content in enumerate(contents):
            parts = content.get("parts") if isinstance(content, dict) else None
            if not isinstance(parts, list) or not parts:
                raise GatewayError(
                    ErrorKind.INVALID_REQUEST,
                    f"contents[{index}] must be an object with a non-empty 'parts' array.",
                    param=f"contents[{index}]",
                )
            for number, part in enumerate(parts):
                if isinstance(part, dict):  # function calls and results carry free JSON: the one nesting limit
                    check_nesting(part, _FUNCTION_PARTS, f"contents[{index}].parts[{number}].")

    def prepare(
        self, body: dict[str, Any], upstream_model: str, stream: bool, raw: bytes | None = None
    ) -> PreparedBody:
        """The body without a ``model`` member (Gemini names the model in the URL)."""
        if "model" in body:
            return PreparedBody(client_json({k: v for k, v in body.items() if k != "model"}), True)
        return PreparedBody(raw if raw is not None else client_json(body), True)

    def rewrite_response(self, body: bytes, public_model: str) -> tuple[bytes, Usage | None]:
        return ANSWER.rewrite(body, public_model)

    def new_stream_filter(self, public_model: str, client_wants_usage: bool) -> GeminiStreamFilter:
        return GeminiStreamFilter(public_model, json_array=self.json_array)


GEMINI_PASSTHROUGH = GeminiPassthrough()
GEMINI_JSON_ARRAY_PASSTHROUGH = GeminiPassthrough(json_array=True)
