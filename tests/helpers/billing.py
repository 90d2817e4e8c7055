"""Money helpers shared by the billing, lifecycle, crash-ledger and credit tests: keys, prices, a billing config,
a raw HTTP post, and reads of the key, ledger and reservation rows; a key's quota, credits and ledger sums
(``key_money``, ``settled``); ``KeySpend``, what a key spent during one test on a gateway that serves several."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import sqlalchemy as sa
from sqlalchemy import text

from omnirouter.billing import Price
from omnirouter.config import GatewayConfig, PriceConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import (
    Database,
    api_keys_table,
    normalize_database_url,
    reservations_table,
    usage_records_table,
)
from omnirouter.storage.models import utcnow
from omnirouter.usage import UsageRecorder
from tests.helpers.gateway_harness import RunningGateway, make_config

RICH = "sk-billing-unlimited-01"
POOR = "sk-billing-quota-02"
MODEL = "gpt-4o-mini"
PRICE = {"input": 1.0, "output": 2.0}  # USD per 1M tokens: 1000 nano-USD an input token, 2000 an output token


def price(**fields: float | None) -> Price:
    return Price.of(msgspec.convert({"input": 0.0, "output": 0.0, **fields}, type=PriceConfig))


async def query(url: str, stmt: Any) -> list[Any]:
    db = Database(normalize_database_url(url))
    try:
        async with db.engine.connect() as conn:
            return list((await conn.execute(stmt)).all())
    finally:
        await db.close()


async def execute(url: str, *statements: Any) -> None:
    db = Database(normalize_database_url(url))
    try:
        async with db.engine.begin() as conn:
            for stmt in statements:
                await conn.execute(stmt)
    finally:
        await db.close()


async def key_row(url: str, name: str) -> Any:
    rows = await query(url, sa.select(api_keys_table).where(api_keys_table.c.name == name))
    return rows[0]


async def ledger(url: str, key_id: int | None = None) -> list[Any]:
    stmt = sa.select(usage_records_table).order_by(usage_records_table.c.id)
    if key_id is not None:
        stmt = stmt.where(usage_records_table.c.key_id == key_id)
    return await query(url, stmt)


async def open_reservations(url: str) -> list[Any]:
    return await query(url, sa.select(reservations_table))


async def assert_books_balance(url: str, name: str) -> tuple[Any, list[Any]]:
    """The key's used_nano equals its ledger's sum, stays within its quota, and nothing is left reserved."""
    key = await key_row(url, name)
    rows = await ledger(url, key.id)
    assert sum(row.cost_nano for row in rows) == key.used_nano
    if key.quota_nano is not None:
        assert key.used_nano <= key.quota_nano
    assert key.reserved_nano == 0
    assert await open_reservations(url) == []
    return key, rows


def billing_config(mock: MockUpstream, url: str, quota_usd: float = 1.0, **extra: Any) -> GatewayConfig:
    raw: dict[str, Any] = {
        "database_url": url,
        "keys": [{"name": "rich", "key": RICH}, {"name": "poor", "key": POOR, "quota_usd": quota_usd}],
        "prices": {MODEL: PRICE},
        **extra,
    }
    return make_config(mock.url, Path("unused.db"), **raw)


def chat_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


async def post(
    session: aiohttp.ClientSession, base: str, key: str, body: dict[str, Any], path: str = "/v1/chat/completions"
) -> tuple[int, dict[str, Any]]:
    headers = {"authorization": f"Bearer {key}", "x-api-key": key, "anthropic-version": "2023-06-01"}
    if path.startswith("/v1beta/"):
        headers = {"x-goog-api-key": key}
    async with session.post(f"{base}{path}", json=body, headers=headers) as response:
        raw = await response.read()
        if response.content_type == "text/event-stream":
            return response.status, {"stream": raw.decode()}
        return response.status, json.loads(raw)


async def insert_reservation(
    url: str, key_id: int, request_id: str, amount: int, input_nano: int, owner: int | None
) -> None:
    await execute(
        url,
        reservations_table.insert().values(
            request_id=request_id,
            key_id=key_id,
            amount_nano=amount,
            input_nano=input_nano,
            model=MODEL,
            created_at=utcnow(),
            owner=owner,
        ),
        api_keys_table.update()
        .where(api_keys_table.c.id == key_id)
        .values(reserved_nano=api_keys_table.c.reserved_nano + amount),
    )


class KeySpend:
    """What a key spent since ``begin`` (its ``used_nano`` then): one test's money on a shared gateway."""

    def __init__(self, url: str, name: str = "tester") -> None:
        self.url = url
        self.name = name
        self.start = 0

    async def begin(self, recorder: UsageRecorder | None = None) -> KeySpend:
        """Read the key's ``used_nano`` now; first, with the gateway's ``recorder``, write (and so settle) what
        earlier tests' requests left in its buffer, so none of it lands after this and counts as this test's."""
        if recorder is not None:
            await recorder.flush()
        self.start = (await key_row(self.url, self.name)).used_nano
        return self

    async def spent(self) -> int:
        return int((await key_row(self.url, self.name)).used_nano) - self.start


async def key_money(gateway: RunningGateway, key_id: int) -> dict[str, int]:
    """The key's row and the sums of its credits and its ledger, read from the database itself."""
    db: Database = gateway.app.gateway.db
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT quota_nano, used_nano, reserved_nano FROM api_keys WHERE id = :id"), {"id": key_id}
            )
        ).one()
        credits = (
            await conn.execute(
                text("SELECT COALESCE(SUM(amount_nano), 0) FROM credits WHERE key_id = :id"), {"id": key_id}
            )
        ).scalar_one()
        ledger = (
            await conn.execute(
                text("SELECT COALESCE(SUM(cost_nano), 0) FROM usage_records WHERE key_id = :id"), {"id": key_id}
            )
        ).scalar_one()
    return {
        "quota": row.quota_nano,
        "used": row.used_nano,
        "reserved": row.reserved_nano,
        "credits": int(credits),
        "ledger": int(ledger),
    }


async def settled(gateway: RunningGateway, key_id: int) -> dict[str, int]:
    """The key's money once every request's ledger row is written (no reservation left)."""
    for _ in range(200):
        money = await key_money(gateway, key_id)
        if money["reserved"] == 0 and money["used"] == money["ledger"] and money["ledger"] > 0:
            return money
        await asyncio.sleep(0.05)
    raise AssertionError(f"ledger not settled: {await key_money(gateway, key_id)}")
