"""Vendor callbacks end to end: a real gateway whose ``public_url`` is its own address, the mock's Kling,
Vidu, MiniMax and Ark calling back at each state change (MiniMax after its challenge), Sora not at all.

The poll schedule is an hour long, so a task only finishes promptly when the callbacks make the poller
look at once; what is asserted is counted (vendor polls, states, ledger rows), never timed.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from omnirouter.config import GatewayConfig
from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_video import VideoTask
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from omnirouter.storage.tasks_repo import move_task
from omnirouter.tasks import TaskRecord
from omnirouter.tasks.callbacks import callback_token
from tests.helpers.billing import assert_books_balance, key_row, ledger
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.task_gateway import call, until
from tests.helpers.video_gateway import mock_task

PER_SECOND_NANO, PER_CALL_NANO = 100_000_000, 50_000_000
HOUR = 3600.0
# public model → (provider, upstream model, seconds asked: one the vendor makes, so billed as asked)
MODELS: dict[str, tuple[str, str, int]] = {
    "kling-cb": ("kling", "kling-v2-master", 5),
    "vidu-cb": ("vidu", "viduq1", 5),
    "hailuo-cb": ("minimax", "MiniMax-Hailuo-02", 6),
    "seedance-cb": ("ark", "doubao-seedance-1-0-pro-250528", 5),
    "sora-cb": ("openai", "sora-2", 4),
}
CALLING_BACK = ["kling-cb", "vidu-cb", "hailuo-cb", "seedance-cb"]
CLIENT_HOOK = "https://client.example/hook"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _channel(mock_url: str, model: str) -> dict[str, Any]:
    provider, upstream, _ = MODELS[model]
    key = f"ak-cb|{mock_secret('ak-cb')}" if provider == "kling" else UPSTREAM_KEY
    base = f"{mock_url}/v1" if provider == "openai" else mock_url
    return {"name": model, "provider": provider, "base_url": base, "api_keys": [key], "models": [model],
            "model_map": {model: upstream}}  # fmt: skip


@contextlib.asynccontextmanager
async def callback_gateway(
    mock: MockUpstream, db_dir: Path, *, public: bool = True, **tasks: Any
) -> AsyncIterator[RunningGateway]:
    """A gateway on its own port, ``public_url`` naming it (unless not ``public``), polls an hour apart."""
    port = _free_port()
    price = {"per_second": 0.1, "per_call": 0.05}
    raw: dict[str, Any] = {
        "database_url": f"sqlite:///{db_dir / 'gw.db'}",
        "usage_flush_interval": 0.05,
        "channels": [_channel(mock.url, model) for model in MODELS],
        "keys": [{"name": "tester", "key": CLIENT_KEY, "quota_usd": 100.0}],
        "prices": {model: price for model in MODELS},
        "image_fetch": {"allow_private": True},  # result copies reach the mock on 127.0.0.1
        "tasks": {"poll_first": HOUR, "poll_max": HOUR, "deadline": 4 * HOUR,
                  "result_store": f"local:{db_dir / 'results'}", **tasks},
    }  # fmt: skip
    if public:
        raw["public_url"] = f"http://127.0.0.1:{port}"
    async with running_gateway(msgspec.convert(raw, GatewayConfig), port=port) as running:
        yield running


async def _create(http: aiohttp.ClientSession, gw: RunningGateway, model: str, prompt: str, **extra: Any) -> str:
    body = {"model": model, "prompt": prompt, "duration": MODELS[model][2], **extra}
    status, created = await call(http, "POST", f"{gw.url}/v1/video/generations", body=body)
    assert status == 200, created
    return str(created["id"])


async def _record(gw: RunningGateway, task_id: str) -> TaskRecord:
    record = await gw.app.gateway.tasks.load(task_id)
    assert record is not None
    return record


async def _finished(gw: RunningGateway, task_id: str, *, within: float = 30.0) -> TaskRecord:
    async def done() -> TaskRecord | None:
        record = await _record(gw, task_id)
        return record if record.status.terminal else None

    finished: TaskRecord = await until(done, within=within)
    return finished


def _token(gw: RunningGateway, task_id: str) -> str:
    return callback_token(task_id, gw.app.gateway.url_secret)


async def _callback(
    http: aiohttp.ClientSession, gw: RunningGateway, task_id: str, token: str, body: bytes = b"{}"
) -> tuple[int, Any]:
    url = f"{gw.url}/callbacks/tasks/{task_id}/{token}"
    async with http.post(url, data=body, headers={"content-type": "application/json"}) as answer:
        return answer.status, await answer.json(content_type=None)


def _submits(mock: MockUpstream, prompt: str) -> list[dict[str, Any]]:
    """The vendor submit bodies the mock got for ``prompt``."""
    found = []
    for request in mock.requests:
        body = request.body
        if request.method != "POST" or not isinstance(body, dict):
            continue
        text = body.get("prompt") or " ".join(str(c.get("text", "")) for c in body.get("content") or [])
        if prompt in text:
            found.append(body)
    return found


def _vendor_polls(mock: MockUpstream, task: VideoTask) -> int:
    """How often the vendor was asked for ``task``'s state (MiniMax: by the ``task_id`` parameter)."""
    return sum(
        1 for r in mock.requests if r.method == "GET" and (f"/{task.id}" in r.path or r.query.get("task_id") == task.id)
    )


