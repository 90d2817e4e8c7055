"""The neutral chat representation every protocol codec decodes into and encodes from.

Content is a tagged union of parts; anything a codec cannot map stays as an
``UnknownPart`` carrying the original JSON so that a same-protocol encoder can
put it back unchanged.  Nothing here does I/O.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import msgspec

from omnirouter.ir.usage import Usage


class TextPart(msgspec.Struct, tag="text", kw_only=True):
    """Plain text."""

    text: str


class ImagePart(msgspec.Struct, tag="image", kw_only=True):
    """An image given either by URL or as base64 data with its media type."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None


class AudioPart(msgspec.Struct, tag="audio", kw_only=True):
    """Base64 audio with its format (wav, mp3, ...)."""

    data: str
    format: str


class FilePart(msgspec.Struct, tag="file", kw_only=True):
    """A document: inline base64 data, a URL, or a provider file id."""

    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    filename: str | None = None
    media_type: str | None = None


class ToolCallPart(msgspec.Struct, tag="tool_call", kw_only=True):
    """A call the model makes.  ``arguments`` is the raw JSON text, possibly malformed.

    ``signature`` carries an opaque provider signature bound to the call
    (Gemini's ``thoughtSignature``) so that it survives the next turn;
    ``signature_origin`` names the protocol that produced it (see protocols/carry.py).
    """

    id: str
    name: str
    arguments: str = "{}"
    signature: str | None = None
    signature_origin: str | None = None


class ToolResultPart(msgspec.Struct, tag="tool_result", kw_only=True):
    """The caller's answer to a tool call."""

    call_id: str
    content: list[TextPart | ImagePart] = msgspec.field(default_factory=list)
    name: str | None = None
    is_error: bool = False


class ReasoningPart(msgspec.Struct, tag="reasoning", kw_only=True):
    """Model thinking, kept apart from the answer.

    ``signature`` is the provider's opaque proof (Anthropic ``signature``,
    Gemini ``thoughtSignature``, Responses ``encrypted_content``); ``redacted``
    holds encrypted thinking the client must replay but cannot read; ``origin``
    names the protocol whose upstream produced them, since signatures are only
    valid there (see protocols/carry.py); ``id`` keeps a provider item id
    (Responses ``rs_...``).
    """

    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    origin: str | None = None
    id: str | None = None


class UnknownPart(msgspec.Struct, tag="unknown", kw_only=True):
    """A part no codec understands, kept verbatim with the protocol it came from."""

    protocol: str
    data: Any


Part = TextPart | ImagePart | AudioPart | FilePart | ToolCallPart | ToolResultPart | ReasoningPart | UnknownPart

Role = Literal["system", "developer", "user", "assistant", "tool"]


class Message(msgspec.Struct, kw_only=True):
    """One conversation turn."""

    role: Role
    content: list[Part] = msgspec.field(default_factory=list)
    name: str | None = None


class ToolDef(msgspec.Struct, kw_only=True):
    """A function the model may call; ``parameters`` is a JSON schema."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolChoice(msgspec.Struct, kw_only=True):
    """``mode`` is auto, required (any tool), none, or tool (the one named)."""

    mode: Literal["auto", "required", "none", "tool"] = "auto"
    name: str | None = None


class ReasoningConfig(msgspec.Struct, kw_only=True):
    """Thinking controls: an effort level and/or a token budget."""

    effort: str | None = None
    budget_tokens: int | None = None
    summary: str | None = None
    include_thoughts: bool | None = None


class ResponseFormat(msgspec.Struct, kw_only=True):
    """Structured output: ``json_object`` (JSON mode) or ``json_schema``."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


class ImageOutput(msgspec.Struct, kw_only=True):
    """How generated images should look: an aspect ratio (``16:9``) and a size class (``1K``, ``2K``, ``4K``)."""

    aspect_ratio: str | None = None
    image_size: str | None = None


Modality = Literal["text", "image", "audio"]


class ChatRequest(msgspec.Struct, kw_only=True):
    """A chat request in neutral form.

    ``extra`` holds top-level fields of the source protocol that have no neutral
    meaning; an encoder of the same protocol passes them on, others drop them.
    ``modalities`` are the kinds of output asked for (OpenAI ``modalities``, Gemini
    ``responseModalities``), ``image_output`` the look of generated images; images in an
    answer are :class:`ImagePart` (audio :class:`AudioPart`) in the choice's content.
    """

    model: str
    messages: list[Message]
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    tools: list[ToolDef] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: ReasoningConfig | None = None
    response_format: ResponseFormat | None = None
    modalities: list[Modality] | None = None
    image_output: ImageOutput | None = None
    include_usage: bool = False
    user: str | None = None
    metadata: dict[str, Any] | None = None
    source_protocol: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class StopReason(enum.StrEnum):
    """Why generation ended, in neutral terms."""

    END = "end"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    STOP_SEQUENCE = "stop_sequence"
    REFUSAL = "refusal"
    PAUSE = "pause"
    ERROR = "error"


class Choice(msgspec.Struct, kw_only=True):
    """One candidate answer."""

    index: int = 0
    content: list[Part] = msgspec.field(default_factory=list)
    stop_reason: StopReason | None = None


class ChatResponse(msgspec.Struct, kw_only=True):
    """A complete (non-streamed) answer.

    ``extra`` holds top-level fields of the ``source_protocol`` response with no
    neutral meaning; like ``ChatRequest.extra``, only an encoder of that same
    protocol passes them on.
    """

    id: str
    model: str
    created: int
    choices: list[Choice]
    usage: Usage | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    source_protocol: str | None = None
