"""An upstream's Responses SSE stream → IR stream events.  Never raises.

``response.created`` starts the stream; text, refusal and reasoning (summary or
raw reasoning text; a blank line between summary parts) deltas map to
:class:`TextDelta` / :class:`ReasoningDelta`; a finished reasoning item with
``encrypted_content`` ends its block with the signature (origin
``openai_responses``; carried foreign values are unwrapped, a carried call
signature waits for its call).  Each ``function_call`` item is one tool call,
numbered 0, 1, 2… in order of appearance; text or arguments given only in the
``done`` events (no deltas) are still emitted.  ``response.completed`` /
``response.incomplete`` give the usage and the choice's end; ``response.failed``,
``error`` events, malformed data and a stream cut before the end give a
:class:`StreamFailure`.  Hosted tool items (web search, ...) have no IR events
and are skipped.
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
from omnirouter.protocols.openai_responses._shared import arguments_text, flat_tool_name, new_id, text_of
from omnirouter.protocols.openai_responses.errors import failure_from_error, failure_from_response
from omnirouter.protocols.openai_responses.items import CallSignature, decode_reasoning_item
from omnirouter.protocols.openai_responses.response import stop_reason_from
from omnirouter.protocols.openai_responses.usage import usage_from_responses
from omnirouter.protocols.sse import SSEEvent

_TERMINAL = frozenset({"response.completed", "response.incomplete"})


def _failure(message: str) -> StreamFailure:
    return StreamFailure(kind=ErrorKind.UPSTREAM, message=message, status=502)


class _Call:
    __slots__ = ("args", "call_id", "index", "signature_origin", "started")

    def __init__(self, index: int) -> None:
        self.index = index
        self.call_id = ""
        self.args: list[str] = []
        self.started = False
        self.signature_origin: str | None = None


class OpenAIResponsesStreamDecoder:
    """Stateful decoder for one upstream stream."""

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._failed = False
        self._calls: dict[str, _Call] = {}
        self._text_items: dict[str, bool] = {}
        self._reasoning_seen: set[str] = set()
        self._refused = False
        self._carried: dict[str, CallSignature] = {}

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Events for one SSE event."""
        if self._failed or self._ended:
            return []
        data = event.data.strip()
        if not data or data == b"[DONE]":
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail(_failure(f"upstream sent a malformed stream event: {data[:200]!r}"))
        if not isinstance(payload, dict):
            return self._fail(_failure("upstream sent a stream event that is not a JSON object"))
        kind = payload.get("type")
        if not isinstance(kind, str):
            kind = event.event or ""
        try:
            return self._event(kind, payload)
        except Exception as exc:  # a last guard: a decoder must never raise
            return self._fail(_failure(f"could not read upstream stream event: {exc}"))

    def finish(self) -> list[StreamEvent]:
        """A stream that ended before ``response.completed`` is a failure."""
        if self._failed or self._ended:
            return []
        return self._fail(_failure("upstream stream ended before response.completed"))

    def _fail(self, failure: StreamFailure) -> list[StreamEvent]:
        self._failed = True
        events: list[StreamEvent] = [] if self._started else [StreamStart(id=new_id("resp_"), model="")]
        self._started = True
        return [*events, failure]

    def _start(self, response: Any, events: list[StreamEvent]) -> None:
        if self._started:
            return
        self._started = True
        response = response if isinstance(response, dict) else {}
        rid, model, created = response.get("id"), response.get("model"), response.get("created_at")
        events.append(
            StreamStart(
                id=rid if isinstance(rid, str) and rid else new_id("resp_"),
                model=model if isinstance(model, str) else "",
                created=int(created) if isinstance(created, int | float) and not isinstance(created, bool) else 0,
            )
        )

    def _event(self, kind: str, payload: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if kind == "error":
            return self._fail(failure_from_error(payload))
        self._start(payload.get("response"), events)
        if kind == "response.failed":
            return [*events, *self._fail(failure_from_response(payload.get("response")))]
        if kind in _TERMINAL:
            self._end(kind, payload.get("response"), events)
        elif kind == "response.output_item.added":
            self._item(payload.get("item"), events, done=False)
        elif kind == "response.output_item.done":
            self._item(payload.get("item"), events, done=True)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._refused |= kind == "response.refusal.delta"
            self._text(payload, text_of(payload.get("delta")), events)
        elif kind in ("response.output_text.done", "response.refusal.done"):
            if not self._text_items.get(text_of(payload.get("item_id"))):
                self._text(payload, text_of(payload.get("text") or payload.get("refusal")), events)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = text_of(payload.get("delta"))
            if delta:
                self._reasoning_seen.add(text_of(payload.get("item_id")))
                events.append(ReasoningDelta(text=delta))
        elif kind == "response.reasoning_summary_part.added":
            index = payload.get("summary_index")
            if isinstance(index, int) and index > 0:
                events.append(ReasoningDelta(text="\n\n"))
        elif kind == "response.function_call_arguments.delta":
            call = self._calls.get(text_of(payload.get("item_id")))
            delta = text_of(payload.get("delta"))
            if call is not None and delta:
                call.args.append(delta)
                if call.started:
                    events.append(ToolCallDelta(index=call.index, arguments=delta))
        return events

    def _text(self, payload: dict[str, Any], text: str, events: list[StreamEvent]) -> None:
        if text:
            self._text_items[text_of(payload.get("item_id"))] = True
            events.append(TextDelta(text=text))

    def _item(self, item: Any, events: list[StreamEvent], *, done: bool) -> None:
        if not isinstance(item, dict):
            return
        kind, item_id = item.get("type"), text_of(item.get("id"))
        if kind == "function_call":
            self._function_call(item, item_id, events, done=done)
        elif kind == "reasoning" and done:
            self._reasoning_done(item, item_id, events)
        elif kind == "message" and done and not self._text_items.get(item_id):
            for part in item.get("content") or ():
                if isinstance(part, dict):
                    self._refused |= part.get("type") == "refusal"
                    text = text_of(part.get("text")) or text_of(part.get("refusal"))
                    self._text({"item_id": item_id}, text, events)

    def _function_call(self, item: dict[str, Any], item_id: str, events: list[StreamEvent], *, done: bool) -> None:
        call = self._calls.get(item_id)
        if call is None:
            call = self._calls[item_id or new_id("fc_")] = _Call(len(self._calls))
        call_id, name = text_of(item.get("call_id")), text_of(item.get("name"))
        namespace = item.get("namespace")
        if not call.started and name:
            call.started = True
            call.call_id = call_id or new_id("call_")
            carried = self._carried.pop(call.call_id, None)
            events.append(
                ToolCallStart(
                    index=call.index,
                    id=call.call_id,
                    name=flat_tool_name(namespace if isinstance(namespace, str) else None, name),
                    signature=carried.signature if carried else None,
                    signature_origin=carried.origin if carried else None,
                )
            )
            if call.args:
                events.append(ToolCallDelta(index=call.index, arguments="".join(call.args)))
        given = arguments_text(item.get("arguments"))
        sent = "".join(call.args)
        if call.started and given and given != sent and given.startswith(sent):
            call.args.append(given[len(sent) :])
            events.append(ToolCallDelta(index=call.index, arguments=given[len(sent) :]))
        if done and not call.started:
            self._calls.pop(item_id, None)

    def _reasoning_done(self, item: dict[str, Any], item_id: str, events: list[StreamEvent]) -> None:
        part = decode_reasoning_item(item)
        if isinstance(part, CallSignature):
            self._carried[part.call_id] = part
            return
        if item_id not in self._reasoning_seen and part.text:
            events.append(ReasoningDelta(text=part.text))
        if part.signature is not None or part.redacted is not None:
            events.append(ReasoningDelta(signature=part.signature, redacted=part.redacted, origin=part.origin))

    def _end(self, kind: str, response: Any, events: list[StreamEvent]) -> None:
        self._ended = True
        response = response if isinstance(response, dict) else {}
        usage = response.get("usage")
        if isinstance(usage, dict):
            events.append(UsageUpdate(usage=usage_from_responses(usage)))
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        args = ["".join(c.args) for c in self._calls.values() if c.started]
        status = "incomplete" if kind == "response.incomplete" else "completed"
        stop = stop_reason_from(status, reason, args, self._refused)
        events.append(ChoiceEnd(stop_reason=stop or StopReason.END))
