"""``omnirouter serve --workers 2`` as a user runs it: every scrape, whichever worker serves it, counts every
worker's requests exactly once; the request log is JSON, one line per request, and no key reaches it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from pathlib import Path

import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.processes import free_port, start, stop, wait_healthy

CLIENT_KEY = "sk-workers-client-0042"
UPSTREAM_KEY = "upstream-workers-secret-77"  # not shaped like a key: only the config's list masks it


def _workers(parent: int) -> list[int]:
    """The pids of the serving workers of the ``omnirouter serve`` process ``parent`` (uvicorn spawns them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _requests_total(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "omnirouter_requests_total"
    )


async def test_two_workers_one_exact_count_and_json_request_lines(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    port = free_port()
    temp = tmp_path / "tmp"  # the run's metrics directory is made here (TMPDIR), and must be gone after
    temp.mkdir()
    config = tmp_path / "omnirouter.yaml"
    config.write_text(
        f"""
database_url: sqlite:///{tmp_path}/gw.db
usage_flush_interval: 0.05
log_format: json
channels:
  - name: up-openai
    provider: openai
    base_url: {mock_upstream.url}/v1
    api_keys: [{UPSTREAM_KEY}]
    models: [gpt-4o-mini]
keys:
  - name: workers-tester
    key: {CLIENT_KEY}
prices:
  gpt-4o-mini: {{input: 0.15, output: 0.60}}
"""
    )
    process = start(
        ["serve", "--config", str(config), "--port", str(port), "--workers", "2"], tmp_path, env={"TMPDIR": str(temp)}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_healthy, port, process)
        assert len(list(temp.glob("omnirouter-metrics-*"))) == 1
        workers: set[str] = set()
        sent = 0
        while len(workers) < 2 or sent < 12:  # a new connection each time: the kernel spreads them
            assert sent < 300, "every request went to one worker"
            async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
                raw = await client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{sent}"}]
                )
            workers.add(raw.headers["x-request-id"][-8:])  # the id ends with its process's tag
            sent += 1
        for _ in range(400):  # every ledger row written: each worker has handed its records to the metrics
            with sqlite3.connect(tmp_path / "gw.db") as conn:
                if conn.execute("select count(*) from usage_records").fetchone()[0] == sent:
                    break
            await asyncio.sleep(0.05)
        totals = []
        for _ in range(8):  # new connections: the scrapes are served by both workers
            async with httpx.AsyncClient() as http:
                response = await http.get(f"{url}/metrics")
            assert response.status_code == 200
            totals.append(_requests_total(response.text))
        assert totals == [sent] * 8
        # The live gauges are one series each, added up (or maxed) over the workers, not one per process.
        gauges = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(response.text)
            if family.type == "gauge"
            for sample in family.samples
        ]
        assert ("omnirouter_breaker_open", {"channel": "up-openai"}, 0.0) in gauges
        assert [g for g in gauges if g[0] == "omnirouter_in_flight_requests"] == [
            ("omnirouter_in_flight_requests", {}, 0.0)
        ]
        assert [g for g in gauges if g[0] == "omnirouter_usage_backlog"] == [("omnirouter_usage_backlog", {}, 0.0)]
        assert ("omnirouter_tasks", {"state": "queued"}, 0.0) in gauges

        # A worker killed outright: uvicorn starts another; what the dead one served is still counted once,
        # and its live gauges are gone.
        victim = _workers(process.pid)[0]
        directory = next(temp.glob("omnirouter-metrics-*"))
        assert list(directory.glob(f"gauge_live*_{victim}.db"))  # its live gauges, written every second
        os.kill(victim, signal.SIGKILL)
        for _ in range(600):
            current = _workers(process.pid)
            if victim not in current and len(current) == 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no worker replaced the killed one")
        for _ in range(8):
            async with httpx.AsyncClient() as http:
                response = await http.get(f"{url}/metrics")
            assert _requests_total(response.text) == sent
        assert not list(directory.glob(f"gauge_live*_{victim}.db"))
    finally:
        out = await asyncio.to_thread(stop, process)
    assert not list(temp.glob("omnirouter-metrics-*"))  # the run's directory is removed
    assert CLIENT_KEY not in out and UPSTREAM_KEY not in out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "omnirouter.requests"]
    assert len(requests) == sent
    assert {line["key"] for line in requests} == {"workers-tester"}
    assert all(line["status"] == 200 and line["model"] == "gpt-4o-mini" for line in requests)
    assert all(line["channel"] == "up-openai" and line["latency_ms"] >= 0 for line in requests)
    assert len({line["request_id"][-8:] for line in requests}) == 2  # both workers wrote their own
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's lines are JSON too
