"""The chat client's answers (transport/h1_client.py) against crafted bytes from a raw upstream: what it
sends, content-length, chunked (extensions, trailers) and close-delimited bodies, interim 1xx answers,
header limits, gzip and deflate, a streamed answer read in pieces with bounded buffering."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest
from yarl import URL

from omnirouter.ir import ErrorKind
from omnirouter.transport import TRANSPORT_ERRORS, classify_transport_error
from omnirouter.transport.h1_client import BadRequestHead, H1Client
from omnirouter.transport.h1_conn import HIGH_WATER, MAX_HEAD_BYTES, MAX_HEADERS, HeadTooLarge, UpstreamClosed
from tests.helpers.raw_http import RawRequest, answer, raw_upstream

HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-up"}


def sending(*parts: bytes, keep: bool = True):  # type: ignore[no-untyped-def]
    """A ``respond`` writing ``parts`` (one write each, a short pause between them)."""

    async def respond(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)
        return keep

    return respond


async def test_the_request_is_a_plain_http11_post_with_the_channels_headers() -> None:
    async with raw_upstream(sending(answer(b'{"ok":true}', "Content-Type: application/json"))) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b'{"model":"m"}')
        assert (response.status, await response.read()) == (200, b'{"ok":true}')
        await client.close()
    request = up.requests[0]
    assert request.head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert request.header("host") == URL(up.url).host_port_subcomponent
    assert request.header("content-length") == "13" and request.body == b'{"model":"m"}'
    assert request.header("authorization") == "Bearer sk-up"
    assert request.header("accept-encoding") == "gzip, deflate"
    assert request.header("transfer-encoding") is None and request.header("user-agent") is None


async def test_a_header_with_a_line_break_is_never_sent() -> None:
    client = H1Client()
    with pytest.raises(BadRequestHead) as caught:
        await client.post(URL("http://127.0.0.1:9/v1"), {"x-evil": "a\r\nInjected: 1"}, b"{}")
    assert isinstance(caught.value, TRANSPORT_ERRORS)
    assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM


async def test_content_length_answer_with_case_insensitive_headers() -> None:
    raw = answer(b"hello", "Content-Type: application/json", "Retry-After: 7", "X-Two: a", "x-two: b")
    async with raw_upstream(sending(raw)) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        assert response.content_length == 5
        assert response.headers.get("retry-after") == "7" and response.headers.get("RETRY-AFTER") == "7"
        assert response.headers.get("x-missing") is None and response.headers.getall("X-TWO") == ["a", "b"]
        assert ("Content-Type", "application/json") in list(response.headers.items())
        assert await response.content.readany() == b"hello"
        assert await response.content.readany() == b""
        response.release()
        await client.close()


async def test_chunked_answer_with_extensions_and_trailers() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"1\r\n \r\n"
        b'5;a=b;c="d"\r\nworld\r\n'
        b"0\r\nX-Checksum: abc\r\n\r\n"
    )
    async with raw_upstream(sending(raw[:40], raw[40:70], raw[70:])) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        assert response.content_length is None
        assert await response.read() == b"hello world"
        response.release()
        second = await client.post(URL(up.url), HEADERS, b"{}")  # the trailers were consumed: the connection is in step
        assert await second.read() == b"hello world"
        assert (up.connections, client.connections_made) == (1, 1)
        await client.close()


async def test_a_close_delimited_answer_is_read_to_the_end_and_not_reused() -> None:
    async with raw_upstream(sending(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of ", b"it", keep=False)) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        assert await response.read() == b"all of it"
        again = await client.post(URL(up.url), HEADERS, b"{}")
        assert await again.read() == b"all of it"
        assert up.connections == 2
        await client.close()


async def test_interim_1xx_answers_are_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + answer(
        b"final", "X-Final: yes", status="201 Created"
    )
    async with raw_upstream(sending(raw[:20], raw[20:])) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        assert response.status == 201
        assert response.headers.get("link") is None and response.headers.get("x-final") == "yes"
        assert await response.read() == b"final"
        await client.close()


@pytest.mark.parametrize(
    "raw",
    [
        answer(b"x", *[f"X-H{i}: v" for i in range(MAX_HEADERS + 1)]),
        answer(b"x", "X-Big: " + "v" * (MAX_HEAD_BYTES + 10)),
    ],
    ids=["too-many-headers", "one-header-too-long"],
)
async def test_an_answer_head_over_the_limits_is_an_error(raw: bytes) -> None:
    async with raw_upstream(sending(raw)) as up:
        client = H1Client()
        with pytest.raises(HeadTooLarge) as caught:
            await client.post(URL(up.url), HEADERS, b"{}")
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM
        await client.close()


async def test_a_head_that_never_ends_is_cut_at_the_limit() -> None:
    """Header bytes trickling in without the head's end: refused once past the limit, not buffered on."""
    parts = [b"HTTP/1.1 200 OK\r\nX-Endless: "] + [b"v" * 8192] * (MAX_HEAD_BYTES // 8192 + 4)
    async with raw_upstream(sending(*parts)) as up:
        client = H1Client()
        with pytest.raises(HeadTooLarge):
            await client.post(URL(up.url), HEADERS, b"{}")
        await client.close()


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _deflate_raw)],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
async def test_compressed_answers_are_decoded(encoding: str, pack: object) -> None:
    body = b'{"text": "' + b"compressible " * 2000 + b'"}'
    packed: bytes = pack(body)  # type: ignore[operator]
    chunked = b"HTTP/1.1 200 OK\r\nContent-Encoding: " + encoding.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
    for i in range(0, len(packed), 100):
        piece = packed[i : i + 100]
        chunked += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    chunked += b"0\r\n\r\n"
    with_length = answer(packed, f"Content-Encoding: {encoding}")
    async with raw_upstream(sending(with_length)) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        assert response.content_length == len(packed)  # as declared
        assert await response.read() == body
        await client.close()
    async with raw_upstream(sending(chunked[:50], chunked[50:])) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        assert await response.read() == body
        await client.close()


