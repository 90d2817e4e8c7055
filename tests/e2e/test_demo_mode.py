"""Demo mode as a newcomer meets it: the real ``omnirouter serve`` with no config in an empty directory.

It prints a demo key and a curl line; the line works as pasted into a shell; every model the gateway lists
answers through the openai, anthropic and google-genai SDKs, plain and streamed; ``/health`` says
``"demo": true``.  A channel (in a config file, or created through the admin API) ends demo mode and the
demo key with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.processes import Output, free_port, start, wait_healthy


@dataclass
class Demo:
    """A running ``omnirouter serve`` in demo mode and what it printed."""

    output: Output
    port: int
    workdir: Path
    key: str
    admin_key: str
    curl: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _serve(workdir: Path, *args: str) -> tuple[Output, int]:
    port = free_port()
    output = Output(start(["serve", "--port", str(port), *args], workdir))
    try:
        wait_healthy(port, output.process)
    except BaseException:
        print(output.stop())
        raise
    return output, port


def _start_demo(workdir: Path, *args: str) -> Demo:
    output, port = _serve(workdir, *args)
    key = output.line_starting("demo key: ").removeprefix("demo key: ")
    admin_key = output.line_starting("  admin key:").split()[-1]
    curl = output.line_starting("curl ")
    return Demo(output, port, workdir, key, admin_key, curl)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = _start_demo(tmp_path_factory.mktemp("newcomer"), "--workers", "2")  # each worker runs its own mock
    yield running
    running.output.stop()


async def _get(url: str, key: str | None = None) -> tuple[int, object]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def _health(url: str) -> object:
    status, body = await _get(f"{url}/health")
    assert status == 200
    return body


async def test_banner_prints_the_key_urls_and_database(demo: Demo) -> None:
    assert demo.key.startswith("sk-or-") and " " not in demo.key
    assert demo.admin_key.startswith("sk-admin-") and demo.admin_key != demo.key
    assert demo.output.line_starting("  console:").split()[-1] == f"{demo.url}/dashboard"
    assert str(demo.workdir / "omnirouter.db") in demo.output.line_starting("  database:")
    assert (demo.workdir / "omnirouter.db").exists()
    assert "DEMO MODE" in "\n".join(demo.output.lines)
    assert await _health(demo.url) == {"status": "ok", "demo": True}


async def test_the_printed_curl_line_works_as_pasted_into_a_shell(demo: Demo) -> None:
    words = shlex.split(demo.curl)
    assert f"Authorization: Bearer {demo.key}" in words  # the key of the "demo key:" line
    sent = json.loads(words[words.index("-d") + 1])
    result = await asyncio.to_thread(
        subprocess.run, demo.curl, shell=True, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["object"] == "chat.completion"
    assert answer["model"] == sent["model"]
    assert answer["choices"][0]["message"]["content"] == f"Echo: {sent['messages'][-1]['content']}"


async def test_the_admin_key_sees_the_mock_channels_with_health(demo: Demo) -> None:
    status, channels = await _get(f"{demo.url}/admin/channels", demo.admin_key)
    assert status == 200
    assert isinstance(channels, list)
    assert {c["name"]: c["provider"] for c in channels} == {
        "mock": "openai",
        "mock-anthropic": "anthropic",
        "mock-gemini": "gemini",
    }
    assert all(c["breaker"] == "closed" for c in channels)
    assert (await _get(f"{demo.url}/admin/channels", demo.key))[0] == 401  # the client key is no admin key


@pytest.fixture(scope="module")
async def listed(demo: Demo) -> AsyncIterator[list[str]]:
    """The models the gateway lists, read with each SDK (they must agree)."""
    async with openai.AsyncOpenAI(base_url=f"{demo.url}/v1", api_key=demo.key, max_retries=0) as client:
        names = sorted([model.id async for model in client.models.list()])
    async with anthropic.AsyncAnthropic(base_url=demo.url, api_key=demo.key, max_retries=0) as claude:
        assert sorted([model.id async for model in claude.models.list()]) == names
    gclient = genai.Client(api_key=demo.key, http_options=gtypes.HttpOptions(base_url=demo.url, api_version="v1beta"))
    try:
        assert sorted([(m.name or "").removeprefix("models/") async for m in await gclient.aio.models.list()]) == names
    finally:
        await gclient.aio.aclose()
    assert len(names) >= 4
    yield names


def _prompt(sdk: str, model: str, stream: bool) -> str:
    return f"demo {sdk} {model} {'streamed' if stream else 'plain'}"


async def _openai_chat(demo: Demo, model: str, stream: bool) -> str:
    prompt = _prompt("chat", model, stream)
    async with openai.AsyncOpenAI(base_url=f"{demo.url}/v1", api_key=demo.key, max_retries=0) as client:
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": prompt}]
        if not stream:
            answer = await client.chat.completions.create(model=model, messages=messages)
            assert answer.model == model
            text = answer.choices[0].message.content or ""
        else:
            streamed = await client.chat.completions.create(model=model, messages=messages, stream=True)
            chunks = [c async for c in streamed]
            assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2  # streamed in pieces
            assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason == "stop"
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: {prompt}"
    return text


async def _openai_responses(demo: Demo, model: str, stream: bool) -> None:
    prompt = _prompt("responses", model, stream)
    async with openai.AsyncOpenAI(base_url=f"{demo.url}/v1", api_key=demo.key, max_retries=0) as client:
        if not stream:
            answer = await client.responses.create(model=model, input=prompt)
            assert answer.status == "completed"
            text = answer.output_text
        else:
            events = [e async for e in await client.responses.create(model=model, input=prompt, stream=True)]
            deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
            assert len(deltas) >= 2 and events[-1].type == "response.completed"
            text = "".join(deltas)
    assert text == f"Echo: {prompt}"


async def _anthropic(demo: Demo, model: str, stream: bool) -> None:
    prompt = _prompt("anthropic", model, stream)
    async with anthropic.AsyncAnthropic(base_url=demo.url, api_key=demo.key, max_retries=0) as client:
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": prompt}]
        if not stream:
            answer = await client.messages.create(model=model, max_tokens=256, messages=messages)
            text = "".join(block.text for block in answer.content if block.type == "text")
            assert answer.stop_reason == "end_turn"
        else:
            async with client.messages.stream(model=model, max_tokens=256, messages=messages) as events:
                deltas = [text async for text in events.text_stream]
                final = await events.get_final_message()
            assert len(deltas) >= 2 and final.stop_reason == "end_turn"
            text = "".join(deltas)
    assert text == f"Echo: {prompt}"


async def _gemini(demo: Demo, model: str, stream: bool) -> None:
    prompt = _prompt("gemini", model, stream)
    client = genai.Client(api_key=demo.key, http_options=gtypes.HttpOptions(base_url=demo.url, api_version="v1beta"))
    try:
        if not stream:
            answer = await client.aio.models.generate_content(model=model, contents=prompt)
            text = answer.text or ""
        else:
            chunks = [c async for c in await client.aio.models.generate_content_stream(model=model, contents=prompt)]
            assert len([c for c in chunks if c.text]) >= 2
            text = "".join(c.text or "" for c in chunks)
    finally:
        await client.aio.aclose()
    assert text == f"Echo: {prompt}"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("sdk", ["openai-chat", "openai-responses", "anthropic", "google-genai"])
async def test_every_listed_model_answers_in_every_sdk(demo: Demo, listed: list[str], sdk: str, stream: bool) -> None:
    call = {"openai-chat": _openai_chat, "openai-responses": _openai_responses, "anthropic": _anthropic,
            "google-genai": _gemini}[sdk]  # fmt: skip
    for model in listed:
        await call(demo, model, stream)


# nano-USD per input and output token of each demo model: the vendors' list prices (USD per 1M tokens × 1000)
_DEMO_NANO_PER_TOKEN = {
    "gpt-4o-mini": (150, 600),
    "gpt-4.1-mini": (400, 1600),
    "claude-haiku-4-5": (1000, 5000),
    "gemini-2.5-flash": (300, 2500),
}


def _ledger(workdir: Path, request_ids: list[str]) -> tuple[list[sqlite3.Row], int, int]:
    """The usage rows of ``request_ids``, the sum of ``cost_nano`` over every row of the demo key, and its
    ``used_nano``."""
    with contextlib.closing(sqlite3.connect(workdir / "omnirouter.db", isolation_level=None)) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("begin")  # one snapshot (WAL) for the three reads: a batch may commit meanwhile
        marks = ",".join("?" * len(request_ids))
        rows = conn.execute(f"select * from usage_records where request_id in ({marks})", request_ids).fetchall()
        key_id, used = conn.execute(
            "select id, used_nano from api_keys where source = 'demo' and status = 'active'"
        ).fetchone()
        total = conn.execute("select coalesce(sum(cost_nano), 0) from usage_records where key_id = ?", (key_id,))
        return rows, int(total.fetchone()[0]), int(used)


async def test_demo_answers_are_charged_at_the_demo_prices(demo: Demo, listed: list[str]) -> None:
    assert set(listed) == set(_DEMO_NANO_PER_TOKEN)
    request_ids = []
    async with openai.AsyncOpenAI(base_url=f"{demo.url}/v1", api_key=demo.key, max_retries=0) as client:
        for model in listed:
            raw = await client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": f"price check for {model}"}]
            )
            request_ids.append(raw.headers["x-request-id"])
    deadline = time.monotonic() + 30
    while True:  # usage rows are written off the hot path, every usage_flush_interval
        rows, total, used = await asyncio.to_thread(_ledger, demo.workdir, request_ids)
        if len(rows) == len(request_ids) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert sorted(row["model"] for row in rows) == sorted(listed)
    for row in rows:
        per_input, per_output = _DEMO_NANO_PER_TOKEN[row["model"]]
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0
        assert row["cost_nano"] == row["input_tokens"] * per_input + row["output_tokens"] * per_output
    assert used == total > 0  # the demo key's balance is the sum of its ledger


async def _wait_not_demo(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if await _health(url) == {"status": "ok", "demo": False}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("demo mode did not end")


async def test_an_api_channel_ends_demo_mode_live_and_for_the_next_start(
    tmp_path: Path, mock_upstream: MockUpstream
) -> None:
    running = _start_demo(tmp_path)
    try:
        assert await _health(running.url) == {"status": "ok", "demo": True}
        channel = {"name": "real", "provider": "openai", "base_url": f"{mock_upstream.url}/v1",
                   "api_keys": ["sk-upstream-demo-end"], "models": ["real-model"]}  # fmt: skip
        headers = {"authorization": f"Bearer {running.admin_key}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{running.url}/admin/channels", json=channel, headers=headers) as response:
                assert response.status == 201, await response.text()
            await _wait_not_demo(running.url)
            async with session.post(f"{running.url}/admin/keys", json={"name": "mine"}, headers=headers) as response:
                assert response.status == 201, await response.text()
                mine = (await response.json())["key"]
            async with session.get(f"{running.url}/admin/channels", headers=headers) as response:
                assert [c["name"] for c in await response.json()] == ["real"]  # the mock channels are gone
            # ... and their names with them: the operator may use them now, without a restart.
            for name in ("mock", "mock-anthropic", "mock-gemini"):
                reused = {**channel, "name": name, "models": [f"{name}-model"]}
                async with session.post(f"{running.url}/admin/channels", json=reused, headers=headers) as response:
                    assert response.status == 201, await response.text()
                    assert (await response.json())["source"] == "api"
            async with session.get(f"{running.url}/admin/channels/mock", headers=headers) as response:
                assert response.status == 200 and (await response.json())["models"] == ["mock-model"]
            async with session.patch(
                f"{running.url}/admin/channels/mock-gemini", json={"priority": 3}, headers=headers
            ) as response:
                assert response.status == 200, await response.text()
            async with session.delete(f"{running.url}/admin/channels/mock-anthropic", headers=headers) as response:
                assert response.status == 200, await response.text()
        assert (await _get(f"{running.url}/v1/models", running.key))[0] == 401  # the demo key is revoked
        deadline = time.monotonic() + 30
        while True:  # the reload after the last change has run
            status, models = await _get(f"{running.url}/v1/models", mine)
            ids = sorted(m["id"] for m in models["data"]) if isinstance(models, dict) else []
            if ids == ["mock-gemini-model", "mock-model", "real-model"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert status == 200 and ids == ["mock-gemini-model", "mock-model", "real-model"]
        async with openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key=mine, max_retries=0) as client:
            answer = await client.chat.completions.create(
                model="mock-model", messages=[{"role": "user", "content": "hi"}]
            )
        assert answer.choices[0].message.content == "Echo: hi"  # served by the API channel named "mock"
    finally:
        running.output.stop()
    # The next start in the same directory finds the API channel in the database: no demo mode.
    output, port = _serve(tmp_path)
    try:
        assert await _health(f"http://127.0.0.1:{port}") == {"status": "ok", "demo": False}
        assert (await _get(f"http://127.0.0.1:{port}/v1/models", running.key))[0] == 401
        assert (await _get(f"http://127.0.0.1:{port}/v1/models", mine))[0] == 200
    finally:
        printed = output.stop()
    assert "demo key:" not in printed and "DEMO MODE" not in printed


async def test_a_config_file_with_a_channel_is_not_demo_mode_and_revokes_the_demo_key(
    tmp_path: Path, mock_upstream: MockUpstream
) -> None:
    running = _start_demo(tmp_path)
    assert (await _get(f"{running.url}/v1/models", running.key))[0] == 200
    running.output.stop()
    config = tmp_path / "omnirouter.yaml"
    config.write_text(
        f"""
