"""The HTTP/1.1 client's methods (transport/h1_client.py ``request``) against a raw upstream: the request line
and ``Content-Length`` as aiohttp writes them for each method, a HEAD's answer ending with its head, the
head cache telling methods apart; and media calls (transport/media_call.py ``open_call``) over it: GET and
POST on one kept-alive connection with the channel's headers, a redirect followed through aiohttp, a whole
URL a vendor gave through aiohttp, and transport failures classified as before."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from yarl import URL

from omnirouter.config.schema import ChannelConfig
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.media.base import UpstreamCall
from omnirouter.routing import Channel
from omnirouter.transport import AttemptFailure, UpstreamClient, open_call, read_answer
from omnirouter.transport.h1_client import BadRequestHead, H1Client
from tests.helpers.raw_http import RawRequest, answer, raw_upstream

HEADERS = {"content-type": "application/json"}
OK = answer(b'{"ok":1}', "Content-Type: application/json")
METHODS = ["GET", "HEAD", "OPTIONS", "DELETE", "POST", "PUT", "PATCH"]


async def ok(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    writer.write(OK)
    await writer.drain()
    return True


def request_line(request: RawRequest) -> str:
    return request.head.split(b"\r\n", 1)[0].decode()


async def ok_or_head(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    """``OK``, of which only the head to a HEAD."""
    writer.write(OK.split(b"\r\n\r\n")[0] + b"\r\n\r\n" if request_line(request).startswith("HEAD") else OK)
    await writer.drain()
    return True


@pytest.mark.parametrize("method", METHODS)
async def test_a_request_without_a_body_says_its_length_where_aiohttp_does(method: str) -> None:
    async with raw_upstream(ok_or_head) as up:
        client = H1Client()
        response = await client.request(method, URL(up.url + "?a=1"), HEADERS, b"")
        assert await response.read() == (b"" if method == "HEAD" else b'{"ok":1}')
        response.release()
        async with (
            aiohttp.ClientSession(skip_auto_headers=("User-Agent",)) as session,
            session.request(method, up.url + "?a=1", headers=HEADERS) as theirs,
        ):
            await theirs.read()
        ours, aiohttps = up.requests
        assert request_line(ours) == request_line(aiohttps) == f"{method} /v1/chat/completions?a=1 HTTP/1.1"
        assert ours.header("content-length") == aiohttps.header("content-length")
        assert ours.header("content-length") == (None if method in ("GET", "HEAD", "OPTIONS") else "0")
        await client.close()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "GET"])
async def test_a_body_is_sent_with_its_length_whatever_the_method(method: str) -> None:
    async with raw_upstream(ok) as up:
        client = H1Client()
        big = b"x" * (70 * 1024)  # written apart from the head
        for body in (b'{"a":1}', big):
            response = await client.request(method, URL(up.url), HEADERS, body)
            assert await response.read() == b'{"ok":1}'
        assert [(request_line(r).split()[0], r.header("content-length"), r.body) for r in up.requests] == [
            (method, "7", b'{"a":1}'),
            (method, str(len(big)), big),
        ]
        assert up.connections == 1
        await client.close()


async def test_methods_on_one_url_and_headers_keep_their_own_request_lines_on_one_connection() -> None:
    async with raw_upstream(ok) as up:
        client = H1Client()
        url = URL(up.url)
        for method in ("GET", "POST", "GET", "DELETE", "POST"):
            response = await client.request(method, url, HEADERS, b"{}" if method == "POST" else b"")
            assert await response.read() == b'{"ok":1}'
        assert [request_line(r).split()[0] for r in up.requests] == ["GET", "POST", "GET", "DELETE", "POST"]
        assert [r.body for r in up.requests] == [b"", b"{}", b"", b"", b"{}"]
        assert (up.connections, client.connections_made, client.idle) == (1, 1, 1)
        await client.close()


async def test_the_answer_to_a_head_ends_with_its_head_and_its_connection_is_not_reused() -> None:
    async def head_then_ok(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if request_line(request).startswith("HEAD"):  # the length of the body a GET would get, and none
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n")
        else:
            writer.write(OK)
        await writer.drain()
        return True

    async with raw_upstream(head_then_ok) as up:
        client = H1Client()
        response = await asyncio.wait_for(client.request("HEAD", URL(up.url), HEADERS, read=1.0), 2)
        assert response.status == 200 and response.content_length == 1000
        assert response.headers.get("content-type") == "text/plain"
        assert await asyncio.wait_for(response.read(), 1) == b""
        response.release()
        after = await client.request("GET", URL(up.url), HEADERS)
        assert await after.read() == b'{"ok":1}'
        assert up.connections == 2 and client.connections_made == 2
        await client.close()


@pytest.mark.parametrize("method", ["get", "PO ST", "", "GET\r\nX-Evil: 1"])
async def test_a_method_that_is_no_http_token_is_refused(method: str) -> None:
    client = H1Client()
    with pytest.raises(BadRequestHead):
        await client.request(method, URL("http://127.0.0.1:9/x"), HEADERS)
    assert client.connections_made == 0


def _channel(base_url: str, **extra: object) -> Channel:
    config = ChannelConfig(name="raw", provider="openai", base_url=base_url, api_keys=["sk-raw"], models=["m"], **extra)  # type: ignore[arg-type]
    return Channel(config)


def _decode_error(status: int, body: bytes) -> GatewayError:
    return GatewayError(ErrorKind.UPSTREAM, f"status {status}: {body.decode()}")


async def test_media_calls_go_through_the_client_on_one_kept_alive_connection() -> None:
    """GET and POST calls under the channel's base URL, with the channel's auth where the call wants it,
    the call's content type only where it has a body, and the call's own headers."""
    async with raw_upstream(ok) as up:
        client = UpstreamClient()
        await client.start()
        channel = _channel(up.url.removesuffix("/chat/completions"))
        calls = [
            UpstreamCall("/embeddings", b'{"input":"a"}'),
            UpstreamCall("/tasks/t1?x=1", method="GET"),
            UpstreamCall("/embeddings", b'{"input":"b"}'),
            UpstreamCall("/files/f", method="GET", auth=False, headers={"x-vendor": "v"}),
            UpstreamCall("/tasks/t1", method="DELETE"),
        ]
        for call in calls:
            response = await open_call(client, channel, call, "sk-raw", _decode_error)
            assert await read_answer(response, channel) == b'{"ok":1}'
        assert [request_line(r) for r in up.requests] == [
            "POST /v1/embeddings HTTP/1.1",
            "GET /v1/tasks/t1?x=1 HTTP/1.1",
            "POST /v1/embeddings HTTP/1.1",
            "GET /v1/files/f HTTP/1.1",
            "DELETE /v1/tasks/t1 HTTP/1.1",
        ]
        post, get, _, unauthenticated, delete = up.requests
        assert post.header("authorization") == get.header("authorization") == "Bearer sk-raw"
        assert post.header("content-type") == "application/json" and post.body == b'{"input":"a"}'
        assert get.header("content-type") is None and get.header("content-length") is None
        assert unauthenticated.header("authorization") is None and unauthenticated.header("x-vendor") == "v"
        assert delete.header("content-length") == "0"
        assert (up.connections, client.chat.connections_made) == (1, 1)
        await client.close()


async def test_a_redirect_is_followed_through_aiohttp_and_a_whole_url_goes_there() -> None:
    async def redirecting(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if request_line(request).startswith("GET /v1/moved "):
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: /v1/here\r\nContent-Length: 0\r\n\r\n")
        else:
            writer.write(answer(request_line(request).encode(), "Content-Type: text/plain"))
        await writer.drain()
        return True

    async with raw_upstream(redirecting) as up:
        client = UpstreamClient()
        await client.start()
        base = up.url.removesuffix("/chat/completions")
        channel = _channel(base)
        moved = await open_call(client, channel, UpstreamCall("/moved", method="GET"), "k", _decode_error)
        assert await read_answer(moved, channel) == b"GET /v1/here HTTP/1.1"
        whole = await open_call(
            client, channel, UpstreamCall(base + "/dl", method="GET", auth=False), "k", _decode_error
        )
        assert await read_answer(whole, channel) == b"GET /v1/dl HTTP/1.1"
        assert client.chat.connections_made == 1  # the redirected call's first try only
        assert [request_line(r) for r in up.requests] == [
            "GET /v1/moved HTTP/1.1",  # the client's
            "GET /v1/moved HTTP/1.1",  # aiohttp's, then the redirect it followed
            "GET /v1/here HTTP/1.1",
            "GET /v1/dl HTTP/1.1",
        ]
        await client.close()


async def test_media_call_failures_are_classified_as_before() -> None:
    async def refuse_then_reset(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if len(up.requests) == 1:
            writer.write(answer(b'{"error":"busy"}', "Retry-After: 2", status="503 Busy"))
            await writer.drain()
            return True
        writer.transport.abort()
        return False

    async with raw_upstream(refuse_then_reset) as up:
        client = UpstreamClient()
        await client.start()
        channel = _channel(up.url.removesuffix("/chat/completions"))
        with pytest.raises(AttemptFailure) as refused:
            await open_call(client, channel, UpstreamCall("/speech", b"{}"), "k", _decode_error)
        assert refused.value.upstream_status == 503 and refused.value.retryable
        assert refused.value.error.retry_after == 2 and "busy" in refused.value.error.message
        with pytest.raises(AttemptFailure) as reset:
            await open_call(client, channel, UpstreamCall("/speech", b"{}"), "k", _decode_error)
        assert reset.value.retryable and reset.value.error.kind is ErrorKind.UPSTREAM
        await client.close()
    refusing = _channel("http://127.0.0.1:9")
    client = UpstreamClient()
    await client.start()
    with pytest.raises(AttemptFailure) as unreachable:
        await open_call(client, refusing, UpstreamCall("/speech", b"{}"), "k", _decode_error)
    assert unreachable.value.error.kind is ErrorKind.UPSTREAM_UNREACHABLE
    await client.close()
