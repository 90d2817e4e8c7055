"""Top-ups and the credit history of a key, over real HTTP on SQLite and PostgreSQL: every quota change is one
credits row, so a key's credits sum exactly to its quota, and its ledger exactly to what it spent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.billing import key_money, settled
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway

PRICES = {"gpt-4o-mini": {"input": 15, "output": 60}}  # USD per 1M tokens: every request costs something


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def credit_gateway(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[RunningGateway]:
    path: Path = tmp_path_factory.mktemp("credits") / "gw.db"
    config = make_config(mock_upstream.url, path, admin_key=ADMIN_KEY, prices=PRICES)
    if request.param == "postgresql":
        config.database_url = gateway_postgres_url
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
async def http(credit_gateway: RunningGateway) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(session, credit_gateway.url)


async def test_top_ups_and_quota_sets_are_credits_that_sum_to_the_quota(
    http: Http, credit_gateway: RunningGateway
) -> None:
    status, key = await http.admin("POST", "/admin/keys", {"name": "reseller-1", "quota_usd": "0.01"})
    assert status == 201, key
    key_id = key["id"]
    status, topped = await http.admin("POST", f"/admin/keys/{key_id}/top-up", {"usd": "0.025", "note": "invoice 7"})
    assert status == 200, topped
    assert topped["object"] == "credit" and topped["key_id"] == key_id
    assert topped["amount_usd"] == 0.025 and topped["quota_usd"] == 0.035 and topped["remaining_usd"] == 0.035

    # The key spends through the real gateway (the openai SDK), then is topped up again and its quota set.
    async with openai.AsyncOpenAI(base_url=f"{credit_gateway.url}/v1", api_key=key["key"], max_retries=0) as sdk:
        for _ in range(3):
            answer = await sdk.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "count to three"}], max_tokens=16
            )
            assert answer.choices[0].message.content
    money = await settled(credit_gateway, key_id)
    assert money["used"] == money["ledger"] > 0
    await http.admin("POST", f"/admin/keys/{key_id}/top-up", {"usd": 0.5})
    status, patched = await http.admin("PATCH", f"/admin/keys/{key_id}", {"quota_usd": "0.4"})
    assert status == 200 and patched["quota_usd"] == 0.4

    status, history = await http.admin("GET", f"/admin/keys/{key_id}/credits")
    assert status == 200 and history["object"] == "list" and history["key_id"] == key_id
    rows = history["data"]
    assert [(r["source"], r["actor"], r["amount_nano"]) for r in rows] == [
        ("quota", "admin", 10_000_000),
        ("top_up", "admin", 25_000_000),
        ("top_up", "admin", 500_000_000),
        ("quota", "admin", 400_000_000 - 535_000_000),
    ]
    assert rows[1]["note"] == "invoice 7" and rows[1]["quota_after_usd"] == 0.035 and rows[1]["amount_usd"] == 0.025
    assert [r["quota_after_usd"] for r in rows] == [0.01, 0.035, 0.535, 0.4]
    money = await key_money(credit_gateway, key_id)
    assert history["total_nano"] == money["credits"] == money["quota"] == 400_000_000
    assert history["total_usd"] == 0.4
    status, view = await http.admin("GET", f"/admin/keys/{key_id}")
    assert view["remaining_usd"] == round((money["credits"] - money["ledger"]) / 1e9, 9)

    # Unlimited again, then a quota: the credits follow (0 while unlimited).
    await http.admin("PATCH", f"/admin/keys/{key_id}", {"quota_usd": None})
    assert (await key_money(credit_gateway, key_id))["credits"] == 0
    await http.admin("PATCH", f"/admin/keys/{key_id}", {"quota_usd": 2})
    money = await key_money(credit_gateway, key_id)
    assert money["credits"] == money["quota"] == 2_000_000_000


async def test_a_top_up_lets_a_key_that_ran_out_spend_again(http: Http, credit_gateway: RunningGateway) -> None:
    _, key = await http.admin("POST", "/admin/keys", {"name": "drained", "quota_usd": 0})
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
    status, refused = await http.call("POST", "/v1/chat/completions", key["key"], body)
    assert status == 429 and refused["error"]["code"] == "insufficient_quota"
    status, _ = await http.admin("POST", f"/admin/keys/{key['id']}/top-up", {"usd": 1})
    assert status == 200
    status, answer = await http.call("POST", "/v1/chat/completions", key["key"], body)
    assert status == 200, answer
    money = await settled(credit_gateway, key["id"])
    assert money["quota"] == money["credits"] == 1_000_000_000 and money["used"] == money["ledger"]


@pytest.mark.parametrize(
    ("target", "body", "status", "code"),
    [
        ("unlimited", {"usd": 1}, 409, "key_unlimited"),
        ("config", {"usd": 1}, 409, "config_managed"),
        ("revoked", {"usd": 1}, 409, "key_revoked"),
        ("missing", {"usd": 1}, 404, "key_not_found"),
        ("huge", {"usd": 1}, 409, "quota_too_large"),
        ("quota", {"usd": 0}, 400, "invalid_amount"),
        ("quota", {"usd": "-1"}, 400, "invalid_amount"),
        ("quota", {"usd": "lots"}, 400, "invalid_amount"),
        ("quota", {"usd": 1_000_001}, 400, "invalid_amount"),
        ("quota", {"usd": 1, "colour": "red"}, 400, "unknown_field"),
        ("quota", {"note": "no amount"}, 400, "missing_field"),
    ],
)
async def test_refused_top_ups_change_nothing(
    http: Http, credit_gateway: RunningGateway, target: str, body: dict[str, Any], status: int, code: str
) -> None:
    _, quota_key = await http.admin("POST", "/admin/keys", {"name": "q", "quota_usd": 3})
    _, unlimited = await http.admin("POST", "/admin/keys", {"name": "u"})
    _, revoked = await http.admin("POST", "/admin/keys", {"name": "r", "quota_usd": 3})
    _, huge = await http.admin("POST", "/admin/keys", {"name": "h", "quota_usd": "9223372036.8"})  # near 2**63 nano
    await http.admin("DELETE", f"/admin/keys/{revoked['id']}")
    _, keys = await http.admin("GET", "/admin/keys")
    config_id = next(k["id"] for k in keys["data"] if k["source"] == "config")
    targets = {"unlimited": unlimited, "revoked": revoked, "huge": huge, "missing": {"id": 999_999}}
    key_id = config_id if target == "config" else targets.get(target, quota_key)["id"]
    before = await key_money(credit_gateway, key_id) if target != "missing" else None
    got, error = await http.admin("POST", f"/admin/keys/{key_id}/top-up", body)
    assert got == status and error["error"]["code"] == code, error
    if before is not None:
        assert await key_money(credit_gateway, key_id) == before
    assert CLIENT_KEY not in str(error)


async def test_credits_of_an_unknown_key_are_a_404(http: Http) -> None:
    status, error = await http.admin("GET", "/admin/keys/999999/credits")
    assert status == 404 and error["error"]["code"] == "key_not_found"
