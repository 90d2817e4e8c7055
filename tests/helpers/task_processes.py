"""Gateways as child processes for the whole-process task tests: a config file on the mock's Kling and
Veo (``task_gateway.task_config``) with short leases, start / kill / restart, and reads of the task,
ledger and reservation rows the processes left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from omnirouter.storage import api_keys_table, reservations_table, usage_records_table
from omnirouter.storage.tasks_repo import tasks_table
from tests.helpers.billing import query
from tests.helpers.processes import OMNIROUTER, free_port, wait_healthy
from tests.helpers.task_gateway import task_config

__all__ = [
    "Books",
    "GatewayProcess",
    "WorkerProcess",
    "books",
    "count_tasks",
    "task_rows",
    "wait_until",
    "write_config",
]

FAST_LEASES = {"http_timeout": 1.0, "submit_grace": 2.0, "poll_interval": 0.05}
"""Leases of 4 s (4 x the poll timeout) and a 2 s submit grace: a dead process's tasks are taken over fast."""


def write_config(mock_url: str, folder: Path, database_url: str, *, quota_usd: float = 10.0, **tasks: Any) -> Path:
    """The gateway's YAML config in ``folder`` (results in ``folder / 'results'``) on ``database_url``; the
    ``tester`` key's quota is ``quota_usd``."""
    raw = task_config(mock_url, folder, **{**FAST_LEASES, **tasks})
    raw["database_url"] = database_url
    raw["keys"][0]["quota_usd"] = quota_usd
    raw["log_level"] = "warning"
    path = folder / "omnirouter.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@dataclass
class GatewayProcess:
    """``omnirouter serve`` on ``config``, its output in a log file beside it (a pipe nobody reads could
    fill and stall it); ``crash_at`` sets ``OMNIROUTER_CRASH_AT`` for one run."""

    config: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.config.parent / f"gateway-{self.port}.log"

    @property
    def output(self) -> str:
        """Everything every run of this gateway printed."""
        return self.log.read_text() if self.log.exists() else ""

    async def start(self, crash_at: str | None = None) -> None:
        env = {**os.environ, "OMNIROUTER_CRASH_AT": crash_at or ""}
        args = [*OMNIROUTER, "serve", "--config", str(self.config), "--port", str(self.port)]
        with self.log.open("a") as out:
            self.process = subprocess.Popen(args, cwd=self.config.parent, stdout=out, stderr=subprocess.STDOUT,
                                            text=True, env=env)  # fmt: skip
        self.runs += 1
        await asyncio.to_thread(wait_healthy, self.port, self.process)

    async def died(self, within: float = 30.0) -> int:
        """Wait for the process to end by itself (or by ``kill``); its exit status."""
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait, within)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM and wait (a no-op when it already ended)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, 30)


@dataclass
class WorkerProcess:
    """``omnirouter tasks work`` on ``config`` (a poll-only worker, no HTTP), its output in a log file."""

    config: Path
    name: str = "worker"
    process: subprocess.Popen[str] | None = None

    @property
    def log(self) -> Path:
        return self.config.parent / f"{self.name}.log"

    @property
    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    async def start(self) -> None:
        """Start it and wait until it says it runs."""
        args = [*OMNIROUTER, "tasks", "work", "--config", str(self.config)]
        with self.log.open("a") as out:
            self.process = subprocess.Popen(args, cwd=self.config.parent, stdout=out, stderr=subprocess.STDOUT,
                                            text=True)  # fmt: skip
        process = self.process

        async def running() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the worker exited early: {self.output}")
            return "task worker" in self.output and "running" in self.output

        await wait_until(running, within=60)

    async def stop(self, signum: int = signal.SIGTERM) -> int | None:
        """Send ``signum`` and wait; its exit status (None when it never started)."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signum)
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, 30)
        return process.returncode


async def task_rows(url: str) -> list[Any]:
    """Every task row, oldest first."""
    return await query(url, sa.select(tasks_table).order_by(tasks_table.c.created_at, tasks_table.c.id))


async def count_tasks(url: str, status: str) -> int:
    """How many tasks are in ``status``."""
    (row,) = await query(url, sa.select(sa.func.count()).select_from(tasks_table).where(tasks_table.c.status == status))
    return int(row[0])


async def wait_until(check: Any, *, within: float = 60.0, every: float = 0.1) -> Any:
    """Call the async ``check`` until it answers something truthy (fail after ``within`` seconds)."""
    async with asyncio.timeout(within):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(every)


@dataclass
class Books:
    """A key's money after the processes stopped."""

    quota_nano: int
    used_nano: int
    reserved_nano: int
    ledger: list[Any]
    reservations: list[Any]

    @property
    def balance_nano(self) -> int:
        return self.quota_nano - self.used_nano


async def books(url: str, key_name: str) -> Books:
    """The key's quota, use, reservation, ledger rows and open reservations."""
    (key,) = await query(url, sa.select(api_keys_table).where(api_keys_table.c.name == key_name))
    ledger = await query(
        url, sa.select(usage_records_table).where(usage_records_table.c.key_id == key.id).order_by("id")
    )
    reservations = await query(url, sa.select(reservations_table).where(reservations_table.c.key_id == key.id))
    return Books(key.quota_nano, key.used_nano, key.reserved_nano, ledger, reservations)