@pytest.mark.parametrize("model", CALLING_BACK)
async def test_callbacks_poll_at_once_so_a_task_on_an_hourly_schedule_finishes(
    model: str, mock: MockUpstream, tmp_path: Path
) -> None:
    prompt = f"callbacks from {model}: a kite over dunes"
    async with callback_gateway(mock, tmp_path) as gw, aiohttp.ClientSession() as http:
        task_id = await _create(http, gw, model, prompt, callback_url=CLIENT_HOOK)
        record = await _finished(gw, task_id)
        assert record.status is TaskStatus.SUCCEEDED, record.summary.failure
        [submit] = _submits(mock, prompt)
        # the gateway's own URL for this task, never the client's hook
        assert submit["callback_url"] == f"{gw.url}/callbacks/tasks/{task_id}/{_token(gw, task_id)}"
        task = mock_task(mock, prompt)

        async def both_pushed() -> bool:  # the last push's answer may come after the poll it caused
            return len(task.pushes) == 2

        await until(both_pushed)
        assert task.pushes == [("running", 200), ("succeeded", 200)]
        if model == "hailuo-cb":
            assert task.info["challenge"] == "echoed"
        polls = _vendor_polls(mock, task)
        assert 1 <= polls <= len(task.pushes)  # each poll was a callback's: the schedule's first is an hour away
        stored = [s.kind for s in record.summary.stored]
        assert "video" in stored
    seconds = MODELS[model][2]
    _, rows = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert [row.cost_nano for row in rows] == [seconds * PER_SECOND_NANO + PER_CALL_NANO]


async def test_without_a_public_url_no_callback_is_asked_and_the_clients_hook_never_reaches_a_vendor(
    mock: MockUpstream, tmp_path: Path
) -> None:
    async with (
        callback_gateway(mock, tmp_path, public=False, poll_first=0.05, poll_max=0.1) as gw,
        aiohttp.ClientSession() as http,
    ):
        prompts = {model: f"no callbacks for {model}: a heron" for model in CALLING_BACK}
        ids = [
            await _create(http, gw, model, prompt, callback_url=CLIENT_HOOK, metadata={"callback_url": CLIENT_HOOK})
            for model, prompt in prompts.items()
        ]
        status, native = await call(http, "POST", f"{gw.url}/kling/v1/videos/text2video",
                                    body={"model_name": "kling-cb", "prompt": "no callbacks natively: a heron",
                                          "callback_url": CLIENT_HOOK})  # fmt: skip
        assert status == 200, native
        ids.append(native["data"]["task_id"])
        for task_id in ids:  # polling alone finishes them
            assert (await _finished(gw, task_id)).status is TaskStatus.SUCCEEDED
        prompts["kling-native"] = "no callbacks natively: a heron"
        for prompt in prompts.values():
            [submit] = _submits(mock, prompt)
            assert "callback_url" not in submit, submit
            assert mock_task(mock, prompt).pushes == []


