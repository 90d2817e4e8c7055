"""What tokens cost, in integer nano-USD (1 USD = 10^9 nano), computed exactly with ``Decimal``.

Prices are USD per 1M tokens, so one token costs ``price × 1000`` nano-USD.  A request's cost is
summed exactly over its token kinds, multiplied by the key's group multiplier and rounded half-up to
a whole nano-USD once, at the end; the most a request can cost is rounded up instead.  Pure functions.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal

from omnirouter.billing.prices import ONE, Price
from omnirouter.ir import Budget, Usage

__all__ = ["NANO_PER_USD", "cost_nano", "max_cost_nano", "max_units_nano", "nano_to_usd", "usd_to_nano"]

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
    """The cost of ``usage`` (``ir.Usage`` semantics: input includes cached reads, cache writes and image
    and audio input tokens; output includes reasoning and image and audio output tokens).

    Tokens of a modality with a price of its own (``image_input``, ``image_output``, ``audio_input``,
    ``audio_output``) cost that price; they are clamped to the total they are part of (image first, then
    audio).  The rest is text, priced as always: non-cached input × ``input`` + cached reads ×
    ``cached_input`` + cache writes × ``cache_write`` (both default to ``input``), the 1-hour ones
    (``cache_write_1h_tokens``, a part of the writes) × ``cache_write_1h`` (default ``cache_write``);
    non-reasoning output ×
    ``output`` + reasoning × ``reasoning`` (default ``output``), with cached reads, cache writes and
    reasoning clamped to the text they are taken from.  A modality without a price of its own is text.
    Metered units: images × their ``Price.image_price`` (tier by ``image_size`` / ``image_quality``, else
    ``per_image``) + seconds × ``per_second`` + characters / 1000 × ``per_1k_characters`` + calls ×
    ``per_call`` (USD each).  The charge is the sum of all of it, multiplied and rounded half-up once.
    A prompt longer than ``price.above_tokens`` (``input_tokens``, cached reads and writes included) is
    charged, all of it, at the long-context tier ``price.above`` (``Price.at``).
    """
    total_in = max(usage.input_tokens, 0)
    total_out = max(usage.output_tokens, 0)
    price = price.at(total_in)
    modal = price.modal and (
        usage.image_input_tokens or usage.audio_input_tokens or usage.image_output_tokens or usage.audio_output_tokens
    )
    if modal:
        modal_amount, total_in, total_out = _modal_per_m(usage, price, total_in, total_out)
    cached = _clamp(usage.cached_tokens, total_in)
    writes = _clamp(usage.cache_write_tokens, total_in - cached)
    writes_1h = _clamp(usage.cache_write_1h_tokens, writes)
    writes -= writes_1h
    reasoning = _clamp(usage.reasoning_tokens, total_out)
    whole = price.whole_nano
    metered = usage.images or usage.seconds or usage.characters or usage.calls
    if whole is not None and multiplier == ONE and not metered and not modal:  # whole nano-USD per token: exact
        plain_in, cached_in, write_in, write_1h_in, plain_out, reasoning_out = whole
        return (
            (total_in - cached - writes - writes_1h) * plain_in
            + cached * cached_in
            + writes * write_in
            + writes_1h * write_1h_in
            + (total_out - reasoning) * plain_out
            + reasoning * reasoning_out
        )
    add, mul = _CTX.add, _CTX.multiply
    amount = mul(Decimal(total_in - cached - writes - writes_1h), price.input)
    if cached:
        amount = add(amount, mul(Decimal(cached), price.input if price.cached_input is None else price.cached_input))
    if writes:
        amount = add(amount, mul(Decimal(writes), price.input if price.cache_write is None else price.cache_write))
    if writes_1h:
        amount = add(amount, mul(Decimal(writes_1h), price.cache_write_1h_or_default))
    amount = add(amount, mul(Decimal(total_out - reasoning), price.output))
    if reasoning:
        amount = add(amount, mul(Decimal(reasoning), price.output if price.reasoning is None else price.reasoning))
    if modal:
        amount = add(amount, modal_amount)
    if metered:
        amount = add(amount, _metered_per_m(usage, price))
    return _nano(amount, multiplier, ROUND_HALF_UP)


def _modal_per_m(usage: Usage, price: Price, total_in: int, total_out: int) -> tuple[Decimal, int, int]:
    """The image and audio tokens' cost (USD × 10^6) at their own prices, and the input and output tokens
    left for text.  A modality without a price of its own takes nothing: its tokens stay text."""
    amount = Decimal(0)
    for tokens_in, tokens_out, price_in, price_out in (
        (usage.image_input_tokens, usage.image_output_tokens, price.image_input, price.image_output),
        (usage.audio_input_tokens, usage.audio_output_tokens, price.audio_input, price.audio_output),
    ):
        if price_in is not None and tokens_in:
            tokens = _clamp(tokens_in, total_in)
            total_in -= tokens
            amount = _CTX.add(amount, _CTX.multiply(Decimal(tokens), price_in))
        if price_out is not None and tokens_out:
            tokens = _clamp(tokens_out, total_out)
            total_out -= tokens
            amount = _CTX.add(amount, _CTX.multiply(Decimal(tokens), price_out))
    return amount, total_in, total_out


_PER_M = Decimal(1_000_000)
_PER_1K = Decimal(1000)


def _units_per_m(images: float, image_price: Decimal | None, usage: Usage | Budget, price: Price) -> Decimal:
    """Metered units' cost in the unit ``_nano`` takes (USD × 10^6, like a per-1M-token price × tokens).

    A unit without a price costs nothing; negative or non-finite counts count as zero.
    """
    add, mul = _CTX.add, _CTX.multiply
    total = Decimal(0)
    for count, unit_price, per in (
        (images, image_price, ONE),
        (usage.seconds, price.per_second, ONE),
        (usage.characters, price.per_1k_characters, _PER_1K),
        (usage.calls, price.per_call, ONE),
    ):
        if unit_price is None or not 0 < count < math.inf:  # also skips NaN
            continue
        amount = Decimal(repr(count)) if isinstance(count, float) else Decimal(count)
        total = add(total, _CTX.divide(mul(mul(amount, unit_price), _PER_M), per))
    return total


def _metered_per_m(usage: Usage, price: Price) -> Decimal:
    """What ``usage``'s metered units cost (USD × 10^6); images at the tier of their size and quality."""
    return _units_per_m(usage.images, price.image_price(usage.image_size, usage.image_quality), usage, price)


