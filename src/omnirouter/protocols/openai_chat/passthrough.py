"""OpenAI Chat on both sides: forward bodies and stream chunks with only the model changed.

Upstreams are always asked for ``stream_options.include_usage`` so that usage is
known; when the client did not ask for it, the extra usage chunk is removed again.
Chunks without usage are relayed with a byte-level model rename, never re-parsed.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.protocols.base import PreparedBody
from omnirouter.protocols.json_patch import set_top_level_string, with_first_member, with_top_level_string
from omnirouter.protocols.limits import (
    CHOICES,
    PENALTY,
    SEED,
    TEMPERATURE,
    TOKENS,
    TOP_K,
    TOP_P,
    check_nesting,
    check_numbers,
    client_json,
)
from omnirouter.protocols.openai_chat.errors import encode_stream_error
from omnirouter.protocols.openai_chat.usage import usage_from_openai
from omnirouter.protocols.passthrough_rewrite import AnswerFacts
from omnirouter.protocols.sse import SSEEvent

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_DONE = b"[DONE]"
_USAGE_KEY = b'"usage"'
_NULL_USAGE = b'"usage":null'
_NULL_USAGE_SPACED = b'"usage": null'
_ASK_USAGE = b'"stream_options":{"include_usage":true}'
_USAGE_ON = {"include_usage": True}
NUMBERS = (
    ("max_tokens", TOKENS),
    ("max_completion_tokens", TOKENS),
    ("temperature", TEMPERATURE),
    ("top_p", TOP_P),
    ("top_k", TOP_K),
    ("seed", SEED),
    ("n", CHOICES),
    ("presence_penalty", PENALTY),
    ("frequency_penalty", PENALTY),
)
"""The numeric request fields and their ranges (checked on every path, see :mod:`..limits`)."""
NESTED = ("tools", "response_format")
"""The fields whose nesting is limited (translation recurses into their JSON schemas)."""
ANSWER = AnswerFacts(
    model_key="model", usage_key="usage", read_usage=usage_from_openai, is_answer=lambda body: "choices" in body
)
"""Where a completion (or chunk) names the model and carries usage."""


class OpenAIChatStreamFilter:
    """Relays one Chat Completions stream, capturing usage and renaming the model."""

    __slots__ = ("_model", "_wants_usage", "completed", "failure", "usage")
    answer: dict[str, Any] | None = None  # the protocol ends its streams with no answer object

    def __init__(self, public_model: str, client_wants_usage: bool) -> None:
        self._model = ANSWER.renamer(public_model)
        self._wants_usage = client_wants_usage
        self.usage: Usage | None = None
        self.failure: str | None = None
        self.completed = False

    def process(self, event: SSEEvent) -> bytes:
        data = event.data
        if data == _DONE:
            self.completed = True
            return b"data: [DONE]\n\n"
        if (_USAGE_KEY in data and _NULL_USAGE not in data and _NULL_USAGE_SPACED not in data) or data.startswith(
            b'{"error"'
        ):
            return self._process_parsed(data)
        renamed = self._model.rename(data)
        if renamed is data and len(event.raw) == len(data) + 8:  # the raw frame is exactly ``data: …\n\n``
            return event.raw
        return b"data: " + renamed + b"\n\n"

    def _process_parsed(self, data: bytes) -> bytes:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.failure = "upstream sent a malformed stream chunk"
            return b""
        if not isinstance(chunk, dict):
            return b"data: " + data + b"\n\n"
        if "error" in chunk and "choices" not in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else None
            self.failure = str(message or error)
            return b"data: " + data + b"\n\n"
        usage = ANSWER.usage_of(chunk)
        if usage is not None:
            self.usage = usage
            if not self._wants_usage:
                if not chunk.get("choices"):
                    return b""
                del chunk["usage"]
        if "model" in chunk:
            chunk["model"] = self._model.name
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def finish(self) -> bytes:
        return b""

    def error(self, error: GatewayError) -> bytes:
        return encode_stream_error(error)


class OpenAIChatPassthrough:
    """The pass-through adapter for OpenAI Chat Completions."""

    def check(self, body: dict[str, Any]) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'messages' must be a non-empty array.", param="messages")
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if not isinstance(role, str) or role not in _ROLES:
                raise GatewayError(
                    ErrorKind.INVALID_REQUEST,
                    f"messages[{index}] must be an object with a role of {', '.join(sorted(_ROLES))}.",
                    param=f"messages[{index}]",
                )
        check_numbers(body, NUMBERS)
        check_nesting(body, NESTED)

    def prepare(
        self, body: dict[str, Any], upstream_model: str, stream: bool, raw: bytes | None = None
    ) -> PreparedBody:
        options = body.get("stream_options")
        wants_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        if not stream or wants_usage:
            return PreparedBody(set_top_level_string(raw, body, "model", upstream_model), wants_usage)
        renamed = with_top_level_string(raw, body, "model", upstream_model)
        if renamed is not None and "stream_options" not in body:
            asked = with_first_member(renamed, _ASK_USAGE)
            if asked is not None:
                return PreparedBody(asked, False)
        usage_on = {**options, "include_usage": True} if isinstance(options, dict) else _USAGE_ON
        return PreparedBody(client_json({**body, "model": upstream_model, "stream_options": usage_on}), False)

    def rewrite_response(self, body: bytes, public_model: str) -> tuple[bytes, Usage | None]:
        return ANSWER.rewrite(body, public_model)

    def new_stream_filter(self, public_model: str, client_wants_usage: bool) -> OpenAIChatStreamFilter:
        return OpenAIChatStreamFilter(public_model, client_wants_usage)


OPENAI_CHAT_PASSTHROUGH = OpenAIChatPassthrough()
