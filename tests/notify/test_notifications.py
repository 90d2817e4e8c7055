"""Operator notifications end to end: a real gateway, the mock upstream's faults, real SDK requests, a real
webhook receiver (signatures checked with the ``standardwebhooks`` verifier) and a real SMTP server.

A breaker that stays open, a key spending past its threshold (and again after a top-up), tasks piling up:
each is one alert per crossing, and two gateways on one database still send it once."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import openai
import pytest
from sqlalchemy import text
from standardwebhooks import Webhook

from omnirouter.config import ConfigError, GatewayConfig
from omnirouter.config.loader import parse_config
from omnirouter.mock_upstream import MockUpstream
from omnirouter.notify import Notifications
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway
from tests.helpers.postgres import reset_postgres
from tests.helpers.smtp_server import Mailbox, smtp_server
from tests.helpers.task_gateway import KLING_MODEL, call, task_config, until
from tests.helpers.webhook_receiver import Delivery, Receiver, webhook_receiver

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
FAIL = '[[mock {"fail": 500}]]'
PRICES = {"gpt-4o-mini": {"input": 15, "output": 60}}  # USD per 1M tokens
SPEND = '[[mock {"usage": {"input": 1000, "output": 1000}}]]'  # 0.015 + 0.06 = 0.075 USD a request
REQUEST_NANO = 75_000_000


def notifications(receiver: Receiver, mailbox: Mailbox | None = None, **checks: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"webhook": {"url": receiver.url, "secret": SECRET}, "check_interval": 0.05, **checks}
    if mailbox is not None:
        to = ["ops@example.test", "oncall@example.test"]
        block["email"] = {
            "host": "127.0.0.1",
            "port": mailbox.port,
            "tls": "none",
            "sender": "gw@x.test",
            "to": to,
        }
    return block


def verified(delivery: Delivery) -> dict[str, Any]:
    """The alert, after the Standard Webhooks verifier accepted its signature."""
    event: dict[str, Any] = Webhook(SECRET).verify(delivery.body, delivery.headers)
    return event


def alerts(receiver: Receiver, event_type: str) -> list[dict[str, Any]]:
    return [e for e in (verified(d) for d in receiver.accepted()) if e["type"] == event_type]


def notifier(gateway: RunningGateway) -> Notifications:
    found = gateway.app.gateway.notifications
    assert found is not None
    return found


async def fail(client: openai.AsyncOpenAI, times: int) -> None:
    for _ in range(times):
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": FAIL}])


def sdk(gateway: RunningGateway, key: str = CLIENT_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=20)


def test_the_config_block_is_checked() -> None:
    good = {"webhook": {"url": "https://alerts.example/hook", "secret": SECRET}}
    assert parse_config(json.dumps({"notifications": good})).notifications.enabled
    assert not parse_config("{}").notifications.enabled
    for block, words in [
        ({"webhook": {"url": "https://a.example/h", "secret": "plain"}}, "whsec_"),
        ({"webhook": {"url": "https://a.example/h", "secret": "whsec_c2hvcnQ="}}, "24 bytes"),
        ({"webhook": {"url": "ftp://a.example/h", "secret": SECRET}}, "http"),
        ({"email": {"host": "h", "sender": "a@b", "to": ["c@d"], "tls": "maybe"}}, "starttls"),
        ({"email": {"host": "h", "sender": "a@b", "to": []}}, "to"),
        ({"tasks_unfinished_over": 0}, "tasks_unfinished_over"),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_config(json.dumps({"notifications": block}))
        assert words in str(caught.value)


async def test_a_breaker_open_for_long_is_one_signed_webhook_and_one_email(
    mock_upstream: MockUpstream, tmp_path: Path
) -> None:
    async with webhook_receiver() as receiver, smtp_server() as mailbox:
        config = make_config(
            mock_upstream.url, tmp_path / "gw.db",
            breaker={"failures": 2, "window": 60, "cooldown": 0.1},
            notifications=notifications(receiver, mailbox, breaker_open_for=0.3),
        )  # fmt: skip
        async with running_gateway(config) as gateway, sdk(gateway) as client:
            await fail(client, 2)  # the breaker opens
            first = (await until(lambda: asyncio.sleep(0, alerts(receiver, "channel.breaker_open"))))[0]
            assert first["data"]["channel"] == "mock-openai" and first["data"]["open_seconds"] >= 0.3
            await until(lambda: asyncio.sleep(0, mailbox.messages))
            assert await notifier(gateway).checker.run_once() == 0  # still open: not news again
            assert len(receiver.received) == 1 and len(mailbox.messages) == 1
            sender, recipients, message = mailbox.messages[0]
            assert sender == "gw@x.test" and recipients == ["ops@example.test", "oncall@example.test"]
            assert "mock-openai" in message["Subject"] and '"channel.breaker_open"' in message.get_content()

            await asyncio.sleep(0.15)  # past the cooldown: the next request is the probe, and it works
            answer = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content
            await fail(client, 2)  # a new spell is news again
            await until(lambda: asyncio.sleep(0, len(alerts(receiver, "channel.breaker_open")) == 2))
            await until(lambda: asyncio.sleep(0, len(mailbox.messages) == 2))
            ids = {d.id for d in receiver.accepted()}
            assert len(ids) == 2 and all(i.startswith("ntf_") for i in ids)
            assert SECRET not in repr(receiver.received) and CLIENT_KEY not in repr(receiver.received)


async def _ledger_nano(gateway: RunningGateway, key_id: int) -> tuple[int, int]:
    """The key's quota and the sum of its ledger rows, once every reservation is settled."""
    async with gateway.app.gateway.db.engine.connect() as conn:
        row = (await conn.execute(text("SELECT quota_nano, reserved_nano FROM api_keys WHERE id = :id"),
                                  {"id": key_id})).one()  # fmt: skip
        spent = (await conn.execute(text("SELECT COALESCE(SUM(cost_nano), 0) FROM usage_records WHERE key_id = :id"),
                                    {"id": key_id})).scalar_one()  # fmt: skip
    return int(row.quota_nano), int(spent)


