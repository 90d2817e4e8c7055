"""Anthropic Messages on both sides: forward bodies and stream events with only the model changed.

Anthropic streams always carry usage (``message_start`` and the cumulative
``message_delta``), so nothing needs to be asked of the upstream.  Only
``message_start`` (model rename and usage), ``message_delta`` (usage) and
``error`` events are parsed; the model is renamed byte-level and every other
frame is forwarded exactly as it came, ``event:`` line included.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.protocols.anthropic._shared import out_of_bounds
from omnirouter.protocols.anthropic.errors import encode_stream_error
from omnirouter.protocols.anthropic.usage import UsageCounter, usage_from_anthropic
from omnirouter.protocols.base import PreparedBody
from omnirouter.protocols.json_patch import set_top_level_string
from omnirouter.protocols.limits import TEMPERATURE, TOKENS, TOP_K, TOP_P, check_nesting, check_numbers
from omnirouter.protocols.passthrough_rewrite import AnswerFacts
from omnirouter.protocols.sse import SSEEvent

_ROLES = frozenset({"user", "assistant", "system"})
_PARSED = frozenset({"message_start", "message_delta", "error"})
NUMBERS = (("max_tokens", TOKENS), ("temperature", TEMPERATURE), ("top_p", TOP_P), ("top_k", TOP_K))
"""The numeric request fields and their ranges (checked on every path, see :mod:`..limits`)."""
NESTED = ("tools", "output_config")
"""The fields whose nesting is limited (translation recurses into their JSON schemas)."""
ANSWER = AnswerFacts(
    model_key="model",
    usage_key="usage",
    read_usage=usage_from_anthropic,
    is_answer=lambda body: isinstance(body.get("content"), list),
)
"""Where a message names the model and carries usage."""


def _frame(event: str | None, data: bytes) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event is not None else b""
    return head + b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"


_TOOL_BLOCKS = frozenset({"tool_use", "tool_result", "server_tool_use"})


class AnthropicStreamFilter:
    """Relays one Messages stream, capturing usage and renaming the model."""

    __slots__ = ("_counter", "_model", "completed", "failure", "usage")
    answer: dict[str, Any] | None = None  # the protocol ends its streams with no answer object

    def __init__(self, public_model: str) -> None:
        self._model = ANSWER.renamer(public_model)
        self._counter = UsageCounter()
        self.usage: Usage | None = None
        self.failure: str | None = None
        self.completed = False

    def process(self, event: SSEEvent) -> bytes:
        """The bytes to forward for one event."""
        name = event.event
        if name is None or name in _PARSED:
            return self._parsed(event)
        if name == "message_stop":
            self.completed = True
        return event.raw or _frame(name, event.data)

    def _parsed(self, event: SSEEvent) -> bytes:
        try:
            payload: Any = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            self.failure = "upstream sent a malformed stream event"
            return b""
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "message_start":
            message = payload.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                self._counter.update(usage)
                self.usage = self._counter.usage()
            data = self._model.rename(event.data)
            return _frame(event.event or "message_start", data)
        if kind == "message_delta":
            usage = payload.get("usage")
            if isinstance(usage, dict):
                self._counter.update(usage)
                self.usage = self._counter.usage()
        elif kind == "message_stop":
            self.completed = True
        elif kind == "error":
            error = payload.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            self.failure = str(message or error or "upstream reported an error mid-stream")
        return event.raw or _frame(event.event, event.data)

    def finish(self) -> bytes:
        """Nothing: the upstream's own ``message_stop`` was forwarded."""
        return b""

    def error(self, error: GatewayError) -> bytes:
        """An ``event: error`` frame."""
        return encode_stream_error(error)


class AnthropicPassthrough:
    """The pass-through adapter for Anthropic Messages."""

    def check(self, body: dict[str, Any]) -> None:
        """Reject what Anthropic would reject without looking further: bad ``messages``, no ``max_tokens``."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, "messages: Field required: a non-empty list of messages", param="messages"
            )
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if not isinstance(role, str) or role not in _ROLES:
                raise GatewayError(
                    ErrorKind.INVALID_REQUEST,
                    f"messages.{index}: Input should be an object with role 'user' or 'assistant'",
                    param=f"messages.{index}.role",
                )
            content = message.get("content")
            if isinstance(content, list):  # tool calls and results carry free JSON: the one nesting limit
                for number, block in enumerate(content):
                    kind = block.get("type") if isinstance(block, dict) else None
                    if isinstance(kind, str) and kind in _TOOL_BLOCKS:
                        check_nesting(block, ("input", "content"), f"messages.{index}.content.{number}.")
        if body.get("max_tokens") is None:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "max_tokens: Field required", param="max_tokens")
        check_numbers(body, NUMBERS, error=out_of_bounds)
        thinking = body.get("thinking")
        if isinstance(thinking, dict):
            check_numbers(thinking, (("budget_tokens", TOKENS),), "thinking.", out_of_bounds)
        check_nesting(body, NESTED)

    def prepare(
        self, body: dict[str, Any], upstream_model: str, stream: bool, raw: bytes | None = None
    ) -> PreparedBody:
        """The body with the upstream model (Anthropic streams always carry usage)."""
        return PreparedBody(set_top_level_string(raw, body, "model", upstream_model), True)

    def rewrite_response(self, body: bytes, public_model: str) -> tuple[bytes, Usage | None]:
        """The message with the public model name, and its usage."""
        return ANSWER.rewrite(body, public_model)

    def new_stream_filter(self, public_model: str, client_wants_usage: bool) -> AnthropicStreamFilter:
        """A filter for one stream (usage is always part of Anthropic streams)."""
        return AnthropicStreamFilter(public_model)


ANTHROPIC_PASSTHROUGH = AnthropicPassthrough()
