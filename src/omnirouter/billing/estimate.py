"""Token estimates for money: bounds before the call, fallbacks after it when the upstream reported nothing.

Nothing here reads a request: its operation reads its ``ir.Budget`` (``protocols/budget.py`` for
chat), and a bound that is cheap and safe beats an exact count.

* Prompt bound (reservation): the body's JSON length in bytes / 3.  Tokens run at about 4 characters of
  English (and about one per CJK character, which is 3 UTF-8 bytes), and the JSON syntax around the text
  adds bytes but no tokens, so this is above the real count for text.  It is far above it for inline
  images (base64) and below it only for image URLs, whose pixels the body does not carry.
* Prompt estimate (settlement without upstream usage): body bytes / 4.
* Output bound: the request's own limit (``Budget.max_output``), never above the served model's cap
  (the channel's ``max_output_tokens``, else the upstream model's family cap in ``providers/limits.py``,
  else the public name's), else that cap, else the configured ``default_max_output_tokens``; times
  ``Budget.choices``.
* Output estimate (settlement without upstream usage): the text relayed to the client / 4 (see
  ``RequestContext.note_relayed``), at least one token when anything was relayed, at most the bound.
"""

from __future__ import annotations

from omnirouter.providers.limits import output_limit
from omnirouter.routing import Attempt

__all__ = ["input_bound", "input_estimate", "output_bound", "output_estimate"]


def input_bound(body_bytes: int) -> int:
    """Prompt tokens to reserve for a body of ``body_bytes`` JSON bytes."""
    return body_bytes // 3 + 1


def input_estimate(body_bytes: int) -> int:
    """Prompt tokens to charge when the upstream reported none."""
    return (body_bytes + 3) // 4


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
