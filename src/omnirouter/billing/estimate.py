"""Token estimates for money: bounds before the call, fallbacks after it when the upstream reported nothing.

Nothing here decodes the request into the IR: the reservation is taken on every quota request, and a
bound that is cheap and safe beats an exact count.

* Prompt bound (reservation): the body's JSON length in bytes / 3.  Tokens run at about 4 characters of
  English (and about one per CJK character, which is 3 UTF-8 bytes), and the JSON syntax around the text
  adds bytes but no tokens, so this is above the real count for text.  It is far above it for inline
  images (base64) and below it only for image URLs, whose pixels the body does not carry.
* Prompt estimate (settlement without upstream usage): body bytes / 4.
* Output bound: the request's own limit (``max_tokens``, ``max_completion_tokens``,
  ``max_output_tokens``, ``generationConfig.maxOutputTokens``; the largest when several are given),
  never above the served model's cap (the channel's ``max_output_tokens``, else the upstream model's
  family cap in ``providers/limits.py``, else the public name's), else that cap, else the configured
  ``default_max_output_tokens``; times ``n`` / ``candidateCount`` choices.
* Output estimate (settlement without upstream usage): the text relayed to the client / 4 (see
  ``RequestContext.note_relayed``), at least one token when anything was relayed, at most the bound.
"""

from __future__ import annotations

from typing import Any

from omnirouter.providers.limits import output_limit
from omnirouter.routing import Attempt

__all__ = [
    "choice_count",
    "input_bound",
    "input_estimate",
    "output_bound",
    "output_estimate",
    "requested_max_output",
]

_OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_MAX_CHOICES = 128


def input_bound(body_bytes: int) -> int:
    """Prompt tokens to reserve for a body of ``body_bytes`` JSON bytes."""
    return body_bytes // 3 + 1


def input_estimate(body_bytes: int) -> int:
    """Prompt tokens to charge when the upstream reported none."""
    return (body_bytes + 3) // 4


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _generation_config(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("generationConfig", body.get("generation_config"))
    return config if isinstance(config, dict) else None


def requested_max_output(body: dict[str, Any]) -> int | None:
    """The output limit the request sets itself, in any protocol's field (the largest if several)."""
    found = [n for n in (_positive_int(body.get(name)) for name in _OUTPUT_FIELDS) if n is not None]
    config = _generation_config(body)
    if config is not None:
        value = _positive_int(config.get("maxOutputTokens", config.get("max_output_tokens")))
        if value is not None:
            found.append(value)
    return max(found) if found else None


def choice_count(body: dict[str, Any]) -> int:
    """How many answers the request asks for (OpenAI ``n``, Gemini ``candidateCount``)."""
    count = _positive_int(body.get("n"))
    config = _generation_config(body)
    if config is not None:
        count = _positive_int(config.get("candidateCount", config.get("candidate_count"))) or count
    return min(count or 1, _MAX_CHOICES)


def output_bound(attempt: Attempt, requested: int | None, default: int) -> int:
    """The most output tokens ``attempt`` can produce for one choice."""
    cap = (
        attempt.channel.max_output_tokens or output_limit(attempt.upstream_model) or output_limit(attempt.public_model)
    )
    if requested is not None:
        return min(requested, cap) if cap else requested
    return cap or default


def output_estimate(relayed_text_bytes: int, relayed_bytes: int, bound: int) -> int:
    """Output tokens to charge for a stream whose usage the upstream never sent (or sent only in part)."""
    if relayed_bytes <= 0:
        return 0
    return min(max((relayed_text_bytes + 3) // 4, 1), bound)
