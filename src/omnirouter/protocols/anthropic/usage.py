"""Anthropic ``usage`` objects ↔ IR :class:`Usage`.

Anthropic's ``input_tokens`` EXCLUDES cache reads and cache writes, the IR's
includes them: IR input = ``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens``, cached = ``cache_read_input_tokens``, cache write =
``cache_creation_input_tokens``.  ``output_tokens`` already includes thinking.
Anthropic does not report reasoning tokens separately, except in the newer
``output_tokens_details.thinking_tokens``, which is read when present (else 0).
Encoding writes ``input_tokens = IR input - cached - cache write`` (never
negative) and, when there are any, reasoning tokens as
``output_tokens_details.thinking_tokens`` (a field of the SDK's ``Usage`` and
``MessageDeltaUsage``).  In streams, ``message_delta.usage`` holds cumulative totals: each
field it carries replaces the running value (:class:`UsageCounter`).
Cache writes by TTL: ``cache_creation.ephemeral_1h_input_tokens`` is read as
``Usage.cache_write_1h_tokens`` (clamped to the writes; the rest of the writes are 5-minute ones, as
new-api counts an unsplit remainder); when only the split is given, the writes are its sum.  Encoding
writes ``cache_creation`` whenever there are cache writes.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import MAX_TOKENS, Usage
from omnirouter.ir import token_count as count

_FIELDS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")


def _thinking_tokens(obj: dict[str, Any]) -> int | None:
    details = obj.get("output_tokens_details")
    if isinstance(details, dict) and "thinking_tokens" in details:
        return count(details["thinking_tokens"])
    return None


def usage_from_anthropic(obj: dict[str, Any]) -> Usage:
    """Read an Anthropic ``usage`` object; tolerant of nulls, missing keys and odd types."""
    counter = UsageCounter()
    counter.update(obj)
    return counter.usage()


def usage_to_anthropic(usage: Usage) -> dict[str, Any]:
    """Write an Anthropic ``usage`` object (``output_tokens_details`` only with reasoning tokens)."""
    out: dict[str, Any] = {
        "input_tokens": max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.cache_write_tokens:
        one_hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - one_hour,
            "ephemeral_1h_input_tokens": one_hour,
        }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


class UsageCounter:
    """Running Anthropic counts of one stream; each update replaces the fields it carries."""

    __slots__ = ("_counts", "_split", "_thinking")

    def __init__(self) -> None:
        self._counts = dict.fromkeys(_FIELDS, 0)
        self._thinking = 0
        self._split: tuple[int, int] | None = None  # cache_creation's (5-minute, 1-hour) writes

    def update(self, obj: dict[str, Any]) -> None:
        """Apply a ``message_start.message.usage`` or ``message_delta.usage`` object."""
        for field in _FIELDS:
            value = obj.get(field)
            if value is not None:
                self._counts[field] = count(value)
        thinking = _thinking_tokens(obj)
        if thinking is not None:
            self._thinking = thinking
        split = obj.get("cache_creation")
        if isinstance(split, dict):
            self._split = (count(split.get("ephemeral_5m_input_tokens")), count(split.get("ephemeral_1h_input_tokens")))

    def usage(self) -> Usage:
        """The counts so far, in the IR convention."""
        c = self._counts
        cached, written = c["cache_read_input_tokens"], c["cache_creation_input_tokens"]
        one_hour = 0
        if self._split is not None:
            five_minutes, one_hour = self._split
            written = written or min(five_minutes + one_hour, MAX_TOKENS)
            one_hour = min(one_hour, written)
        return Usage(
            input_tokens=c["input_tokens"] + cached + written,
            output_tokens=c["output_tokens"],
            cached_tokens=cached,
            cache_write_tokens=written,
            cache_write_1h_tokens=one_hour,
            reasoning_tokens=self._thinking,
        )
