"""The mock midjourney-proxy over real HTTP: auth, submit codes, the scripted timeline, buttons and their
actions (with the MODAL dialog), list-by-condition, the result PNGs and notifyHook pushes."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_midjourney import GRID_SIZE
from tests.helpers.local_http import serving

SECRET = {"mj-api-secret": "mj-secret"}


@pytest.fixture
async def session(mock_upstream: MockUpstream) -> AsyncIterator[aiohttp.ClientSession]:
    mock_upstream.clear_script()
    async with aiohttp.ClientSession(base_url=mock_upstream.url) as s:
        yield s


async def _post(session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
    async with session.post(path, json=body, headers=SECRET) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _fetch(session: aiohttp.ClientSession, task_id: str) -> Any:
    async with session.get(f"/mj/task/{task_id}/fetch", headers=SECRET) as r:
        assert r.status == 200
        return await r.json()


async def _finish(session: aiohttp.ClientSession, task_id: str) -> dict[str, Any]:
    seen = []
    for _ in range(10):
        task = await _fetch(session, task_id)
        seen.append(task["status"])
        if task["status"] in ("SUCCESS", "FAILURE"):
            return dict(task, seen=seen)
    raise AssertionError(seen)


async def test_auth_is_the_mj_api_secret_header(session: aiohttp.ClientSession) -> None:
    async with session.post("/mj/submit/imagine", json={"prompt": "a cat"}) as r:
        assert r.status == 401
        assert await r.text() == "Authorization header missing."
    async with session.post("/mj/submit/imagine", json={"prompt": "a cat"}, headers={"mj-api-secret": "bad"}) as r:
        assert r.status == 401 and await r.text() == "Authorization header missing."


async def test_imagine_runs_its_timeline_to_a_grid_png_with_buttons(session: aiohttp.ClientSession) -> None:
    submitted = await _post(session, "/mj/submit/imagine", {"prompt": "a cat", "state": "mine"})
    assert submitted["code"] == 1 and submitted["description"] == "Submit success"
    task_id = submitted["result"]
    first = await _fetch(session, task_id)
    assert first["status"] == "SUBMITTED" and first["progress"] == "0%" and first["state"] == "mine"
    task = await _finish(session, task_id)
    assert task["seen"] == ["IN_PROGRESS", "SUCCESS"]
    assert task["progress"] == "100%" and task["action"] == "IMAGINE" and task["failReason"] is None
    assert task["submitTime"] <= task["startTime"] <= task["finishTime"]
    labels = [b["label"] for b in task["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    assert task["buttons"][0]["customId"].startswith("MJ::JOB::upsample::1::")
    async with session.get(task["imageUrl"]) as r:
        assert r.status == 200 and r.content_type == "image/png"
        assert Image.open(io.BytesIO(await r.read())).size == (2 * GRID_SIZE, 2 * GRID_SIZE)


async def test_scripted_failure_queue_and_banned_codes(session: aiohttp.ClientSession) -> None:
    body = {"prompt": 'a cat [[mock {"body_error": true, "message": "Banned prompt", "pending_polls": 0}]]'}
    failed = await _finish(session, (await _post(session, "/mj/submit/imagine", body))["result"])
    assert failed["status"] == "FAILURE" and failed["failReason"] == "Banned prompt" and failed["imageUrl"] is None
    queued = await _post(session, "/mj/submit/imagine", {"prompt": 'x [[mock {"code": "22"}]]'})
    assert queued["code"] == 22 and queued["result"]
    banned = await _post(session, "/mj/submit/imagine", {"prompt": 'x [[mock {"code": "24"}]]'})
    assert banned["code"] == 24 and banned["result"] is None
    empty = await _post(session, "/mj/submit/imagine", {"prompt": ""})
    assert empty["code"] == 4
    async with session.get("/mj/task/nope/fetch", headers=SECRET) as r:
        assert r.status == 200 and await r.json() is None


async def test_upscale_then_a_zoom_waits_in_modal(session: aiohttp.ClientSession) -> None:
    grid = await _finish(session, (await _post(session, "/mj/submit/imagine", {"prompt": "a dog"}))["result"])
    upsample = grid["buttons"][1]["customId"]
    up = await _post(session, "/mj/submit/action", {"taskId": grid["id"], "customId": upsample})
    assert up["code"] == 1
    single = await _finish(session, up["result"])
    assert single["action"] == "UPSCALE"
    async with session.get(single["imageUrl"]) as r:
        assert Image.open(io.BytesIO(await r.read())).size == (GRID_SIZE, GRID_SIZE)
    zoom = next(b["customId"] for b in single["buttons"] if b["customId"].startswith("MJ::Outpaint::50::1::"))
    waiting = await _post(session, "/mj/submit/action", {"taskId": single["id"], "customId": zoom})
    assert waiting["code"] == 21 and waiting["description"] == "Waiting for window confirm"
    assert (await _fetch(session, waiting["result"]))["status"] == "MODAL"
    assert (await _fetch(session, waiting["result"]))["status"] == "MODAL"  # a poll does not move it
    ok = await _post(session, "/mj/submit/modal", {"taskId": waiting["result"], "prompt": "a dog, wider"})
    assert ok["code"] == 1
    zoomed = await _finish(session, waiting["result"])
    assert zoomed["action"] == "ZOOM" and zoomed["prompt"] == "a dog, wider"
    wrong = await _post(session, "/mj/submit/action", {"taskId": single["id"], "customId": "MJ::JOB::nope::1"})
    assert wrong["code"] == 4


async def test_change_simple_change_describe_blend_shorten(session: aiohttp.ClientSession) -> None:
    grid = await _finish(session, (await _post(session, "/mj/submit/imagine", {"prompt": "a bird"}))["result"])
    var = await _post(session, "/mj/submit/change", {"taskId": grid["id"], "action": "VARIATION", "index": 3})
    assert (await _finish(session, var["result"]))["action"] == "VARIATION"
    up = await _post(session, "/mj/submit/simple-change", {"content": f"{grid['id']} U4"})
    assert (await _finish(session, up["result"]))["action"] == "UPSCALE"
    assert (await _post(session, "/mj/submit/change", {"taskId": "nope", "action": "UPSCALE", "index": 1}))["code"] == 3
    assert (await _post(session, "/mj/submit/simple-change", {"content": "x"}))["code"] == 4
    described = await _finish(session, (await _post(session, "/mj/submit/describe", {"base64": "data:..."}))["result"])
    assert described["properties"]["finalPrompt"].startswith("1️⃣") and described["imageUrl"] is None
    assert (await _post(session, "/mj/submit/blend", {"base64Array": ["a"]}))["code"] == 4
    blended = await _post(session, "/mj/submit/blend", {"base64Array": ["a", "b"], "dimensions": "SQUARE"})
    assert (await _finish(session, blended["result"]))["action"] == "BLEND"
    short = await _finish(session, (await _post(session, "/mj/submit/shorten", {"prompt": "a b c d e f g"}))["result"])
    assert short["properties"]["finalPrompt"] == "a b c d e"


async def test_list_by_condition_and_poll_faults(session: aiohttp.ClientSession) -> None:
    a = (await _post(session, "/mj/submit/imagine", {"prompt": "a"}))["result"]
    b = (await _post(session, "/mj/submit/imagine", {"prompt": 'b [[mock {"poll_faults": [500]}]]'}))["result"]
    async with session.post("/mj/task/list-by-condition", json={"ids": [a, "nope"]}, headers=SECRET) as r:
        listed = await r.json()
    assert [t["id"] for t in listed] == [a] and listed[0]["status"] == "SUBMITTED"
    async with session.get(f"/mj/task/{b}/fetch", headers=SECRET) as r:
        assert r.status == 500
    assert (await _fetch(session, b))["status"] == "SUBMITTED"


async def test_notify_hook_gets_every_change(session: aiohttp.ClientSession) -> None:
    pushed: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        pushed.append(body)
        if body["status"] in ("SUCCESS", "FAILURE"):
            done.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serving(app) as base:
        body = {"prompt": "a fish", "notifyHook": f"{base}/hook"}
        task_id = (await _post(session, "/mj/submit/imagine", body))["result"]
        await asyncio.wait_for(done.wait(), 10)
    assert [p["status"] for p in pushed] == ["SUBMITTED", "IN_PROGRESS", "SUCCESS"]
    assert {p["id"] for p in pushed} == {task_id}
    assert pushed[-1]["imageUrl"].endswith(f"/mj/image/{task_id}")
