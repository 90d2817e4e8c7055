"""Any client task API reaches any vendor: new-api's unified video route and Kling's native route, each
sent to every vendor channel of the video gateway (not only the vendor whose wire the dialect copies).
Each task runs to success through the real poller, its bytes are the mock vendor's MP4, and the books
balance with one usage row per task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.usage_rows import usage_rows
from tests.helpers.video_gateway import FIXED_SHAPE, VENDORS, made, mock_task, video_gateway

Fetch = Callable[[aiohttp.ClientSession, str], Awaitable[tuple[str, str | None]]]
"""One look at a task: its status word in the dialect and, once done, its video URL."""


async def _json(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    async with http.request(method, url, json=body, headers=headers) as answer:
        payload = await answer.json(content_type=None)
        assert answer.status == 200, (url, payload)
        return payload


async def _until_done(http: aiohttp.ClientSession, fetch: Fetch, done: str) -> str:
    for _ in range(400):
        status, url = await fetch(http, done)
        if status == done:
            assert url is not None
            return url
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {status}")


async def _unified(gw: RunningGateway, http: aiohttp.ClientSession, model: str, prompt: str) -> str:
    shape = {} if model in FIXED_SHAPE else {"size": "1280x720"}
    created = await _json(http, "POST", f"{gw.url}/v1/video/generations", {"model": model, "prompt": prompt, **shape})
    assert created["model"] == model and created["id"].startswith("task_")

    async def fetch(http: aiohttp.ClientSession, _: str) -> tuple[str, str | None]:
        got = await _json(http, "GET", f"{gw.url}/v1/video/generations/{created['id']}")
        data = got["data"]
        assert data["status"] != "FAILURE", data
        return data["status"], data.get("result_url")

    return await _until_done(http, fetch, "SUCCESS")


async def _kling(gw: RunningGateway, http: aiohttp.ClientSession, model: str, prompt: str) -> str:
    base = f"{gw.url}/kling/v1/videos/text2video"
    shape = {} if model in FIXED_SHAPE else {"aspect_ratio": "16:9"}
    created = await _json(http, "POST", base, {"model_name": model, "prompt": prompt, **shape})
    assert created["code"] == 0, created
    task_id = created["data"]["task_id"]

    async def fetch(http: aiohttp.ClientSession, _: str) -> tuple[str, str | None]:
        data = (await _json(http, "GET", f"{base}/{task_id}"))["data"]
        assert data["task_status"] != "failed", data
        videos = (data.get("task_result") or {}).get("videos") or [{}]
        return data["task_status"], videos[0].get("url")

    return await _until_done(http, fetch, "succeed")


async def _every_vendor(mock: MockUpstream, tmp_path: Path, dialect: str) -> None:
    create = {"unified": _unified, "kling": _kling}[dialect]
    async with video_gateway(mock, tmp_path) as gw, aiohttp.ClientSession() as http:

        async def one(model: str) -> None:
            prompt = f"{dialect} dialect to {model}: a harbour at night"
            url = await create(gw, http, model, prompt)
            assert url.startswith(gw.url), url  # a gateway URL, never the vendor's
            async with http.get(url) as answer:  # signed: no key needed
                assert answer.status == 200, (model, await answer.text())
                assert await answer.read() == made(mock_task(mock, prompt)), model

        await asyncio.gather(*(one(model) for model in VENDORS))
    rows = [row for row in await usage_rows(tmp_path / "gw.db") if row["request_id"].startswith("task_")]
    assert sorted(row["model"] for row in rows) == sorted(VENDORS)
    _, ledger = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert sum(row.cost_nano for row in ledger) > 0


async def test_the_unified_route_reaches_every_vendor(mock: MockUpstream, tmp_path: Path) -> None:
    await _every_vendor(mock, tmp_path, "unified")


async def test_klings_native_route_reaches_every_vendor(mock: MockUpstream, tmp_path: Path) -> None:
    await _every_vendor(mock, tmp_path, "kling")