async def _spend(gateway: RunningGateway, key: str, times: int) -> None:
    async with sdk(gateway, key) as client:
        for _ in range(times):
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": SPEND}], max_tokens=2000
            )


def _usd(nano: int) -> str:
    return format(nano / 1e9, "f").rstrip("0").rstrip(".")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_key_spending_past_its_threshold_alerts_once_per_crossing(
    backend: str, mock_upstream: MockUpstream, tmp_path: Path, postgres_url: str
) -> None:
    async with webhook_receiver() as receiver:
        config = make_config(
            mock_upstream.url, tmp_path / "gw.db", admin_key=ADMIN_KEY, prices=PRICES,
            notifications=notifications(receiver, balance_below_usd=0.1, balance_per_key={"reseller": 0.8}),
        )  # fmt: skip
        if backend == "postgresql":
            config.database_url = await reset_postgres(postgres_url)
        async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
            http = Http(session, gateway.url)
            status, key = await http.admin("POST", "/admin/keys", {"name": "reseller", "quota_usd": "1"})
            assert status == 201, key
            await _spend(gateway, key["key"], 2)  # 0.85 left: above 0.8
            await until(lambda: _settled(gateway, key["id"], 2))
            assert await notifier(gateway).checker.run_once() == 0 and alerts(receiver, "key.balance_low") == []

            await _spend(gateway, key["key"], 1)  # 0.775 left: under
            low = (await until(lambda: asyncio.sleep(0, alerts(receiver, "key.balance_low"))))[0]["data"]
            quota, spent = await _ledger_nano(gateway, key["id"])
            assert spent == 3 * REQUEST_NANO
            assert low == {"key_id": key["id"], "key_name": "reseller", "remaining_usd": _usd(quota - spent),
                           "threshold_usd": "0.8", "quota_usd": "1", "used_usd": _usd(spent)}  # fmt: skip
            await _spend(gateway, key["key"], 1)  # still under: the same crossing
            await _settled(gateway, key["id"], 4)
            assert await notifier(gateway).checker.run_once() == 0

            status, _ = await http.admin("POST", f"/admin/keys/{key['id']}/top-up", {"usd": "0.5"})
            assert status == 200  # 1.2 left: above again, so the next crossing is news
            assert await notifier(gateway).checker.run_once() == 0
            await _spend(gateway, key["key"], 6)  # 0.75 left
            await until(lambda: asyncio.sleep(0, len(alerts(receiver, "key.balance_low")) == 2))
            quota, spent = await _ledger_nano(gateway, key["id"])
            assert spent == 10 * REQUEST_NANO and quota == 1_500_000_000
            again = alerts(receiver, "key.balance_low")[1]["data"]
            assert again["remaining_usd"] == _usd(quota - spent) == "0.75" and again["quota_usd"] == "1.5"
            assert len(receiver.received) == 2  # the unlimited test key never had a balance to cross
            status, listed = await http.admin("GET", "/admin/webhooks?key_id=0")
            assert (
                status == 200
                and [(e["url"], e["type"], e["state"]) for e in listed["data"]]
                == [("notify:webhook", "key.balance_low", "delivered")] * 2
            )
            assert {e["id"] for e in listed["data"]} == {d.id for d in receiver.received}


async def _settled(gateway: RunningGateway, key_id: int, requests: int) -> bool:
    async with gateway.app.gateway.db.engine.connect() as conn:
        row = (await conn.execute(text("SELECT used_nano, reserved_nano FROM api_keys WHERE id = :id"),
                                  {"id": key_id})).one()  # fmt: skip
    return bool(row.used_nano == requests * REQUEST_NANO and row.reserved_nano == 0)


