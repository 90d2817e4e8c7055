"""``GET /metrics`` on a real gateway: requests through the SDKs, the scrape parsed with prometheus_client's
own text parser, every count compared exactly with the ledger rows of the same requests."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import msgspec
import openai
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage.tasks_repo import insert_task
from tests.helpers.gateway_harness import RunningGateway, running_gateway
from tests.helpers.metrics import Samples, delta, ledger, value
from tests.helpers.metrics import scrape as scrape_any
from tests.helpers.postgres import postgres_database

DOCS = Path(__file__).resolve().parents[2] / "docs"
KEY = "sk-metrics-client-0001"
METRICS_KEY = "metrics-bearer-secret-9"
FLAKY_KEY = "sk-flaky-upstream-77"


def _config(mock_url: str, database_url: str) -> GatewayConfig:
    raw: dict[str, Any] = {
        "database_url": database_url,
        "usage_flush_interval": 0.05,
        "metrics_key": METRICS_KEY,
        "tasks": {"run_pollers": False},  # the task rows below are the test's, not a poller's
        "channels": [
            {
                "name": "mock-openai",
                "provider": "openai",
                "base_url": f"{mock_url}/v1",
                "api_keys": ["sk-upstream-metrics-1"],
                "models": ["gpt-4o-mini"],
            },
            {
                "name": "mock-flaky",
                "provider": "openai",
                "base_url": f"{mock_url}/v1",
                "api_keys": [FLAKY_KEY],
                "models": ["flaky-model"],
                "breaker": {"failures": 2, "window": 600, "cooldown": 600},
            },
        ],
        "keys": [{"name": "metrics-tester", "key": KEY}],
        "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.60}, "flaky-model": {"input": 1.0, "output": 2.0}},
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def metrics_gateway(
    request: pytest.FixtureRequest, mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    if request.param == "sqlite":
        async with running_gateway(_config(mock_upstream.url, f"sqlite:///{tmp_path_factory.mktemp('m')}/gw.db")) as gw:
            yield gw
        return
    async with postgres_database() as url, running_gateway(_config(mock_upstream.url, url)) as gw:
        yield gw


async def scrape(gateway: RunningGateway, key: str | None = METRICS_KEY) -> Samples:
    return await scrape_any(gateway, key)


async def test_every_request_counted_once_with_the_ledger_tokens_and_cost(metrics_gateway: RunningGateway) -> None:
    gw = metrics_gateway
    before = await scrape(gw)
    ids: set[str] = set()
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0) as client:
        for i in range(3):
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"plain {i}"}]
            )
            ids.add(raw.headers["x-request-id"])
        for i in range(2):
            async with client.chat.completions.with_streaming_response.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"streamed {i}"}],
                stream=True,
                stream_options={"include_usage": True},
            ) as streamed:
                ids.add(streamed.headers["x-request-id"])
                async for _ in streamed.iter_lines():
                    pass
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(model="no-such-model-x1", messages=[{"role": "user", "content": "?"}])
        ids.add(missing.value.response.headers["x-request-id"])
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=KEY, max_retries=0) as claude:
        for i in range(2):
            raw_message = await claude.messages.with_raw_response.create(
                model="gpt-4o-mini", max_tokens=64, messages=[{"role": "user", "content": f"anthropic {i}"}]
            )
            ids.add(raw_message.headers["x-request-id"])
    rows = await ledger(gw, ids)
    after = await scrape(gw)

    # One sample per (protocol, model, channel, status): the ledger's rows, each counted once.
    expected = Counter(
        (row["inbound_protocol"], row["model"] if row["channel"] else "other", row["channel"] or "",
         str(row["status_code"])) for row in rows
    )  # fmt: skip
    assert sum(expected.values()) == 8
    assert expected[("openai_chat", "gpt-4o-mini", "mock-openai", "200")] == 5
    assert expected[("openai_chat", "other", "", "404")] == 1  # a client's made-up name is no label
    for (protocol, model, channel, status), n in expected.items():
        labels = {"protocol": protocol, "model": model, "channel": channel, "status": status}
        assert delta(after, before, "omnirouter_requests_total", **labels) == n, labels
    total = sum(v for (name, _), v in after.items() if name == "omnirouter_requests_total")
    assert total - sum(v for (name, _), v in before.items() if name == "omnirouter_requests_total") == 8
    assert not any(dict(labels).get("model") == "no-such-model-x1" for _, labels in after)

    served = [row for row in rows if row["channel"]]
    for protocol in {row["inbound_protocol"] for row in rows}:
        mine = [row for row in served if row["inbound_protocol"] == protocol]
        labels = {"protocol": protocol, "model": "gpt-4o-mini"}
        assert delta(after, before, "omnirouter_request_duration_seconds_count", **labels) == len(mine)
        with_ttfb = [row for row in mine if row["ttfb_ms"] is not None]
        assert delta(after, before, "omnirouter_time_to_first_byte_seconds_count", **labels) == len(with_ttfb)
        assert len(with_ttfb) == len(mine)  # every answered request has a first byte
    for kind, column in (("input", "input_tokens"), ("output", "output_tokens"), ("cached", "cached_tokens"),
                         ("reasoning", "reasoning_tokens")):  # fmt: skip
        assert delta(after, before, "omnirouter_tokens_total", model="gpt-4o-mini", kind=kind) == sum(
            row[column] for row in served
        ), kind
    assert sum(row["input_tokens"] for row in served) > 0 and sum(row["output_tokens"] for row in served) > 0
    charged = sum(row["cost_nano"] for row in rows)
    assert charged > 0
    assert round(delta(after, before, "omnirouter_cost_usd_total", model="gpt-4o-mini") * 1e9) == charged
    assert value(after, "omnirouter_usage_backlog") == 0  # everything above is written


async def test_upstream_errors_and_the_breaker_by_channel(metrics_gateway: RunningGateway) -> None:
    gw = metrics_gateway
    before = await scrape(gw)
    assert value(before, "omnirouter_breaker_open", channel="mock-flaky") == 0
    assert ("omnirouter_breaker_open", (("channel", "mock-openai"),)) in before
    ids: set[str] = set()
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0) as client:
        for _ in range(2):  # two failures open the flaky channel's breaker (failures: 2)
            with pytest.raises(openai.InternalServerError) as failed:
                await client.chat.completions.create(
                    model="flaky-model", messages=[{"role": "user", "content": '[[mock {"fail": 500}]] hi'}]
                )
            ids.add(failed.value.response.headers["x-request-id"])
        with pytest.raises(openai.APIStatusError) as refused:  # breaker open: no attempt, no upstream error
            await client.chat.completions.create(model="flaky-model", messages=[{"role": "user", "content": "hi"}])
        ids.add(refused.value.response.headers["x-request-id"])
    rows = await ledger(gw, ids)
    after = await scrape(gw)
    assert delta(after, before, "omnirouter_upstream_errors_total", channel="mock-flaky", **{"class": "upstream"}) == 2
    assert (
        sum(v for (name, _), v in after.items() if name == "omnirouter_upstream_errors_total")
        - sum(v for (name, _), v in before.items() if name == "omnirouter_upstream_errors_total")
        == 2
    )
    assert value(after, "omnirouter_breaker_open", channel="mock-flaky") == 1
    assert value(after, "omnirouter_breaker_open", channel="mock-openai") == 0
    statuses = Counter(str(row["status_code"]) for row in rows)
    for status, n in statuses.items():
        labels = {"protocol": "openai_chat", "model": "flaky-model", "status": status}
        counted = sum(
            delta(after, before, "omnirouter_requests_total", channel=channel, **labels)
            for channel in ("mock-flaky", "")
        )
        assert counted == n, status
    assert delta(after, before, "omnirouter_cost_usd_total", model="flaky-model") == 0  # failures cost nothing
    assert sum(row["cost_nano"] for row in rows) == 0


async def test_in_flight_counts_a_request_held_at_the_upstream(metrics_gateway: RunningGateway) -> None:
    gw = metrics_gateway
    assert value(await scrape(gw), "omnirouter_in_flight_requests") == 0
    words = " ".join(["word"] * 200)  # 50 s if read to the end
    slow = f'[[mock {{"text": "{words}", "chunk_delay": 0.25}}]] slow'
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": slow}], stream=True
        )
        async with stream:
            await anext(aiter(stream))  # the answer has started: the request is at the upstream
            assert value(await scrape(gw), "omnirouter_in_flight_requests") == 1
        # The client left: the gateway's next write fails and the attempt ends.
    for _ in range(400):
        if value(await scrape(gw), "omnirouter_in_flight_requests") == 0:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the request stayed in flight after the client left")


async def test_task_gauges_count_live_tasks_and_the_most_overdue_poll(metrics_gateway: RunningGateway) -> None:
    gw = metrics_gateway
    db = gw.app.gateway.db
    now = time.time()
    base = dict.fromkeys(
        (
            "user_id",
            "upstream_id",
            "progress",
            "state",
            "last_error",
            "idempotency_key",
            "body_digest",
            "lease_owner",
            "lease_until",
            "finished_at",
            "callback_url",
            "deleted_at",
        )
    )
    base |= {"kind": "video", "key_id": 1, "protocol": "openai", "model": "m", "channel": "c", "upstream_model": "m",
             "request": "{}", "reserved_nano": 0, "cost_nano": 0, "poll_attempts": 0, "poll_errors": 0,
             "deadline_at": now + 3600, "created_at": now, "updated_at": now}  # fmt: skip
    tasks = [("queued", now + 600), ("queued", now - 250), ("running", now + 600), ("pending", now + 600),
             ("succeeded", None), ("failed", None)]  # fmt: skip
    async with db.engine.begin() as conn:
        for i, (status, next_poll) in enumerate(tasks):
            await insert_task(conn, {**base, "id": f"task_metrics_{i}", "status": status, "next_poll_at": next_poll})
    try:
        samples = await scrape(gw)
        assert value(samples, "omnirouter_tasks", state="queued") == 2
        assert value(samples, "omnirouter_tasks", state="running") == 1
        assert value(samples, "omnirouter_tasks", state="pending") == 1
        assert not any(dict(labels).get("state") in ("succeeded", "failed") for _, labels in samples)
        lag = value(samples, "omnirouter_task_poll_lag_seconds")
        assert 250 <= lag < 250 + 3600  # the overdue queued task, measured from its next_poll_at
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("DELETE FROM tasks WHERE id LIKE 'task_metrics_%'"))
    assert value(await scrape(gw), "omnirouter_task_poll_lag_seconds") == 0


async def test_the_metrics_key_is_required_when_set(metrics_gateway: RunningGateway) -> None:
    async with httpx.AsyncClient() as http:
        for headers in ({}, {"authorization": "Bearer wrong-key"}, {"authorization": METRICS_KEY},
                        {"authorization": f"Bearer {KEY}"}):  # fmt: skip
            response = await http.get(f"{metrics_gateway.url}/metrics", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "invalid_metrics_key"
            assert "omnirouter_" not in response.text
    assert await scrape(metrics_gateway)


async def test_metrics_are_open_without_a_metrics_key(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    config = _config(mock_upstream.url, f"sqlite:///{tmp_path}/gw.db")
    config.metrics_key = None
    async with running_gateway(config) as gw:
        async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "open"}]
            )
        await ledger(gw, {raw.headers["x-request-id"]})
        samples = await scrape(gw, key=None)
    labels = {"protocol": "openai_chat", "model": "gpt-4o-mini", "channel": "mock-openai", "status": "200"}
    assert value(samples, "omnirouter_requests_total", **labels) == 1  # a gateway of its own: its one request


async def test_docs_and_dashboard_name_exactly_the_exposed_metrics(metrics_gateway: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{metrics_gateway.url}/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "named"}]
        )
    await ledger(metrics_gateway, {raw.headers["x-request-id"]})
    headers = {"authorization": f"Bearer {METRICS_KEY}"}
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{metrics_gateway.url}/metrics", headers=headers)).text
    families = list(text_string_to_metric_families(text))
    documented_names = {family.name + ("_total" if family.type == "counter" else "") for family in families}
    series = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    allowed = {family.name + suffix for family in families for suffix in series[family.type]}
    docs = (DOCS / "observability.md").read_text()
    table = set(re.findall(r"^\| `(omnirouter_\w+)` \|", docs, re.MULTILINE))
    assert table == documented_names  # every exposed family in the table, nothing else
    assert len(table) == 11
    dashboard = json.loads((DOCS / "grafana" / "omnirouter-dashboard.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel.get("targets", [])
            for name in re.findall(r"omnirouter_\w+", target["expr"])}  # fmt: skip
    assert used <= allowed, used - allowed
    charted = {name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for name in used}
    assert charted == table  # the dashboard charts every metric


def test_observe_many_counts_exactly_as_observe_does_value_by_value() -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from omnirouter.observability.metrics import DURATION_BUCKETS, observe_many

    rng = random.Random(7)
    values = [0.0, *DURATION_BUCKETS, 600.0001, 1e9, 0.05000001, *(rng.uniform(0, 700) for _ in range(500))]
    one_by_one, at_once = CollectorRegistry(), CollectorRegistry()
    a = Histogram("h", "h", ("p",), buckets=DURATION_BUCKETS, registry=one_by_one)
    b = Histogram("h", "h", ("p",), buckets=DURATION_BUCKETS, registry=at_once)
    for v in values:
        a.labels("x").observe(v)
    observe_many(b.labels("x"), values)
    observe_many(b.labels("x"), [])
    assert generate_latest(at_once) == generate_latest(one_by_one)