async def test_an_unknown_content_encoding_is_an_error() -> None:
    async with raw_upstream(sending(answer(b"xx", "Content-Encoding: br"))) as up:
        client = H1Client()
        with pytest.raises(TRANSPORT_ERRORS):
            await client.post(URL(up.url), HEADERS, b"{}")
        await client.close()


async def test_a_streamed_answer_is_read_in_pieces_with_bounded_buffering() -> None:
    """The upstream sends 32 MiB as fast as it can; the reader waits: the client stops reading the socket
    above its high-water mark (the upstream's writes back up, far from done), and every byte still arrives
    in order once read."""
    total = 32 * 1024 * 1024
    piece = bytes(range(256)) * 256  # 64 KiB
    written = 0

    async def respond(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        nonlocal written
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(total // len(piece)):
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
            written += len(piece)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async with raw_upstream(respond) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        await asyncio.sleep(0.5)
        assert written < total // 2  # the upstream is held back: kernel buffers hold a few MiB at most
        assert response.buffered <= HIGH_WATER + 512 * 1024  # the mark plus what one socket read may add
        received = 0
        pieces = 0
        while chunk := await response.content.readany():
            assert response.buffered == 0
            start = received % len(piece)
            assert chunk == (piece * (2 + len(chunk) // len(piece)))[start : start + len(chunk)]
            received += len(chunk)
            pieces += 1
            await asyncio.sleep(0)
        assert received == total and pieces > 1
        await client.close()


async def test_eof_in_the_middle_of_a_body_is_an_error_and_the_connection_is_dropped() -> None:
    async with raw_upstream(sending(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", keep=False)) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        with pytest.raises(UpstreamClosed) as caught:
            await response.read()
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM
        assert client.idle == 0
        await client.close()


async def test_eof_in_the_middle_of_a_chunked_body_is_an_error() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    async with raw_upstream(sending(raw, keep=False)) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        assert await response.content.readany() == b"hello"
        with pytest.raises(UpstreamClosed):
            await response.content.readany()
        await client.close()


async def test_garbage_instead_of_an_answer_is_an_error() -> None:
    async with raw_upstream(sending(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as up:
        client = H1Client()
        with pytest.raises(TRANSPORT_ERRORS) as caught:
            await client.post(URL(up.url), HEADERS, b"{}")
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM
        await client.close()


async def test_an_answer_whose_end_came_in_the_read_that_paused_it_leaves_its_connection_reading() -> None:
    """Past the high-water mark in the read that also brought its end, the answer is complete and its
    connection goes back to the pool: reading again, so the next answer on it arrives."""
    body = b"b" * (HIGH_WATER + 1000)  # two socket reads, the second crossing the mark with the end

    async def respond(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(body if request.body == b"big" else b"small"))
        await writer.drain()
        return True

    async with raw_upstream(respond) as up:
        client = H1Client()
        big = await client.post(URL(up.url), HEADERS, b"big")
        await asyncio.sleep(0.2)  # all of it arrives unread
        assert await big.read() == body
        small = await asyncio.wait_for(client.post(URL(up.url), HEADERS, b"small"), 2)
        assert await asyncio.wait_for(small.read(), 2) == b"small"
        assert up.connections == 1
        await client.close()
