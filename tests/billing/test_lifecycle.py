"""The one request lifecycle (``api/lifecycle.py``): a request is read and checked before anything is
planned, reserved or sent, and billing reserves from the operation's budget, metered units included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from omnirouter.billing import Billing, PriceBook, sync_config_prices
from omnirouter.billing.cost import cost_nano, max_cost_nano
from omnirouter.billing.estimate import input_bound
from omnirouter.config import ChannelConfig, GatewayConfig, PriceConfig
from omnirouter.ir import Budget, Usage
from omnirouter.mock_upstream import MockUpstream
from omnirouter.routing import Channel, plan
from omnirouter.storage import Database, KeyRecord, api_keys_table, migrate, normalize_database_url
from tests.helpers.billing import (
    MODEL,
    POOR,
    RICH,
    assert_books_balance,
    billing_config,
    ledger,
    open_reservations,
    post,
    price,
)
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, running_gateway

# Passes the Anthropic pass-through checks, but cannot be decoded: a forced tool needs its name.
UNTRANSLATABLE = {
    "model": MODEL,
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
    "tool_choice": {"type": "tool"},
}


async def test_a_request_that_cannot_be_translated_is_refused_before_any_reservation_or_attempt(
    mock: MockUpstream, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/lifecycle.db"
    async with running_gateway(billing_config(mock, url)) as gw, aiohttp.ClientSession() as session:
        for key in (POOR, RICH):  # with a quota (a reservation would be taken) and without
            status, payload = await post(session, gw.url, key, UNTRANSLATABLE, path="/v1/messages")
            assert status == 400
            assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
            assert "tool_choice.name" in payload["error"]["message"]
    assert mock.requests == []  # the OpenAI channel never saw it
    rows = await ledger(url)
    assert [(r.status_code, r.error_kind, r.attempts, r.attempt_log, r.cost_nano) for r in rows] == [
        (400, "invalid_request", 0, None, 0)
    ] * 2
    assert await open_reservations(url) == []
    key, _ = await assert_books_balance(url, "poor")
    assert key.used_nano == 0 and key.reserved_nano == 0


async def test_a_pass_through_plan_relays_what_only_the_upstream_can_judge(mock: MockUpstream, tmp_path: Path) -> None:
    """The same body on an Anthropic channel is relayed as it is: the upstream's own checks decide."""
    anthropic = {"name": "claude", "provider": "anthropic", "base_url": mock.url, "api_keys": [UPSTREAM_KEY]}
    config = billing_config(mock, f"sqlite:///{tmp_path}/relay.db", channels=[{**anthropic, "models": [MODEL]}])
    async with running_gateway(config) as gw, aiohttp.ClientSession() as session:
        status, _ = await post(session, gw.url, RICH, UNTRANSLATABLE, path="/v1/messages")
    assert status == 200
    assert [r.body["tool_choice"] for r in mock.requests] == [{"type": "tool"}]


@pytest.mark.parametrize("images", [0, 3])
async def test_a_budget_with_metered_units_reserves_their_price_too(tmp_path: Path, images: int) -> None:
    config = GatewayConfig(prices={"img-model": PriceConfig(input=1.0, output=2.0, per_image=0.04)})
    url = normalize_database_url(f"sqlite:///{tmp_path}/budget.db")
    await migrate(url)
    db = Database(url)
    try:
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
        key = KeyRecord(id=1, name="k", key_hash="h" * 64, quota_nano=10**12)
        budget = Budget(input_bytes=300, max_output=100, images=images)
        reservation = await billing.reserve(
            "req_budget", "img-model", key, plan("img-model", [channel]), lambda: budget
        )
        await billing.close()
    finally:
        await db.close()
    the_price = price(input=1.0, output=2.0, per_image=0.04)
    tokens = max_cost_nano(input_bound(300), 100, the_price)
    assert reservation.stored
    assert reservation.amount_nano == tokens + images * 40_000_000  # $0.04 an image on top of the tokens
    assert cost_nano(Usage(input_tokens=100, output_tokens=100, images=images), the_price) <= reservation.amount_nano


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_conversations_are_stored_from_relayed_answers_too(
    start: Any, mock: MockUpstream, stream: bool
) -> None:
    """A Responses client on a Responses upstream (pass-through): the stored conversation comes from the
    answer as relayed (``ChatExtension.answered``), and is there before the client has the answer."""
    channel = {
        "name": "oa",
        "provider": "openai",
        "base_url": f"{mock.url}/v1",
        "api_keys": [UPSTREAM_KEY],
        "models": ["gpt-5"],
        "responses_models": ["gpt-5"],
    }
    async with start([channel]) as gw, openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT_KEY) as client:
        if stream:
            async with client.responses.stream(model="gpt-5", input="my name is Ada") as events:
                first = await events.get_final_response()
        else:
            first = await client.responses.create(model="gpt-5", input="my name is Ada")
        second = await client.responses.create(model="gpt-5", input="what is my name", previous_response_id=first.id)
    assert [r.path for r in mock.requests] == ["/v1/responses"] * 2
    sent = json.dumps(mock.requests[-1].body)
    assert "my name is Ada" in sent and "Echo: my name is Ada" in sent
    assert second.output_text == "Echo: what is my name" and first.model == "gpt-5"
