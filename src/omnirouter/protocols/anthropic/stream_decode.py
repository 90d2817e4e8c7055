"""An upstream's Messages SSE stream → IR stream events.  Never raises.

``message_start`` → :class:`StreamStart` + :class:`UsageUpdate`; text blocks →
:class:`TextDelta`; thinking blocks → :class:`ReasoningDelta` text, then one with
the ``signature_delta``'s signature (origin ``anthropic``); redacted thinking → one
:class:`ReasoningDelta` with ``redacted``; ``tool_use`` blocks → :class:`ToolCallStart`
(calls numbered 0, 1, 2… in order) and :class:`ToolCallDelta` per non-empty
``partial_json``.  ``message_delta`` → :class:`ChoiceEnd` + :class:`UsageUpdate`
(its usage fields replace the running counts).  ``ping`` and unknown events are
ignored, and so are server-tool blocks (``server_tool_use``,
``web_search_tool_result`` …), which have no stream form in the IR.  An
``error`` event, malformed JSON, or a stream that ends before ``message_delta``
gives a :class:`StreamFailure` (``message_stop`` without
``message_delta`` ends the choice as END).  The event type is read from the JSON ``type``
(the ``event:`` line when it is missing).
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import (
    ChoiceEnd,
    ErrorKind,
    ReasoningDelta,
    StopReason,
    StreamEvent,
    StreamFailure,
    StreamStart,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
)
from omnirouter.protocols.anthropic._shared import PROTOCOL, dumps
from omnirouter.protocols.anthropic.errors import stream_failure
from omnirouter.protocols.anthropic.response import stop_reason_from
from omnirouter.protocols.anthropic.usage import UsageCounter
from omnirouter.protocols.common import new_id
from omnirouter.protocols.sse import SSEEvent


def _failure(message: str) -> StreamFailure:
    return StreamFailure(kind=ErrorKind.UPSTREAM, message=message, status=502)


def _index(payload: dict[str, Any]) -> int:
    index = payload.get("index")
    return index if isinstance(index, int) else -1


class _Block:
    __slots__ = ("call", "got_input", "input", "kind", "signed")

    def __init__(self, kind: str, call: int = -1, start_input: Any = None) -> None:
        self.kind = kind
        self.call = call
        self.input = start_input
        self.got_input = False
        self.signed = False


class AnthropicStreamDecoder:
    """Stateful decoder for one upstream stream."""

    __slots__ = ("_blocks", "_calls", "_ended", "_failed", "_started", "_text", "_usage")

    def __init__(self) -> None:
        self._blocks: dict[int, _Block] = {}
        self._calls = 0
        self._text = False
        self._usage = UsageCounter()
        self._started = False
        self._ended = False
        self._failed = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Events for one SSE event."""
        if self._failed:
            return []
        data = event.data.strip()
        if not data:
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail(_failure(f"upstream sent a malformed stream event: {data[:200]!r}"))
        if not isinstance(payload, dict):
            return self._fail(_failure("upstream sent a stream event that is not a JSON object"))
        kind = payload.get("type")
        if not isinstance(kind, str):
            kind = event.event
        if kind == "error":
            return self._fail(stream_failure(payload))
        try:
            return self._event(kind, payload)
        except Exception as exc:  # a last guard: a decoder must never raise
            return self._fail(_failure(f"could not read upstream stream event: {exc!r}"))

    def finish(self) -> list[StreamEvent]:
        """Nothing when the message ended properly; a failure when it was cut short."""
        if self._failed or self._ended:
            return []
        if not self._started:
            return self._fail(_failure("upstream stream ended without any data"))
        return self._fail(_failure("upstream stream ended before it was complete"))

    def _fail(self, failure: StreamFailure) -> list[StreamEvent]:
        self._failed = True
        return [failure]

    def _event(self, kind: str | None, payload: dict[str, Any]) -> list[StreamEvent]:
        if kind == "message_start":
            return self._message_start(payload)
        if not self._started or self._ended:
            return []
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "content_block_delta":
            return self._block_delta(payload)
        if kind == "content_block_stop":
            return self._block_stop(payload)
        if kind == "message_delta":
            return self._message_delta(payload)
        if kind == "message_stop":
            self._ended = True
            reason = StopReason.TOOL_CALLS if self._calls else StopReason.END
            return [ChoiceEnd(stop_reason=reason)]
        return []

    def _message_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        if self._started:
            return []
        self._started = True
        message = payload.get("message")
        message = message if isinstance(message, dict) else {}
        message_id, model = message.get("id"), message.get("model")
        events: list[StreamEvent] = [
            StreamStart(
                id=message_id if isinstance(message_id, str) and message_id else new_id("msg_"),
                model=model if isinstance(model, str) else "",
            )
        ]
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._usage.update(usage)
            events.append(UsageUpdate(usage=self._usage.usage()))
        return events

    def _block_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index, block = payload.get("index"), payload.get("content_block")
        if not isinstance(block, dict) or not isinstance(index, int):
            return []
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            text = block.get("text")
            if isinstance(text, str) and text:
                self._text = True
                return [TextDelta(text=text)]
            return []
        if kind == "thinking":
            state = self._blocks[index] = _Block("thinking")
            state.input = block.get("signature")
            text = block.get("thinking")
            return [ReasoningDelta(text=text)] if isinstance(text, str) and text else []
        if kind == "redacted_thinking":
            data = block.get("data")
            return [ReasoningDelta(redacted=data, origin=PROTOCOL)] if isinstance(data, str) else []
        if kind == "tool_use":
            call_id, name = block.get("id"), block.get("name")
            state = self._blocks[index] = _Block("tool_use", self._calls, block.get("input"))
            self._calls += 1
            return [
                ToolCallStart(
                    index=state.call,
                    id=call_id if isinstance(call_id, str) and call_id else new_id("toolu_"),
                    name=name if isinstance(name, str) else "",
                )
            ]
        return []

    def _block_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        state, delta = self._blocks.get(_index(payload)), payload.get("delta")
        if state is None or not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta" and state.kind == "text":
            text = delta.get("text")
            if isinstance(text, str) and text:
                self._text = True
                return [TextDelta(text=text)]
            return []
        if kind == "thinking_delta" and state.kind == "thinking":
            text = delta.get("thinking")
            return [ReasoningDelta(text=text)] if isinstance(text, str) and text else []
        if kind == "signature_delta" and state.kind == "thinking":
            signature = delta.get("signature")
            if isinstance(signature, str) and signature:
                state.signed = True
                return [ReasoningDelta(signature=signature, origin=PROTOCOL)]
            return []
        if kind == "input_json_delta" and state.kind == "tool_use":
            fragment = delta.get("partial_json")
            if isinstance(fragment, str) and fragment:
                state.got_input = True
                return [ToolCallDelta(index=state.call, arguments=fragment)]
        return []

    def _block_stop(self, payload: dict[str, Any]) -> list[StreamEvent]:
        state = self._blocks.pop(_index(payload), None)
        if state is None:
            return []
        if state.kind == "thinking" and not state.signed and isinstance(state.input, str) and state.input:
            return [ReasoningDelta(signature=state.input, origin=PROTOCOL)]
        if state.kind == "tool_use" and not state.got_input and isinstance(state.input, dict) and state.input:
            return [ToolCallDelta(index=state.call, arguments=dumps(state.input))]
        return []

    def _message_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        delta = payload.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason") is not None:
            self._ended = True
            reason = stop_reason_from(delta.get("stop_reason"), self._calls > 0, self._text)
            events.append(ChoiceEnd(stop_reason=reason or StopReason.END))
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._usage.update(usage)
            events.append(UsageUpdate(usage=self._usage.usage()))
        return events