channels:
  - name: up
    provider: openai
    base_url: {mock_upstream.url}/v1
    api_keys: [sk-upstream-config]
    models: [configured-model]
keys:
  - name: me
    key: sk-config-client-0001
"""
    )
    output, port = _serve(tmp_path, "--config", str(config))
    url = f"http://127.0.0.1:{port}"
    try:
        assert await _health(url) == {"status": "ok", "demo": False}
        assert (await _get(f"{url}/v1/models", running.key))[0] == 401  # the same database: demo key revoked
        status, models = await _get(f"{url}/v1/models", "sk-config-client-0001")
        assert status == 200 and [m["id"] for m in models["data"]] == ["configured-model"]  # type: ignore[index]
    finally:
        printed = output.stop()
    assert "demo key:" not in printed and "DEMO MODE" not in printed


async def test_demo_false_in_a_config_without_channels_is_not_demo_mode(tmp_path: Path) -> None:
    config = tmp_path / "omnirouter.yaml"
    config.write_text("demo: false\n")
    output, port = _serve(tmp_path, "--config", str(config))
    try:
        assert await _health(f"http://127.0.0.1:{port}") == {"status": "ok", "demo": False}
    finally:
        printed = output.stop()
    assert "demo key:" not in printed
    assert "omnirouter serve --config" in printed  # the how-to-configure hint instead
