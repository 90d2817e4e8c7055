"""``omnirouter tasks list|show|cancel`` as subprocesses, beside a running gateway with Kling tasks."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import msgspec
import orjson

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance, key_row
from tests.helpers.gateway_harness import running_gateway
from tests.helpers.processes import run_cli
from tests.helpers.task_gateway import KLING_MODEL, call, task_config


async def test_tasks_list_show_cancel(tmp_path: Path, mock: MockUpstream) -> None:
    raw = task_config(mock.url, tmp_path, poll_first=600, poll_max=600)  # nobody polls: the task stays queued
    config_file = tmp_path / "omnirouter.yaml"
    config_file.write_bytes(orjson.dumps(raw))  # JSON is YAML
    config = str(config_file)
    db_url = raw["database_url"]
    async with running_gateway(msgspec.convert(raw, GatewayConfig)) as gateway, aiohttp.ClientSession() as session:
        body = {"model_name": KLING_MODEL, "prompt": "a cat", "duration": "5"}
        status, created = await call(session, "POST", f"{gateway.url}/kling/v1/videos/text2video", body=body)
        assert status == 200, created
        task_id = created["data"]["task_id"]

        listed = await run_cli("tasks", "list", "--config", config)
        assert listed.returncode == 0, listed.stderr
        [header, row] = listed.stdout.strip().splitlines()[:1] + [
            line for line in listed.stdout.splitlines() if task_id in line
        ]
        assert header.split()[:3] == ["ID", "STATUS", "PROGRESS"] and "queued" in row and "kling-main" in row
        empty = await run_cli("tasks", "list", "--status", "succeeded", "--config", config)
        assert empty.returncode == 0 and empty.stdout.strip() == "No tasks."

        shown = await run_cli("tasks", "show", task_id, "--config", config)
        assert shown.returncode == 0, shown.stderr
        view = orjson.loads(shown.stdout)
        assert (view["id"], view["status"], view["channel"]) == (task_id, "queued", "kling-main")
        assert view["reserved_usd"] > 0 and view["upstream_id"]
        assert (await key_row(db_url, "tester")).reserved_nano > 0

        cancelled = await run_cli("tasks", "cancel", task_id, "--config", config)
        assert cancelled.returncode == 0, cancelled.stderr
        assert task_id in cancelled.stdout and "cancelled" in cancelled.stdout
        again = await run_cli("tasks", "cancel", task_id, "--config", config)
        assert again.returncode == 1 and "already cancelled" in again.stderr
        missing = await run_cli("tasks", "show", "task_nope", "--config", config)
        assert missing.returncode == 1 and "task_nope" in missing.stderr

        _, seen = await call(session, "GET", f"{gateway.url}/kling/v1/videos/text2video/{task_id}")
        assert seen["data"]["task_status"] == "failed"
        usage = await run_cli("usage", "--config", config)
        assert usage.returncode == 0, usage.stderr
        assert usage.stdout.strip().splitlines()[-1] == "Tasks: cancelled 1"
    key, rows = await assert_books_balance(db_url, "tester")
    assert key.used_nano == 0 and [row.cost_nano for row in rows] == [0]
