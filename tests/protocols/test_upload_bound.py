"""Bounded uploads: ``read_body`` with ``max_upload_bytes`` answers 413 as soon as the declared length or
the bytes read pass the limit, without pulling the rest of the body from the client."""

from __future__ import annotations

import gzip

import pytest

from omnirouter.config import GatewayConfig
from omnirouter.config.loader import ConfigError, parse_config
from omnirouter.http import Message, Scope, read_body
from omnirouter.ir import ErrorKind, GatewayError

CHUNK = 1000


class CountingReceive:
    """An ASGI ``receive`` that hands out ``chunks`` one message at a time and counts the pulls."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulls = 0

    async def __call__(self) -> Message:
        self.pulls += 1
        index = self.pulls - 1
        return {"type": "http.request", "body": self.chunks[index], "more_body": index < len(self.chunks) - 1}


def scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "headers": list(headers)}


async def too_large(receive: CountingReceive, limit: int, request: Scope) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await read_body(receive, limit, request)
    error = caught.value
    assert (error.status, error.kind) == (413, ErrorKind.REQUEST_TOO_LARGE)
    assert str(limit) in error.message
    return error


def test_the_default_is_25_mib_and_a_config_file_sets_it() -> None:
    assert GatewayConfig().max_upload_bytes == 26214400
    assert parse_config("max_upload_bytes: 1000\n").max_upload_bytes == 1000
    with pytest.raises(ConfigError, match="max_upload_bytes"):
        parse_config("max_upload_bytes: 0\n")


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    receive = CountingReceive([b"x" * CHUNK] * 10)
    await too_large(receive, 5000, scope((b"content-length", b"10000")))
    assert receive.pulls == 0


async def test_a_chunked_body_is_refused_at_the_chunk_that_crosses_the_limit() -> None:
    receive = CountingReceive([b"x" * CHUNK] * 10)
    await too_large(receive, 2500, scope((b"transfer-encoding", b"chunked")))
    assert receive.pulls == 3  # 3000 bytes > 2500: the other seven chunks are never pulled


async def test_a_body_longer_than_its_declared_length_is_still_cut() -> None:
    receive = CountingReceive([b"x" * CHUNK] * 10)
    await too_large(receive, 4500, scope((b"content-length", b"100")))
    assert receive.pulls == 5


async def test_a_body_at_the_limit_is_read_whole() -> None:
    receive = CountingReceive([b"x" * CHUNK] * 4)
    body = await read_body(receive, 4000, scope((b"content-length", b"4000")))
    assert body == b"x" * 4000 and receive.pulls == 4


async def test_a_compressed_upload_is_bounded_by_its_inflated_size() -> None:
    packed = gzip.compress(bytes(CHUNK * 10_000))  # 10 MB of zeros in about 10 kB
    chunks = [packed[i : i + 50] for i in range(0, len(packed), 50)]
    receive = CountingReceive(chunks)
    error = await too_large(receive, 20_000, scope((b"content-encoding", b"gzip")))
    assert "decompressed" in error.message
    assert receive.pulls < len(chunks) // 10
