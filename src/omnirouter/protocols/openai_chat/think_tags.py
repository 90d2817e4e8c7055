"""Streamed ``<think>…</think>`` in answer text (MiniMax, some vLLM and Ollama models) split into reasoning.

:class:`ThinkSplitter` takes the content deltas of one choice as they come and says which pieces are
reasoning and which are answer.  Only a leading think block counts (whitespace before it is allowed);
it holds back nothing but what may still become a tag: the start of the text until it is clearly no
``<think>``, and inside the block a tail that may be the start of ``</think>``.  The newlines vendors
put after ``</think>`` are dropped.
"""

from __future__ import annotations

from omnirouter.protocols.openai_chat.dialect import CLOSE_TAG, OPEN_TAG

__all__ = ["ThinkSplitter"]

_START, _THINK, _AFTER, _TEXT = range(4)


def _partial_suffix(text: str, tag: str) -> int:
    """The length of the longest end of ``text`` that is a proper start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Splits one choice's streamed content into ``(is_reasoning, text)`` pieces."""

    __slots__ = ("_held", "_state")

    def __init__(self) -> None:
        self._state = _START
        self._held = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """The pieces ``text`` completes (possibly none while a tag may be forming)."""
        state = self._state
        if state == _TEXT:
            return [(False, text)]
        out: list[tuple[bool, str]] = []
        if state == _START:
            held = self._held + text
            lead = held.lstrip()
            if not lead or (len(lead) < len(OPEN_TAG) and OPEN_TAG.startswith(lead)):
                self._held = held
                return out
            if not lead.startswith(OPEN_TAG):
                self._state, self._held = _TEXT, ""
                return [(False, held)]
            self._state, self._held = _THINK, ""
            text = lead[len(OPEN_TAG) :]
        if self._state == _THINK:
            held = self._held + text
            end = held.find(CLOSE_TAG)
            if end < 0:
                keep = _partial_suffix(held, CLOSE_TAG)
                self._held = held[len(held) - keep :] if keep else ""
                if len(held) > keep:
                    out.append((True, held[: len(held) - keep]))
                return out
            if end:
                out.append((True, held[:end]))
            self._state, self._held = _AFTER, ""
            text = held[end + len(CLOSE_TAG) :]
        # _AFTER: drop the newlines between the block and the answer
        answer = text.lstrip("\n")
        if answer:
            self._state = _TEXT
            out.append((False, answer))
        return out

    def flush(self) -> list[tuple[bool, str]]:
        """What is still held when the choice ends (an unclosed block is reasoning)."""
        held, self._held = self._held, ""
        if not held:
            return []
        return [(self._state == _THINK, held)]
