"""OpenAI Chat ``usage`` objects ↔ IR :class:`Usage`.

OpenAI's ``prompt_tokens`` already includes cached reads (and cache writes),
``completion_tokens`` already includes reasoning: both match the IR convention,
so the numbers map one to one.  Cache writes go to
``prompt_tokens_details.cache_write_tokens`` (a field of the current OpenAPI
description); DeepSeek's ``prompt_cache_hit_tokens`` is read as cached tokens.
``Usage.estimated`` has no OpenAI field and is not written.  Modality tokens are
``prompt_tokens_details.{image,audio}_tokens`` and ``completion_tokens_details.{image,audio}_tokens``
(``audio_tokens`` is OpenAI's; ``image_tokens`` the field OpenRouter and new-api use), written
only when non-zero; when either is, ``text_tokens`` (the rest; of the output, without reasoning) is
written beside them, as new-api does for Gemini's modality split.  Cache writes split by Anthropic's
TTL are written as new-api's
top-level ``claude_cache_creation_5_m_tokens`` / ``claude_cache_creation_1_h_tokens`` (with any cache
writes; writes without a TTL count as 5-minute ones, as new-api normalizes them) and read back, as
is new-api's ``prompt_tokens_details.cached_creation_tokens``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import MAX_TOKENS, Usage
from omnirouter.ir import token_count as _int


def usage_from_openai(obj: dict[str, Any]) -> Usage:
    """Read a Chat Completions ``usage`` object; tolerant of nulls, missing keys and odd types."""
    prompt = obj.get("prompt_tokens_details")
    completion = obj.get("completion_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = completion if isinstance(completion, dict) else {}
    cached = _int(prompt.get("cached_tokens"))
    cache_write = _int(prompt.get("cache_write_tokens")) or _int(prompt.get("cached_creation_tokens"))
    one_hour = _int(obj.get("claude_cache_creation_1_h_tokens"))
    if not cache_write:
        cache_write = min(_int(obj.get("claude_cache_creation_5_m_tokens")) + one_hour, MAX_TOKENS)
    if not cached:
        cached = _int(obj.get("prompt_cache_hit_tokens"))
    reasoning = _int(completion.get("reasoning_tokens"))
    return Usage(
        input_tokens=_int(obj.get("prompt_tokens")),
        output_tokens=_int(obj.get("completion_tokens")),
        cached_tokens=cached,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(one_hour, cache_write),
        reasoning_tokens=reasoning,
        image_input_tokens=_int(prompt.get("image_tokens")),
        audio_input_tokens=_int(prompt.get("audio_tokens")),
        image_output_tokens=_int(completion.get("image_tokens")),
        audio_output_tokens=_int(completion.get("audio_tokens")),
    )


def usage_to_openai(usage: Usage) -> dict[str, Any]:
    """Write a Chat Completions ``usage`` object (``cache_write_tokens`` only when non-zero)."""
    prompt_details: dict[str, int] = {"cached_tokens": usage.cached_tokens}
    if usage.cache_write_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    completion_details: dict[str, int] = {"reasoning_tokens": usage.reasoning_tokens}
    for details, total, image, audio in (
        (prompt_details, usage.input_tokens, usage.image_input_tokens, usage.audio_input_tokens),
        (
            completion_details,
            usage.output_tokens - usage.reasoning_tokens,  # as Gemini's candidatesTokensDetails: no thoughts
            usage.image_output_tokens,
            usage.audio_output_tokens,
        ),
    ):
        if image or audio:
            details["text_tokens"] = max(0, total - image - audio)
        if image:
            details["image_tokens"] = image
        if audio:
            details["audio_tokens"] = audio
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": completion_details,
    }
    if usage.cache_write_tokens:
        one_hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        out["claude_cache_creation_5_m_tokens"] = usage.cache_write_tokens - one_hour
        out["claude_cache_creation_1_h_tokens"] = one_hour
    return out
