"""Money: prices and cost math, reserve / settle / refund / recover against real SQLite and PostgreSQL
databases, and quota under hundreds of concurrent requests from one or two gateway processes."""

from __future__ import annotations

import asyncio
import logging
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import sqlalchemy as sa
import yaml

from omnirouter.billing import PriceBook, cost_nano, key_balance, max_cost_nano, sync_config_prices
from omnirouter.billing.estimate import output_bound
from omnirouter.billing.owner import OwnerLock
from omnirouter.config import ChannelConfig, GatewayConfig
from omnirouter.ir import Usage
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.budget import choice_count, requested_max_output
from omnirouter.routing import Attempt, Channel
from omnirouter.storage import (
    Database,
    KeyStore,
    api_keys_table,
    groups_table,
    migrate,
    normalize_database_url,
    prices_table,
)
from omnirouter.usage import UNSETTLED_AFTER_RESTART, UsageRecord, UsageRecorder, recover_reservations
from tests.helpers.billing import (
    MODEL,
    POOR,
    PRICE,
    RICH,
    assert_books_balance,
    billing_config,
    chat_body,
    execute,
    insert_reservation,
    key_row,
    ledger,
    open_reservations,
    post,
    price,
    query,
)
from tests.helpers.gateway_harness import UPSTREAM_KEY, running_gateway
from tests.helpers.postgres import postgres_database
from tests.helpers.processes import free_port, stop, wait_healthy

# ---------------------------------------------------------------------------------------------- pure


def test_cost_is_exact_decimal_and_rounds_half_up_once() -> None:
    # 3 tokens at $0.1/M: 300 nano exactly (a float would give 300.00000000000006).
    assert cost_nano(Usage(input_tokens=3), price(input=0.1)) == 300
    assert (
        cost_nano(Usage(input_tokens=1_000_000, output_tokens=1_000_000), price(input=0.15, output=0.6)) == 750_000_000
    )
    # $0.0005/M is half a nano a token: rounded half-up once per request, not per token.
    assert cost_nano(Usage(input_tokens=1), price(input=0.0005)) == 1
    assert cost_nano(Usage(input_tokens=3), price(input=0.0005)) == 2  # 1.5 -> 2
    assert cost_nano(Usage(input_tokens=2, output_tokens=1), price(input=0.0005, output=0.0005)) == 2  # 1.5 -> 2
    assert cost_nano(Usage(), price(input=5.0, output=5.0)) == 0
    # Many small costs sum exactly.
    assert sum(
        cost_nano(Usage(input_tokens=7, output_tokens=3), price(input=0.3, output=1.1)) for _ in range(1000)
    ) == (1000 * (7 * 300 + 3 * 1100))


def test_cost_token_kinds_and_defaults() -> None:
    usage = Usage(input_tokens=1000, cached_tokens=600, cache_write_tokens=100, output_tokens=500, reasoning_tokens=200)
    # Defaults: cached reads and cache writes at the input price, reasoning at the output price.
    assert cost_nano(usage, price(input=2.0, output=8.0)) == 1000 * 2000 + 500 * 8000
    explicit = price(input=2.0, output=8.0, cached_input=0.5, cache_write=2.5, reasoning=10.0)
    expected = 300 * 2000 + 600 * 500 + 100 * 2500 + 300 * 8000 + 200 * 10_000
    assert cost_nano(usage, explicit) == expected
    # Group multiplier applied to the exact sum, then rounded half-up.
    assert cost_nano(usage, explicit, Decimal("0.8")) == expected * 8 // 10
    assert cost_nano(Usage(input_tokens=1), price(input=0.001), Decimal("0.5")) == 1  # 0.5 nano -> 1
    # Inconsistent counts are clamped instead of going negative.
    odd = Usage(input_tokens=10, cached_tokens=50, output_tokens=5, reasoning_tokens=9)
    assert cost_nano(odd, price(input=1.0, output=1.0, cached_input=0.0, reasoning=3.0)) == 0 + 5 * 3000


