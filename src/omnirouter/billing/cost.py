"""What tokens cost, in integer nano-USD (1 USD = 10^9 nano), computed exactly with ``Decimal``.

Prices are USD per 1M tokens, so one token costs ``price × 1000`` nano-USD.  A request's cost is
summed exactly over its token kinds, multiplied by the key's group multiplier and rounded half-up to
a whole nano-USD once, at the end; the most a request can cost is rounded up instead.  Pure functions.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal

from omnirouter.billing.prices import ONE, Price
from omnirouter.ir import Usage

__all__ = ["NANO_PER_USD", "cost_nano", "max_cost_nano", "nano_to_usd", "usd_to_nano"]

NANO_PER_USD = 1_000_000_000
_NANO_PER_TOKEN_AT_1_USD_PER_M = Decimal(1000)  # 10^9 nano / 10^6 tokens
_CTX = Context(prec=60)  # exact for any realistic price × tokens product
_UNIT = Decimal(1)


def _clamp(value: int, high: int) -> int:
    return 0 if value < 0 else min(value, high)


def _nano(amount_per_m: Decimal, multiplier: Decimal, rounding: str) -> int:
    """USD-per-1M-tokens × tokens → whole nano-USD, multiplied and rounded once."""
    nano = _CTX.multiply(_CTX.multiply(amount_per_m, _NANO_PER_TOKEN_AT_1_USD_PER_M), multiplier)
    return max(0, int(nano.quantize(_UNIT, rounding=rounding, context=_CTX)))


def cost_nano(usage: Usage, price: Price, multiplier: Decimal = ONE) -> int:
    """The cost of ``usage`` (``ir.Usage`` semantics: input includes cached reads and cache writes,
    output includes reasoning).

    Input: non-cached input × ``input`` + cached reads × ``cached_input`` + cache writes × ``cache_write``
    (both default to ``input``).  Output: non-reasoning output × ``output`` + reasoning × ``reasoning``
    (default ``output``).  Inconsistent counts are clamped (cached ≤ input, reasoning ≤ output).  Metered
    units: images × ``per_image`` + seconds × ``per_second`` + characters / 1000 × ``per_1k_characters``
    + calls × ``per_call`` (USD each).
    """
    total_in = max(usage.input_tokens, 0)
    cached = _clamp(usage.cached_tokens, total_in)
    writes = _clamp(usage.cache_write_tokens, total_in - cached)
    total_out = max(usage.output_tokens, 0)
    reasoning = _clamp(usage.reasoning_tokens, total_out)
    whole = price.whole_nano
    metered = usage.images or usage.seconds or usage.characters or usage.calls
    if whole is not None and multiplier == ONE and not metered:  # whole nano-USD per token: exact as it is
        plain_in, cached_in, write_in, plain_out, reasoning_out = whole
        return (
            (total_in - cached - writes) * plain_in
            + cached * cached_in
            + writes * write_in
            + (total_out - reasoning) * plain_out
            + reasoning * reasoning_out
        )
    add, mul = _CTX.add, _CTX.multiply
    amount = mul(Decimal(total_in - cached - writes), price.input)
    if cached:
        amount = add(amount, mul(Decimal(cached), price.input if price.cached_input is None else price.cached_input))
    if writes:
        amount = add(amount, mul(Decimal(writes), price.input if price.cache_write is None else price.cache_write))
    amount = add(amount, mul(Decimal(total_out - reasoning), price.output))
    if reasoning:
        amount = add(amount, mul(Decimal(reasoning), price.output if price.reasoning is None else price.reasoning))
    if metered:
        amount = add(amount, _metered_per_m(usage, price))
    return _nano(amount, multiplier, ROUND_HALF_UP)


_PER_M = Decimal(1_000_000)
_PER_1K = Decimal(1000)


def _metered_per_m(usage: Usage, price: Price) -> Decimal:
    """The metered units' cost in the unit ``_nano`` takes (USD × 10^6, like a per-1M-token price × tokens).

    A unit without a price costs nothing; negative or non-finite counts count as zero.
    """
    add, mul = _CTX.add, _CTX.multiply
    total = Decimal(0)
    for count, unit_price, per in (
        (usage.images, price.per_image, ONE),
        (usage.seconds, price.per_second, ONE),
        (usage.characters, price.per_1k_characters, _PER_1K),
        (usage.calls, price.per_call, ONE),
    ):
        if unit_price is None or not 0 < count < math.inf:  # also skips NaN
            continue
        amount = Decimal(repr(count)) if isinstance(count, float) else Decimal(count)
        total = add(total, _CTX.divide(mul(mul(amount, unit_price), _PER_M), per))
    return total


def _max_input_price(price: Price) -> Decimal:
    return max(p for p in (price.input, price.cached_input, price.cache_write) if p is not None)


def _max_output_price(price: Price) -> Decimal:
    return max(p for p in (price.output, price.reasoning) if p is not None)


def max_cost_nano(input_estimate: int, max_output: int, price: Price, multiplier: Decimal = ONE) -> int:
    """The most a request of ``input_estimate`` prompt tokens and at most ``max_output`` output tokens
    can cost: every input token at the dearest input price (plain, cached read, cache write), every
    output token at the dearest output price (plain, reasoning); rounded up.

    ``cost_nano`` of any usage within those counts is never more (so a reservation of this covers it).
    """
    amount = _CTX.add(
        _CTX.multiply(Decimal(max(input_estimate, 0)), _max_input_price(price)),
        _CTX.multiply(Decimal(max(max_output, 0)), _max_output_price(price)),
    )
    return _nano(amount, multiplier, ROUND_CEILING)


def nano_to_usd(nano: int) -> Decimal:
    """Nano-USD as an exact USD ``Decimal``."""
    return _CTX.divide(Decimal(nano), Decimal(NANO_PER_USD))


def usd_to_nano(usd: float | Decimal | str) -> int:
    """USD (as written: ``0.15``, ``"12.5"``) as whole nano-USD, rounded half-up."""
    value = Decimal(repr(float(usd))) if isinstance(usd, float) else Decimal(usd)
    return int(_CTX.multiply(value, Decimal(NANO_PER_USD)).quantize(_UNIT, rounding=ROUND_HALF_UP, context=_CTX))
