"""Scraping ``GET /metrics`` (parsed with prometheus_client's own text parser) and waiting for ledger rows."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from omnirouter.storage import Database, normalize_database_url, usage_records_table
from tests.helpers.gateway_harness import RunningGateway

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""Sample values by (sample name, sorted label pairs)."""


async def scrape(gateway: RunningGateway, key: str | None = None) -> Samples:
    """Every sample of one scrape (``key``: the metrics key, sent as a bearer token)."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{gateway.url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the scrape has no such sample)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def ledger(gateway: RunningGateway, request_ids: set[str]) -> list[dict[str, Any]]:
    """The usage rows of ``request_ids``, once all of them are written (the recorder batches)."""
    db = Database(normalize_database_url(gateway.app.gateway.config.database_url))
    table = usage_records_table
    try:
        for _ in range(400):
            async with db.engine.connect() as conn:
                rows = (await conn.execute(sa.select(table).where(table.c.request_id.in_(request_ids)))).all()
            if len(rows) == len(request_ids):
                return [dict(row._mapping) for row in rows]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(request_ids)} requests, {len(rows)} usage rows")
    finally:
        await db.close()
