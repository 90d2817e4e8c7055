"""Large media answers pass through a gateway worker with bounded memory: a 20 MB image (OpenAI client →
OpenAI upstream, ``b64_json``) and 20 MB of streamed speech arrive whole and byte-identical to what the
mock sends, while the worker's RSS peaks less than ``BOUND`` above where it was (the worker runs in a
process of its own: ``tests/helpers/worker_memory.py``).  A broken answer after its first bytes ends the
client's answer with the error in the usage row; before them, the next channel is tried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY
from tests.helpers.media_gateway import channel
from tests.helpers.usage_rows import usage_rows
from tests.helpers.worker_memory import MB, Worker, serving_worker

SIZE = 20 * MB
BOUND = 8 * MB
"""The most a worker may grow while relaying one 20 MB answer.  Measured: 1.5-4.2 MB whatever the answer's
size (2-40 MB): a few of its ~256 KiB reads, the JSON's skeleton, allocator slack; reading the answer
whole costs 80-100 MB (docs/media.md).  Twice the worst seen, so that the test is not flaky."""
PROMPT = "A lighthouse at dusk, painted large."
TEXT = "Hello from the memory tests, spoken at length."


@pytest.fixture
async def worker(mock_upstream: MockUpstream, tmp_path: Path) -> AsyncIterator[Worker]:
    """A worker of each test's own: memory a big answer freed stays resident and would hide the next one's."""
    url = mock_upstream.url
    channels = [
        channel(url, "oa", "openai", ["gpt-image-1", "dall-e-2", "tts-1"]),
        channel(url, "fo-first", "openai", ["fo-image"], model_map={"fo-image": "gpt-image-1"}, priority=10),
        channel(url, "fo-second", "openai", ["fo-image"], model_map={"fo-image": "gpt-image-1"}),
    ]
    async with serving_worker(tmp_path, channels) as running:
        yield running


@pytest.fixture
async def client(worker: Worker, mock_upstream: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    mock_upstream.clear_requests()
    mock_upstream.clear_script()
    async with openai.AsyncOpenAI(api_key=CLIENT_KEY, base_url=worker.url + "/v1", max_retries=0) as sdk:
        yield sdk


async def mock_answer(mock_upstream: MockUpstream, path: str, body: dict[str, Any], directive: dict[str, Any]) -> bytes:
    """What the mock itself answers ``body`` under ``directive`` (asked directly, not through the gateway)."""
    mock_upstream.script(directive, times=1)
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(mock_upstream.url + path, json=body, headers=headers) as got,
    ):
        assert got.status == 200
        return await got.read()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def rows_after(db: Path, before: int, count: int) -> list[dict[str, Any]]:
    """The usage rows written after row id ``before``, once there are ``count`` of them."""
    rows: list[dict[str, Any]] = []
    for _ in range(200):
        rows = [row for row in await usage_rows(db) if row["id"] > before]
        if len(rows) >= count:
            break
        await asyncio.sleep(0.05)
    return rows


async def last_row_id(db: Path) -> int:
    await asyncio.sleep(0.2)  # let earlier requests' rows land
    return max((row["id"] for row in await usage_rows(db)), default=0)


async def test_a_20_mb_image_passes_through_with_bounded_memory(
    client: openai.AsyncOpenAI, worker: Worker, mock_upstream: MockUpstream
) -> None:
    await client.images.generate(model="gpt-image-1", prompt="warm up " + PROMPT)  # first-use costs, not measured
    before = await last_row_id(worker.db_path)
    mock_upstream.script({"media_bytes": SIZE}, times=1)
    worker.reset_peak()
    answer = await client.images.generate(model="gpt-image-1", prompt=PROMPT)
    growth = worker.growth()
    direct = orjson.loads(
        await mock_answer(
            mock_upstream, "/v1/images/generations", {"model": "gpt-image-1", "prompt": PROMPT}, {"media_bytes": SIZE}
        )
    )
    assert answer.data is not None and len(answer.data) == 1 and answer.data[0].b64_json is not None
    image = base64.b64decode(answer.data[0].b64_json)
    assert len(image) >= SIZE and image[:8] == b"\x89PNG\r\n\x1a\n"
    assert digest(image) == digest(base64.b64decode(direct["data"][0]["b64_json"]))
    assert answer.usage is not None and answer.usage.output_tokens == direct["usage"]["output_tokens"]
    assert growth < BOUND, f"the worker grew {growth / MB:.1f} MB relaying a 20 MB image"
    [row] = await rows_after(worker.db_path, before, 1)
    assert row["status_code"] == 200 and row["images"] == 1 and not row["stream"]
    assert row["input_tokens"] == direct["usage"]["input_tokens"] > 0
    assert row["output_tokens"] == row["image_output_tokens"] == direct["usage"]["output_tokens"] > 0
    assert row["image_size"] == direct["size"] and row["image_quality"] == direct["quality"]


async def test_20_mb_of_streamed_speech_with_bounded_memory(
    client: openai.AsyncOpenAI, worker: Worker, mock_upstream: MockUpstream
) -> None:
    await client.audio.speech.create(model="tts-1", input="warm up", voice="echo", response_format="wav")
    mock_upstream.script({"media_bytes": SIZE}, times=1)
    worker.reset_peak()
    got = hashlib.sha256()
    size = 0
    async with client.audio.speech.with_streaming_response.create(
        model="tts-1", input=TEXT, voice="echo", response_format="wav"
    ) as response:
        async for chunk in response.iter_bytes():
            got.update(chunk)
            size += len(chunk)
    growth = worker.growth()
    body = {"model": "tts-1", "input": TEXT, "voice": "echo", "response_format": "wav"}
    direct = await mock_answer(mock_upstream, "/v1/audio/speech", body, {"media_bytes": SIZE})
    assert size == len(direct) >= SIZE and got.hexdigest() == digest(direct)
    assert growth < BOUND, f"the worker grew {growth / MB:.1f} MB relaying 20 MB of speech"


async def test_an_image_in_another_form_than_asked_is_read_whole(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    """GPT image answers base64 only: a client asking for ``url`` gets a data: URL of the same image, made
    from the whole answer (the head was read, then the rest)."""
    mock_upstream.script({"media_bytes": 2 * MB}, times=1)
    answer = await client.images.generate(model="gpt-image-1", prompt=PROMPT, response_format="url")
    body = {"model": "gpt-image-1", "prompt": PROMPT}
    direct = orjson.loads(await mock_answer(mock_upstream, "/v1/images/generations", body, {"media_bytes": 2 * MB}))
    assert answer.data is not None and answer.data[0].url is not None
    head, _, payload = answer.data[0].url.partition(",")
    assert head == "data:image/png;base64"
    assert digest(base64.b64decode(payload)) == digest(base64.b64decode(direct["data"][0]["b64_json"]))


async def test_url_answers_pass_through(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    answer = await client.images.generate(model="dall-e-2", prompt=PROMPT, response_format="url", n=2)
    assert answer.data is not None and len(answer.data) == 2
    assert all(item.url and item.url.startswith(mock_upstream.url) for item in answer.data)


async def test_an_answer_broken_after_its_first_bytes_ends_with_the_error_recorded(
    worker: Worker, mock_upstream: MockUpstream
) -> None:
    mock_upstream.clear_requests()
    before = await last_row_id(worker.db_path)
    mock_upstream.script({"media_bytes": 2 * MB, "cut_after": 3}, times=1)  # three 64 KiB pieces, then cut
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    body = {"model": "gpt-image-1", "prompt": "cut short " + PROMPT}
    async with (
        aiohttp.ClientSession() as session,
        session.post(worker.url + "/v1/images/generations", json=body, headers=headers) as response,
    ):
        assert response.status == 200
        got = await response.read()
    assert len(got) == 3 * 64 * 1024 and got.startswith(b'{"created":')  # what the mock sent before the cut
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(got)
    assert len(mock_upstream.requests) == 1  # no second attempt once bytes went out
    [row] = await rows_after(worker.db_path, before, 1)
    assert row["status_code"] == 502 and row["error_kind"] and row["images"] == 0
    assert row["ttfb_ms"] is not None and row["channel"] == "oa"


async def test_an_answer_broken_before_its_first_byte_fails_over(
    client: openai.AsyncOpenAI, worker: Worker, mock_upstream: MockUpstream
) -> None:
    before = await last_row_id(worker.db_path)
    mock_upstream.script({"media_bytes": 2 * MB, "cut_after": 0}, times=1)  # headers, then the connection cut
    raw = await client.images.with_raw_response.generate(model="fo-image", prompt=PROMPT)
    answer = raw.parse()
    assert raw.headers["x-omnirouter-attempts"] == "2"
    assert answer.data is not None and answer.data[0].b64_json is not None
    assert base64.b64decode(answer.data[0].b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(mock_upstream.requests) == 2
    [row] = await rows_after(worker.db_path, before, 1)
    assert row["status_code"] == 200 and row["channel"] == "fo-second" and row["attempts"] == 2 and row["images"] == 1


async def test_a_large_edit_passes_through(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    """Edits take the same path: the answer comes chunked (no Content-Length: nothing was read whole)."""
    upload = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(upload, "PNG")
    mock_upstream.script({"media_bytes": 2 * MB}, times=1)
    raw = await client.images.with_raw_response.edit(
        model="gpt-image-1", image=("photo.png", upload.getvalue(), "image/png"), prompt=PROMPT
    )
    answer = raw.parse()
    assert "content-length" not in raw.headers and raw.headers["x-omnirouter-attempts"] == "1"
    assert answer.data is not None and answer.data[0].b64_json is not None
    image = base64.b64decode(answer.data[0].b64_json)
    assert len(image) >= 2 * MB and Image.open(io.BytesIO(image)).format == "PNG"
    assert answer.usage is not None and answer.usage.input_tokens_details.image_tokens > 0
