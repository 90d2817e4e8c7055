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
