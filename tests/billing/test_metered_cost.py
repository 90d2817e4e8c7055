"""Metered units (images, seconds, characters, calls) are priced exactly, beside tokens."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from omnirouter.billing import cost_nano
from omnirouter.billing.prices import Price
from omnirouter.config import PriceConfig
from omnirouter.ir import Usage
from omnirouter.storage.prices_repo import PriceCreate


def price(**fields: float) -> Price:
    return Price.of(msgspec.convert(fields, PriceConfig))


@pytest.mark.parametrize(
    ("usage", "fields", "nano"),
    [
        (Usage(images=3), {"per_image": 0.04}, 120_000_000),
        (Usage(seconds=5.5), {"per_second": 0.1}, 550_000_000),
        (Usage(characters=2500), {"per_1k_characters": 0.015}, 37_500_000),
        (Usage(calls=2), {"per_call": 0.001}, 2_000_000),
        (Usage(characters=1), {"per_1k_characters": 0.015}, 15_000),
        (Usage(images=2, input_tokens=1000, output_tokens=10), {"input": 1.0, "output": 2.0, "per_image": 0.5},
         1_000_000 + 20_000 + 1_000_000_000),
        (Usage(images=4), {"input": 1.0}, 0),  # a unit without a price costs nothing
        (Usage(seconds=-3.0, calls=-1), {"per_second": 1.0, "per_call": 1.0}, 0),
        (Usage(seconds=float("nan")), {"per_second": 1.0}, 0),
    ],
)  # fmt: skip
def test_metered_units_cost_exactly(usage: Usage, fields: dict[str, float], nano: int) -> None:
    assert cost_nano(usage, price(**fields)) == nano


def test_group_multiplier_applies_to_units_and_rounds_once() -> None:
    assert cost_nano(Usage(images=3), price(per_image=0.04), Decimal("0.8")) == 96_000_000
    assert cost_nano(Usage(characters=1), price(per_1k_characters=0.000001), Decimal("0.5")) == 1  # 0.5 half-up


def test_per_1k_characters_is_a_price_like_the_others() -> None:
    created = msgspec.convert({"model": "tts-1", "per_1k_characters": 0.015}, PriceCreate)
    assert created.per_1k_characters == 0.015
    with pytest.raises(msgspec.ValidationError, match="per_1k_characters"):
        msgspec.convert({"model": "tts-1", "per_1k_characters": 1e300}, PriceCreate)
    with pytest.raises(msgspec.ValidationError, match="per_1k_characters"):
        msgspec.convert({"per_1k_characters": -1}, PriceConfig)
