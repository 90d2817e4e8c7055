"""The text a realtime session saw, for estimating a response whose ``response.done`` carries no usage.

Every relayed event is shown here (both generations' names); only text is counted, in UTF-8 bytes, and
``billing/estimate.py`` turns bytes into tokens as it does for a chat stream without usage (the
meter's ``estimate``).  A response's input is what the model was given: the session's instructions and
tools (``session.update``; a ``response.create``'s own ``instructions`` / ``tools`` replace them for that
response, its ``input`` items add to them), and the conversation so far — the user's items
(``conversation.item.create``: texts, audio transcripts, function calls and their outputs), the
transcripts of the user's audio (``conversation.item.input_audio_transcription.completed``) and the
earlier responses' output.  A response's output is its text deltas (``response.output_text.delta`` /
``response.text.delta``, the audio transcript's, a function call's arguments), counted per
``response_id``.  Audio itself is not counted (only its transcripts), nor are deleted or truncated
items taken off: an estimate, marked so in the ledger.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

__all__ = ["TextCounts", "TextTally"]

_OUTPUT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.text.delta",
        "response.output_audio_transcript.delta",
        "response.audio_transcript.delta",
        "response.function_call_arguments.delta",
    }
)
_TRANSCRIBED = "conversation.item.input_audio_transcription.completed"


class TextCounts(NamedTuple):
    """UTF-8 bytes of one response's input and output text."""

    input_bytes: int
    output_bytes: int


def _size(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


def _item_bytes(item: Any) -> int:
    """The text of a conversation item: message parts' text or transcript, a function call's name and
    arguments, a function call's output."""
    if not isinstance(item, dict):
        return 0
    total = _size(item.get("name")) + _size(item.get("arguments")) + _size(item.get("output"))
    content = item.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                total += _size(part.get("text")) + _size(part.get("transcript"))
    return total


def _tools_bytes(tools: Any) -> int:
    return len(orjson.dumps(tools)) if isinstance(tools, list) and tools else 0


class TextTally:
    """Counts the text of one session (``client`` / ``upstream`` for every relayed event, ``finish`` for
    each ``response.done``)."""

    __slots__ = ("_context", "_instructions", "_output", "_response", "_tools")

    def __init__(self) -> None:
        self._context = 0  # the conversation so far
        self._instructions = 0
        self._tools = 0
        self._response: tuple[int | None, int | None, int] | None = None  # the next response's own
        self._output: dict[str, int] = {}  # response id → output bytes so far

    def client(self, event: dict[str, Any]) -> None:
        """A client event on its way upstream."""
        kind = event.get("type")
        if kind == "conversation.item.create":
            self._context += _item_bytes(event.get("item"))
        elif kind == "session.update":
            session = event.get("session")
            if isinstance(session, dict):
                if "instructions" in session:
                    self._instructions = _size(session["instructions"])
                if "tools" in session:
                    self._tools = _tools_bytes(session["tools"])
        elif kind == "response.create":
            response = event.get("response")
            if isinstance(response, dict):
                instructions = _size(response["instructions"]) if "instructions" in response else None
                tools = _tools_bytes(response["tools"]) if "tools" in response else None
                items = response.get("input")
                extra = sum(_item_bytes(item) for item in items) if isinstance(items, list) else 0
                self._response = (instructions, tools, extra)
            else:
                self._response = None

    def upstream(self, event: dict[str, Any]) -> None:
        """A server event on its way to the client."""
        kind = event.get("type")
        if kind in _OUTPUT_DELTAS:
            response_id = event.get("response_id")
            if isinstance(response_id, str):
                self._output[response_id] = self._output.get(response_id, 0) + _size(event.get("delta"))
        elif kind == _TRANSCRIBED:
            self._context += _size(event.get("transcript"))

    def finish(self, done: dict[str, Any]) -> TextCounts:
        """The counts of the response a ``response.done`` ends; its output joins the conversation."""
        response = done.get("response")
        response_id = response.get("id") if isinstance(response, dict) else None
        output = self._output.pop(response_id, 0) if isinstance(response_id, str) else 0
        instructions, tools, extra = self._response or (None, None, 0)
        self._response = None
        given = self._instructions if instructions is None else instructions
        given += self._tools if tools is None else tools
        counts = TextCounts(self._context + given + extra, output)
        self._context += output
        return counts
