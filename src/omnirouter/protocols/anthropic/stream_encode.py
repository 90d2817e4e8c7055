"""IR stream events → a client's Messages SSE bytes.

Every frame has an ``event:`` line and JSON data with the same ``type``.
``message_start`` (id ``msg_…``, the request's public model, empty content, the
usage known so far) is sent by :meth:`start` as soon as the upstream's first event is
read (after the whole event, so that an Anthropic upstream's input tokens are in it),
or before the first content at the latest.  Blocks get indexes 0, 1, 2… in order,
each is opened with ``content_block_start`` and closed with ``content_block_stop`` as
the IR switches between reasoning, text and tool calls:

* thinking blocks get ``thinking_delta`` and always end with a ``signature_delta``
  (foreign signatures wrapped, unsigned reasoning ``""``: see :mod:`.signatures`);
  redacted reasoning is a ``redacted_thinking`` block of its own;
* a tool call opens a ``tool_use`` block with ``input: {}`` and streams its
  arguments as ``input_json_delta``.  Blocks are sequential, so while the open
  call's arguments are not yet complete JSON, every other event (text, reasoning,
  another call and its fragments) is held back and sent, in order, once they are
  (or when the turn ends): calls that interleave in the IR lose nothing and the
  stream stays well-formed.  A fragment for a call whose block was already closed
  (its arguments were complete JSON, so any more would only break them) is dropped.
  A tool-call signature is sent in an empty thinking block just before the call.

:class:`ChoiceEnd` closes the blocks; ``message_delta`` (``stop_reason``:
``tool_use`` when there were calls, unless the turn hit max tokens or a refusal;
cumulative usage with input and cache fields) and ``message_stop`` are sent by
:meth:`finish`, since usage may follow the end of the choice.  Only choice 0 is
encoded (Anthropic has one).  Generated images (:class:`ImageDelta`) have no block in an
answer and are dropped (a channel with ``image_output: markdown`` sends them as text instead).
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import (
    ChatRequest,
    ChoiceEnd,
    GatewayError,
    ImageDelta,
    ReasoningDelta,
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
from omnirouter.protocols.anthropic import signatures
from omnirouter.protocols.anthropic._shared import PROTOCOL, message_id
from omnirouter.protocols.anthropic.errors import encode_stream_error
from omnirouter.protocols.anthropic.response import stop_reason_for
from omnirouter.protocols.anthropic.usage import usage_to_anthropic
from omnirouter.protocols.common import is_complete_json, new_id
from omnirouter.protocols.sse import frame

PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def ping() -> bytes:
    """A ``ping`` event, for keep-alive while nothing else is sent."""
    return PING


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return frame(orjson.dumps({"type": kind, **payload}), kind)


class _Call:
    __slots__ = ("args", "block", "id", "name", "signature", "signature_origin")

    def __init__(self, event: ToolCallStart) -> None:
        self.id = event.id or new_id("toolu_")
        self.name = event.name
        self.signature = event.signature
        self.signature_origin = event.signature_origin
        self.args: list[str] = []
        self.block = -1

    def complete(self) -> bool:
        return is_complete_json("".join(self.args))


_Held = TextDelta | ReasoningDelta | _Call


class AnthropicStreamEncoder:
    """Stateful encoder for one client stream."""

    __slots__ = (
        "_calls",
        "_closed",
        "_ended",
        "_has_calls",
        "_held",
        "_id",
        "_model",
        "_next_block",
        "_open",
        "_open_call",
        "_started",
        "_stop",
        "_text_sent",
        "_usage",
    )
    answer: dict[str, Any] | None = None  # the protocol ends its streams with no answer object

    def __init__(self, request: ChatRequest) -> None:
        self._model = request.model
        self._id: str | None = None
        self._usage = Usage()
        self._started = False
        self._closed = False
        self._ended = False
        self._stop: StopReason | None = None
        self._next_block = 0
        self._open: str | None = None
        self._open_call: _Call | None = None
        self._calls: dict[int, _Call] = {}
        self._held: list[_Held] = []
        self._has_calls = False
        self._text_sent = False

    def ping(self) -> bytes:
        """A ``ping`` event."""
        return PING

    def start(self) -> bytes:
        """``message_start``, once (content blocks open as their content comes)."""
        return b"" if self._closed else self._start()

    def encode(self, event: StreamEvent) -> bytes:
        """The bytes for one event (possibly empty)."""
        if self._closed:
            return b""
        if isinstance(event, StreamStart):
            if self._id is None:
                self._id = message_id(event.id)
            return b""
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
            return b""
        if isinstance(event, StreamFailure):
            return self.error(GatewayError(event.kind, event.message, status=event.status))
        if event.choice != 0 or self._ended:
            return b""
        out = self._start()
        if isinstance(event, ChoiceEnd):
            self._ended = True
            self._stop = event.stop_reason
            return out + self._close_all()
        if isinstance(event, ToolCallDelta):
            return out + self._call_delta(event)
        if (isinstance(event, TextDelta) and not event.text) or isinstance(event, ImageDelta):
            return out
        item: _Held
        if isinstance(event, ToolCallStart):
            self._has_calls = True
            item = self._calls[event.index] = _Call(event)
        else:
            item = event
        if self._blocked():
            self._held.append(item)
            return out
        return out + self._apply(item)

    def finish(self) -> bytes:
        """Close open blocks, then ``message_delta`` and ``message_stop``."""
        if self._closed:
            return b""
        out = self._start() + self._close_all()
        self._closed = True
        delta = {"stop_reason": stop_reason_for(self._stop, self._has_calls), "stop_sequence": None}
        out += _event("message_delta", {"delta": delta, "usage": usage_to_anthropic(self._usage)})
        return out + _event("message_stop", {})

    def error(self, error: GatewayError) -> bytes:
        """End the stream with an ``event: error`` frame."""
        if self._closed:
            return b""
        self._closed = True
        return encode_stream_error(error)

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, Any] = {
            "id": self._id or new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_anthropic(self._usage),
        }
        return _event("message_start", {"message": message})

    def _blocked(self) -> bool:
        """Whether the open block is a call still waiting for arguments (others must wait)."""
        return self._open_call is not None and not self._open_call.complete()

    def _apply(self, item: _Held) -> bytes:
        if isinstance(item, TextDelta):
            return self._text(item.text)
        if isinstance(item, ReasoningDelta):
            return self._reasoning(item)
        return self._close() + self._open_tool(item)

    def _release(self, *, force: bool) -> bytes:
        """Send held events in order (until a call blocks again, unless ``force``)."""
        out = b""
        while self._held and (force or not self._blocked()):
            out += self._apply(self._held.pop(0))
        return out

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        self._open = kind
        index = self._next_block
        self._next_block += 1
        return _event("content_block_start", {"index": index, "content_block": block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"index": self._next_block - 1, "delta": delta})

    def _close(self) -> bytes:
        """Close the open block (a thinking block first gets its empty signature)."""
        if self._open is None:
            return b""
        out = self._delta({"type": "signature_delta", "signature": ""}) if self._open == "thinking" else b""
        self._open, self._open_call = None, None
        return out + _event("content_block_stop", {"index": self._next_block - 1})

    def _close_all(self) -> bytes:
        return self._release(force=True) + self._close()

    def _text(self, text: str) -> bytes:
        out = b""
        self._text_sent = True
        if self._open != "text":
            out = self._close() + self._open_block("text", {"type": "text", "text": ""})
        return out + self._delta({"type": "text_delta", "text": text})

    def _reasoning(self, event: ReasoningDelta) -> bytes:
        if event.redacted is not None:
            data = signatures.redacted_data(event.redacted, event.origin)
            block = self._close() + self._open_block("redacted", {"type": "redacted_thinking", "data": data})
            return block + self._close()
        lone = not event.text and event.redacted is None and self._open != "thinking"
        if lone and self._text_sent and event.origin != PROTOCOL:
            # A lone signature after the answer began (Gemini signs its last text part): a thinking block
            # after the text would make clients such as Claude Code show only the text after it, or none.
            # Gemini does not require text-part signatures back, so it is dropped.
            return b""
        out = b""
        if (event.text or event.signature is not None) and self._open != "thinking":
            out = self._close() + self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._delta({"type": "thinking_delta", "thinking": event.text})
        if event.signature is not None:
            signature = signatures.reasoning_signature(event.signature, event.origin)
            out += self._delta({"type": "signature_delta", "signature": signature})
            self._open = "signed"
            out += self._close()
        return out

    def _open_tool(self, call: _Call) -> bytes:
        out = b""
        if call.signature is not None:
            signature = signatures.call_signature(call.signature, call.signature_origin)
            out += self._open_block("signed", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta({"type": "signature_delta", "signature": signature}) + self._close()
        use = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        out += self._open_block("tool", use)
        call.block = self._next_block - 1
        self._open_call = call
        if call.args:
            out += self._delta({"type": "input_json_delta", "partial_json": "".join(call.args)})
        return out

    def _call_delta(self, event: ToolCallDelta) -> bytes:
        if not event.arguments:
            return b""
        call = self._calls.get(event.index)
        if call is None:
            out = self.encode(ToolCallStart(index=event.index, id=new_id("toolu_"), name=""))
            return out + self._call_delta(event)
        if call.block < 0:
            call.args.append(event.arguments)
            return b""
        if call is not self._open_call:
            return b""
        call.args.append(event.arguments)
        out = self._delta({"type": "input_json_delta", "partial_json": event.arguments})
        return out + self._release(force=False)
