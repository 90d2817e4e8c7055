"""IR stream events → a Gemini client's stream: SSE (``alt=sse``) or one incrementally written JSON array.

Every chunk is a ``GenerateContentResponse`` with one candidate per choice it
concerns, ``modelVersion`` (the request's public model name), ``responseId``
and, once known, the latest cumulative ``usageMetadata``.

* Text deltas are ``text`` parts, reasoning text ``thought: true`` parts, images
  ``inlineData`` parts (``fileData`` for an image known by URL).
  Signatures go into ``thoughtSignature`` (another provider's wrapped with
  ``carry.wrap_b64``); a text-less Gemini-origin signature waits for the next
  text or call part, as Gemini sends it.
* Gemini sends each ``functionCall`` whole, so calls are buffered and sent, with
  parsed arguments (``{}`` when malformed) and their ``id``, once complete: when
  other content follows, when another call starts and theirs parse as JSON, or
  at the choice's end.  Fragments of a call already sent are dropped.
* The last chunk, written by :meth:`finish` (usage may still follow
  ``ChoiceEnd``), carries each candidate's ``finishReason`` (STOP also after tool
  calls, as Gemini does) and the final usage, with an empty text part (the
  SDK's chat history rejects a chunk without content) unless the choice was
  filtered before any output.
* :meth:`error` ends the stream with an ``{"error": {code, message, status}}`` chunk.
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
from omnirouter.protocols.common import guess_media_type
from omnirouter.protocols.gemini._shared import is_own, random_call_id, redacted_out, signature_out
from omnirouter.protocols.gemini.content_encode import parse_args
from omnirouter.protocols.gemini.errors import encode_stream_error
from omnirouter.protocols.gemini.response import finish_for, usage_to_gemini


def image_part(event: ImageDelta) -> dict[str, Any] | None:
    """An image event as an ``inlineData`` (or ``fileData``) part."""
    if event.data is not None:
        return {"inlineData": {"mimeType": event.media_type or guess_media_type(event.data), "data": event.data}}
    if event.url is not None:
        return {"fileData": {"mimeType": event.media_type or "image/png", "fileUri": event.url}}
    return None


class _Call:
    __slots__ = ("args", "id", "name", "origin", "signature")

    def __init__(self, call_id: str, name: str, signature: str | None, origin: str | None) -> None:
        self.id = call_id
        self.name = name
        self.signature = signature
        self.origin = origin
        self.args: list[str] = []

    def complete(self) -> bool:
        """Whether the arguments so far are a whole JSON value (no valid fragment can follow)."""
        text = "".join(self.args)
        if not text:
            return False
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        return True


class _Choice:
    __slots__ = ("calls", "ended", "output", "pending", "sent", "stop")

    def __init__(self) -> None:
        self.calls: dict[int, _Call] = {}
        self.sent: set[int] = set()
        self.pending: str | None = None
        self.stop: StopReason | None = None
        self.ended = False
        self.output = False

    def take_pending(self) -> list[dict[str, Any]]:
        """The held signature as a part of its own (when something else must come first)."""
        if self.pending is None:
            return []
        part = {"text": "", "thoughtSignature": self.pending}
        self.pending = None
        return [part]


class GeminiStreamEncoder:
    """Stateful encoder for one client stream."""

    __slots__ = ("_array", "_choices", "_closed", "_frames", "_id", "_model", "_usage")
    answer: dict[str, Any] | None = None  # the protocol ends its streams with no answer object

    def __init__(self, request: ChatRequest, *, json_array: bool = False) -> None:
        self._model = request.model
        self._array = json_array
        self._id: str | None = None
        self._usage: Usage | None = None
        self._choices: dict[int, _Choice] = {}
        self._closed = False
        self._frames = 0

    def _frame(self, data: bytes) -> bytes:
        if not self._array:
            return b"data: " + data + b"\r\n\r\n"
        prefix = b"[" if self._frames == 0 else b",\r\n"
        self._frames += 1
        return prefix + data

    def _chunk(self, candidates: list[dict[str, Any]]) -> bytes:
        if self._id is None:
            self._id = random_call_id()[5:]
        body: dict[str, Any] = {"candidates": candidates}
        if self._usage is not None:
            body["usageMetadata"] = usage_to_gemini(self._usage)
        body["modelVersion"] = self._model
        body["responseId"] = self._id
        return self._frame(orjson.dumps(body))

    def _parts(self, choice: int, state: _Choice, parts: list[dict[str, Any]]) -> bytes:
        if not parts:
            return b""
        state.output = True
        return self._chunk([{"content": {"role": "model", "parts": parts}, "index": choice}])

    def start(self) -> bytes:
        """Nothing: a Gemini stream has no opening frame (its first chunk carries content)."""
        return b""

    def encode(self, event: StreamEvent) -> bytes:
        """The bytes for one event (possibly empty)."""
        if self._closed:
            return b""
        if isinstance(event, StreamStart):
            if self._id is None:
                self._id = event.id or random_call_id()[5:]
            return b""
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
            return b""
        if isinstance(event, StreamFailure):
            return self.error(GatewayError(event.kind, event.message, status=event.status))
        state = self._choices.get(event.choice)
        if state is None:
            state = self._choices[event.choice] = _Choice()
        if state.ended:
            return b""
        if isinstance(event, TextDelta):
            if not event.text:
                return b""
            part: dict[str, Any] = {"text": event.text}
            if state.pending is not None:
                part["thoughtSignature"], state.pending = state.pending, None
            return self._flush(event.choice, state) + self._parts(event.choice, state, [part])
        if isinstance(event, ReasoningDelta):
            return self._flush(event.choice, state) + self._parts(event.choice, state, self._reasoning(event, state))
        if isinstance(event, ImageDelta):
            image = image_part(event)
            if image is None:
                return b""
            return self._flush(event.choice, state) + self._parts(event.choice, state, [*state.take_pending(), image])
        if isinstance(event, ToolCallStart):
            out = self._flush(event.choice, state, complete_only=True)
            if event.index in state.calls:
                out += self._flush(event.choice, state)
            state.sent.discard(event.index)
            call_id = event.id or random_call_id()
            state.calls[event.index] = _Call(call_id, event.name, event.signature, event.signature_origin)
            return out
        if isinstance(event, ToolCallDelta):
            call = state.calls.get(event.index)
            if call is None and event.index not in state.sent:
                call = state.calls[event.index] = _Call(random_call_id(), "", None, None)
            if call is not None and event.arguments:
                call.args.append(event.arguments)
            return b""
        if isinstance(event, ChoiceEnd):
            out = self._flush(event.choice, state)
            state.ended, state.stop = True, event.stop_reason
            return out
        return b""

    @staticmethod
    def _reasoning(event: ReasoningDelta, state: _Choice) -> list[dict[str, Any]]:
        if event.redacted is not None:
            marker = redacted_out(event.redacted, event.origin)
            return [*state.take_pending(), {"text": event.text, "thought": True, "thoughtSignature": marker}]
        signature = None
        if event.signature is not None:
            signature = signature_out(event.signature, event.origin, for_client=True)
        if event.text:
            part: dict[str, Any] = {"text": event.text, "thought": True}
            if signature is not None:
                part["thoughtSignature"] = signature
            return [*state.take_pending(), part]
        if signature is None:
            return []
        held = state.take_pending()
        if is_own(event.origin):
            state.pending = signature
            return held
        return [*held, {"text": "", "thought": True, "thoughtSignature": signature}]

    def _flush(self, choice: int, state: _Choice, *, complete_only: bool = False) -> bytes:
        """Send buffered calls (all, or only those whose arguments are complete)."""
        ready = [i for i, call in state.calls.items() if not complete_only or call.complete()]
        parts: list[dict[str, Any]] = []
        for index in ready:
            call = state.calls.pop(index)
            state.sent.add(index)
            part: dict[str, Any] = {
                "functionCall": {"id": call.id, "name": call.name, "args": parse_args("".join(call.args) or "{}")}
            }
            signature = None
            if call.signature is not None:
                signature = signature_out(call.signature, call.origin, for_client=True)
            if signature is None and state.pending is not None:
                signature, state.pending = state.pending, None
            parts.extend(state.take_pending())
            if signature is not None:
                part["thoughtSignature"] = signature
            parts.append(part)
        return self._parts(choice, state, parts)

    def finish(self) -> bytes:
        """Send what is buffered, then the last chunk with every candidate's finishReason and the usage."""
        if self._closed:
            return b""
        self._closed = True
        choices = self._choices or {0: _Choice()}
        out: list[bytes] = []
        candidates: list[dict[str, Any]] = []
        for c, state in sorted(choices.items()):
            out.append(self._flush(c, state))
            candidate: dict[str, Any] = {}
            if state.output or state.pending is not None or state.stop is not StopReason.CONTENT_FILTER:
                candidate["content"] = {"role": "model", "parts": state.take_pending() or [{"text": ""}]}
            candidate["finishReason"] = finish_for(state.stop)
            candidate["index"] = c
            candidates.append(candidate)
        out.append(self._chunk(candidates))
        if self._array:
            out.append(b"]")
        return b"".join(out)

    def error(self, error: GatewayError) -> bytes:
        """End the stream with an ``{"error": ...}`` chunk."""
        if self._closed:
            return b""
        self._closed = True
        out = self._frame(encode_stream_error(error))
        return out + b"]" if self._array else out