def test_whole_nano_prices_cost_the_same_as_the_exact_decimal_sum() -> None:
    rng = random.Random(7)
    per_m = [0.0, 0.1, 0.15, 0.6, 2.5, 3.0, 15.0, 0.075, 0.0005, 0.0375, 1.23456, None]
    whole = 0
    for _ in range(2000):
        fields = {name: rng.choice(per_m) for name in ("cached_input", "cache_write", "reasoning")}
        fast = price(input=rng.choice(per_m[:-1]), output=rng.choice(per_m[:-1]), **fields)
        exact = msgspec.structs.replace(fast, whole_nano=None)  # the Decimal path
        whole += fast.whole_nano is not None
        total_in, total_out = rng.randrange(0, 10**7), rng.randrange(0, 10**6)
        usage = Usage(
            input_tokens=total_in,
            output_tokens=total_out,
            cached_tokens=rng.randrange(0, total_in + 2),
            cache_write_tokens=rng.randrange(0, total_in + 2),
            reasoning_tokens=rng.randrange(0, total_out + 2),
        )
        for multiplier in (Decimal(1), Decimal("0.8")):
            assert cost_nano(usage, fast, multiplier) == cost_nano(usage, exact, multiplier)
    assert 300 < whole < 1900  # both paths were taken


def test_max_cost_bounds_every_usage_within_the_estimates() -> None:
    rng = random.Random(7)
    for _ in range(500):
        p = price(
            input=rng.choice([0.0, 0.1, 1.25, 3.0]),
            output=rng.choice([0.0, 0.4, 10.0]),
            cached_input=rng.choice([None, 0.05, 5.0]),
            cache_write=rng.choice([None, 3.75]),
            reasoning=rng.choice([None, 12.0]),
        )
        multiplier = Decimal(rng.choice(["1", "0.8", "1.3333"]))
        max_in, max_out = rng.randrange(0, 5000), rng.randrange(0, 5000)
        bound = max_cost_nano(max_in, max_out, p, multiplier)
        cached = rng.randrange(0, max_in + 1)
        reasoning = rng.randrange(0, max_out + 1)
        usage = Usage(
            input_tokens=max_in,
            cached_tokens=cached,
            cache_write_tokens=rng.randrange(0, max_in - cached + 1),
            output_tokens=max_out,
            reasoning_tokens=reasoning,
        )
        assert cost_nano(usage, p, multiplier) <= bound


def test_price_book_overrides_patterns_and_groups() -> None:
    config = msgspec.convert(
        {
            "prices": {"gpt-4o": {"input": 2.5, "output": 10.0}, "claude-*": {"input": 3.0, "output": 15.0}},
            "channel_prices": {"cheap": {"gpt-4o": {"input": 1.0, "output": 4.0}}},
            "groups": {"vip": 0.8},
        },
        GatewayConfig,
    )
    book = PriceBook.from_config(config)
    base = book.price_for("gpt-4o", "expensive")
    assert base is not None and base.input == Decimal("2.5")
    override = book.price_for("gpt-4o", "cheap")
    assert override is not None and override.input == Decimal("1") and override.output == Decimal("4")
    pattern = book.price_for("claude-sonnet-4", "any")
    assert pattern is not None and pattern.output == Decimal("15")
    assert book.price_for("unknown-model", "cheap") is None
    assert book.multiplier("vip") == Decimal("0.8")
    assert book.multiplier(None) == Decimal(1) and book.multiplier("nope") == Decimal(1)


def _attempt(upstream: str, max_output_tokens: int | None = None) -> Attempt:
    channel = Channel(
        ChannelConfig(
            name="c",
            provider="openai",  # type: ignore[arg-type]
            base_url="http://x/v1",
            api_keys=["k"],
            models=["*"],
            max_output_tokens=max_output_tokens,
        )
    )
    return Attempt(channel=channel, public_model="public", upstream_model=upstream, protocol=channel.protocol_for("x"))


