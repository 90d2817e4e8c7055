"""Redemption codes over real HTTP on SQLite and PostgreSQL: batches shown once and stored hashed, a key holder
redeeming a code into their quota exactly once (also when many keys on two gateways race for one code),
clear errors for unknown, used, disabled and expired codes, and a cap on failed attempts per key."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.billing import key_money, settled
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway
from tests.helpers.redis_helpers import REDIS_URL, redis_prefix

PRICES = {"gpt-4o-mini": {"input": 15, "output": 60}}  # USD per 1M tokens: every request costs something


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def code_gateway(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[RunningGateway]:
    config = make_config(
        mock_upstream.url, tmp_path_factory.mktemp("codes") / "gw.db", admin_key=ADMIN_KEY, prices=PRICES
    )
    if request.param == "postgresql":
        config.database_url = gateway_postgres_url
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
async def http(code_gateway: RunningGateway) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(session, code_gateway.url)


async def new_key(http: Http, name: str, quota: float | str | None = 1.0) -> dict[str, Any]:
    status, key = await http.admin("POST", "/admin/keys", {"name": name, "quota_usd": quota})
    assert status == 201, key
    return key


async def new_batch(http: Http, name: str, count: int, usd: Any, **extra: Any) -> dict[str, Any]:
    status, batch = await http.admin("POST", "/admin/redemptions", {"name": name, "count": count, "usd": usd, **extra})
    assert status == 201, batch
    return batch


async def redeem(http: Http, key: str, code: str) -> tuple[int, Any]:
    return await http.call("POST", "/v1/key/redeem", key, {"code": code})


async def test_a_batch_is_shown_once_stored_hashed_and_redeemed_into_the_quota(
    http: Http, code_gateway: RunningGateway
) -> None:
    batch = await new_batch(http, "launch-promo", 3, "2.50")
    assert batch["object"] == "redemption_batch" and batch["count"] == 3 and batch["usd"] == 2.5
    codes = [c["code"] for c in batch["codes"]]
    assert len(set(codes)) == 3 and all(c.startswith("rc-") and len(c) > 30 for c in codes)
    assert all(c["prefix"] == c["code"][:8] + "…" for c in batch["codes"])
    status, listed = await http.admin("GET", "/admin/redemptions?batch=launch-promo")
    assert status == 200 and listed["object"] == "list" and len(listed["data"]) == 3
    assert {c["state"] for c in listed["data"]} == {"unused"} and not any(code in str(listed) for code in codes)
    async with code_gateway.app.gateway.db.engine.connect() as conn:
        stored = list(await conn.execute(text("SELECT * FROM redemption_codes WHERE batch = 'launch-promo'")))
    assert {row.code_hash for row in stored} == {hashlib.sha256(c.encode()).hexdigest() for c in codes}
    assert not any(code in str(stored) for code in codes)

    key = await new_key(http, "customer-1", quota=1)
    status, done = await redeem(http, key["key"], f"  {codes[0]}\n")  # pasted with whitespace
    assert status == 200, done
    assert done["object"] == "credit" and done["key_id"] == key["id"] and done["amount_usd"] == 2.5
    assert done["quota_usd"] == 3.5 and done["remaining_usd"] == 3.5
    assert done["redemption_id"] == batch["codes"][0]["id"]
    status, me = await http.call("GET", "/v1/key", key["key"])
    assert status == 200 and me["quota_usd"] == 3.5

    status, error = await redeem(http, key["key"], codes[0])
    assert status == 409 and error["error"]["code"] == "redemption_code_used", error
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["param"] == "code"
    assert "already been used" in error["error"]["message"]

    status, used = await http.admin("GET", "/admin/redemptions?state=used&batch=launch-promo")
    assert [(c["id"], c["used_by_key_id"]) for c in used["data"]] == [(batch["codes"][0]["id"], key["id"])]
    assert used["data"][0]["used_at"] is not None
    _, history = await http.admin("GET", f"/admin/keys/{key['id']}/credits")
    assert [(r["source"], r["actor"], r["amount_nano"], r["redemption_id"]) for r in history["data"]] == [
        ("quota", "admin", 1_000_000_000, None),
        ("redemption", "key", 2_500_000_000, batch["codes"][0]["id"]),
    ]

    # The holder spends; the credits sum to the quota and the ledger to what was spent, exactly.
    for _ in range(2):
        assert (await http.chat(key["key"]))[0] == 200
    money = await settled(code_gateway, key["id"])
    assert money["quota"] == money["credits"] == 3_500_000_000 and money["used"] == money["ledger"] > 0
    _, me = await http.call("GET", "/v1/key", key["key"])
    assert me["remaining_usd"] == round((money["credits"] - money["ledger"]) / 1e9, 9)


async def test_unknown_disabled_and_expired_codes_are_refused_by_name(http: Http) -> None:
    key = await new_key(http, "customer-2")
    status, error = await redeem(http, key["key"], "rc-this-code-does-not-exist")
    assert status == 404 and error["error"]["code"] == "redemption_code_invalid", error
    assert error["error"]["message"] == "This redemption code does not exist."

    batch = await new_batch(http, "to-disable", 3, 1)
    one, two, three = batch["codes"]
    status, disabled = await http.admin("DELETE", f"/admin/redemptions/{one['id']}")
    assert status == 200 and disabled["state"] == "disabled" and disabled["prefix"] == one["prefix"]
    status, error = await redeem(http, key["key"], one["code"])
    assert status == 409 and error["error"]["code"] == "redemption_code_disabled"
    assert (await redeem(http, key["key"], two["code"]))[0] == 200
    status, refused = await http.admin("DELETE", f"/admin/redemptions/{two['id']}")
    assert status == 409 and refused["error"]["code"] == "redemption_code_used"
    status, whole = await http.admin("DELETE", "/admin/redemptions?batch=to-disable")
    assert status == 200 and whole == {"object": "redemption_batch", "batch": "to-disable", "disabled": 1}
    assert (await redeem(http, key["key"], three["code"]))[1]["error"]["code"] == "redemption_code_disabled"
    _, states = await http.admin("GET", "/admin/redemptions?batch=to-disable")
    assert sorted(c["state"] for c in states["data"]) == ["disabled", "disabled", "used"]

    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    expiring = await new_batch(http, "short-lived", 1, 1, expires_at=soon.isoformat())
    assert expiring["expires_at"] is not None
    await asyncio.sleep(2)
    status, error = await redeem(http, key["key"], expiring["codes"][0]["code"])
    assert status == 409 and error["error"]["code"] == "redemption_code_expired"
    _, expired = await http.admin("GET", "/admin/redemptions?batch=short-lived&state=expired")
    assert [c["id"] for c in expired["data"]] == [expiring["codes"][0]["id"]]
    _, unused = await http.admin("GET", "/admin/redemptions?batch=short-lived&state=unused")
    assert unused["data"] == []
    money = await key_money_by_http(http, key["id"])
    assert money == 2_000_000_000  # the quota and the one code that worked, nothing else


async def key_money_by_http(http: Http, key_id: int) -> int:
    _, history = await http.admin("GET", f"/admin/keys/{key_id}/credits")
    _, view = await http.admin("GET", f"/admin/keys/{key_id}")
    assert round(history["total_nano"] / 1e9, 9) == view["quota_usd"]
    return int(history["total_nano"])


async def test_keys_that_cannot_be_credited_leave_the_code_unused(http: Http) -> None:
    batch = await new_batch(http, "for-someone", 1, 3)
    code = batch["codes"][0]["code"]
    unlimited = await new_key(http, "unlimited", quota=None)
    status, error = await redeem(http, unlimited["key"], code)
    assert status == 409 and error["error"]["code"] == "key_unlimited"
    status, error = await redeem(http, CLIENT_KEY, code)  # the config file's key: the file sets its quota
    assert status == 409 and error["error"]["code"] == "config_managed"
    assert CLIENT_KEY not in str(error)
    huge = await new_key(http, "huge", quota="9223372036.8")  # claimed, then refused: the claim rolls back
    status, error = await redeem(http, huge["key"], code)
    assert status == 409 and error["error"]["code"] == "quota_too_large"
    _, still = await http.admin("GET", "/admin/redemptions?batch=for-someone&state=unused")
    assert [c["id"] for c in still["data"]] == [batch["codes"][0]["id"]]
    key = await new_key(http, "with-quota", quota=0)
    status, done = await redeem(http, key["key"], code)
    assert status == 200 and done["quota_usd"] == 3.0


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"cod": "rc-x"}', None),
        (b"{}", None),
        (b'{"code": ""}', None),
        (b"not json", "invalid_json"),
    ],
)
async def test_a_bad_redeem_body_is_a_400_in_openai_shape(http: Http, raw: bytes, code: str | None) -> None:
    key = await new_key(http, "body-errors")
    status, error = await http.call("POST", "/v1/key/redeem", key["key"], raw=raw)
    assert status == 400 and error["error"]["type"] == "invalid_request_error" and error["error"]["code"] == code


async def test_redeeming_needs_a_valid_key(http: Http) -> None:
    status, error = await redeem(http, "sk-or-not-a-key", "rc-anything")
    assert status == 401 and error["error"]["code"] == "invalid_api_key"
    status, error = await http.call("POST", "/v1/key/redeem", None, {"code": "rc-anything"})
    assert status == 401


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "b", "count": 0, "usd": 1}, "count"),
        ({"name": "b", "count": 1001, "usd": 1}, "count"),
        ({"name": "b", "count": 1, "usd": 0}, "usd"),
        ({"name": "b", "count": 1, "usd": "-2"}, "usd"),
        ({"name": "", "count": 1, "usd": 1}, "name"),
        ({"name": "b", "count": 1, "usd": 1, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "b", "count": 1, "usd": 1, "colour": "red"}, "colour"),
    ],
)
async def test_bad_batches_are_refused(http: Http, body: dict[str, Any], param: str) -> None:
    status, error = await http.admin("POST", "/admin/redemptions", body)
    assert status == 400 and error["error"]["param"] == param, error


async def test_listing_filters_and_errors(http: Http) -> None:
    await new_batch(http, "paged", 5, 1)
    _, first = await http.admin("GET", "/admin/redemptions?batch=paged&limit=2")
    ids = [c["id"] for c in first["data"]]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)
    _, second = await http.admin("GET", f"/admin/redemptions?batch=paged&limit=10&before={ids[-1]}")
    assert len(second["data"]) == 3 and max(c["id"] for c in second["data"]) < ids[-1]
    status, error = await http.admin("GET", "/admin/redemptions?state=spent")
    assert status == 400 and error["error"]["param"] == "state"
    status, error = await http.admin("DELETE", "/admin/redemptions/999999")
    assert status == 404 and error["error"]["code"] == "redemption_code_not_found"
    status, error = await http.admin("DELETE", "/admin/redemptions?batch=no-such-batch")
    assert status == 404 and error["error"]["code"] == "redemption_batch_not_found"
    status, error = await http.admin("DELETE", "/admin/redemptions")
    assert status == 400 and error["error"]["code"] == "missing_batch"
    status, error = await http.call("GET", "/admin/redemptions", CLIENT_KEY)
    assert status == 401


async def test_failed_attempts_are_capped_per_key(http: Http) -> None:
    guesser, other = await new_key(http, "guesser"), await new_key(http, "bystander")
    batch = await new_batch(http, "guarded", 2, 1)
    for i in range(5):
        status, error = await redeem(http, guesser["key"], f"rc-guess-{i}")
        assert status == 404, error
    async with http.session.post(
        f"{http.base_url}/v1/key/redeem",
        json={"code": batch["codes"][0]["code"]},
        headers={"authorization": f"Bearer {guesser['key']}"},
    ) as response:
        error = await response.json()
        assert response.status == 429 and error["error"]["code"] == "too_many_redemption_attempts"
        assert error["error"]["type"] == "rate_limit_error"
        assert 1 <= int(response.headers["retry-after"]) <= 60
    _, codes = await http.admin("GET", "/admin/redemptions?batch=guarded&state=unused")
    assert len(codes["data"]) == 2  # the refused attempt touched no code
    status, done = await redeem(http, other["key"], batch["codes"][0]["code"])  # other keys are not held back
    assert status == 200 and done["key_id"] == other["id"]


async def test_many_keys_racing_for_one_code_on_two_gateways_credit_exactly_one(
    http: Http, code_gateway: RunningGateway, mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    config = make_config(mock_upstream.url, tmp_path_factory.mktemp("unused") / "gw.db", admin_key=ADMIN_KEY)
    config.database_url = code_gateway.app.gateway.config.database_url  # a second replica on the same database
    keys = [await new_key(http, f"racer-{i}", quota=0) for i in range(8)]
    batch = await new_batch(http, "contested", 4, "0.75")
    async with running_gateway(config) as second, aiohttp.ClientSession() as session:
        hosts = [Http(session, code_gateway.url), Http(session, second.url)]
        # Every key tries every code at once: 32 concurrent redemptions of 4 codes over 2 gateways.
        attempts = [
            (code["id"], key["id"], redeem(hosts[i % 2], key["key"], code["code"]))
            for code in batch["codes"]
            for i, key in enumerate(keys)
        ]
        answers = await asyncio.gather(*(call for _, _, call in attempts))
    winners: dict[int, int] = {}
    for (code_id, key_id, _), (status, body) in zip(attempts, answers, strict=True):
        if status == 200:
            assert code_id not in winners, f"code {code_id} credited twice"
            winners[code_id] = key_id
        else:
            assert status == 409 and body["error"]["code"] == "redemption_code_used", body
    assert sorted(winners) == sorted(c["id"] for c in batch["codes"])
    total = 0
    for key in keys:
        money = await key_money(code_gateway, key["id"])
        won = sum(1 for winner in winners.values() if winner == key["id"])
        assert money["quota"] == money["credits"] == won * 750_000_000
        total += money["credits"]
    assert total == 4 * 750_000_000
    _, used = await http.admin("GET", "/admin/redemptions?batch=contested&state=used")
    assert {c["id"]: c["used_by_key_id"] for c in used["data"]} == winners


async def test_with_redis_failed_attempts_count_on_every_replica(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with redis_prefix() as (client, prefix):
        path = tmp_path_factory.mktemp("redis-codes") / "gw.db"
        config = make_config(mock_upstream.url, path, admin_key=ADMIN_KEY, redis_url=REDIS_URL, redis_prefix=prefix)
        async with (
            running_gateway(config) as first,
            running_gateway(config) as second,
            aiohttp.ClientSession() as session,
        ):
            one, two = Http(session, first.url), Http(session, second.url)
            key = await new_key(one, "roaming-guesser")
            for i in range(5):  # spread over both replicas: one shared count
                assert (await redeem((one, two)[i % 2], key["key"], f"rc-guess-{i}"))[0] == 404
            for host in (one, two):
                status, error = await redeem(host, key["key"], "rc-guess-again")
                assert status == 429 and error["error"]["code"] == "too_many_redemption_attempts"
            counter = await client.get(f"{prefix}fail:redeem:{{{key['id']}}}")
            assert int(counter) == 5
