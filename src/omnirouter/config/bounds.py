"""Sane maxima for money: prices, group multipliers and what one request may cost.

A price or multiplier beyond these is a typo or an attack, and refused (400 from the admin API, a
config error at start); a computed cost beyond ``MAX_REQUEST_COST_NANO`` is clamped (and logged).
Together with token counts clamped to ``ir.MAX_TOKENS``, every amount that reaches the ledger fits
its 64-bit columns, so no single request can make a usage batch unstorable.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = [
    "MAX_MULTIPLIER",
    "MAX_PRICE_USD",
    "MAX_REQUEST_COST_NANO",
    "AboveTokens",
    "LongContextPrice",
    "Multiplier",
    "PriceAmount",
    "PriceTiers",
    "TierKey",
]

MAX_PRICE_USD = 1_000_000.0
"""The most any price may be: USD per 1M tokens, per image, per second or per call."""

MAX_MULTIPLIER = 1_000.0
"""The largest price-group multiplier."""

MAX_REQUEST_COST_NANO = 10**15
"""The most one request is charged: 1,000,000 USD in nano-USD."""

PriceAmount = Annotated[float, msgspec.Meta(ge=0, le=MAX_PRICE_USD)]
Multiplier = Annotated[float, msgspec.Meta(ge=0, le=MAX_MULTIPLIER)]
TierKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^/\s]+(/[^/\s]+)?$")]
"""A per-image tier: a size (``1024x1024``), a quality (``high``) or both (``1024x1536/high``)."""
PriceTiers = dict[TierKey, PriceAmount]

AboveTokens = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
"""A prompt length (tokens) above which a model's ``above`` prices apply."""


class LongContextPrice(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The token prices (USD per 1M) of a request whose prompt is longer than the price's ``above_tokens``:
    the whole request is charged at these, as Gemini 2.5 Pro and Claude's 1M context charge above 200k.
    Unset fields default as in any price: ``cached_input`` / ``cache_write`` to this ``input``,
    ``cache_write_1h`` to this ``cache_write``, ``reasoning`` to this ``output``."""

    input: PriceAmount
    output: PriceAmount
    cached_input: PriceAmount | None = None
    cache_write: PriceAmount | None = None
    cache_write_1h: PriceAmount | None = None
    reasoning: PriceAmount | None = None


def long_context_problem(above_tokens: int | None, above: LongContextPrice | None) -> tuple[str, str] | None:
    """The field and the reason why ``above_tokens`` and ``above`` do not go together (each needs the
    other), or None."""
    if above is not None and above_tokens is None:
        return "above_tokens", "`above` (long-context prices) needs `above_tokens`, the prompt length they apply above"
    if above_tokens is not None and above is None:
        return "above", "`above_tokens` needs `above`, the prices of prompts longer than it"
    return None
