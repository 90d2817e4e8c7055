"""What the Omni-Image task tests share: their module-scoped gateway (the raw config of ``task_config`` with
the module's image channels, on SQLite or PostgreSQL), the client of one test, the create / wait / charge
steps over real HTTP (the gateway serves the whole module: money is asserted per task and as the key's
``billing.KeySpend``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import ledger
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.task_gateway import task_gateway_of, until

__all__ = ["charged", "create_image_task", "finished_image_task", "image_gateway", "image_http"]


@contextlib.asynccontextmanager
async def image_gateway(
    raw: dict[str, Any], backend: str, postgres_url: str
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """``task_gateway_of`` with tasks polled every 20 to 50 ms; and its database URL."""
    raw["tasks"] |= {"poll_first": 0.02, "poll_max": 0.05}
    async with task_gateway_of(raw, backend, postgres_url) as served:
        yield served


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
