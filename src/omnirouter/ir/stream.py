"""Neutral stream events: what a stream decoder yields and a stream encoder consumes."""

from __future__ import annotations

import msgspec

from omnirouter.ir.chat import StopReason, Usage
from omnirouter.ir.errors import ErrorKind


class StreamStart(msgspec.Struct, tag="start", kw_only=True):
    """The answer begins; carries its id and model."""

    id: str
    model: str
    created: int = 0


class TextDelta(msgspec.Struct, tag="text", kw_only=True):
    """A piece of answer text."""

    text: str
    choice: int = 0


class ReasoningDelta(msgspec.Struct, tag="reasoning", kw_only=True):
    """A piece of thinking text, or its signature / redacted payload when they arrive."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    choice: int = 0


class ToolCallStart(msgspec.Struct, tag="tool_call_start", kw_only=True):
    """A new tool call; ``index`` numbers the calls of one choice from 0."""

    index: int
    id: str
    name: str
    signature: str | None = None
    choice: int = 0


class ToolCallDelta(msgspec.Struct, tag="tool_call_delta", kw_only=True):
    """A fragment of the JSON arguments of call ``index``."""

    index: int
    arguments: str
    choice: int = 0


class ChoiceEnd(msgspec.Struct, tag="choice_end", kw_only=True):
    """A choice finished, with its stop reason."""

    stop_reason: StopReason
    choice: int = 0


class UsageUpdate(msgspec.Struct, tag="usage", kw_only=True):
    """The usage so far; each update replaces the previous one (never summed)."""

    usage: Usage


class StreamFailure(msgspec.Struct, tag="error", kw_only=True):
    """The upstream failed mid-stream."""

    kind: ErrorKind
    message: str
    status: int = 502


StreamEvent = (
    StreamStart | TextDelta | ReasoningDelta | ToolCallStart | ToolCallDelta | ChoiceEnd | UsageUpdate | StreamFailure
)
