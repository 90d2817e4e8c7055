"""Connection-level behaviour of a real gateway: WebSocket upgrades and the request header timeout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, raw_connection, running_gateway

HEADER_TIMEOUT = 0.5
AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """A gateway with a short header timeout, one for the module: each test opens its own connections
    and reads only what comes back on them."""
    config = make_config(
        mock_upstream.url, tmp_path_factory.mktemp("transport") / "gw.db", header_timeout=HEADER_TIMEOUT
    )
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
def gateway(served: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    """The module's gateway, with the mock's request log emptied for this test."""
    mock_upstream.requests.clear()
    return served


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records from uvicorn's and the gateway's loggers (uvicorn's do not reach the root logger)."""
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn", "omnirouter")]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for logger in loggers:
            logger.removeHandler(caplog.handler)


def _no_server_errors(log: pytest.LogCaptureFixture) -> None:
    bad = [r.getMessage() for r in log.records if r.levelno >= logging.ERROR]
    assert not bad, bad
    assert not any("unhandled error" in r.getMessage() for r in log.records)


# --- WebSocket upgrades ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/realtime/calls", "/v1/chat/completions", "/nowhere"])
async def test_websocket_upgrade_is_refused_with_4xx(
    gateway: RunningGateway, server_log: pytest.LogCaptureFixture, path: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(f"ws://127.0.0.1:{gateway.port}{path}", additional_headers=AUTH, open_timeout=10):
            pytest.fail("the handshake should have been refused")
    response = refused.value.response
    assert 400 <= response.status_code < 500, response.status_code
    error = json.loads(response.body)["error"]
    assert "websocket" in error["message"].lower()
    _no_server_errors(server_log)


async def test_realtime_handshake_without_a_model_is_a_400(
    gateway: RunningGateway, server_log: pytest.LogCaptureFixture
) -> None:
    """``/v1/realtime`` is the one WebSocket route (tests/realtime): a handshake it cannot serve is a 4xx."""
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(f"ws://127.0.0.1:{gateway.port}/v1/realtime", additional_headers=AUTH, open_timeout=10):
            pytest.fail("the handshake should have been refused")
    assert refused.value.response.status_code == 400
    assert json.loads(refused.value.response.body)["error"]["param"] == "model"
    _no_server_errors(server_log)


async def test_websocket_refusal_speaks_the_clients_protocol(gateway: RunningGateway) -> None:
    headers = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(f"ws://127.0.0.1:{gateway.port}/v1/messages", additional_headers=headers):
            pytest.fail("the handshake should have been refused")
    body = json.loads(refused.value.response.body)
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"


async def test_gateway_serves_http_after_websocket_refusals(gateway: RunningGateway) -> None:
    for _ in range(5):
        with pytest.raises(InvalidStatus):
            async with ws_connect(f"ws://127.0.0.1:{gateway.port}/v1/realtime"):
                pass
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/health") as response:
        assert response.status == 200


# --- header timeout -------------------------------------------------------------------------------


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (fails if it stays open ``seconds``)."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_connections_with_unfinished_headers_are_closed(gateway: RunningGateway) -> None:
    partials = [b"", b"GET /hea", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: app"]
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(raw_connection(gateway.port)) for _ in range(30)]
        for index, (_, writer) in enumerate(conns):
            writer.write(partials[index % len(partials)])
            await writer.drain()
        async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/health") as response:
            assert response.status == 200  # a complete request on another connection is served meanwhile
        answers = await asyncio.gather(*(_closed_within(reader, 10 * HEADER_TIMEOUT + 5) for reader, _ in conns))
    for answer in answers:
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer


async def test_slowloris_is_closed_by_the_whole_header_deadline(gateway: RunningGateway) -> None:
    async with raw_connection(gateway.port) as (reader, writer):
        request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 400 + b"\r\n\r\n"
        started = time.monotonic()
        closed = asyncio.ensure_future(reader.read())
        for byte in request:  # one byte every 50 ms: each arrives well inside the deadline, the whole header does not
            if closed.done():
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.05)
        answer = await asyncio.wait_for(closed, 10)
        assert time.monotonic() - started < 10 * HEADER_TIMEOUT + 5
        assert not answer.startswith(b"HTTP/1.1 200"), answer


async def _health_round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``GET /health`` on an open connection, and its whole answer read."""
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    assert status.startswith(b"HTTP/1.1 200"), status
    while (await reader.readline()) != b"\r\n":
        pass
    assert json.loads(await reader.readexactly(len(b'{"status":"ok","demo":false}'))) == {
        "status": "ok",
        "demo": False,
    }


async def test_keep_alive_connection_serves_requests_slower_than_the_header_timeout(gateway: RunningGateway) -> None:
    """The deadline covers one request's header, not the connection's life nor the idle time between requests."""
    async with raw_connection(gateway.port) as (reader, writer):
        for _ in range(3):
            await _health_round_trip(reader, writer)
            await asyncio.sleep(HEADER_TIMEOUT * 2)


async def test_partial_header_on_a_kept_alive_connection_is_closed(gateway: RunningGateway) -> None:
    """After a first answer, a second request that never finishes its header is cut off too."""
    async with raw_connection(gateway.port) as (reader, writer):
        await _health_round_trip(reader, writer)
        writer.write(b"GET /health HTTP/1.1\r\nHo")  # after the answer: uvicorn's keep-alive timer is off now
        await writer.drain()
        answer = await _closed_within(reader, 10 * HEADER_TIMEOUT + 5)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
