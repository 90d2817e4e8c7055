"""omnirouter's HTTP/1.1 server protocol (http/server_protocol.py) under uvicorn, over real sockets.

A small ASGI app of the test's own stands in for the gateway, so every corner of the protocol can be reached:
keep-alive, pipelining, chunked bodies both ways, ``Expect: 100-continue``, HEAD, malformed requests, app
errors, client disconnects, flow control, the header cap, the keep-alive timeout, the lifespan state and
WebSocket upgrades.  The gateway's own connection tests (header deadline, slowloris, upgrades to the realtime
route) are in ``test_gateway_transport.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import uvicorn
from websockets.asyncio.client import connect as ws_connect

from omnirouter.http.header_deadline import HEADER_TIMEOUT_STATE
from omnirouter.http.server_protocol import MAX_HEADER_BYTES, HttpProtocol
from tests.helpers.gateway_harness import raw_connection

KEEP_ALIVE = 1
BIG = 8 * 1024 * 1024


class App:
    """The test's ASGI app: a few routes that exercise the server, and what they saw."""

    def __init__(self) -> None:
        self.disconnects: asyncio.Queue[str] = asyncio.Queue()
        self.states: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(receive, send)
        else:
            await getattr(self, "route_" + scope["path"].strip("/").replace("-", "_"))(scope, receive, send)

    async def _lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["marker"] = "from lifespan"
                scope["state"][HEADER_TIMEOUT_STATE] = 5.0
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _websocket(self, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "echo: " + message["text"]})
        await send({"type": "websocket.close", "code": 1000})

    async def route_echo(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The request as the app saw it, with the body's length and digest, as one JSON answer."""
        body = b""
        messages = 0
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            body += message["body"]
            messages += 1
            if not message["more_body"]:
                break
        answer = {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "http_version": scope["http_version"],
            "size": len(body),
            "sha": hashlib.sha256(body).hexdigest(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "messages": messages,
        }
        data = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def route_stream(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Ten parts, no content-length: the server frames them chunked."""
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for index in range(10):
            await send({"type": "http.response.body", "body": b"part %d\n" % index, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    async def route_big(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """``BIG`` bytes in 64 KiB messages with their length: the writes outrun a client that does not read."""
        block = bytes(range(256)) * 256
        headers = [(b"content-length", b"%d" % BIG)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for offset in range(0, BIG, len(block)):
            more = offset + len(block) < BIG
            await send({"type": "http.response.body", "body": block, "more_body": more})

    async def route_boom(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("the app failed before answering")

    async def route_boom_late(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})
        raise RuntimeError("the app failed halfway through its answer")

    async def route_watch(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A stream that never ends: its first part, then what ``receive`` says once the client leaves."""
        await receive()  # the (empty) body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        message = await asyncio.wait_for(receive(), 30)
        await self.disconnects.put(message["type"])

    async def route_state(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        state = scope["state"]
        self.states.append(state)
        data = json.dumps({"marker": state["marker"], "touched": "touched" in state}).encode()
        state["touched"] = True  # a copy per request: the next one must not see this
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[App, int]]:
    app = App()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http=HttpProtocol,
        lifespan="on",
        log_level="warning",
        log_config=None,
        timeout_keep_alive=KEEP_ALIVE,
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    try:
        yield app, server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One response read off a raw connection: status line, headers, body (by length or chunked)."""
    status = (await asyncio.wait_for(reader.readline(), 10)).rstrip()
    headers: dict[bytes, bytes] = {}
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.rstrip().partition(b": ")
        headers[name.lower()] = value
    if b"content-length" in headers:
        return status, headers, await reader.readexactly(int(headers[b"content-length"]))
    if headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            assert await reader.readexactly(2) == b"\r\n"
        assert await reader.readexactly(2) == b"\r\n"
        return status, headers, body
    return status, headers, b""


def _echo(body: bytes) -> dict[str, Any]:
    return json.loads(body)  # type: ignore[no-any-return]


async def test_keep_alive_serves_two_requests_on_one_connection(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        for index in range(2):
            writer.write(b"GET /echo?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % index)
            status, headers, body = await _response(reader)
            assert status == b"HTTP/1.1 200 OK"
            assert b"connection" not in headers and b"date" in headers
            seen = _echo(body)
            assert (seen["method"], seen["path"], seen["query"], seen["size"]) == ("GET", "/echo", f"n={index}", 0)


async def test_pipelined_requests_are_answered_in_order(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(
            b"".join(
                b"POST /echo?n=%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (i, i, b"x" * i)
                for i in range(5)
            )
        )
        for index in range(5):
            status, _, body = await _response(reader)
            assert status == b"HTTP/1.1 200 OK"
            assert (_echo(body)["query"], _echo(body)["size"]) == (f"n={index}", index)


async def test_a_chunked_request_body_reaches_the_app_whole(served: tuple[App, int]) -> None:
    parts = [b"hello ", b"chunked ", b"world" * 1000]
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in parts:
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        status, _, body = await _response(reader)
    assert status == b"HTTP/1.1 200 OK"
    assert _echo(body)["sha"] == hashlib.sha256(b"".join(parts)).hexdigest()


async def test_a_large_request_body_arrives_intact_under_backpressure(served: tuple[App, int]) -> None:
    payload = bytes(range(256)) * 4096 * 4  # 4 MiB, far over the 64 KiB the server buffers before pausing
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(payload))
        for offset in range(0, len(payload), 1 << 20):
            writer.write(payload[offset : offset + (1 << 20)])
            await writer.drain()
        seen = _echo((await _response(reader))[2])
    assert (seen["size"], seen["sha"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert seen["messages"] > 1  # it came in several receive() messages


async def test_expect_100_continue_is_answered_before_the_body_is_sent(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readline(), 10) == b"HTTP/1.1 100 Continue\r\n"
        assert await reader.readline() == b"\r\n"
        writer.write(b"hello")
        status, _, body = await _response(reader)
    assert status == b"HTTP/1.1 200 OK"
    assert _echo(body)["size"] == 5


async def test_head_gets_the_headers_and_no_body(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = await _response_head(reader)
        assert status == b"HTTP/1.1 200 OK" and int(headers[b"content-length"]) > 0
        status, headers, body = await _response(reader)  # the very next bytes are the second answer
    assert status == b"HTTP/1.1 200 OK"
    assert body == b"".join(b"part %d\n" % i for i in range(10))


async def _response_head(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    status = (await asyncio.wait_for(reader.readline(), 10)).rstrip()
    headers: dict[bytes, bytes] = {}
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.rstrip().partition(b": ")
        headers[name.lower()] = value
    return status, headers, b""


async def test_a_response_without_length_is_chunked(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        _status, headers, body = await _response(reader)
    assert headers[b"transfer-encoding"] == b"chunked"
    assert body == b"".join(b"part %d\n" % i for i in range(10))


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"NOT A REQUEST\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    ],
)
async def test_a_malformed_request_gets_a_400_and_the_connection_closes(
    served: tuple[App, int], request_bytes: bytes
) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(request_bytes)
        answer = await asyncio.wait_for(reader.read(), 10)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
    assert b"connection: close\r\n" in answer


async def test_a_header_over_the_cap_gets_a_431(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


async def test_an_app_exception_before_the_answer_is_a_500(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = await _response(reader)
        assert (status, body) == (b"HTTP/1.1 500 Internal Server Error", b"Internal Server Error")
        assert headers[b"connection"] == b"close"
        assert await asyncio.wait_for(reader.read(), 10) == b""


async def test_an_app_exception_mid_answer_closes_the_connection(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"GET /boom-late HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
    assert not answer.endswith(b"12345" * 2)  # cut short: the client can tell from the length


async def test_a_client_leaving_mid_stream_is_an_http_disconnect(served: tuple[App, int]) -> None:
    app, port = served
    async with raw_connection(port) as (reader, writer):
        writer.write(b"GET /watch HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
        while not (await reader.readline()).startswith(b"first"):
            pass
    assert await asyncio.wait_for(app.disconnects.get(), 10) == "http.disconnect"


async def test_a_big_answer_to_a_slow_reader_arrives_whole(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.5)  # the server's writes fill the socket buffers and must wait
        _status, headers, body = await _response(reader)
        assert int(headers[b"content-length"]) == BIG == len(body)
        assert body == (bytes(range(256)) * 256) * (BIG // 65536)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")  # and the connection is still in step
        assert (await _response(reader))[0] == b"HTTP/1.1 200 OK"


async def test_connection_close_and_http_1_0_close_after_the_answer(served: tuple[App, int]) -> None:
    for request in (b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"GET /echo HTTP/1.0\r\n\r\n"):
        async with raw_connection(served[1]) as (reader, writer):
            writer.write(request)
            status, headers, _body = await _response(reader)
            assert status.endswith(b"200 OK") and headers[b"connection"] == b"close"
            assert await asyncio.wait_for(reader.read(), 10) == b""


async def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await _response(reader))[0] == b"HTTP/1.1 200 OK"
        assert await asyncio.wait_for(reader.read(), KEEP_ALIVE + 10) == b""


async def test_each_request_gets_its_own_copy_of_the_lifespan_state(served: tuple[App, int]) -> None:
    app, port = served
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.get(f"http://127.0.0.1:{port}/state") as response:
                seen = await response.json()
            assert seen["marker"] == "from lifespan"
            assert seen["touched"] is False  # the earlier request's key did not leak into this one
    assert app.states[-1] is not app.states[-2]


async def test_percent_encoded_paths_and_absolute_form_targets(served: tuple[App, int]) -> None:
    async with raw_connection(served[1]) as (reader, writer):
        writer.write(b"GET /ec%68o?q=%20 HTTP/1.1\r\nHost: x\r\n\r\nGET http://x/echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        first = _echo((await _response(reader))[2])
        second = _echo((await _response(reader))[2])
    assert (first["path"], first["raw_path"], first["query"]) == ("/echo", "/ec%68o", "q=%20")
    assert (second["path"], second["query"]) == ("/echo", "a=1")


async def test_concurrent_clients_over_kept_alive_connections(served: tuple[App, int]) -> None:
    connector = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index: int) -> int:
            async with session.post(f"http://127.0.0.1:{served[1]}/echo", data=b"y" * index) as response:
                return int((await response.json())["size"])

        assert await asyncio.gather(*(one(i) for i in range(200))) == list(range(200))


async def test_access_log_lines_when_uvicorns_access_logger_has_a_handler(
    served: tuple[App, int], caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, "uvicorn.access")
    try:
        async with raw_connection(served[1]) as (reader, writer):  # a new connection reads the logger's state
            writer.write(b"GET /echo?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await _response(reader))[0] == b"HTTP/1.1 200 OK"
    finally:
        logger.removeHandler(caplog.handler)
    assert any('"GET /echo?x=1 HTTP/1.1" 200' in record.getMessage() for record in caplog.records)


async def test_a_websocket_upgrade_is_handed_to_uvicorns_websocket_protocol(served: tuple[App, int]) -> None:
    async with ws_connect(f"ws://127.0.0.1:{served[1]}/ws") as socket:
        await socket.send("hi")
        assert await socket.recv() == "echo: hi"
    async with raw_connection(served[1]) as (reader, writer):  # plain HTTP still served afterwards
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await _response(reader))[0] == b"HTTP/1.1 200 OK"
