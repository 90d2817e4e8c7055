"""An upstream's ``streamGenerateContent?alt=sse`` stream → IR stream events.  Never raises.

Each ``data:`` is a whole ``GenerateContentResponse`` (a JSON array of them is
accepted too).  Text parts → :class:`TextDelta`; ``thought`` parts →
:class:`ReasoningDelta`; a ``thoughtSignature`` on a ``functionCall`` part goes
to :class:`ToolCallStart`, on any other part it is a signature-only
``ReasoningDelta`` sent before the part's text.  A ``functionCall`` arrives
whole: one ``ToolCallStart`` (calls numbered 0, 1… per candidate, ids made up
when Gemini gives none) and one ``ToolCallDelta`` with the JSON arguments.
``usageMetadata`` is cumulative, each one becomes a :class:`UsageUpdate`.
``finishReason`` ends a candidate (TOOL_CALLS when it made calls, though Gemini
says STOP); a blocked prompt ends choice 0 with CONTENT_FILTER.  An image
(``inlineData`` image/*, or ``fileData`` of an image) is one :class:`ImageDelta`.
Parts with no stream event (audio, code execution) are dropped.  A stream that stops
before every candidate finished is a failure.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from omnirouter.ir import (
    ChoiceEnd,
    ErrorKind,
    GatewayError,
    ImageDelta,
    ImagePart,
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
from omnirouter.protocols.gemini._shared import PROTOCOL, get, random_call_id
from omnirouter.protocols.gemini.content_decode import decode_file, decode_inline, json_text
from omnirouter.protocols.gemini.errors import stream_failure
from omnirouter.protocols.gemini.response import is_blocked, stop_from_finish, usage_from_gemini
from omnirouter.protocols.sse import SSEEvent


def _failure(message: str) -> StreamFailure:
    return StreamFailure(kind=ErrorKind.UPSTREAM, message=message, status=502)


def _image(part: dict[str, Any]) -> ImagePart | None:
    """The image an ``inlineData`` / ``fileData`` part holds, ``None`` for anything else or malformed."""
    try:
        if get(part, "inlineData") is not None:
            media = decode_inline(get(part, "inlineData"), "inlineData")
        elif get(part, "fileData") is not None:
            media = decode_file(get(part, "fileData"), "fileData")
        else:
            return None
    except GatewayError:
        return None
    return media if isinstance(media, ImagePart) else None


class _Candidate:
    __slots__ = ("calls", "ended")

    def __init__(self) -> None:
        self.calls = 0
        self.ended = False


class GeminiStreamDecoder:
    """Stateful decoder for one upstream stream."""

    __slots__ = ("_candidates", "_failed", "_started", "_usage")

    def __init__(self) -> None:
        self._candidates: dict[int, _Candidate] = {}
        self._started = False
        self._failed = False
        self._usage: Usage | None = None

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Events for one SSE event."""
        if self._failed:
            return []
        data = event.data.strip()
        if not data:
            return []
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail(_failure(f"upstream sent a malformed stream chunk: {data[:200]!r}"))
        chunks = parsed if isinstance(parsed, list) else [parsed]
        events: list[StreamEvent] = []
        for chunk in chunks:
            if not isinstance(chunk, dict):
                return self._fail(_failure("upstream sent a stream chunk that is not a JSON object"))
            if "error" in chunk and "candidates" not in chunk:
                return events + self._fail(stream_failure(chunk))
            try:
                self._chunk(chunk, events)
            except Exception as exc:  # a last guard: a decoder must never raise
                return events + self._fail(_failure(f"could not read upstream stream chunk: {exc}"))
        return events

    def finish(self) -> list[StreamEvent]:
        """Nothing more to say after a complete stream; a stream cut short is a failure."""
        if self._failed:
            return []
        if not self._started:
            return self._fail(_failure("upstream stream ended without any data"))
        if not self._candidates or any(not c.ended for c in self._candidates.values()):
            return self._fail(_failure("upstream stream ended before it was complete"))
        return []

    def _fail(self, failure: StreamFailure) -> list[StreamEvent]:
        self._failed = True
        return [failure]

    def _chunk(self, chunk: dict[str, Any], events: list[StreamEvent]) -> None:
        if not self._started:
            self._started = True
            response_id, model = chunk.get("responseId"), chunk.get("modelVersion")
            events.append(
                StreamStart(
                    id=response_id if isinstance(response_id, str) and response_id else random_call_id()[5:],
                    model=model if isinstance(model, str) else "",
                    created=int(time.time()),
                )
            )
        ends: list[StreamEvent] = []
        candidates = chunk.get("candidates")
        if isinstance(candidates, list):
            for position, candidate in enumerate(candidates):
                if isinstance(candidate, dict):
                    self._candidate(candidate, position, events, ends)
        if not candidates and is_blocked(chunk) and not self._candidates:
            self._candidates[0] = _Candidate()
            self._candidates[0].ended = True
            ends.append(ChoiceEnd(stop_reason=StopReason.CONTENT_FILTER, choice=0))
        meta = chunk.get("usageMetadata")
        if isinstance(meta, dict):
            usage = usage_from_gemini(meta)
            if usage != self._usage:
                self._usage = usage
                events.append(UsageUpdate(usage=usage))
        events.extend(ends)

    def _candidate(
        self, raw: dict[str, Any], position: int, events: list[StreamEvent], ends: list[StreamEvent]
    ) -> None:
        c = raw.get("index")
        if not isinstance(c, int) or isinstance(c, bool):
            c = position
        state = self._candidates.get(c)
        if state is None:
            state = self._candidates[c] = _Candidate()
        if state.ended:
            return
        content = raw.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict):
                self._part(part, c, state, events)
        finish = get(raw, "finishReason")
        if isinstance(finish, str) and finish and finish != "FINISH_REASON_UNSPECIFIED":
            state.ended = True
            ends.append(ChoiceEnd(stop_reason=stop_from_finish(finish, state.calls > 0), choice=c))

    def _part(self, part: dict[str, Any], c: int, state: _Candidate, events: list[StreamEvent]) -> None:
        signature = get(part, "thoughtSignature")
        if not isinstance(signature, str) or not signature:
            signature = None
        text = part.get("text")
        call = get(part, "functionCall")
        if part.get("thought") is True and call is None:
            text = text if isinstance(text, str) else ""
            if text or signature is not None:
                events.append(ReasoningDelta(text=text, signature=signature, origin=PROTOCOL, choice=c))
            return
        if isinstance(call, dict):
            name = call.get("name")
            call_id = call.get("id")
            args = call.get("args")
            index = state.calls
            state.calls += 1
            events.append(
                ToolCallStart(
                    index=index,
                    id=call_id if isinstance(call_id, str) and call_id else random_call_id(),
                    name=name if isinstance(name, str) else "",
                    signature=signature,
                    signature_origin=PROTOCOL if signature is not None else None,
                    choice=c,
                )
            )
            events.append(ToolCallDelta(index=index, arguments=json_text(args if args is not None else {}), choice=c))
            return
        if signature is not None:
            events.append(ReasoningDelta(signature=signature, origin=PROTOCOL, choice=c))
        if isinstance(text, str) and text:
            events.append(TextDelta(text=text, choice=c))
        image = _image(part)
        if image is not None:
            events.append(ImageDelta(data=image.data, media_type=image.media_type, url=image.url, choice=c))