def _max_input_price(price: Price) -> Decimal:
    candidates = (
        price.input,
        price.cached_input,
        price.cache_write,
        price.cache_write_1h,
        price.image_input,
        price.audio_input,
    )
    return max(p for p in candidates if p is not None)


def _max_output_price(price: Price) -> Decimal:
    return max(p for p in (price.output, price.reasoning, price.image_output, price.audio_output) if p is not None)


def max_cost_nano(input_estimate: int, max_output: int, price: Price, multiplier: Decimal = ONE) -> int:
    """The most a request of ``input_estimate`` prompt tokens and at most ``max_output`` output tokens
    can cost: every input token at the dearest input price (plain, cached read, cache write, image, audio),
    every output token at the dearest output price (plain, reasoning, image, audio); rounded up.

    A prompt that could be longer than ``price.above_tokens`` is reserved at the dearer of the two tiers.

    ``cost_nano`` of any token usage within those counts is never more (so a reservation of this covers it).
    """
    tokens_in, tokens_out = Decimal(max(input_estimate, 0)), Decimal(max(max_output, 0))
    tiers = [price] if price.above is None or price.at(input_estimate) is price else [price, price.above]
    amount = max(
        _CTX.add(
            _CTX.multiply(tokens_in, _max_input_price(tier)),
            _CTX.multiply(tokens_out, _max_output_price(tier)),
        )
        for tier in tiers
    )
    return _nano(amount, multiplier, ROUND_CEILING)


def max_units_nano(budget: Budget, price: Price, multiplier: Decimal = ONE) -> int:
    """The most ``budget``'s metered units can cost, rounded up: its images at the dearest per-image price
    that their size and quality (``Budget.image_size`` / ``image_quality``, "" for any) can select, and its
    seconds, characters and calls at their prices.

    ``max_cost_nano(...) + max_units_nano(...)`` is never below ``cost_nano`` of a usage within the
    budget (same or fewer units, an image size and quality the budget allows): two sums rounded up are
    never below their total rounded half-up.
    """
    if not (budget.images or budget.seconds or budget.characters or budget.calls):
        return 0
    most_per_image = price.most_per_image(budget.image_size, budget.image_quality) if budget.images else None
    return _nano(_units_per_m(budget.images, most_per_image, budget, price), multiplier, ROUND_CEILING)


def nano_to_usd(nano: int) -> Decimal:
    """Nano-USD as an exact USD ``Decimal``."""
    return _CTX.divide(Decimal(nano), Decimal(NANO_PER_USD))


def usd_to_nano(usd: float | Decimal | str) -> int:
    """USD (as written: ``0.15``, ``"12.5"``) as whole nano-USD, rounded half-up."""
    value = Decimal(repr(float(usd))) if isinstance(usd, float) else Decimal(usd)
    return int(_CTX.multiply(value, Decimal(NANO_PER_USD)).quantize(_UNIT, rounding=ROUND_HALF_UP, context=_CTX))