KLING_BODY = {"model_name": KLING_MODEL, "prompt": "a cat", "duration": "5"}


async def test_unfinished_tasks_piling_up_alert_once_until_they_drop(mock: MockUpstream, tmp_path: Path) -> None:
    async with webhook_receiver() as receiver:
        raw = task_config(mock.url, tmp_path)
        raw["notifications"] = notifications(receiver, tasks_unfinished_over=1, breaker_open_for=None)
        async with running_gateway(msgspec.convert(raw, GatewayConfig)) as gateway, aiohttp.ClientSession() as session:

            async def kling() -> str:
                status, created = await call(session, "POST", f"{gateway.url}/kling/v1/videos/text2video",
                                             body=KLING_BODY)  # fmt: skip
                assert status == 200, created
                return str(created["data"]["task_id"])

            mock.script({"pending_polls": 10_000}, times=3)  # these stay running
            first = await kling()
            assert await notifier(gateway).checker.run_once() == 0  # one is not a pile
            await kling()
            backlog = (await until(lambda: asyncio.sleep(0, alerts(receiver, "tasks.backlog"))))[0]
            assert backlog["data"] == {"unfinished": 2, "threshold": 1}
            assert await notifier(gateway).checker.run_once() == 0

            status, _ = await call(session, "POST", f"{gateway.url}/admin/tasks/{first}/cancel", key=ADMIN_KEY)
            assert status == 200
            assert await notifier(gateway).checker.run_once() == 0  # down to one: re-armed
            await kling()
            await until(lambda: asyncio.sleep(0, len(alerts(receiver, "tasks.backlog")) == 2))
            assert [a["data"]["unfinished"] for a in alerts(receiver, "tasks.backlog")] == [2, 2]


@pytest.fixture
async def two_gateways(
    mock_upstream: MockUpstream, tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[RunningGateway, RunningGateway, Receiver, Mailbox]]:
    url = await reset_postgres(postgres_url)
    async with webhook_receiver() as receiver, smtp_server() as mailbox:
        config = make_config(
            mock_upstream.url, tmp_path / "unused.db", admin_key=ADMIN_KEY, prices=PRICES, database_url=url,
            breaker={"failures": 2, "window": 60, "cooldown": 60},
            notifications=notifications(receiver, mailbox, breaker_open_for=0.2, balance_below_usd=0.9),
        )  # fmt: skip
        async with running_gateway(config) as one, running_gateway(config) as two:
            yield one, two, receiver, mailbox


async def test_two_gateways_on_one_database_send_each_alert_once(
    two_gateways: tuple[RunningGateway, RunningGateway, Receiver, Mailbox],
) -> None:
    one, two, receiver, mailbox = two_gateways
    async with aiohttp.ClientSession() as session:
        status, key = await Http(session, one.url).admin("POST", "/admin/keys", {"name": "shared", "quota_usd": "1"})
        assert status == 201, key
    await two.app.gateway.reloader.refresh()  # the other replica knows the new key now, not at its next poll
    await _spend(one, key["key"], 1)
    await _spend(two, key["key"], 1)  # 0.85 left, under 0.9: both gateways see it
    await until(lambda: asyncio.sleep(0, alerts(receiver, "key.balance_low") and mailbox.messages))
    for gateway in (one, two):  # a round of each after the alert: neither fires it again
        assert await notifier(gateway).checker.run_once() == 0
        assert await notifier(gateway).sender.run_once() == 0
    balance = alerts(receiver, "key.balance_low")[0]["data"]
    quota, spent = await _ledger_nano(one, key["id"])
    assert spent == 2 * REQUEST_NANO and balance["remaining_usd"] == _usd(quota - spent) == "0.85"

    for gateway in (one, two):  # each gateway's own breaker opens (no Redis: they do not share breakers)
        async with sdk(gateway) as client:
            await fail(client, 2)

    def both_dealt_with() -> bool:
        return all("mock-openai" in notifier(g).checker._spells for g in (one, two))

    await until(lambda: asyncio.sleep(0, both_dealt_with()))  # each checker saw the spell long enough
    await until(lambda: asyncio.sleep(0, alerts(receiver, "channel.breaker_open") and len(mailbox.messages) == 2))
    for gateway in (one, two):
        assert await notifier(gateway).checker.run_once() == 0
        assert await notifier(gateway).sender.run_once() == 0
    assert [e["type"] for e in (verified(d) for d in receiver.received)] == ["key.balance_low", "channel.breaker_open"]
    assert alerts(receiver, "channel.breaker_open")[0]["data"]["channel"] == "mock-openai"
    assert len(mailbox.messages) == 2
