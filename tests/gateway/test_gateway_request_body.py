"""Request bodies on a real gateway: the size limit, Content-Length, compressed bodies (gzip, deflate)."""

from __future__ import annotations

import asyncio
import gzip
import json
import resource
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anthropic
import httpx2
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, raw_connection, running_gateway

MAX_BODY = 64 * 1024
AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """A gateway with a small body limit, one for the module (no test here changes its config or reads
    usage rows; the zip bomb test starts its own)."""
    config = make_config(mock_upstream.url, tmp_path_factory.mktemp("body") / "gw.db", max_body_bytes=MAX_BODY)
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
def gateway(served: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    """The module's gateway, with the mock's request log emptied for this test."""
    mock_upstream.requests.clear()
    return served


# --- body size and Content-Length -----------------------------------------------------------------


async def test_content_length_over_the_limit_is_413_before_the_body_is_sent(gateway: RunningGateway) -> None:
    async with raw_connection(gateway.port) as (reader, writer):
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + CLIENT_KEY.encode() + b"\r\nContent-Length: 1000000000\r\n\r\n"
        )
        writer.write(head)  # and never a byte of the body
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 413"), status


async def test_content_length_413_in_anthropic_format(gateway: RunningGateway) -> None:
    async with raw_connection(gateway.port) as (reader, writer):
        head = (
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"anthropic-version: 2023-06-01\r\n"
            b"x-api-key: " + CLIENT_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1)
        )
        writer.write(head)
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 413"), status
        headers: dict[bytes, bytes] = {}
        while (line := await reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            headers[name.lower()] = value.strip()
        body = json.loads(await reader.readexactly(int(headers[b"content-length"])))
        assert body["type"] == "error" and body["error"]["type"] == "request_too_large"


async def test_body_just_under_the_limit_is_read(gateway: RunningGateway) -> None:
    padded = {**CHAT, "user": "x" * (MAX_BODY - 200)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gateway.url}/v1/chat/completions", json=padded, headers=AUTH) as response,
    ):
        assert response.status == 200, await response.text()


# --- compressed bodies ----------------------------------------------------------------------------


async def _gzip_request_body(request: httpx2.Request) -> None:
    """An httpx request hook that sends the body gzipped (the SDKs have no option for it)."""
    body = gzip.compress(await request.aread())
    request.headers["Content-Encoding"] = "gzip"
    request.headers["Content-Length"] = str(len(body))
    request.stream = httpx2.ByteStream(body)
    request._content = body


def _post(
    session: aiohttp.ClientSession, url: str, data: bytes, encoding: str
) -> aiohttp.client._RequestContextManager:
    headers = {**AUTH, "Content-Type": "application/json", "Content-Encoding": encoding}
    return session.post(f"{url}/v1/chat/completions", data=data, headers=headers)


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some clients send it
        ("identity", lambda data: data),
    ],
)
async def test_compressed_body_is_decoded(gateway: RunningGateway, encoding: str, compress: object) -> None:
    assert callable(compress)
    data = compress(json.dumps(CHAT).encode())
    async with aiohttp.ClientSession() as session, _post(session, gateway.url, data, encoding) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["object"] == "chat.completion"


async def test_gzip_body_from_the_openai_sdk(gateway: RunningGateway) -> None:
    """The SDK with a transport hook that gzips every request body, as a proxy-side client might."""
    async with httpx2.AsyncClient(event_hooks={"request": [_gzip_request_body]}) as http_client:
        sdk = openai.AsyncOpenAI(
            base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0, http_client=http_client
        )
        completion = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content


async def test_gzip_body_over_the_limit_after_decompression_is_413(gateway: RunningGateway) -> None:
    padded = json.dumps({**CHAT, "user": "x" * (MAX_BODY + 10)}).encode()
    data = gzip.compress(padded)
    assert len(data) < MAX_BODY  # small on the wire, too large once inflated
    async with aiohttp.ClientSession() as session, _post(session, gateway.url, data, "gzip") as response:
        assert response.status == 413
        assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_zip_bomb_is_413_without_inflating_it(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    """1 GB of zeros gzipped to about 1 MB, against the default 32 MB limit: refused, memory stays flat."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush()
    assert len(bomb) < 2 << 20
    config = make_config(mock_upstream.url, tmp_path / "gw.db")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with (
        running_gateway(config) as gateway,
        aiohttp.ClientSession() as session,
        _post(session, gateway.url, bomb, "gzip") as response,
    ):
        assert response.status == 413
        assert "exceeds" in (await response.json())["error"]["message"]
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 300, f"peak RSS grew by {grown_mb:.0f} MB"


@pytest.mark.parametrize(("encoding", "status"), [("br", 415), ("zstd", 415), ("compress", 415), ("gzip, br", 415)])
async def test_unknown_encoding_is_refused_by_name(gateway: RunningGateway, encoding: str, status: int) -> None:
    async with aiohttp.ClientSession() as session, _post(session, gateway.url, b"xx", encoding) as response:
        assert response.status == status
        assert encoding in (await response.json())["error"]["message"]


async def test_corrupt_gzip_is_400(gateway: RunningGateway) -> None:
    data = gzip.compress(json.dumps(CHAT).encode())
    for broken in (b"not gzip at all", data[:-12]):  # garbage, and a stream cut short
        async with aiohttp.ClientSession() as session, _post(session, gateway.url, broken, "gzip") as response:
            assert response.status == 400, await response.text()
            assert "gzip" in (await response.json())["error"]["message"]


async def test_gzip_body_on_anthropic_route(gateway: RunningGateway) -> None:
    """The official Anthropic SDK sends a gzipped body through a request hook; errors come in its format."""
    async with httpx2.AsyncClient(event_hooks={"request": [_gzip_request_body]}) as http_client:
        sdk = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0, http_client=http_client)
        with pytest.raises(anthropic.NotFoundError) as missing:
            await sdk.messages.create(model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert "no-such-model" in str(missing.value)