def test_output_bounds_per_protocol_field_and_caps() -> None:
    assert requested_max_output({"max_tokens": 100}) == 100
    assert requested_max_output({"max_completion_tokens": 300, "max_tokens": 100}) == 300
    assert requested_max_output({"max_output_tokens": 50}) == 50
    assert requested_max_output({"generationConfig": {"maxOutputTokens": 70}}) == 70
    assert requested_max_output({"max_tokens": True, "stream": True}) is None
    assert choice_count({"n": 3}) == 3 and choice_count({"generationConfig": {"candidateCount": 2}}) == 2
    assert choice_count({}) == 1
    assert output_bound(_attempt("gpt-4o-2024-08-06"), None, 8192) == 16384  # the family's cap
    assert output_bound(_attempt("gpt-4o-2024-08-06"), 100_000, 8192) == 16384  # never above the cap
    assert output_bound(_attempt("gpt-4o-2024-08-06"), 100, 8192) == 100
    assert output_bound(_attempt("my-local-model"), None, 8192) == 8192  # unknown: the configured default
    assert output_bound(_attempt("my-local-model", max_output_tokens=2048), None, 8192) == 2048


# ----------------------------------------------------------------------------------- database helpers


def expected_cost(row: Any) -> int:
    return cost_nano(
        Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
        price(**PRICE),
    )


@pytest.fixture(scope="module")
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


