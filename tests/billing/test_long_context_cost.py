"""Long-context price tiers (``above_tokens`` / ``above``): the whole request at the tier its prompt falls in,
reservations at the dearer tier when the prompt could reach it; config and admin validation."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import sqlalchemy as sa

from omnirouter.billing import cost_nano, max_cost_nano
from omnirouter.billing.prices import Price
from omnirouter.config import ConfigError, PriceConfig
from omnirouter.config.loader import parse_config
from omnirouter.ir import Usage
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import Database, normalize_database_url
from tests.helpers.billing import MODEL, POOR, assert_books_balance, billing_config, chat_body, post
from tests.helpers.gateway_harness import running_gateway
from tests.helpers.postgres import postgres_database

GEMINI_25_PRO = {  # USD per 1M tokens; above 200k prompt tokens the whole request costs the "above" prices
    "input": 1.25,
    "output": 10.0,
    "cached_input": 0.125,
    "above_tokens": 200_000,
    "above": {"input": 2.5, "output": 15.0, "cached_input": 0.25},
}


def tiered(**fields: Any) -> Price:
    return Price.of(msgspec.convert(fields, type=PriceConfig))


def test_the_whole_request_is_charged_at_the_tier_its_full_prompt_falls_in() -> None:
    p = tiered(**GEMINI_25_PRO)
    # At the threshold: the base tier (1,250 nano an input token, 10,000 an output token).
    assert cost_nano(Usage(input_tokens=200_000, output_tokens=1_000), p) == 260_000_000
    # One token past it: every token at the long-context tier (2,500 / 15,000), not just the excess.
    assert cost_nano(Usage(input_tokens=200_001, output_tokens=1_000), p) == 515_002_500
    # Cached reads count toward the prompt's length and are charged at the tier's cached price;
    # reasoning defaults to the tier's output price.
    usage = Usage(input_tokens=210_000, cached_tokens=190_000, output_tokens=2_000, reasoning_tokens=500)
    assert cost_nano(usage, p) == 20_000 * 2_500 + 190_000 * 250 + 2_000 * 15_000 == 127_500_000
    # The base tier's cached price applies below the threshold.
    assert cost_nano(Usage(input_tokens=100_000, cached_tokens=80_000), p) == 20_000 * 1_250 + 80_000 * 125
    # A multiplier (price group) takes the Decimal path: the same tier, multiplied and rounded once.
    assert cost_nano(Usage(input_tokens=200_001, output_tokens=1_000), p, Decimal("0.8")) == 412_002_000


def test_tier_fields_left_out_default_like_any_price() -> None:
    p = tiered(input=3, output=15, cache_write=3.75, above_tokens=200_000, above={"input": 6, "output": 22.5})
    # The tier has no cached or cache-write price: both are the tier's input (6,000 nano a token).
    usage = Usage(input_tokens=250_000, cached_tokens=50_000, cache_write_tokens=10_000, output_tokens=100)
    assert cost_nano(usage, p) == 250_000 * 6_000 + 100 * 22_500 == 1_502_250_000
    # Media and unit prices stay those of the base price.
    p = tiered(input=1, output=2, per_call=0.01, above_tokens=10, above={"input": 4, "output": 8})
    assert cost_nano(Usage(input_tokens=11, calls=1), p) == 11 * 4_000 + 10_000_000


def test_reservation_uses_the_dearer_tier_when_the_prompt_could_reach_it() -> None:
    p = tiered(**GEMINI_25_PRO)
    assert max_cost_nano(150_000, 1_000, p) == 150_000 * 1_250 + 1_000 * 10_000 == 197_500_000
    assert max_cost_nano(200_000, 1_000, p) == 260_000_000
    assert max_cost_nano(250_000, 1_000, p) == 250_000 * 2_500 + 1_000 * 15_000 == 640_000_000
    # A tier that is cheaper (an odd config) never lowers the reservation below the base tier's.
    cheap = tiered(input=2, output=2, above_tokens=100, above={"input": 1, "output": 1})
    assert max_cost_nano(1_000, 10, cheap) == 1_000 * 2_000 + 10 * 2_000
    rng = random.Random(15)
    for _ in range(500):
        p = tiered(
            input=rng.choice([0.5, 1.25, 3.0]),
            output=rng.choice([2.0, 10.0]),
            cached_input=rng.choice([None, 0.125]),
            above_tokens=rng.choice([1, 1_000, 4_000]),
            above={"input": rng.choice([0.25, 2.5, 6.0]), "output": rng.choice([1.0, 15.0, 22.5])},
        )
        multiplier = Decimal(rng.choice(["1", "0.8", "1.3333"]))
        max_in, max_out = rng.randrange(0, 5_000), rng.randrange(0, 5_000)
        used_in = rng.randrange(0, max_in + 1)
        usage = Usage(
            input_tokens=used_in, cached_tokens=rng.randrange(0, used_in + 1), output_tokens=rng.randrange(max_out + 1)
        )
        assert cost_nano(usage, p, multiplier) <= max_cost_nano(max_in, max_out, p, multiplier)


@pytest.mark.parametrize(
    ("price", "field"),
    [
        ({"input": 1, "above": {"input": 2, "output": 3}}, "above_tokens"),
        ({"input": 1, "above_tokens": 1000}, "above"),
        ({"input": 1, "above_tokens": 0, "above": {"input": 2, "output": 3}}, "above_tokens"),
        ({"input": 1, "above_tokens": 10, "above": {"input": 2}}, "output"),
        ({"input": 1, "above_tokens": 10, "above": {"input": 2, "output": 3, "bogus": 1}}, "bogus"),
        ({"input": 1, "above_tokens": 10, "above": {"input": -2, "output": 3}}, "above.input"),
    ],
)
def test_config_errors_name_the_field(price: dict[str, Any], field: str) -> None:
    text = msgspec.json.encode({"prices": {"gemini-2.5-pro": price}}).decode()
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert field in str(caught.value) and "prices" in str(caught.value)


# ------------------------------------------------------------------------------------------ gateway

TIERED = {"input": 1.0, "output": 2.0, "above_tokens": 1_000, "above": {"input": 3.0, "output": 5.0}}
LONG_TEXT = "word " * 1_200  # 6,000 bytes: the prompt bound (bytes / 3) passes 1,000 tokens


@pytest.fixture(scope="module")
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_url(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/billing.db"
    db = Database(normalize_database_url(pg_url))
    try:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        await db.close()
    return pg_url


async def test_gateway_charges_a_long_prompt_at_its_tier(mock: MockUpstream, any_url: str) -> None:
    config = billing_config(mock, any_url, prices={MODEL: TIERED})
    async with running_gateway(config) as gw, aiohttp.ClientSession() as session:
        for prompt_tokens in (1_500, 900, 1_000):
            directive = f'[[mock {{"usage": {{"input": {prompt_tokens}, "output": 10}}}}]]'
            status, payload = await post(session, gw.url, POOR, chat_body(f"{directive} {LONG_TEXT}", max_tokens=10))
            assert status == 200, payload
            assert payload["usage"]["prompt_tokens"] == prompt_tokens
    _, rows = await assert_books_balance(any_url, "poor")
    assert [(row.input_tokens, row.cost_nano) for row in rows] == [
        (1_500, 1_500 * 3_000 + 10 * 5_000),  # past 1,000 prompt tokens: all of it at the long-context tier
        (900, 900 * 1_000 + 10 * 2_000),
        (1_000, 1_000 * 1_000 + 10 * 2_000),  # at the threshold: the base tier
    ]


async def test_gateway_reserves_at_the_dearer_tier(mock: MockUpstream, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/billing.db"
    # $0.004 = 4,000,000 nano covers a ~2,000-token prompt bound at the base tier (~2,021,000 nano) but not
    # at the long-context tier (~6,053,000): the long request is refused before any upstream call.
    config = billing_config(mock, url, quota_usd=0.004, prices={MODEL: TIERED})
    async with running_gateway(config) as gw, aiohttp.ClientSession() as session:
        status, payload = await post(session, gw.url, POOR, chat_body(LONG_TEXT, max_tokens=10))
        assert status == 429 and payload["error"]["code"] == "insufficient_quota"
        assert mock.requests == []
        status, payload = await post(session, gw.url, POOR, chat_body("short", max_tokens=10))  # bound < 1,000
        assert status == 200, payload
    key, rows = await assert_books_balance(url, "poor")
    assert [row.status_code for row in rows] == [429, 200] and key.used_nano == rows[1].cost_nano > 0
