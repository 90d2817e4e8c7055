"""Media prices: tokens by modality, per-image tiers, and the reservation bound over token and unit prices."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnirouter.billing import Billing, PriceBook, cost_nano, max_cost_nano, max_units_nano, sync_config_prices
from omnirouter.billing.estimate import input_bound
from omnirouter.billing.prices import Price
from omnirouter.config import ChannelConfig, GatewayConfig, PriceConfig
from omnirouter.ir import Budget, Usage
from omnirouter.routing import Channel, plan
from omnirouter.storage import Database, KeyRecord, api_keys_table, migrate
from omnirouter.storage.prices_repo import PriceCreate
from omnirouter.storage.url import normalize_database_url


def price(**fields: Any) -> Price:
    return Price.of(msgspec.convert(fields, PriceConfig))


AUDIO = price(
    input=2.5, cached_input=1.25, output=10, image_input=5, audio_input=40, audio_output=80, per_second=0.0001
)
TIERS = {"1024x1536": 0.06, "high": 0.17, "1024x1536/high": 0.25, "low": 0.011}
IMAGES = price(input=5, output=40, image_output=40, per_image=0.04, per_image_tiers=TIERS)


def test_modality_tokens_cost_their_own_price_and_the_rest_is_text() -> None:
    usage = Usage(
        input_tokens=1000,
        image_input_tokens=100,
        audio_input_tokens=400,
        cached_tokens=200,
        output_tokens=300,
        audio_output_tokens=200,
    )
    # image 100 × 5 + audio 400 × 40 + text (200 cached × 1.25 + 300 × 2.5) + audio out 200 × 80 + text 100 × 10
    assert cost_nano(usage, AUDIO) == (500 + 16_000 + 250 + 750 + 16_000 + 1_000) * 1000


def test_token_and_unit_prices_are_summed_exactly() -> None:
    usage = Usage(input_tokens=1000, audio_input_tokens=1000, output_tokens=50, seconds=12.5)
    # audio 1000 × 40 + text out 50 × 10 (USD × 10^6, so × 1000 nano) + 12.5 s × $0.0001
    assert cost_nano(usage, AUDIO) == (40_000 + 500) * 1000 + 1_250_000
    tts = price(input=0.6, per_1k_characters=0.015)
    assert cost_nano(Usage(input_tokens=7, characters=1234), tts) == 4200 + 18_510_000
    assert cost_nano(Usage(input_tokens=7, characters=1234), tts, Decimal("0.8")) == 3360 + 14_808_000
    search = price(input=1, output=2, per_call=0.025)
    assert cost_nano(Usage(input_tokens=3, output_tokens=1, calls=3), search) == 3000 + 2000 + 75_000_000


def test_inconsistent_modality_counts_are_clamped_to_their_total() -> None:
    prices = price(input=1, image_input=3, audio_input=7, cached_input=0.5, output=2, image_output=11)
    usage = Usage(input_tokens=100, image_input_tokens=150, audio_input_tokens=50, cached_tokens=80)
    assert cost_nano(usage, prices) == 100 * 3 * 1000  # all 100 are image tokens: no audio, no cached text left
    usage = Usage(input_tokens=100, audio_input_tokens=60, cached_tokens=80, output_tokens=10, image_output_tokens=-4)
    assert cost_nano(usage, prices) == (60 * 7 + 40 * 0.5 + 10 * 2) * 1000  # cached ≤ the 40 text tokens


def test_a_modality_without_its_own_price_is_text() -> None:
    plain = Usage(input_tokens=1000, cached_tokens=800, output_tokens=10, reasoning_tokens=4)
    usage = msgspec.structs.replace(plain, image_input_tokens=400, image_output_tokens=6)
    for fields in ({}, {"audio_input": 9}):  # the fast integer path, and the modal one
        prices = price(input=1, cached_input=0.1, output=2, **fields)
        assert cost_nano(usage, prices) == cost_nano(plain, prices) == (200 + 80 + 20) * 1000


@pytest.mark.parametrize(
    ("size", "quality", "each"),
    [
        ("1024x1536", "high", 0.25),  # size/quality
        ("1024x1536", "medium", 0.06),  # size
        ("1024x1024", "high", 0.17),  # quality
        ("", "low", 0.011),
        ("1024x1024", "medium", 0.04),  # per_image
        ("", "", 0.04),
        (" 1024X1536", "HIGH", 0.25),  # keys and values compared lower-cased
    ],
)
def test_images_are_priced_by_the_most_specific_tier(size: str, quality: str, each: float) -> None:
    usage = Usage(images=2, image_size=size, image_quality=quality)
    assert cost_nano(usage, IMAGES) == round(2 * each * 10**9)


def test_tiers_without_per_image_leave_unmatched_images_free_and_tiers_combine_with_tokens() -> None:
    only_tiers = price(per_image_tiers={"hd": 0.08})
    assert cost_nano(Usage(images=3, image_quality="standard"), only_tiers) == 0
    assert cost_nano(Usage(images=3, image_quality="hd"), only_tiers) == 240_000_000
    usage = Usage(input_tokens=50, output_tokens=1000, image_output_tokens=1000, images=1, image_quality="low")
    assert cost_nano(usage, IMAGES) == 50 * 5 * 1000 + 1000 * 40 * 1000 + 11_000_000


def test_the_bound_of_images_is_the_dearest_tier_their_size_and_quality_allow() -> None:
    assert IMAGES.most_per_image() == Decimal("0.25")
    assert IMAGES.most_per_image("1024x1024", "medium") == Decimal("0.04")
    assert IMAGES.most_per_image("1024x1024", "") == Decimal("0.17")  # any quality: "high" may come
    assert IMAGES.most_per_image("1024x1536", "low") == Decimal("0.06")
    assert price(per_image_tiers={"hd": 0.08}).most_per_image("512x512", "standard") is None
    assert price(per_image_tiers={"hd": 0.08}).most_per_image("", "standard") == Decimal("0.08")  # any size
    assert max_units_nano(Budget(input_bytes=0, images=4), IMAGES) == 1_000_000_000
    assert max_units_nano(Budget(input_bytes=0, images=4, image_size="1024x1024", image_quality="low"), IMAGES) == (
        4 * 40_000_000
    )
    budget = Budget(input_bytes=0, seconds=12.5, characters=1001, calls=1)
    assert max_units_nano(budget, price(per_second=0.0001, per_1k_characters=0.015, per_call=0.01)) == (
        1_250_000 + 15_015_000 + 10_000_000
    )
    assert max_units_nano(Budget(input_bytes=0), IMAGES) == 0
    # Modality prices dearer than the plain ones raise the token bound.
    assert max_cost_nano(10, 10, AUDIO) == 10 * 40 * 1000 + 10 * 80 * 1000


_AMOUNTS = st.one_of(st.none(), st.decimals(0, 100, places=4).map(float))
_SIZES = st.sampled_from(["", "", "1024x1024", "1024x1536", "512x512", "hd"])
_QUALITIES = st.sampled_from(["", "", "low", "high", "standard", "1024x1536"])
_TIER_KEYS = st.sampled_from(["1024x1024", "1024x1536", "low", "high", "1024x1536/high", "512x512/low", "hd"])


@st.composite
def prices(draw: st.DrawFn) -> Price:
    fields = {
        name: draw(_AMOUNTS)
        for name in (
            "cached_input",
            "cache_write",
            "reasoning",
            "image_input",
            "image_output",
            "audio_input",
            "audio_output",
            "per_image",
            "per_second",
            "per_1k_characters",
            "per_call",
        )
    }
    fields = {name: value for name, value in fields.items() if value is not None}
    plain = st.decimals(0, 100, places=4).map(float)
    tiers = draw(st.dictionaries(_TIER_KEYS, plain, max_size=5))
    return price(input=draw(plain), output=draw(plain), per_image_tiers=tiers, **fields)


@st.composite
def budgets_and_usages(draw: st.DrawFn) -> tuple[int, int, Budget, Usage]:
    """A token bound, a budget and a usage within both (the image's size and quality as the budget names)."""
    counts = st.integers(0, 10**7)
    tokens_in, tokens_out = draw(counts), draw(counts)
    budget = Budget(
        input_bytes=0,
        images=draw(st.integers(0, 3)),
        seconds=draw(st.floats(0, 10_000, allow_nan=False)),
        characters=draw(st.integers(0, 10**6)),
        calls=draw(st.integers(0, 100)),
        image_size=draw(_SIZES),
        image_quality=draw(_QUALITIES),
    )
    total_in, total_out = draw(st.integers(0, tokens_in)), draw(st.integers(0, tokens_out))
    within = st.integers(-5, 2 * 10**7)  # inconsistent counts too: clamped
    usage = Usage(
        input_tokens=total_in,
        output_tokens=total_out,
        cached_tokens=draw(within),
        cache_write_tokens=draw(within),
        reasoning_tokens=draw(within),
        image_input_tokens=draw(within),
        audio_input_tokens=draw(within),
        image_output_tokens=draw(within),
        audio_output_tokens=draw(within),
        images=draw(st.integers(0, budget.images)),
        seconds=draw(st.floats(0, budget.seconds, allow_nan=False)),
        characters=draw(st.integers(0, budget.characters)),
        calls=draw(st.integers(0, budget.calls)),
        image_size=budget.image_size or draw(_SIZES),
        image_quality=budget.image_quality or draw(_QUALITIES),
    )
    return tokens_in, tokens_out, budget, usage


@settings(max_examples=400, deadline=None)
@given(prices(), budgets_and_usages(), st.decimals(0, 10, places=3))
def test_cost_never_exceeds_the_reserved_bound(
    the_price: Price, drawn: tuple[int, int, Budget, Usage], multiplier: Decimal
) -> None:
    tokens_in, tokens_out, budget, usage = drawn
    bound = max_cost_nano(tokens_in, tokens_out, the_price, multiplier) + max_units_nano(budget, the_price, multiplier)
    assert 0 <= cost_nano(usage, the_price, multiplier) <= bound


@settings(max_examples=200, deadline=None)
@given(prices(), budgets_and_usages())
def test_every_input_and_output_token_is_charged_once(the_price: Price, drawn: tuple[int, int, Budget, Usage]) -> None:
    """With every token price the same, modality, cached and reasoning splits cannot change the token cost."""
    _, _, _, usage = drawn
    flat = msgspec.structs.replace(
        the_price,
        **{name: the_price.input for name in ("cached_input", "cache_write", "image_input", "audio_input")},
        **{name: the_price.input for name in ("output", "reasoning", "image_output", "audio_output")},
        modal=True,
        whole_nano=None,
    )
    split = msgspec.structs.replace(usage, images=0, seconds=0.0, characters=0, calls=0)
    expected = (usage.input_tokens + usage.output_tokens) * the_price.input * 1000
    assert cost_nano(split, flat) == int(expected.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_tier_prices_are_validated() -> None:
    config = msgspec.convert({"per_image": 0.04, "per_image_tiers": {"1024x1024/hd": 0.08}}, PriceConfig)
    assert config.per_image_tiers == {"1024x1024/hd": 0.08}
    for tiers, message in (
        ({"hd": -1}, "per_image_tiers"),
        ({"": 1}, "per_image_tiers"),
        ({"a/b/c": 1}, "per_image_tiers"),
        ({"/hd": 1}, "per_image_tiers"),
        ({"hd": 1e300}, "per_image_tiers"),
    ):
        with pytest.raises(msgspec.ValidationError, match=message):
            msgspec.convert({"per_image_tiers": tiers}, PriceConfig)
        with pytest.raises(msgspec.ValidationError, match=message):
            msgspec.convert({"model": "m", "per_image_tiers": tiers}, PriceCreate)
    with pytest.raises(msgspec.ValidationError, match="audio_output"):
        msgspec.convert({"audio_output": -0.5}, PriceConfig)


async def test_config_prices_with_modalities_and_tiers_reach_the_price_book(tmp_path: Path) -> None:
    config = GatewayConfig(
        prices={"gpt-image-1": PriceConfig(input=5, image_output=40, per_image_tiers=TIERS)},
        channel_prices={"cheap": {"gpt-image-1": PriceConfig(input=4, audio_input=7)}},
    )
    url = normalize_database_url(f"sqlite:///{tmp_path}/prices.db")
    await migrate(url)
    async with Database(url) as db:
        await sync_config_prices(db, config)
        book = PriceBook(db)
        await book.reload()
    own, cheap = book.price_for("gpt-image-1"), book.price_for("gpt-image-1", "cheap")
    assert own is not None and cheap is not None
    assert own == PriceBook.from_config(config).price_for("gpt-image-1")
    assert own.image_output == Decimal(40) and own.modal and own.per_image_tiers["1024x1536/high"] == Decimal("0.25")
    assert cheap.audio_input == Decimal(7) and cheap.image_output is None and cheap.per_image_tiers == {}


def test_the_examples_of_docs_accounts_md() -> None:
    audio = price(input=2.5, output=10, audio_input=40, audio_output=80)
    usage = Usage(input_tokens=1000, audio_input_tokens=400, cached_tokens=200, output_tokens=300,
                  audio_output_tokens=200)  # fmt: skip
    assert cost_nano(usage, audio) == 34_500_000
    image = price(input=5, image_input=10, image_output=40, per_image=0.04, per_image_tiers=TIERS)
    usage = Usage(input_tokens=50, output_tokens=4160, image_output_tokens=4160, images=1, image_size="1024x1536",
                  image_quality="high")  # fmt: skip
    assert cost_nano(usage, image) == 416_650_000


@pytest.mark.parametrize(
    ("size", "quality", "each_nano"),
    [("", "", 250_000_000), ("1024x1536", "high", 250_000_000), ("1024x1024", "low", 40_000_000)],
)
async def test_reserve_sets_aside_images_at_the_dearest_tier_the_budget_allows(
    tmp_path: Path, size: str, quality: str, each_nano: int
) -> None:
    config = GatewayConfig(prices={"img": PriceConfig(input=5, image_output=40, per_image=0.04, per_image_tiers=TIERS)})
    url = normalize_database_url(f"sqlite:///{tmp_path}/reserve.db")
    await migrate(url)
    async with Database(url) as db:
        await sync_config_prices(db, config)
        async with db.engine.begin() as conn:
            await conn.execute(
                api_keys_table.insert().values(id=1, name="k", key_hash="h" * 64, key_prefix="p", quota_nano=10**12)
            )
        billing = Billing(db, PriceBook(db))
        await billing.start()
        channel = Channel(
            ChannelConfig(name="c", provider="openai", base_url="http://x/v1", api_keys=["k"], models=["*"])  # type: ignore[arg-type]
        )
        budget = Budget(input_bytes=300, max_output=5000, images=2, image_size=size, image_quality=quality)
        key = KeyRecord(id=1, name="k", key_hash="h" * 64, quota_nano=10**12)
        reservation = await billing.reserve("req", "img", key, plan("img", [channel]), lambda: budget)
        await billing.close()
    the_price = Price.of(config.prices["img"])
    assert reservation.amount_nano == max_cost_nano(input_bound(300), 5000, the_price) + 2 * each_nano
    answer = Usage(input_tokens=100, output_tokens=5000, image_output_tokens=5000, images=2,
                   image_size=size or "1024x1536", image_quality=quality or "high")  # fmt: skip
    assert cost_nano(answer, the_price) <= reservation.amount_nano
