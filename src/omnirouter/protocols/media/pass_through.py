"""Answers relayed byte for byte as they arrive, when the client's wire and the upstream's are the same
(an OpenAI ImagesResponse to an OpenAI client: it names no model, so nothing needs rewriting).

The upstream codec offers ``pass_through(request, target)``: an ``AnswerScan`` that reads the answer's
bytes as they go by, keeping only what billing needs (a bounded skeleton), or ``None`` when this request
needs the whole answer (a translation).  The scan first gives its ``verdict`` on the answer's head:
relay it as is, or read it whole after all (the vendor answered another form than the client asked, or
the answer is small enough to have ended already).  Both sides name their answer's wire in
``answer_wire``; the relay (``relay/media.py``) passes an answer through only when they agree.

A whole answer in the client's wire that names the model (an OpenAI embeddings answer to an OpenAI
client) is read whole and handed to the upstream codec's ``pass_whole`` when both sides name the same
``whole_wire``: the answer's text with only the model renamed, and its usage (``Rewritten``), instead
of a parse and a new encoding; ``None`` leaves the answer to ``parse``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

from omnirouter.ir import Usage
from omnirouter.protocols.media.base import Answer

__all__ = ["HEAD_LIMIT", "AnswerScan", "PassThroughInbound", "PassThroughUpstream", "Rewritten", "WholePassUpstream"]

HEAD_LIMIT = 64 * 1024
"""The most of an answer read before a verdict: past it without one, the answer is read whole."""


class AnswerScan(Protocol):
    """One answer's bytes as they pass (``feed`` in order); ``finish`` raises ``GatewayError`` for an answer
    that is cut, malformed, or an error the vendor reported inside it."""

    def feed(self, chunk: bytes) -> None: ...

    def verdict(self) -> bool | None:
        """After the head: True to relay as is, False to read the whole answer, None to read more."""
        ...

    def finish(self) -> Usage:
        """The usage, once the answer has ended."""
        ...


@runtime_checkable
class PassThroughUpstream(Protocol):
    """The optional pass-through side of an upstream codec."""

    answer_wire: str

    def pass_through(self, request: Any, target: Any) -> AnswerScan | None: ...


@runtime_checkable
class PassThroughInbound(Protocol):
    """The optional pass-through side of a client codec: the wire its answers are written in."""

    answer_wire: str


class Rewritten(NamedTuple):
    """A whole answer for the client as the upstream wrote it (only the model renamed), and its usage."""

    body: bytes
    usage: Usage


class WholePassUpstream(Protocol):
    """The optional whole-answer pass-through side of an upstream codec (the client codec names the same
    ``whole_wire``)."""

    whole_wire: str

    def pass_whole(self, answer: Answer, request: Any, public_model: str) -> Rewritten | None:
        """The answer checked and renamed, or None to ``parse`` it (another form, or no answer at all)."""
        ...
