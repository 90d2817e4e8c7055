"""IR stream events → a client's Chat Completions SSE bytes.

Every chunk has the same ``id``, ``created`` and ``model`` (the request's
public model name).  Each choice opens with ``{"role": "assistant",
"content": ""}``; tool calls get dense wire indexes in order of
:class:`ToolCallStart` (so calls never share one); ``finish_reason`` comes once
per choice on its last chunk, and events for a finished choice are dropped.
Usage is kept (the last update wins) and sent in one ``choices: []`` chunk by
:meth:`finish`, only when the client asked with ``include_usage``.  Reasoning
goes to ``delta.reasoning_content``; tool-call signatures to ``extra_content``
(see :mod:`.content`); images to ``delta.images``, one whole image per chunk
(see :mod:`.media`).  A reasoning signature (or redacted block) closes a
thinking block: one ``delta.thinking_blocks`` entry with an ``index`` (so the
openai SDK's stream accumulator merges it), the block's full text and its
signature, so that the accumulated message replays losslessly.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from omnirouter.ir import (
    ChatRequest,
    ChoiceEnd,
    GatewayError,
    ImageDelta,
    ReasoningDelta,
    ReasoningPart,
    StopReason,
    StreamEvent,
    StreamFailure,
    StreamStart,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    UsageUpdate,
)
from omnirouter.protocols.common import new_id
from omnirouter.protocols.openai_chat.content import carried, signature_field, thinking_block
from omnirouter.protocols.openai_chat.errors import encode_stream_error
from omnirouter.protocols.openai_chat.media import image_entry
from omnirouter.protocols.openai_chat.response import finish_reason_for
from omnirouter.protocols.openai_chat.usage import usage_to_openai

_DONE = b"data: [DONE]\n\n"


class _ChoiceState:
    __slots__ = ("block_text", "blocks", "calls", "ended", "images", "wire_index")

    def __init__(self) -> None:
        self.wire_index: dict[int, int] = {}
        self.calls = 0
        self.images = 0
        self.ended = False
        self.block_text: list[str] = []
        self.blocks = 0

    def thinking_block(self, signature: str | None, redacted: str | None, origin: str | None) -> dict[str, Any]:
        """The next ``thinking_blocks`` entry, with the text streamed since the previous one."""
        part = ReasoningPart(text="".join(self.block_text), signature=signature, redacted=redacted, origin=origin)
        block = {"index": self.blocks, **thinking_block(part)}
        self.blocks += 1
        self.block_text.clear()
        return block

    def new_call(self, index: int) -> int:
        """A fresh wire index for IR call ``index`` (a repeated IR index still gets a new one)."""
        wire = self.wire_index[index] = self.calls
        self.calls += 1
        return wire


class OpenAIChatStreamEncoder:
    """Stateful encoder for one client stream."""

    __slots__ = ("_choices", "_closed", "_head", "_include_usage", "_model", "_usage")
    answer: dict[str, Any] | None = None  # the protocol ends its streams with no answer object

    def __init__(self, request: ChatRequest) -> None:
        self._model = request.model
        self._include_usage = request.include_usage
        self._head: bytes | None = None
        self._choices: dict[int, _ChoiceState] = {}
        self._usage: Usage | None = None
        self._closed = False

    def _start(self, chunk_id: str, created: int) -> None:
        head = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": self._model}
        self._head = orjson.dumps(head)[:-1] + b',"choices":'

    def _frame(self, choices: list[dict[str, Any]], tail: bytes = b"}") -> bytes:
        if self._head is None:
            self._start(new_id("chatcmpl-"), int(time.time()))
        assert self._head is not None
        return b"data: " + self._head + orjson.dumps(choices) + tail + b"\n\n"

    def _chunk(self, choice: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return self._frame([{"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish}])

    def _open(self, choice: int) -> tuple[_ChoiceState, bytes]:
        """The choice's state, and its opening role chunk when it has not been sent yet."""
        state = self._choices.get(choice)
        if state is not None:
            return state, b""
        state = self._choices[choice] = _ChoiceState()
        return state, self._chunk(choice, {"role": "assistant", "content": ""})

    def start(self) -> bytes:
        """Choice 0's role chunk, once (a :class:`StreamStart` sends it too, with the upstream's id)."""
        return b"" if self._closed else self._open(0)[1]

    def encode(self, event: StreamEvent) -> bytes:
        """The bytes for one event (possibly empty)."""
        if self._closed:
            return b""
        if isinstance(event, StreamStart):
            if self._head is not None:
                return b""
            self._start(event.id or new_id("chatcmpl-"), event.created or int(time.time()))
            return self._open(0)[1]
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
            return b""
        if isinstance(event, StreamFailure):
            return self.error(GatewayError(event.kind, event.message, status=event.status))
        state, prefix = self._open(event.choice)
        if state.ended:
            return prefix
        return prefix + self._event(event, state)

    def _event(self, event: StreamEvent, state: _ChoiceState) -> bytes:
        if isinstance(event, TextDelta):
            return self._chunk(event.choice, {"content": event.text}) if event.text else b""
        if isinstance(event, ReasoningDelta):
            delta: dict[str, Any] = {}
            if event.text:
                delta["reasoning_content"] = event.text
                state.block_text.append(event.text)
            if event.signature is not None or event.redacted is not None:
                delta["thinking_blocks"] = [state.thinking_block(event.signature, event.redacted, event.origin)]
            return self._chunk(event.choice, delta) if delta else b""
        if isinstance(event, ToolCallStart):
            wire = state.new_call(event.index)
            call: dict[str, Any] = {
                "index": wire,
                "id": event.id or new_id("call_"),
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            if event.signature is not None:
                call["extra_content"] = signature_field(carried(event.signature, event.signature_origin))
            return self._chunk(event.choice, {"tool_calls": [call]})
        if isinstance(event, ToolCallDelta):
            if not event.arguments:
                return b""
            known = state.wire_index.get(event.index)
            wire = state.new_call(event.index) if known is None else known
            fragment = {"index": wire, "function": {"arguments": event.arguments}}
            return self._chunk(event.choice, {"tool_calls": [fragment]})
        if isinstance(event, ImageDelta):
            entry = image_entry(event.url, event.data, event.media_type, state.images)
            if entry is None:
                return b""
            state.images += 1
            return self._chunk(event.choice, {"images": [entry]})
        if isinstance(event, ChoiceEnd):
            return self._end(event.choice, state, event.stop_reason)
        return b""

    def _end(self, choice: int, state: _ChoiceState, stop: StopReason | None) -> bytes:
        """The finish chunk; first, reasoning after the last signed block becomes a block of its own."""
        state.ended = True
        tail = b""
        if state.blocks and state.block_text:
            tail = self._chunk(choice, {"thinking_blocks": [state.thinking_block(None, None, None)]})
        return tail + self._chunk(choice, {}, finish_reason_for(stop, state.calls > 0))

    def finish(self) -> bytes:
        """Finish open choices, send usage if asked for, then ``[DONE]``."""
        if self._closed:
            return b""
        self._closed = True
        out: list[bytes] = []
        for c, state in self._choices.items():
            if not state.ended:
                out.append(self._end(c, state, None))
        if self._include_usage and self._usage is not None:
            out.append(self._frame([], b',"usage":' + orjson.dumps(usage_to_openai(self._usage)) + b"}"))
        out.append(_DONE)
        return b"".join(out)

    def error(self, error: GatewayError) -> bytes:
        """End the stream with an ``{"error": ...}`` chunk and ``[DONE]``."""
        if self._closed:
            return b""
        self._closed = True
        return encode_stream_error(error)
