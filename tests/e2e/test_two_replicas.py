"""Two ``omnirouter serve`` processes on one PostgreSQL and one Redis: per-key limits hold across them."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiohttp

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.postgres import postgres_database
from tests.helpers.processes import free_port, stop, wait_healthy
from tests.helpers.processes import start as start_cli
from tests.helpers.redis_helpers import REDIS_URL, redis_prefix

RPM_KEY = "sk-replicas-rpm-0001"
CONCURRENT_KEY = "sk-replicas-concurrent-0001"


async def chat(session: aiohttp.ClientSession, port: int, key: str, text: str = "hi") -> tuple[int, str | None]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    async with session.post(url, json=body, headers={"authorization": f"Bearer {key}"}) as response:
        await response.read()
        return response.status, response.headers.get("retry-after")


async def test_two_processes_share_rpm_and_concurrency_limits(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    async with postgres_database() as database_url, redis_prefix() as (_, prefix):
        config = tmp_path / "omnirouter.yaml"
        config.write_text(
            f"""
database_url: {database_url}
redis_url: {REDIS_URL}
redis_prefix: "{prefix}"
channels:
  - name: up-openai
    provider: openai
    base_url: {mock_upstream.url}/v1
    api_keys: [sk-upstream-replicas]
    models: [gpt-4o-mini]
keys:
  - {{name: rpm-ten, key: {RPM_KEY}, rpm: 10}}
  - {{name: two-at-a-time, key: {CONCURRENT_KEY}, max_concurrent: 2}}
"""
        )
        ports = [free_port(), free_port()]
        processes: list[subprocess.Popen[str]] = []
        try:
            for port in ports:  # one after the other: the second finds the schema migrated
                process = start_cli(["serve", "--config", str(config), "--port", str(port)], tmp_path)
                processes.append(process)
                await asyncio.to_thread(wait_healthy, port, process)

            async with aiohttp.ClientSession() as session:
                # 30 requests alternating between the processes, well within one minute: exactly 10 pass.
                results = [await chat(session, ports[i % 2], RPM_KEY, f"n{i}") for i in range(30)]
                statuses = [status for status, _ in results]
                assert statuses.count(200) == 10 and statuses.count(429) == 20, statuses
                assert statuses[:10] == [200] * 10  # each process served 5, then both refuse
                assert all(1 <= int(retry or 0) <= 60 for status, retry in results if status == 429)

                # 6 slow requests at once, 3 to each process: 2 run, 4 are refused while they do.
                slow = '[[mock {"delay": 1.0}]]'
                results = await asyncio.gather(*(chat(session, ports[i % 2], CONCURRENT_KEY, slow) for i in range(6)))
                statuses = [status for status, _ in results]
                assert statuses.count(200) == 2 and statuses.count(429) == 4, statuses
                # Both slots were given back, whichever process held them.
                assert [(await chat(session, port, CONCURRENT_KEY))[0] for port in ports] == [200, 200]
        finally:
            for process in processes:
                await asyncio.to_thread(stop, process)
