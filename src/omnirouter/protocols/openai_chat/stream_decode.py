"""An upstream's Chat Completions SSE stream → IR stream events.  Never raises.

Tolerates what OpenAI-compatible servers do: ``content: null`` or ``""``
deltas, ids without the ``call_`` prefix, several calls sent under one
``index`` (a new id starts a new call), missing indexes (a new id or name
starts a new call) or ids, arguments
given as objects, ``reasoning_content`` (DeepSeek) or ``reasoning`` (vLLM),
usage on every chunk (each update replaces the last) and ``finish_reason``
"stop" or "length" after complete tool calls.  Tool calls are renumbered
0, 1, 2… per choice in order of appearance.

A vendor's :class:`ChatDialect` (given once per channel; ``None`` for OpenAI itself, which then pays
nothing for it) adds ``reasoning_details`` text, a leading ``<think>`` block in the content (split as it
streams, :mod:`.think_tags`) and usage hidden elsewhere (Groq's ``x_groq.usage``, Kimi's
``choices[].usage``).
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
from omnirouter.protocols.common import new_id
from omnirouter.protocols.openai_chat._shared import PROTOCOL
from omnirouter.protocols.openai_chat.content import arguments_text, decode_thinking_blocks, signature_of
from omnirouter.protocols.openai_chat.dialect import ChatDialect, UsageExtra, details_text
from omnirouter.protocols.openai_chat.errors import stream_failure
from omnirouter.protocols.openai_chat.media import image_deltas
from omnirouter.protocols.openai_chat.response import stop_reason_from
from omnirouter.protocols.openai_chat.think_tags import ThinkSplitter
from omnirouter.protocols.openai_chat.usage import usage_from_openai
from omnirouter.protocols.sse import SSEEvent


class _Call:
    __slots__ = ("args", "id", "name", "started")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.args: list[str] = []
        self.started = False


class _ChoiceState:
    __slots__ = ("by_upstream", "calls", "ended", "refused", "splitter")

    def __init__(self, splitter: ThinkSplitter | None) -> None:
        self.calls: list[_Call] = []
        self.by_upstream: dict[int, int] = {}
        self.refused = False
        self.ended = False
        self.splitter = splitter


def _failure(message: str) -> StreamFailure:
    return StreamFailure(kind=ErrorKind.UPSTREAM, message=message, status=502)


class OpenAIChatStreamDecoder:
    """Stateful decoder for one upstream stream."""

    __slots__ = ("_choices", "_details", "_done", "_extras", "_failed", "_started", "_think_tags")

    def __init__(self, dialect: ChatDialect | None = None) -> None:
        self._choices: dict[int, _ChoiceState] = {}
        self._started = False
        self._done = False
        self._failed = False
        self._details = dialect is not None and dialect.reads_details
        self._think_tags = dialect is not None and dialect.think_tags
        self._extras = dialect.usage_extras - {UsageExtra.PROMPT_CACHE_HIT} if dialect is not None else frozenset()

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Events for one SSE event (``[DONE]`` gives none; ``finish`` handles the end)."""
        if self._failed:
            return []
        data = event.data.strip()
        if data == b"[DONE]":
            self._done = True
            return []
        if not data:
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail(_failure(f"upstream sent a malformed stream chunk: {data[:200]!r}"))
        if not isinstance(chunk, dict):
            return self._fail(_failure("upstream sent a stream chunk that is not a JSON object"))
        if chunk.get("error") or event.event == "error":
            return self._fail(stream_failure(chunk))
        try:
            return self._chunk(chunk)
        except Exception as exc:  # a last guard: a decoder must never raise
            return self._fail(_failure(f"could not read upstream stream chunk: {exc}"))

    def finish(self) -> list[StreamEvent]:
        """Close open choices after ``[DONE]``; a stream cut short is a failure."""
        if self._failed:
            return []
        if not self._started:
            return self._fail(_failure("upstream stream ended without any data"))
        open_choices = [c for c, state in self._choices.items() if not state.ended]
        if not self._done and (open_choices or not self._choices):
            return self._fail(_failure("upstream stream ended before it was complete"))
        events: list[StreamEvent] = []
        for c in open_choices:
            state = self._choices[c]
            state.ended = True
            self._flush(state, c, events)
            reason = stop_reason_from("stop", self._call_args(state), state.refused)
            events.append(ChoiceEnd(stop_reason=reason or StopReason.END, choice=c))
        return events

    def _fail(self, failure: StreamFailure) -> list[StreamEvent]:
        self._failed = True
        return [failure]

    def _chunk(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            chunk_id, model, created = chunk.get("id"), chunk.get("model"), chunk.get("created")
            events.append(
                StreamStart(
                    id=chunk_id if isinstance(chunk_id, str) and chunk_id else new_id("chatcmpl-"),
                    model=model if isinstance(model, str) else "",
                    created=created if isinstance(created, int) and not isinstance(created, bool) else 0,
                )
            )
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for position, choice in enumerate(choices):
                if isinstance(choice, dict):
                    self._choice(choice, position, events)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            events.append(UsageUpdate(usage=usage_from_openai(usage)))
        if self._extras:
            self._usage_extras(chunk, events)
        return events

    def _usage_extras(self, chunk: dict[str, Any], events: list[StreamEvent]) -> None:
        """Usage a vendor puts outside ``usage``: Groq's ``x_groq.usage``, Kimi's ``choices[].usage``."""
        if UsageExtra.X_GROQ in self._extras:
            groq = chunk.get("x_groq")
            usage = groq.get("usage") if isinstance(groq, dict) else None
            if isinstance(usage, dict):
                events.append(UsageUpdate(usage=usage_from_openai(usage)))
        if UsageExtra.CHOICE_USAGE in self._extras:
            choices = chunk.get("choices")
            for choice in choices if isinstance(choices, list) else ():
                usage = choice.get("usage") if isinstance(choice, dict) else None
                if isinstance(usage, dict):
                    events.append(UsageUpdate(usage=usage_from_openai(usage)))

    def _flush(self, state: _ChoiceState, c: int, events: list[StreamEvent]) -> None:
        """Text a think-tag splitter still holds, before the choice ends."""
        if state.splitter is not None:
            for reasoning, piece in state.splitter.flush():
                events.append(
                    ReasoningDelta(text=piece, origin=PROTOCOL, choice=c)
                    if reasoning
                    else TextDelta(text=piece, choice=c)
                )

    def _choice(self, choice: dict[str, Any], position: int, events: list[StreamEvent]) -> None:
        c = choice.get("index")
        if not isinstance(c, int) or isinstance(c, bool):
            c = position
        state = self._choices.get(c)
        if state is None:
            state = self._choices[c] = _ChoiceState(ThinkSplitter() if self._think_tags else None)
        if state.ended:
            return
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._delta(delta, c, state, events)
        finish = choice.get("finish_reason")
        if finish is not None:
            state.ended = True
            self._flush(state, c, events)
            reason = stop_reason_from(finish, self._call_args(state), state.refused)
            events.append(ChoiceEnd(stop_reason=reason or StopReason.END, choice=c))

    def _delta(self, delta: dict[str, Any], c: int, state: _ChoiceState, events: list[StreamEvent]) -> None:
        reasoning = delta.get("reasoning_content")
        if not (isinstance(reasoning, str) and reasoning):
            reasoning = delta.get("reasoning")
            if self._details and not (isinstance(reasoning, str) and reasoning):
                reasoning = details_text(delta.get("reasoning_details"))
        if isinstance(reasoning, str) and reasoning:
            events.append(ReasoningDelta(text=reasoning, origin=PROTOCOL, choice=c))
        for block in decode_thinking_blocks(delta.get("thinking_blocks")) or ():
            if block.signature is not None or block.redacted is not None:
                events.append(
                    ReasoningDelta(signature=block.signature, redacted=block.redacted, origin=block.origin, choice=c)
                )
        content = delta.get("content")
        if isinstance(content, str) and content:
            splitter = state.splitter
            if splitter is None:
                events.append(TextDelta(text=content, choice=c))
            else:
                for is_reasoning, piece in splitter.feed(content):
                    events.append(
                        ReasoningDelta(text=piece, origin=PROTOCOL, choice=c)
                        if is_reasoning
                        else TextDelta(text=piece, choice=c)
                    )
        refusal = delta.get("refusal")
        if isinstance(refusal, str):
            state.refused = True
            if refusal:
                events.append(TextDelta(text=refusal, choice=c))
        if delta.get("images") is not None:
            events.extend(image_deltas(delta["images"], c))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for fragment in calls:
                if isinstance(fragment, dict):
                    self._tool_fragment(fragment, c, state, events)

    def _tool_fragment(self, fragment: dict[str, Any], c: int, state: _ChoiceState, events: list[StreamEvent]) -> None:
        key = fragment.get("index")
        if not isinstance(key, int) or isinstance(key, bool):
            key = None
        function = fragment.get("function")
        if not isinstance(function, dict):
            function = {}
        raw_id, raw_name = fragment.get("id"), function.get("name")
        call_id = raw_id if isinstance(raw_id, str) and raw_id else None
        name = raw_name if isinstance(raw_name, str) and raw_name else None
        raw_args = function.get("arguments")
        args = arguments_text(raw_args) if raw_args is not None else ""
        ours = state.by_upstream.get(key) if key is not None else len(state.calls) - 1
        call = state.calls[ours] if ours is not None and ours >= 0 else None
        other_id = call_id is not None and call is not None and call.id is not None and call_id != call.id
        unindexed_new = key is None and call_id is None and name is not None and call is not None and call.started
        if call is None or other_id or unindexed_new:
            call = _Call()
            state.calls.append(call)
            ours = len(state.calls) - 1
            if key is not None:
                state.by_upstream[key] = ours
        assert ours is not None
        if call_id is not None and call.id is None:
            call.id = call_id
        if name is not None and call.name is None:
            call.name = name
        if args:
            call.args.append(args)
        if not call.started and call.name is not None:
            call.started = True
            call.id = call.id or new_id("call_")
            signature, origin = signature_of(fragment)
            events.append(
                ToolCallStart(
                    index=ours, id=call.id, name=call.name, signature=signature, signature_origin=origin, choice=c
                )
            )
            if call.args:
                events.append(ToolCallDelta(index=ours, arguments="".join(call.args), choice=c))
        elif call.started and args:
            events.append(ToolCallDelta(index=ours, arguments=args, choice=c))

    @staticmethod
    def _call_args(state: _ChoiceState) -> list[str]:
        return ["".join(call.args) for call in state.calls if call.started]