async def test_forged_tokens_change_nothing_and_valid_callbacks_drive_a_vendor_that_never_calls_back(
    mock: MockUpstream, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'gw.db'}"
    prompt = "callbacks by hand: a lighthouse"
    async with callback_gateway(mock, tmp_path) as gw, aiohttp.ClientSession() as http:
        task_id = await _create(http, gw, "sora-cb", prompt)
        before = await _record(gw, task_id)
        assert before.status is TaskStatus.QUEUED and before.next_poll_at is not None
        assert "callback_url" not in _submits(mock, prompt)[0]  # Sora takes none
        token = _token(gw, task_id)

        forged = ["A" * 43, token[:-1], _token(gw, task_id + "0"), token.lower()]
        for bad in [t for t in forged if t != token]:
            status, error = await _callback(http, gw, task_id, bad, b'{"status": "succeeded"}')
            assert status == 404 and error["error"]["code"] == "not_found", error
        status, error = await _callback(http, gw, task_id, "A" * 43, b'{"challenge": "c-1"}')
        assert status == 404 and "challenge" not in error
        status, _ = await _callback(http, gw, "task_nope", "A" * 43)
        assert status == 404  # the same answer for an unknown task: no oracle
        assert await _record(gw, task_id) == before  # not a field moved
        task = mock_task(mock, prompt)
        assert _vendor_polls(mock, task) == 0

        # a valid token: MiniMax's handshake is echoed without polling; anything else polls at once,
        # whatever the body says (malformed, empty, claiming success: never read)
        status, echoed = await _callback(http, gw, task_id, token, b'{"challenge": "c-42"}')
        assert (status, echoed) == (200, {"challenge": "c-42"})
        bodies = [b"\x00 not json", b"", b"[1, 2]", b'{"status": "succeeded", "video_url": "https://evil.example"}']
        for body in bodies:  # the mock's Sora moves one state per poll: queued, running, succeeded
            polled = _vendor_polls(mock, task)
            status, answer = await _callback(http, gw, task_id, token, body)
            assert (status, answer) == (200, {"status": "success"})

            async def step_done(seen: int = polled) -> bool:
                record = await _record(gw, task_id)
                return _vendor_polls(mock, task) > seen and (record.lease_owner is None or record.status.terminal)

            await until(step_done)
            if (await _record(gw, task_id)).status.terminal:
                break
        record = await _finished(gw, task_id)
        assert record.status is TaskStatus.SUCCEEDED and next(s.kind for s in record.summary.stored) == "video"
        assert not [r for r in mock.requests if "evil" in str(r.path)]

        # a finished task: callbacks are answered and change nothing, money included
        finished = await _record(gw, task_id)
        key, rows = await assert_books_balance(db_url, "tester")
        polls = _vendor_polls(mock, task)
        for body in (b'{"status": "failed"}', b"{}", b'{"challenge": "late"}'):
            status, _ = await _callback(http, gw, task_id, token, body)
            assert status == 200
        status, _ = await _callback(http, gw, "task_nope", _token(gw, "task_nope"))
        assert status == 200  # a valid token of a task the gateway no longer has: nothing to do
        assert await _record(gw, task_id) == finished
        assert _vendor_polls(mock, task) == polls
        assert (await key_row(db_url, "tester")).used_nano == key.used_nano
        assert await ledger(db_url) == rows
    _, rows = await assert_books_balance(db_url, "tester")
    assert [row.cost_nano for row in rows] == [4 * PER_SECOND_NANO + PER_CALL_NANO]


async def test_a_callback_during_a_poll_is_applied_once_the_poll_lets_go(mock: MockUpstream, tmp_path: Path) -> None:
    prompt = "a callback mid-poll: an owl"
    async with callback_gateway(mock, tmp_path) as gw, aiohttp.ClientSession() as http:
        task_id = await _create(http, gw, "sora-cb", prompt)
        db = gw.app.gateway.db.engine
        clock = gw.app.gateway.tasks.clock
        async with db.begin() as conn:  # another replica holds it, as while it polls
            await move_task(conn, task_id, {"lease_owner": "replica-elsewhere", "lease_until": clock() + 60})
        leased = await _record(gw, task_id)
        status, _ = await _callback(http, gw, task_id, _token(gw, task_id))
        assert status == 200
        assert (await _record(gw, task_id)).next_poll_at == leased.next_poll_at  # the holder's schedule stands
        async with db.begin() as conn:  # that replica's poll ends: it writes its schedule (an hour away)
            await move_task(conn, task_id, {"lease_owner": None, "lease_until": None,
                                            "next_poll_at": clock() + HOUR})  # fmt: skip
        task = mock_task(mock, prompt)

        async def polled() -> bool:
            return _vendor_polls(mock, task) >= 1

        await until(polled)  # the callback was not lost to that schedule