async def fresh_pg(url: str) -> str:
    """Empty the module's PostgreSQL database (tables dropped, so the next start migrates from scratch)."""
    engine_url = normalize_database_url(url)
    db = Database(engine_url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        await db.close()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_url(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/billing.db"
    return await fresh_pg(pg_url)


# ------------------------------------------------------------------------------ request path, SQLite


async def test_settle_charges_real_usage_for_quota_and_unlimited_keys(mock: MockUpstream, any_url: str) -> None:
    async with running_gateway(billing_config(mock, any_url)) as gw, aiohttp.ClientSession() as session:
        for key in (POOR, RICH, POOR):
            status, payload = await post(session, gw.url, key, chat_body("three little words", max_tokens=50))
            assert status == 200, payload
        status, _ = await post(session, gw.url, POOR, chat_body("streamed", stream=True))
        assert status == 200
    for name, count in (("poor", 3), ("rich", 1)):
        key, rows = await assert_books_balance(any_url, name)
        assert len(rows) == count and all(row.status_code == 200 for row in rows)
        assert all(row.cost_nano == expected_cost(row) > 0 for row in rows)
        assert not any(row.usage_estimated for row in rows)
    rich, poor = await key_row(any_url, "rich"), await key_row(any_url, "poor")
    db = Database(normalize_database_url(any_url))
    try:
        unlimited, balance = await key_balance(db, rich.id), await key_balance(db, poor.id)
        assert await key_balance(db, 10_000) is None
    finally:
        await db.close()
    assert unlimited is not None and unlimited["quota_nano"] is None and unlimited["remaining_nano"] is None
    assert unlimited["used_nano"] == rich.used_nano > 0  # unlimited keys accumulate spending too
    assert balance is not None
    assert balance["quota_nano"] == 1_000_000_000 and balance["reserved_nano"] == 0
    assert balance["remaining_nano"] == 1_000_000_000 - poor.used_nano > 0
    assert balance["used_usd"] == pytest.approx(poor.used_nano / 1e9)


async def test_group_multiplier_and_channel_override(mock: MockUpstream, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/billing.db"
    config = billing_config(
        mock,
        url,
        keys=[{"name": "poor", "key": POOR, "quota_usd": 1.0, "group": "vip"}],
        groups={"vip": 0.5},
        channel_prices={"mock-openai": {MODEL: {"input": 3.0, "output": 5.0}}},
    )
    async with running_gateway(config) as gw, aiohttp.ClientSession() as session:
        status, _ = await post(session, gw.url, POOR, chat_body("vip words here"))
        assert status == 200
    _, rows = await assert_books_balance(url, "poor")
    (row,) = rows
    full = cost_nano(
        Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens), price(input=3.0, output=5.0)
    )
    assert row.cost_nano == cost_nano(
        Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
        price(input=3.0, output=5.0),
        Decimal("0.5"),
    )
    assert full // 2 <= row.cost_nano <= full // 2 + 1


async def test_insufficient_quota_refuses_before_any_upstream_call(mock: MockUpstream, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/billing.db"
    # $0.00001 = 10,000 nano: a request reserves ~ (body/3) x 1000 + 16,384 x 2000 nano, far more.
    async with running_gateway(billing_config(mock, url, quota_usd=0.00001)) as gw, aiohttp.ClientSession() as session:
        status, payload = await post(session, gw.url, POOR, chat_body("too dear"))
        assert status == 429
        assert payload["error"]["code"] == "insufficient_quota" and payload["error"]["type"] == "insufficient_quota"
        status, payload = await post(
            session, gw.url, POOR, {**chat_body("too dear"), "max_tokens": 64}, path="/v1/messages"
        )
        assert status == 429 and payload["type"] == "error" and payload["error"]["type"] == "billing_error"
        gemini = {"contents": [{"role": "user", "parts": [{"text": "too dear"}]}]}
        status, payload = await post(session, gw.url, POOR, gemini, path=f"/v1beta/models/{MODEL}:generateContent")
        assert status == 429 and payload["error"]["status"] == "RESOURCE_EXHAUSTED"
        # A key without a quota is not affected.
        status, _ = await post(session, gw.url, RICH, chat_body("fine"))
        assert status == 200
    assert len(mock.requests) == 1  # only the unlimited key's request reached the upstream
    key, rows = await assert_books_balance(url, "poor")
    assert key.used_nano == 0
    assert [(row.status_code, row.error_kind, row.cost_nano) for row in rows] == [(429, "insufficient_quota", 0)] * 3


async def test_unknown_price_free_warns_once_and_refuse_refuses(
    mock: MockUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/free.db"
    unpriced = "gpt-test-unpriced"
    with caplog.at_level(logging.WARNING, logger="omnirouter.billing"):
        async with running_gateway(billing_config(mock, url)) as gw, aiohttp.ClientSession() as session:
            for _ in range(2):
                status, _ = await post(session, gw.url, POOR, {**chat_body("free"), "model": unpriced})
                assert status == 200
    assert caplog.text.count(f"no price for model {unpriced!r}") == 1
    _, rows = await assert_books_balance(url, "poor")
    assert [row.cost_nano for row in rows] == [0, 0]

    url = f"sqlite:///{tmp_path}/refuse.db"
    mock.requests.clear()
    config = billing_config(mock, url, unknown_price="refuse")
    async with running_gateway(config) as gw, aiohttp.ClientSession() as session:
        status, payload = await post(session, gw.url, RICH, {**chat_body("no"), "model": unpriced})
        assert status == 403 and payload["error"]["code"] == "model_not_priced"
        assert unpriced in payload["error"]["message"]
        status, _ = await post(session, gw.url, RICH, chat_body("priced is fine"))
        assert status == 200
    assert len(mock.requests) == 1


async def test_upstream_failure_refunds_everything(mock: MockUpstream, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/billing.db"
    async with running_gateway(billing_config(mock, url)) as gw, aiohttp.ClientSession() as session:
        status, _ = await post(session, gw.url, POOR, chat_body('[[mock {"fail": 500}]] x'))
        assert status == 500
        status, _ = await post(session, gw.url, POOR, chat_body('[[mock {"fail": 400}]] x', stream=True))
        assert status == 400
        # A stream that fails before its first byte reaches the client is a failure too.
        status, _ = await post(session, gw.url, POOR, chat_body('[[mock {"garbage": true}]] x', stream=True))
        assert status == 502
    key, rows = await assert_books_balance(url, "poor")
    assert key.used_nano == 0 and [row.cost_nano for row in rows] == [0, 0, 0]


async def _read_some_then_leave(base: str, body: dict[str, Any], chunks: int) -> bytes:
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{base}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {POOR}"}
        )
        seen = b""
        while seen.count(b"data:") < chunks:
            seen += await response.content.readany()
        response.close()  # the client goes away mid-stream
        return seen


WORDS = " ".join(f"word{i}" for i in range(40))


async def test_stream_disconnect_and_cut_streams_are_charged_for_what_was_relayed(
    mock: MockUpstream, any_url: str
) -> None:
    async with running_gateway(billing_config(mock, any_url)) as gw, aiohttp.ClientSession() as session:
        slow = f'[[mock {{"text": "{WORDS}", "chunk_delay": 0.05}}]] go'
        relayed = await _read_some_then_leave(gw.url, chat_body(slow, stream=True), 6)
        assert b"word3" in relayed
        await asyncio.sleep(0.3)  # the gateway notices, cancels the upstream read and settles
        # The upstream cuts the stream after 10 events (no usage ever sent).
        cut = f'[[mock {{"text": "{WORDS}", "cut_after": 10}}]] go'
        async with session.post(
            f"{gw.url}/v1/chat/completions",
            json=chat_body(cut, stream=True),
            headers={"authorization": f"Bearer {POOR}"},
        ) as response:
            text = await response.text()
        assert response.status == 200 and "error" in text
        # An upstream that never reports usage (like llama.cpp) in a stream that completes.
        no_usage = f'[[mock {{"text": "{WORDS}", "no_usage": true}}]] go'
        status, _ = await post(session, gw.url, POOR, chat_body(no_usage, stream=True))
        assert status == 200
    _, rows = await assert_books_balance(any_url, "poor")
    left, cut_row, no_usage_row = rows
    assert left.status_code == 499 and left.error_kind == "client_disconnected"
    assert cut_row.status_code >= 500 and cut_row.error_kind is not None
    assert no_usage_row.status_code == 200
    for row in rows:
        assert row.usage_estimated and row.input_tokens > 0 and row.output_tokens > 0
        assert row.cost_nano == expected_cost(row) > 0
    # Output estimates follow what was relayed: a few words, ~10 events, all 40 words.
    assert left.output_tokens < cut_row.output_tokens < no_usage_row.output_tokens
    assert no_usage_row.output_tokens <= 3 * 40


async def test_charge_is_capped_at_the_reservation(mock: MockUpstream, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/billing.db"
    async with running_gateway(billing_config(mock, url)) as gw, aiohttp.ClientSession() as session:
        # The upstream claims far more output than max_tokens allows: the charge stops at the reservation.
        body = chat_body('[[mock {"usage": {"input": 5, "output": 100000}}]] x', max_tokens=10)
        status, _ = await post(session, gw.url, POOR, body)
        assert status == 200
    _, (row,) = await assert_books_balance(url, "poor")
    assert row.output_tokens == 100_000
    assert 0 < row.cost_nano < expected_cost(row)
    assert row.cost_nano <= max_cost_nano(len(msgspec.json.encode(body)) // 3 + 1, 10, price(**PRICE))


async def test_ledger_rows_and_charges_are_written_together_and_retried_together(any_url: str) -> None:
    url = normalize_database_url(any_url)
    await migrate(url)
    db = Database(url)
    try:
        _, key = await KeyStore(db).create("k")
        await insert_reservation(url, key.id, "req-reserved", 5_000, 100, owner=1)
        recorder = UsageRecorder(db, flush_interval=60)

        def record(request_id: str, key_id: int | None, cost: int) -> UsageRecord:
            return UsageRecord(
                request_id=request_id,
                model=MODEL,
                inbound_protocol="openai_chat",
                status_code=200,
                latency_ms=1.0,
                key_id=key_id,
                cost_nano=cost,
            )

        recorder.record(record("req-reserved", key.id, 3_000), reserved=True)
        recorder.record(record("req-unlimited", key.id, 1_000))
        recorder.record(record("req-anonymous", None, 0))
        # The charges fail (their table is gone): the ledger rows must not be written either.
        await execute(url, sa.text("ALTER TABLE reservations RENAME TO reservations_off"))
        with pytest.raises(Exception, match="reservations"):
            await recorder.flush()
        assert await ledger(url) == [] and recorder.pending == 3
        await execute(url, sa.text("ALTER TABLE reservations_off RENAME TO reservations"))
        assert await recorder.flush() == 3
        await recorder.close()
    finally:
        await db.close()
    rows = await ledger(url)
    assert [row.request_id for row in rows] == ["req-reserved", "req-unlimited", "req-anonymous"]
    key_after = (await query(url, sa.select(api_keys_table).where(api_keys_table.c.id == key.id)))[0]
    assert (key_after.used_nano, key_after.reserved_nano) == (4_000, 0)
    assert await open_reservations(url) == []


# ------------------------------------------------------------------------------------- recovery


async def test_crash_recovery_resolves_unsettled_reservations_at_start(mock: MockUpstream, any_url: str) -> None:
    config = billing_config(mock, any_url)
    async with running_gateway(config):
        pass
    poor = await key_row(any_url, "poor")
    # What a process killed mid-request leaves behind: its reservations and their reserved_nano.
    await insert_reservation(any_url, poor.id, "req_crashed_1", 50_000, 7_000, owner=123)
    await insert_reservation(any_url, poor.id, "req_crashed_2", 9_000, 20_000, owner=None)
    async with running_gateway(config) as gw, aiohttp.ClientSession() as session:
        assert await open_reservations(any_url) == []
        status, _ = await post(session, gw.url, POOR, chat_body("after the crash"))
        assert status == 200
    key, rows = await assert_books_balance(any_url, "poor")
    recovered = {row.request_id: row for row in rows if row.error_kind == UNSETTLED_AFTER_RESTART}
    assert {rid: row.cost_nano for rid, row in recovered.items()} == {"req_crashed_1": 7_000, "req_crashed_2": 9_000}
    assert all(row.status_code == 0 and row.usage_estimated and row.key_name == "poor" for row in recovered.values())
    assert key.used_nano == 7_000 + 9_000 + rows[-1].cost_nano


async def test_recovery_leaves_live_processes_reservations_alone(mock: MockUpstream, pg_url: str) -> None:
    url = normalize_database_url(await fresh_pg(pg_url))
    async with running_gateway(billing_config(mock, url)):
        pass
    poor = await key_row(url, "poor")
    db = Database(url)
    try:
        live = await OwnerLock.acquire(db, 4242)  # a replica that is still serving
        await insert_reservation(url, poor.id, "req_live", 30_000, 1_000, owner=live.owner)
        await insert_reservation(url, poor.id, "req_dead", 40_000, 2_000, owner=777)
        assert await recover_reservations(db) == 1
        assert [row.request_id for row in await open_reservations(url)] == ["req_live"]
        assert (await key_row(url, "poor")).reserved_nano == 30_000
        await live.release()  # the replica stops without settling
        assert await recover_reservations(db) == 1
    finally:
        await db.close()
    key, rows = await assert_books_balance(url, "poor")
    assert key.used_nano == 3_000 and len(rows) == 2


async def test_sync_config_prices_owns_what_the_file_names(any_url: str) -> None:
    url = normalize_database_url(any_url)
    await migrate(url)
    db = Database(url)
    try:
        await execute(
            url,
            prices_table.insert().values(model="api-model", channel="", input=1.0, output=1.0, source="api"),
            prices_table.insert().values(model="gpt-4o", channel="", input=9.0, output=9.0, source="api"),
        )
        first = msgspec.convert(
            {
                "prices": {"gpt-4o": {"input": 2.5, "output": 10.0}, "old": {"input": 1.0}},
                "channel_prices": {"cheap": {"gpt-4o": {"input": 1.0, "output": 4.0, "cached_input": 0.5}}},
                "groups": {"vip": 0.8, "old-group": 2.0},
            },
            GatewayConfig,
        )
        await sync_config_prices(db, first)
        second = msgspec.convert(
            {"prices": {"gpt-4o": {"input": 2.0, "output": 8.0}}, "groups": {"vip": 0.7}}, GatewayConfig
        )
        await sync_config_prices(db, second)
        rows = await query(url, sa.select(prices_table).order_by(prices_table.c.model, prices_table.c.channel))
        assert [(r.model, r.channel, r.input, r.output, r.source) for r in rows] == [
            ("api-model", "", 1.0, 1.0, "api"),
            ("gpt-4o", "", 2.0, 8.0, "config"),
        ]
        groups = await query(url, sa.select(groups_table.c.name, groups_table.c.multiplier, groups_table.c.source))
        assert [tuple(g) for g in groups] == [("vip", 0.7, "config")]
        book = PriceBook(db)
        await book.reload()
        assert book.price_for("gpt-4o", "cheap") == price(input=2.0, output=8.0)
        assert book.multiplier("vip") == Decimal("0.7")
    finally:
        await db.close()


# ---------------------------------------------------------------------------------- concurrency

CONCURRENT = 300
# Each request costs (4 input + 4 output tokens) = 4,000 + 8,000 = 12,000 nano; the quota fits ~40 of them,
# while each one reserves ~64,000 nano (body/3 input tokens + 16 output tokens at the dearest prices).
QUOTA_USD = 40 * 12_000 / 1e9


async def fire(urls: list[str], count: int) -> list[tuple[int, dict[str, Any]]]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            post(session, urls[i % len(urls)], POOR, chat_body(f"hello number {i % 10}", max_tokens=16))
            for i in range(count)
        ]
        return await asyncio.gather(*tasks)


async def check_concurrent_results(url: str, results: list[tuple[int, dict[str, Any]]]) -> None:
    ok = sum(1 for status, _ in results if status == 200)
    refused = sum(1 for status, body in results if status == 429 and body["error"]["code"] == "insufficient_quota")
    assert ok + refused == CONCURRENT, [r for r in results if r[0] not in (200, 429)][:3]
    assert ok >= 1 and refused >= 1
    key, rows = await assert_books_balance(url, "poor")
    assert len(rows) == CONCURRENT
    assert sum(1 for row in rows if row.status_code == 200) == ok
    assert all(row.cost_nano == expected_cost(row) for row in rows if row.status_code == 200)
    assert all(row.cost_nano == 0 for row in rows if row.status_code == 429)
    assert key.used_nano <= key.quota_nano


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_concurrent_requests_never_spend_past_the_quota(
    mock: MockUpstream, tmp_path: Path, pg_url: str, backend: str
) -> None:
    url = f"sqlite:///{tmp_path}/billing.db" if backend == "sqlite" else await fresh_pg(pg_url)
    async with running_gateway(billing_config(mock, url, quota_usd=QUOTA_USD)) as gw:
        results = await fire([gw.url], CONCURRENT)
    await check_concurrent_results(url, results)


async def test_two_gateway_processes_share_one_quota_on_postgresql(
    mock: MockUpstream, tmp_path: Path, pg_url: str
) -> None:
    url = await fresh_pg(pg_url)
    config = tmp_path / "omnirouter.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": url,
                "usage_flush_interval": 0.05,
                "log_level": "warning",
                "channels": [
                    {
                        "name": "mock-openai",
                        "provider": "openai",
                        "base_url": f"{mock.url}/v1",
                        "api_keys": [UPSTREAM_KEY],
                        "models": [MODEL],
                    }
                ],
                "keys": [{"name": "poor", "key": POOR, "quota_usd": QUOTA_USD}],
                "prices": {MODEL: PRICE},
            }
        )
    )
    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[str]] = []
    outputs: list[str] = []
    try:
        for port in ports:
            process = subprocess.Popen(
                [sys.executable, "-m", "omnirouter.cli", "serve", "--config", str(config), "--port", str(port)],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            processes.append(process)
            await asyncio.to_thread(wait_healthy, port, process)
        results = await fire([f"http://127.0.0.1:{port}" for port in ports], CONCURRENT)
    finally:
        for process in processes:
            outputs.append(await asyncio.to_thread(stop, process))
    assert "Traceback" not in "".join(outputs), outputs
    await check_concurrent_results(url, results)
