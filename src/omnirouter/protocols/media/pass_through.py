"""Answers relayed byte for byte as they arrive, when the client's wire and the upstream's are the same
(an OpenAI ImagesResponse to an OpenAI client: it names no model, so nothing needs rewriting).

The upstream codec offers ``pass_through(request, target)``: an ``AnswerScan`` that reads the answer's
bytes as they go by, keeping only what billing needs (a bounded skeleton), or ``None`` when this request
needs the whole answer (a translation).  The scan first gives its ``verdict`` on the answer's head:
relay it as is, or read it whole after all (the vendor answered another form than the client asked, or
the answer is small enough to have ended already).  Both sides name their answer's wire in
``answer_wire``; the relay (``relay/media.py``) passes an answer through only when they agree.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from omnirouter.ir import Usage

__all__ = ["HEAD_LIMIT", "AnswerScan", "PassThroughInbound", "PassThroughUpstream"]

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
