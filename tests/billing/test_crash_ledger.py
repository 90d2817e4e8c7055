"""The ledger keeps every request a client was told succeeded: a gateway killed with SIGKILL mid-load,
restarted, and the books summed; hostile usage and prices cannot stall the ledger either."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import sqlalchemy as sa
import yaml

from omnirouter.billing.money import TASK_HOLDER
from omnirouter.ir import MAX_TOKENS
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import Database, normalize_database_url, reservations_table
from omnirouter.usage import UNSETTLED_AFTER_RESTART
from omnirouter.usage.replay import INTERRUPTED
from tests.helpers.admin_client import ADMIN_KEY
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
    query,
)
from tests.helpers.gateway_harness import UPSTREAM_KEY, running_gateway
from tests.helpers.processes import free_port, stop, wait_healthy
from tests.helpers.usage_rows import refuse_model


def serve(config: Path, port: int, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "omnirouter.cli", "serve", "--config", str(config), "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def chat(session: aiohttp.ClientSession, base: str, key: str, text: str) -> tuple[int, str | None]:
    try:
        async with session.post(
            f"{base}/v1/chat/completions",
            json=chat_body(text, max_tokens=16),
            headers={"authorization": f"Bearer {key}"},
        ) as response:
            await response.read()
            return response.status, response.headers.get("x-request-id")
    except aiohttp.ClientError:
        return 0, None  # the gateway died under this request


async def test_sigkill_mid_load_loses_no_completed_request(
    mock: MockUpstream, tmp_path: Path, database_url: str
) -> None:
    config = tmp_path / "omnirouter.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": database_url,
                "usage_flush_interval": 30,  # finished requests wait in memory (and in the journal) when killed
                "usage_journal_dir": str(tmp_path / "journal"),
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
                "keys": [{"name": "rich", "key": RICH}, {"name": "poor", "key": POOR, "quota_usd": 1.0}],
                "prices": {MODEL: PRICE},
            }
        )
    )
    port = free_port()
    process = serve(config, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_healthy, port, process)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            slow = [
                asyncio.ensure_future(chat(session, base, key, f'slow {i} [[mock {{"delay": 10}}]]'))
                for i, key in enumerate([RICH, POOR] * 5)
            ]
            quick = await asyncio.gather(
                *(chat(session, base, RICH if i % 2 else POOR, f"quick {i}") for i in range(200))
            )
            await asyncio.sleep(0.5)  # the slow ones are surely in flight upstream now
            os.kill(process.pid, signal.SIGKILL)
            out, _ = process.communicate(timeout=30)
            assert [status for status, _ in await asyncio.gather(*slow)] == [0] * 10
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    completed = {request_id for status, request_id in quick if status == 200}
    assert len(completed) == 200, quick[:3]
    # The restart replays the journal, then recovers the reservations of requests that never finished.
    process = serve(config, port, tmp_path)
    try:
        await asyncio.to_thread(wait_healthy, port, process)
    finally:
        out = await asyncio.to_thread(stop, process)
    assert "Traceback" not in out, out
    rows = {row.request_id: row for row in await ledger(database_url)}
    assert completed <= set(rows), f"{len(completed - set(rows))} completed requests have no ledger row"
    assert all(rows[request_id].status_code == 200 for request_id in completed)
    in_flight = [row for request_id, row in rows.items() if request_id not in completed]
    assert sorted((row.key_name, row.error_kind) for row in in_flight) == sorted(
        [("rich", INTERRUPTED)] * 5 + [("poor", UNSETTLED_AFTER_RESTART)] * 5
    )
    for name in ("rich", "poor"):
        await assert_books_balance(database_url, name)
    assert list((tmp_path / "journal").glob("*.jnl")) == []


async def test_absurd_usage_and_prices_cannot_stall_the_ledger(mock: MockUpstream, database_url: str) -> None:
    async with (
        running_gateway(billing_config(mock, database_url, admin_key=ADMIN_KEY)) as gw,
        aiohttp.ClientSession() as s,
    ):
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        absurd = {"model": "pricey", "input": 1e300, "output": 1e300}
        async with s.post(f"{gw.url}/admin/prices", json=absurd, headers=admin) as response:
            assert response.status == 400
            assert "input" in (await response.json())["error"]["message"]
        statuses = []
        for i in range(8):
            text = f"normal {i}"
            if i == 3:  # an upstream reporting 10^19 prompt tokens
                text += ' [[mock {"usage": {"input": 10000000000000000000, "output": 7}}]]'
            for key in (RICH, POOR):
                status, _ = await post(s, gw.url, key, chat_body(text, max_tokens=16))
                statuses.append(status)
        assert statuses == [200] * 16
    for name in ("rich", "poor"):
        key, rows = await assert_books_balance(database_url, name)
        assert len(rows) == 8 and all(row.status_code == 200 for row in rows)
    huge = [row for row in await ledger(database_url) if row.input_tokens == MAX_TOKENS]
    assert len(huge) == 2
    rich_huge = next(row for row in huge if row.key_name == "rich")
    assert rich_huge.cost_nano == MAX_TOKENS * 1000 + 7 * 2000  # clamped tokens at PRICE, exactly
    assert await query(database_url, sa.text("SELECT * FROM usage_dead_letters")) == []


async def test_a_record_the_database_refuses_is_set_aside_and_listed(mock: MockUpstream, database_url: str) -> None:
    config = billing_config(mock, database_url, admin_key=ADMIN_KEY)
    async with running_gateway(config):
        pass  # migrated
    async with Database(normalize_database_url(database_url)) as db:
        await refuse_model(db, "gpt-test-refused")
    async with running_gateway(config) as gw, aiohttp.ClientSession() as s:
        for i, model in enumerate(["gpt-4o-mini"] * 4 + ["gpt-test-refused"] + ["gpt-4o-mini"] * 4):
            status, _ = await post(s, gw.url, RICH if i % 2 else POOR, {**chat_body(f"n{i}"), "model": model})
            assert status == 200
        await gw.app.gateway.recorder.flush()
        async with s.get(f"{gw.url}/admin/dead-letters", headers={"authorization": f"Bearer {ADMIN_KEY}"}) as r:
            assert r.status == 200
            letters = (await r.json())["data"]
    assert [(letter["record"]["model"], letter["key_id"] is not None) for letter in letters] == [
        ("gpt-test-refused", True)
    ]
    assert "refused by the test" in letters[0]["error"]
    for name in ("rich", "poor"):
        await assert_books_balance(database_url, name)
    assert len(await ledger(database_url)) == 8


async def test_recovery_at_start_leaves_task_held_reservations_alone(mock: MockUpstream, database_url: str) -> None:
    config = billing_config(mock, database_url)
    async with running_gateway(config):
        pass
    poor = await key_row(database_url, "poor")
    await insert_reservation(database_url, poor.id, "req_dead_request", 50_000, 7_000, owner=123)
    await insert_reservation(database_url, poor.id, "task_video_1", 900_000, 0, owner=123)
    await execute(
        database_url,
        reservations_table.update().where(reservations_table.c.request_id == "task_video_1").values(holder=TASK_HOLDER),
    )
    async with running_gateway(config):
        pass  # start-up recovery ran
    assert [row.request_id for row in await open_reservations(database_url)] == ["task_video_1"]
    key = await key_row(database_url, "poor")
    assert (key.reserved_nano, key.used_nano) == (900_000, 7_000)
    rows = await ledger(database_url, key.id)
    assert [(row.request_id, row.error_kind) for row in rows] == [("req_dead_request", UNSETTLED_AFTER_RESTART)]
