"""The mock's vendor callbacks: each codec's submit carries a ``callback_url`` (``TaskTarget.callback_url``)
to a small receiver; the mock vendor pushes every new state there in its own body shape, without being
polled, and MiniMax first asks for its challenge back (no echo: nothing is pushed)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from omnirouter.ir.task import TaskRequest
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from omnirouter.protocols.media.base import Answer
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.providers import PROVIDERS, Capability, ProviderKind
from tests.helpers.local_http import serving
from tests.helpers.task_gateway import until

MODELS = {
    ProviderKind.KLING: ("kling-v2-1", f"ak1|{mock_secret('ak1')}"),
    ProviderKind.VIDU: ("viduq1", "vidu-key"),
    ProviderKind.MINIMAX: ("MiniMax-Hailuo-02", "mm-key"),
    ProviderKind.ARK: ("doubao-seedance-1-0-pro-250528", "ark-key"),
}


class Receiver:
    """Records what is POSTed to ``/cb``; echoes challenges when ``echo``."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.bodies: list[Any] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.bodies.append(body)
        if isinstance(body, dict) and "challenge" in body:
            return web.json_response({"challenge": body["challenge"] if self.echo else "wrong"})
        return web.json_response({"status": "success"})


@contextlib.asynccontextmanager
async def receiver(echo: bool = True) -> AsyncIterator[Receiver]:
    got = Receiver(echo)
    app = web.Application()
    app.router.add_post("/cb", got.handle)
    async with serving(app) as base:
        got.url = f"{base}/cb"
        yield got


async def _submit(kind: ProviderKind, mock: MockUpstream, callback_url: str, prompt: str) -> str:
    """Submit through the vendor codec with ``callback_url``; the vendor's task id."""
    model, key = MODELS[kind]
    codec = PROVIDERS[kind].tasks[Capability.VIDEO_TASK]
    target = TaskTarget(model, {}, key, mock.url, f"ext-{time.time_ns()}", time.time(), callback_url)
    request = TaskRequest(model=model, prompt=prompt, seconds=6 if kind is ProviderKind.MINIMAX else 5)
    call = codec.submit(request, target)
    assert orjson.loads(call.body)["callback_url"] == callback_url
    headers = {"content-type": call.content_type} | dict(call.headers)
    if call.auth:
        headers |= PROVIDERS[kind].auth_headers(key)
    async with (
        aiohttp.ClientSession() as session,
        session.post(target.base_url + call.path, data=call.body, headers=headers) as response,
    ):
        answer = Answer(response.status, {}, await response.read())
    assert answer.status == 200, answer.body
    return codec.parse_submit(answer, request, target).upstream_id.rsplit("/", 1)[-1]


def _status(kind: ProviderKind, body: dict[str, Any]) -> str:
    field = {ProviderKind.KLING: "task_status", ProviderKind.VIDU: "state"}.get(kind, "status")
    return str(body[field])


_PUSHED = {
    ProviderKind.KLING: ["processing", "succeed"],
    ProviderKind.VIDU: ["processing", "success"],
    ProviderKind.MINIMAX: ["processing", "success"],
    ProviderKind.ARK: ["running", "succeeded"],
}


@pytest.mark.parametrize("kind", list(MODELS))
async def test_each_vendor_pushes_its_states_in_its_own_shape(kind: ProviderKind, mock: MockUpstream) -> None:
    async with receiver() as got:
        task_id = await _submit(kind, mock, got.url, f"pushed by {kind.value}: a comet")

        async def finished() -> bool:
            return len(got.bodies) >= (3 if kind is ProviderKind.MINIMAX else 2)

        await until(finished)
    bodies = got.bodies
    if kind is ProviderKind.MINIMAX:  # the handshake comes first
        assert list(bodies[0]) == ["challenge"] and isinstance(bodies[0]["challenge"], str)
        bodies = bodies[1:]
    assert [_status(kind, body) for body in bodies] == _PUSHED[kind]
    last = bodies[-1]
    if kind is ProviderKind.KLING:
        assert last["task_id"] == task_id and last["task_result"]["videos"][0]["url"].startswith(mock.url)
    elif kind is ProviderKind.VIDU:
        assert last["id"] == task_id and last["creations"][0]["url"].startswith(mock.url)
    elif kind is ProviderKind.MINIMAX:
        assert last["task_id"] == task_id and last["file_id"] == f"file-{task_id}"
        assert last["base_resp"]["status_code"] == 0
    else:
        assert last["id"] == task_id and last["content"]["video_url"].startswith(mock.url)
    assert not [r for r in mock.requests if r.method == "GET" and task_id in r.path]  # nobody polled


async def test_minimax_pushes_nothing_when_its_challenge_is_not_echoed(mock: MockUpstream) -> None:
    prompt = "a challenge not echoed: a moth"
    async with receiver(echo=False) as got:
        await _submit(ProviderKind.MINIMAX, mock, got.url, prompt)
        task = next(t for t in mock.state.tasks.values() if getattr(t, "prompt", None) == prompt)
        assert task.info["challenge"] == "failed" and task.callback is None
    assert len(got.bodies) == 1 and list(got.bodies[0]) == ["challenge"]
