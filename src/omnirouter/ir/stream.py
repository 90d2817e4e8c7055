"""Neutral stream events: what a stream decoder yields and a stream encoder consumes.

Order rules every decoder keeps and every encoder may rely on (and must tolerate
being broken gracefully):
- ``StreamStart`` comes first, exactly once.
- Reasoning comes as ``ReasoningDelta`` text pieces; a delta carrying a
  ``signature`` ends the current reasoning block (Anthropic sends it last), a
  delta carrying ``redacted`` is a whole block of its own.
- A tool call is one ``ToolCallStart`` and then ``ToolCallDelta`` argument
  fragments by ``index``; several calls may interleave.
- ``UsageUpdate`` may come at any point and replaces the previous one.
- A generated image comes whole, as one ``ImageDelta``.
- ``ChoiceEnd`` once per choice; usage may still follow it (OpenAI's usage chunk).
- ``StreamFailure`` ends the stream.
"""

from __future__ import annotations

import msgspec

from omnirouter.ir.chat import StopReason
from omnirouter.ir.errors import ErrorKind
from omnirouter.ir.usage import Usage


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
    origin: str | None = None
    choice: int = 0


class ToolCallStart(msgspec.Struct, tag="tool_call_start", kw_only=True):
    """A new tool call; ``index`` numbers the calls of one choice from 0."""

    index: int
    id: str
    name: str
    signature: str | None = None
    signature_origin: str | None = None
    choice: int = 0


class ToolCallDelta(msgspec.Struct, tag="tool_call_delta", kw_only=True):
    """A fragment of the JSON arguments of call ``index``."""

    index: int
    arguments: str
    choice: int = 0


class ImageDelta(msgspec.Struct, tag="image", kw_only=True):
    """A whole generated image: base64 ``data`` with its ``media_type``, or a ``url``."""

    data: str | None = None
    media_type: str | None = None
    url: str | None = None
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
    StreamStart
    | TextDelta
    | ReasoningDelta
    | ToolCallStart
    | ToolCallDelta
    | ImageDelta
    | ChoiceEnd
    | UsageUpdate
    | StreamFailure
)
