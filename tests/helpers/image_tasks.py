"""What the Omni-Image task tests share: their module-scoped gateway (the raw config of ``task_config`` with
the module's image channels, on SQLite or PostgreSQL), the client of one test, the create / wait / charge
steps over real HTTP, and a key's spending since the test began (the gateway serves the whole module, so
money is asserted as a delta of the key's ``used_nano``, besides each task's own ledger rows)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import key_row, ledger
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, running_gateway
from tests.helpers.postgres import reset_postgres
from tests.helpers.task_gateway import until

__all__ = ["KeySpend", "charged", "create_image_task", "finished_image_task", "image_gateway", "image_http"]


@contextlib.asynccontextmanager
async def image_gateway(
    raw: dict[str, Any], backend: str, postgres_url: str
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """The gateway of ``raw`` (a ``task_config`` with the module's channels and prices) polling fast, on
    ``backend`` (``sqlite`` or ``postgresql``: the session's database emptied); and its database URL."""
    raw["tasks"] |= {"poll_first": 0.02, "poll_max": 0.05}
    if backend == "postgresql":
        raw["database_url"] = await reset_postgres(postgres_url)
    async with running_gateway(msgspec.convert(raw, GatewayConfig)) as running:
        running.app.gateway.task_poller.interval = 0.02
        yield running, raw["database_url"]


@contextlib.asynccontextmanager
async def image_http(running: RunningGateway, mock: MockUpstream) -> AsyncIterator[httpx.AsyncClient]:
    """One test's client of the gateway with the test key (the mock's log and script cleared first)."""
    mock.requests.clear()
    mock.clear_script()
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=30) as client:
        yield client


async def create_image_task(http: httpx.AsyncClient, body: dict[str, Any], path: str = "/v1/images/generations") -> Any:
    """``POST {path}?async=true``: the task, just created (queued or running, no error, no images yet)."""
    response = await http.post(path, params={"async": "true"}, json=body)
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["id"] == task["task_id"] and task["object"] == "image.generation.task"
    assert task["status"] in ("queued", "in_progress") and task["model"] == body["model"]
    assert task["error"] is None and "data" not in task
    return task


async def finished_image_task(http: httpx.AsyncClient, task_id: str, prefix: str = "/v1") -> Any:
    """The task once it completed or failed (read through ``GET {prefix}/images/generations/{id}``)."""

    async def done() -> Any:
        response = await http.get(f"{prefix}/images/generations/{task_id}")
        assert response.status_code == 200, response.text
        task = response.json()
        return task if task["status"] in ("completed", "failed") else None

    return await until(done, within=15)


async def charged(url: str, task_id: str) -> list[int]:
    """The costs of the task's ledger rows, once there are any."""

    async def settled() -> Any:
        rows = [row for row in await ledger(url) if row.request_id == task_id]
        return rows or None

    return [row.cost_nano for row in await until(settled)]


class KeySpend:
    """What a key spent since ``begin`` (its ``used_nano`` then): one test's money on a shared gateway."""

    def __init__(self, url: str, name: str = "tester") -> None:
        self.url = url
        self.name = name
        self.start = 0

    async def begin(self) -> KeySpend:
        self.start = (await key_row(self.url, self.name)).used_nano
        return self

    async def spent(self) -> int:
        return int((await key_row(self.url, self.name)).used_nano) - self.start
