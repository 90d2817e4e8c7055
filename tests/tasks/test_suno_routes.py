"""new-api's Suno routes through the gateway against the mock Suno-API, on SQLite and PostgreSQL, over real
HTTP (aiohttp: Suno has no official SDK): music and lyrics submitted, music fetched to SUCCESS with its clips
as signed gateway URLs (real MP3s and JPEGs), a continue, the batch fetch, another key's ids not found,
a continue of the key's own clip (Suno sent its own clip id) and another key's clip refused, bad input
refused in the envelope naming the field with nothing sent or charged, one ledger row of exactly
the per-call price per task, a vendor failure refunded."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import mutagen.mp3
import orjson
import pytest
import sqlalchemy as sa
from PIL import Image

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import tasks_table
from tests.helpers.billing import assert_books_balance, execute, key_row, ledger, query
from tests.helpers.gateway_harness import RunningGateway, running_gateway
from tests.helpers.postgres import reset_postgres
from tests.helpers.task_gateway import OTHER_KEY, call, task_config, until

SUNO_CALL_NANO = 30_000_000  # 0.03 USD a task


@pytest.fixture(params=["sqlite", "postgresql"])
async def suno_gateway(
    request: pytest.FixtureRequest, mock_upstream: MockUpstream, tmp_path: Path, gateway_postgres_url: str
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """A gateway with a Suno channel on the mock (``suno_music``, ``suno_lyrics`` at a per-call price), and
    the database URL it writes to."""
    async with _suno_gateway(request.param, mock_upstream, tmp_path, gateway_postgres_url) as got:
        yield got


@contextlib.asynccontextmanager
async def _suno_gateway(
    backend: str, mock_upstream: MockUpstream, tmp_path: Path, gateway_postgres_url: str, **tasks: Any
) -> AsyncIterator[tuple[RunningGateway, str]]:
    raw: dict[str, Any] = task_config(mock_upstream.url, tmp_path, **tasks)
    raw["channels"].append({"name": "suno-main", "provider": "suno", "base_url": mock_upstream.url,
                            "api_keys": ["sk-suno-upstream"], "models": ["suno_music", "suno_lyrics"]})  # fmt: skip
    raw["prices"] |= {"suno_music": {"per_call": 0.03}, "suno_lyrics": {"per_call": 0.03}}
    if backend == "postgresql":
        raw["database_url"] = await reset_postgres(gateway_postgres_url)  # each test starts from nothing
    config = msgspec.convert(raw, GatewayConfig)
    async with running_gateway(config) as running:
        running.app.gateway.task_poller.interval = 0.02
        yield running, raw["database_url"]


def _submits(mock: MockUpstream) -> list[Any]:
    return [r for r in mock.requests if r.method == "POST" and r.path.startswith("/suno/submit/")]


async def _fetch_until(session: aiohttp.ClientSession, base: str, task_id: str, status: str) -> dict[str, Any]:
    async def done() -> Any:
        code, got = await call(session, "GET", f"{base}/suno/fetch/{task_id}")
        assert code == 200, got
        return got if got["data"]["status"] == status else None

    found: dict[str, Any] = await until(done)
    return found


async def _task_rows(url: str, task_id: str) -> list[Any]:
    return [row for row in await ledger(url) if row.request_id == task_id]


async def test_music_to_success_with_signed_clips_and_one_exact_charge(
    suno_gateway: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = suno_gateway
    mock_upstream.requests.clear()
    async with aiohttp.ClientSession() as session:
        body = {"prompt": "[Verse] rain", "mv": "chirp-v3-5", "title": "Rain", "tags": "folk"}
        code, created = await call(session, "POST", f"{running.url}/suno/submit/music", body=body)
        assert code == 200, created
        assert created["code"] == "success" and isinstance(created["data"], str)
        task_id = created["data"]
        [sent] = _submits(mock_upstream)
        assert sent.path == "/suno/submit/music" and sent.body == body
        assert sent.headers["authorization"] == "Bearer sk-suno-upstream"
        final = (await _fetch_until(session, running.url, task_id, "SUCCESS"))["data"]
        assert final["task_id"] == task_id and final["action"] == "MUSIC" and final["fail_reason"] == ""
        assert "sk-suno-upstream" not in orjson.dumps(final).decode()  # the channel's key never shown
        assert final["progress"] == "100%" and final["finish_time"] >= final["submit_time"]
        clips = final["data"]
        assert len(clips) == 2
        for clip in clips:
            for field in ("audio_url", "image_url"):
                assert clip[field].startswith(running.url + f"/v1/videos/{task_id}/content?")
                assert mock_upstream.url not in clip[field]
            async with session.get(clip["audio_url"]) as response:
                assert response.status == 200
                assert mutagen.mp3.MP3(io.BytesIO(await response.read())).info.length > 1.0
            async with session.get(clip["image_url"]) as response:
                assert response.status == 200
                assert Image.open(io.BytesIO(await response.read())).format == "JPEG"

        async def charged() -> Any:
            rows = await _task_rows(url, task_id)
            return rows if rows and rows[0].cost_nano else None

        rows = await until(charged)
    assert [row.cost_nano for row in rows] == [SUNO_CALL_NANO]
    await assert_books_balance(url, "tester")


async def test_lyrics_and_batch_fetch(suno_gateway: tuple[RunningGateway, str], mock_upstream: MockUpstream) -> None:
    running, _ = suno_gateway
    mock_upstream.requests.clear()
    async with aiohttp.ClientSession() as session:
        _, first = await call(session, "POST", f"{running.url}/suno/submit/music", body={"prompt": "rain"})
        _, second = await call(session, "POST", f"{running.url}/suno/submit/music", body={"prompt": "sun"})
        code, lyrics = await call(session, "POST", f"{running.url}/suno/submit/lyrics", body={"prompt": "a rainy day"})
        assert code == 200 and lyrics["code"] == "success"
        sent = _submits(mock_upstream)
        assert (sent[2].path, sent[2].body) == ("/suno/submit/lyrics", {"prompt": "a rainy day"})
        ids = [first["data"], second["data"]]

        async def all_done() -> Any:
            code, got = await call(session, "POST", f"{running.url}/suno/fetch", body={"ids": [*ids, "task_nope"]})
            assert code == 200, got
            return got if all(task["status"] == "SUCCESS" for task in got["data"]) else None

        lyrics_done = (await _fetch_until(session, running.url, lyrics["data"], "SUCCESS"))["data"]
        assert lyrics_done["action"] == "LYRICS"
        assert lyrics_done["data"]["id"] == f"{lyrics['data']}-0" and lyrics_done["data"]["status"] == "complete"
        assert "a rainy day" in lyrics_done["data"]["text"] and lyrics_done["data"]["title"]
        batch = await until(all_done)
        assert [task["task_id"] for task in batch["data"]] == ids
        assert all(len(task["data"]) == 2 for task in batch["data"])

        # Another key sees none of them: not found one by one, left out of a batch.
        code, other = await call(session, "GET", f"{running.url}/suno/fetch/{ids[0]}", key=OTHER_KEY)
        assert code == 404 and other["code"] == "task_not_exist" and other["data"] is None
        code, other = await call(session, "POST", f"{running.url}/suno/fetch", key=OTHER_KEY, body={"ids": ids})
        assert code == 200 and other == {"code": "success", "message": "", "data": []}


async def test_continue_a_clip_of_the_keys_own_task_and_only_its_own(
    suno_gateway: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = suno_gateway
    async with aiohttp.ClientSession() as session:
        _, first = await call(session, "POST", f"{running.url}/suno/submit/music", body={"prompt": "rain"})
        clips = (await _fetch_until(session, running.url, first["data"], "SUCCESS"))["data"]["data"]
        [upstream_id] = [row.upstream_id for row in await query(url, sa.select(tasks_table.c.upstream_id).where(
            tasks_table.c.id == first["data"]))]  # fmt: skip
        mock_upstream.requests.clear()

        # The other key may not continue the tester's clip (nor one that never was): a 400 naming the field,
        # nothing sent to Suno, nothing charged.
        for clip_id in (clips[1]["id"], f"{first['data']}-7", "clip-0"):
            body = {"prompt": "more rain", "continue_clip_id": clip_id, "continue_at": 12.5}
            code, refused = await call(session, "POST", f"{running.url}/suno/submit/music", key=OTHER_KEY, body=body)
            assert code == 400, refused
            assert refused["code"] == "invalid_request" and refused["data"] is None
            assert "continue_clip_id" in refused["message"]
        assert _submits(mock_upstream) == []
        assert (await key_row(url, "other")).used_nano == 0

        # Its owner may: Suno is sent its own id of that clip, and the continue runs to its own clips.
        body = {"prompt": "more rain", "continue_clip_id": clips[1]["id"], "continue_at": 12.5, "mv": "chirp-v3-5"}
        code, created = await call(session, "POST", f"{running.url}/suno/submit/music", body=body)
        assert code == 200, created
        [sent] = _submits(mock_upstream)
        assert sent.body == body | {"continue_clip_id": f"{upstream_id}-clip1"}
        final = (await _fetch_until(session, running.url, created["data"], "SUCCESS"))["data"]
        assert len(final["data"]) == 2 and final["data"][0]["id"] == f"{created['data']}-0"

        async def charged() -> Any:
            rows = await _task_rows(url, created["data"])
            return rows if rows and rows[0].cost_nano else None

        assert [row.cost_nano for row in await until(charged)] == [SUNO_CALL_NANO]
    await assert_books_balance(url, "tester")
    await assert_books_balance(url, "other")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("music", {}, "prompt"),
        ("music", {"prompt": "x", "make_instrumental": "yes"}, "make_instrumental"),
        ("music", {"prompt": "x", "continue_at": 10}, "continue_clip_id"),
        ("music", {"prompt": "x", "continue_at": "later", "continue_clip_id": "c"}, "continue_at"),
        ("music", {"prompt": "x", "mv": 3}, "mv"),
        ("lyrics", {"prompt": "  "}, "prompt"),
    ],
)
async def test_bad_input_is_refused_in_the_envelope_and_costs_nothing(
    suno_gateway: tuple[RunningGateway, str], mock_upstream: MockUpstream, path: str, body: Any, field: str
) -> None:
    running, url = suno_gateway
    mock_upstream.requests.clear()
    async with aiohttp.ClientSession() as session:
        code, answer = await call(session, "POST", f"{running.url}/suno/submit/{path}", body=body)
        assert code == 400, answer
        assert answer["code"] == "invalid_request" and field in answer["message"] and answer["data"] is None
        code, answer = await call(session, "POST", f"{running.url}/suno/fetch", body={"ids": "t"})
        assert code == 400 and "ids" in answer["message"]
    assert _submits(mock_upstream) == []
    assert (await key_row(url, "tester")).used_nano == 0
    await assert_books_balance(url, "tester")


async def test_a_vendor_failure_is_refunded(
    suno_gateway: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = suno_gateway
    mock_upstream.script({"body_error": True, "message": "prompt flagged", "pending_polls": 1})
    async with aiohttp.ClientSession() as session:
        _, created = await call(session, "POST", f"{running.url}/suno/submit/music", body={"prompt": "bad"})
        final = (await _fetch_until(session, running.url, created["data"], "FAILURE"))["data"]
    assert final["fail_reason"] == "prompt flagged" and final["data"] is None
    assert sum(row.cost_nano for row in await _task_rows(url, created["data"])) == 0
    assert (await key_row(url, "tester")).used_nano == 0
    await assert_books_balance(url, "tester")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_poller_fetches_a_channels_due_tasks_in_one_batch(
    mock_upstream: MockUpstream, tmp_path: Path, gateway_postgres_url: str, backend: str
) -> None:
    gateway = _suno_gateway(backend, mock_upstream, tmp_path, gateway_postgres_url, poll_first=3600)
    async with gateway as (running, url), aiohttp.ClientSession() as session:
        mock_upstream.requests.clear()
        ids = []
        for prompt in ("one", "two", "three"):
            _, created = await call(session, "POST", f"{running.url}/suno/submit/music", body={"prompt": prompt})
            ids.append(created["data"])

        async def all_done() -> Any:
            # every unfinished task due at once (the schedule would spread them apart)
            await execute(
                url, sa.update(tasks_table).where(tasks_table.c.lease_owner.is_(None)).values(next_poll_at=0.0)
            )
            await asyncio.sleep(0.1)
            _, got = await call(session, "POST", f"{running.url}/suno/fetch", body={"ids": ids})
            return got if all(task["status"] == "SUCCESS" for task in got["data"]) else None

        await until(all_done)
    polls = [r for r in mock_upstream.requests if r.path.startswith("/suno/fetch")]
    assert polls and all(r.method == "POST" for r in polls)  # the batch fetch, never one by one
    assert len(polls[0].body["ids"]) == 3 and len(set(polls[0].body["ids"])) == 3
