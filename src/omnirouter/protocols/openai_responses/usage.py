"""Responses ``usage`` objects ↔ IR :class:`Usage`.

``input_tokens`` includes cached reads (``input_tokens_details.cached_tokens``)
and cache writes (``cache_write_tokens``); ``output_tokens`` includes
``output_tokens_details.reasoning_tokens``: the IR convention, so the numbers
map one to one.  Both detail objects are always written (the SDK requires
``cached_tokens`` and ``cache_write_tokens``).  Cache writes split by Anthropic's TTL are also
written as new-api's top-level ``claude_cache_creation_5_m_tokens`` /
``claude_cache_creation_1_h_tokens`` (with any cache writes; writes without a TTL count as 5-minute
ones), as Chat Completions answers carry them (``openai_chat/usage.py``), and read back.  A
Chat-shaped usage object (``prompt_tokens``) from a lax server is read too.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import MAX_TOKENS, Usage
from omnirouter.ir import token_count as _int
from omnirouter.protocols.openai_chat.usage import usage_from_openai


def usage_from_responses(obj: dict[str, Any]) -> Usage:
    """Read a Responses ``usage`` object; tolerant of nulls, missing keys and odd types."""
    if "input_tokens" not in obj and "prompt_tokens" in obj:
        return usage_from_openai(obj)
    details = obj.get("input_tokens_details")
    out_details = obj.get("output_tokens_details")
    cached = cache_write = reasoning = 0
    if isinstance(details, dict):
        cached = _int(details.get("cached_tokens"))
        cache_write = _int(details.get("cache_write_tokens"))
    if isinstance(out_details, dict):
        reasoning = _int(out_details.get("reasoning_tokens"))
    one_hour = _int(obj.get("claude_cache_creation_1_h_tokens"))
    if not cache_write:
        cache_write = min(_int(obj.get("claude_cache_creation_5_m_tokens")) + one_hour, MAX_TOKENS)
    return Usage(
        input_tokens=_int(obj.get("input_tokens")),
        output_tokens=_int(obj.get("output_tokens")),
        cached_tokens=cached,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(one_hour, cache_write),
        reasoning_tokens=reasoning,
    )


def usage_to_responses(usage: Usage) -> dict[str, Any]:
    """Write a Responses ``usage`` object (the TTL split of cache writes only when there are any)."""
    out: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
    if usage.cache_write_tokens:
        one_hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        out["claude_cache_creation_5_m_tokens"] = usage.cache_write_tokens - one_hour
        out["claude_cache_creation_1_h_tokens"] = one_hour
    return out
