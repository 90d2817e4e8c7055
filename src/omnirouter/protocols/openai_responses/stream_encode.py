"""IR stream events → a client's Responses SSE bytes (``event: <type>`` + ``data``).

The order is the one OpenAI sends and the SDK's stream helper checks:
``response.created`` → ``response.in_progress`` → per output item
``output_item.added`` → its part / delta / done events → ``output_item.done`` →
finally ``response.completed`` (or ``response.incomplete``) with every item
exactly as it was finished (same ids) and the usage.  ``sequence_number``
counts from 0.  The stream starts lazily if the first event is not
:class:`StreamStart`.

Items: text opens a ``message`` (one ``output_text`` part), reasoning a
``reasoning`` item (one summary part; a signature or redacted block closes it,
see :mod:`.items` for ``encrypted_content``), each :class:`ToolCallStart` a
``function_call`` (preceded by a signature-carrying reasoning item when the call
has a signature).  Opening an item closes the open message / reasoning item and
every open call whose arguments already form complete JSON; a call still
missing arguments stays open so that interleaved calls lose nothing (an
argument fragment for an already finished call, or for a call that never
started, is dropped).  A call that got no
arguments gets ``{}``.  Only choice 0 exists in Responses.

:class:`ChoiceEnd` closes the items; ``response.completed`` waits for
:meth:`finish` because usage may follow.  An error (``error()`` or a
:class:`StreamFailure`) sends an ``error`` event and then ``response.failed``
(status ``failed``, the items so far), so that every client's stream ends.
``response_id`` is the id the client sees (final once the first event is encoded).
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
from omnirouter.protocols.common import is_complete_json
from omnirouter.protocols.openai_responses._shared import new_id
from omnirouter.protocols.openai_responses.errors import error_event, response_error
from omnirouter.protocols.openai_responses.items import (
    call_signature_item,
    client_encrypted,
    output_text,
    reasoning_id,
    summary_of,
)
from omnirouter.protocols.openai_responses.output import (
    client_namespaces,
    envelope,
    image_item,
    message_item,
    response_id_for,
    status_for,
)
from omnirouter.protocols.openai_responses.usage import usage_to_responses
from omnirouter.protocols.sse import frame


class _Item:
    """One output item being streamed."""

    __slots__ = ("encrypted", "index", "item", "kind", "text")

    def __init__(self, kind: str, index: int, item: dict[str, Any]) -> None:
        self.kind = kind
        self.index = index
        self.item = item
        self.text: list[str] = []
        self.encrypted: str | None = None

    @property
    def id(self) -> str:
        return str(self.item["id"])

    def closable(self) -> bool:
        """Whether opening another item may finish this one."""
        return self.kind != "function_call" or is_complete_json("".join(self.text))


def _snapshot(state: _Item) -> dict[str, Any]:
    """An unfinished item as it stands, marked incomplete (for ``response.failed``)."""
    text = "".join(state.text)
    if state.kind == "message":
        return message_item(state.id, [output_text(text)], "incomplete")
    if state.kind == "reasoning":
        return {"id": state.id, "type": "reasoning", "summary": summary_of(text), "status": "incomplete"}
    return {**state.item, "status": "incomplete", "arguments": text}


class OpenAIResponsesStreamEncoder:
    """Stateful encoder for one client stream."""

    def __init__(self, request: ChatRequest) -> None:
        self._request = request
        self._namespaces = client_namespaces(request)
        self.response_id = new_id("resp_")
        self._envelope: dict[str, Any] | None = None
        self._seq = 0
        self._output: list[dict[str, Any]] = []
        self._open: list[_Item] = []
        self._calls: dict[int, _Item] = {}
        self._stop: StopReason | None = None
        self._ended = False
        self._usage: Usage | None = None
        self._closed = False
        self.answer: dict[str, Any] | None = None
        # Signature-only reasoning that arrives inside an answer (Gemini signs text parts) waits until the
        # message item closes, so that one answer is not split into two message items.
        self._deferred: list[ReasoningDelta] = []

    # --- framing -------------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, **fields, "sequence_number": self._seq}
        self._seq += 1
        return frame(orjson.dumps(payload), kind)

    def _start(self, response_id: str | None = None, created: int = 0) -> bytes:
        if self._envelope is not None:
            return b""
        if response_id is not None:
            self.response_id = response_id_for(response_id)
        model = self._request.model
        self._envelope = envelope(self.response_id, created or int(time.time()), model, self._request)
        return self._event("response.created", response=self._envelope) + self._event(
            "response.in_progress", response=self._envelope
        )

    # --- items ---------------------------------------------------------------------------------

    def _open_item(self, kind: str, item: dict[str, Any]) -> tuple[_Item, bytes]:
        out = [self._start()]
        for open_item in [i for i in self._open if i.closable()]:
            out.append(self._close(open_item))
        out.append(self._flush_deferred())
        state = _Item(kind, len(self._output), item)
        self._output.append(item)
        self._open.append(state)
        out.append(self._event("response.output_item.added", output_index=state.index, item=item))
        return state, b"".join(out)

    def _current(self, kind: str) -> _Item | None:
        return next((i for i in reversed(self._open) if i.kind == kind), None)

    def _close(self, state: _Item) -> bytes:
        self._open.remove(state)
        text = "".join(state.text)
        common = {"item_id": state.id, "output_index": state.index}
        out: list[bytes] = []
        if state.kind == "message":
            part = output_text(text)
            out.append(self._event("response.output_text.done", **common, content_index=0, text=text, logprobs=[]))
            out.append(self._event("response.content_part.done", **common, content_index=0, part=part))
            status = "incomplete" if self._stop is StopReason.LENGTH else "completed"
            item = message_item(state.id, [part], status)
        elif state.kind == "reasoning":
            if text:
                part = {"type": "summary_text", "text": text}
                out.append(self._event("response.reasoning_summary_text.done", **common, summary_index=0, text=text))
                out.append(self._event("response.reasoning_summary_part.done", **common, summary_index=0, part=part))
            item = {"id": state.id, "type": "reasoning", "summary": summary_of(text)}
            if state.encrypted is not None:
                item["encrypted_content"] = state.encrypted
        elif state.kind == "image_generation_call":
            item = image_item(state.id, text)
        else:
            if not text:
                text = "{}"
                out.append(self._event("response.function_call_arguments.delta", **common, delta=text))
            item = {**state.item, "status": "completed", "arguments": text}
            name = item["name"]
            out.append(self._event("response.function_call_arguments.done", **common, name=name, arguments=text))
        self._output[state.index] = item
        out.append(self._event("response.output_item.done", output_index=state.index, item=item))
        return b"".join(out)

    def _text(self, text: str) -> bytes:
        state, out = self._current("message"), b""
        if state is None or self._open[-1] is not state:
            state, out = self._open_item("message", message_item(new_id("msg_"), [], "in_progress"))
            part = output_text("")
            out += self._event(
                "response.content_part.added", item_id=state.id, output_index=state.index, content_index=0, part=part
            )
        state.text.append(text)
        return out + self._event(
            "response.output_text.delta",
            item_id=state.id,
            output_index=state.index,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def _reasoning_item(self) -> tuple[_Item, bytes]:
        state = self._current("reasoning")
        if state is not None and self._open[-1] is state:
            return state, b""
        return self._open_item("reasoning", {"id": reasoning_id(), "type": "reasoning", "summary": []})

    def _flush_deferred(self) -> bytes:
        deferred, self._deferred = self._deferred, []
        return b"".join(self._reasoning(event) for event in deferred)

    def _reasoning(self, event: ReasoningDelta) -> bytes:
        if not event.text and self._open and self._open[-1].kind == "message":
            self._deferred.append(event)
            return b""
        out: list[bytes] = []
        if event.redacted is not None:
            current = self._current("reasoning")
            if current is not None:
                out.append(self._close(current))
        if event.text and event.redacted is None:
            state, opened = self._reasoning_item()
            out.append(opened)
            common = {"item_id": state.id, "output_index": state.index, "summary_index": 0}
            if not state.text:
                part = {"type": "summary_text", "text": ""}
                out.append(self._event("response.reasoning_summary_part.added", **common, part=part))
            state.text.append(event.text)
            out.append(self._event("response.reasoning_summary_text.delta", **common, delta=event.text))
        if event.signature is not None or event.redacted is not None:
            state, opened = self._reasoning_item()
            out.append(opened)
            state.encrypted = client_encrypted(event.signature, event.redacted, event.origin)
            out.append(self._close(state))
        return b"".join(out)

    def _image(self, event: ImageDelta) -> bytes:
        """A generated image: one ``image_generation_call`` item, added and done at once (base64 only)."""
        if event.data is None:
            return b""
        state, opened = self._open_item("image_generation_call", image_item(new_id("ig_"), None))
        state.text.append(event.data)
        return opened + self._close(state)

    def _call_start(self, event: ToolCallStart) -> bytes:
        out: list[bytes] = []
        if event.signature is not None:
            carrier = call_signature_item(event.id, event.signature, event.signature_origin)
            state, opened = self._open_item("reasoning", carrier)
            state.encrypted = carrier["encrypted_content"]
            out += [opened, self._close(state)]
        item: dict[str, Any] = {
            "id": new_id("fc_"),
            "type": "function_call",
            "status": "in_progress",
            "call_id": event.id or new_id("call_"),
            "name": event.name,
            "arguments": "",
        }
        split = self._namespaces.get(event.name)
        if split is not None:
            item["namespace"], item["name"] = split
        state, opened = self._open_item("function_call", item)
        self._calls[event.index] = state
        return b"".join([*out, opened])

    def _call_delta(self, event: ToolCallDelta) -> bytes:
        state = self._calls.get(event.index)
        if state is None or state not in self._open or not event.arguments:
            return b""
        state.text.append(event.arguments)
        return self._event(
            "response.function_call_arguments.delta", item_id=state.id, output_index=state.index, delta=event.arguments
        )

    # --- the StreamEncoder interface -----------------------------------------------------------

    def start(self) -> bytes:
        """``response.created`` and ``response.in_progress``, once (a :class:`StreamStart` sends them too)."""
        return b"" if self._closed else self._start()

    def encode(self, event: StreamEvent) -> bytes:
        """The bytes for one event (possibly empty)."""
        if self._closed:
            return b""
        if isinstance(event, StreamStart):
            return self._start(event.id, event.created)
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
            return b""
        if isinstance(event, StreamFailure):
            return self.error(GatewayError(event.kind, event.message, status=event.status))
        if event.choice != 0 or self._ended:
            return b""
        if isinstance(event, TextDelta):
            return self._text(event.text) if event.text else b""
        if isinstance(event, ReasoningDelta):
            return self._reasoning(event)
        if isinstance(event, ToolCallStart):
            return self._call_start(event)
        if isinstance(event, ToolCallDelta):
            return self._call_delta(event)
        if isinstance(event, ImageDelta):
            return self._image(event)
        if isinstance(event, ChoiceEnd):
            self._ended, self._stop = True, event.stop_reason
            closed = b"".join(self._close(i) for i in list(self._open))
            return self._start() + closed + self._flush_deferred()
        return b""

    def _final(self, status: str) -> dict[str, Any]:
        assert self._envelope is not None
        body = {**self._envelope, "status": status, "output": self._output}
        if self._usage is not None:
            body["usage"] = usage_to_responses(self._usage)
        return body

    def finish(self) -> bytes:
        """Close what is open and send ``response.completed`` (or ``response.incomplete``)."""
        if self._closed:
            return b""
        out = [self._start(), *(self._close(i) for i in list(self._open))]
        out.append(self._flush_deferred())
        out += [self._close(i) for i in list(self._open)]
        self._closed = True
        status, incomplete = status_for(self._stop)
        body = self._final(status)
        body["incomplete_details"] = incomplete
        if status == "completed":
            body["completed_at"] = int(time.time())
        self.answer = body
        out.append(self._event(f"response.{status}", response=body))
        return b"".join(out)

    def error(self, error: GatewayError) -> bytes:
        """End the stream with an ``error`` event and ``response.failed``."""
        if self._closed:
            return b""
        start = self._start()
        self._closed = True
        for state in self._open:
            self._output[state.index] = _snapshot(state)
        body = self._final("failed")
        body["error"] = response_error(error)
        return start + self._event("error", **error_event(error)) + self._event("response.failed", response=body)
