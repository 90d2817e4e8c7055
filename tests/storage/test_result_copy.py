"""``copy_url``: a vendor's result URL streamed into the store, from the session's mock upstream
(``/media/...`` serves generated files) and a tiny local server for redirects, streams and stalls."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from omnirouter.config.schema import ImageFetchConfig
from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.runner import MockUpstream
from omnirouter.storage.blobs import BlobNotFound, BlobStore
from omnirouter.storage.blobs_local import LocalBlobStore
from omnirouter.transport.result_copy import CopyLimits, ResultCopyError, copy_url
from tests.helpers.processes import free_port

OPEN = CopyLimits(max_bytes=10 * 1024 * 1024, timeout=10, allow_private=True)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "results")


@pytest.fixture
async def helper(mock: MockUpstream) -> AsyncIterator[str]:
    """Redirects to the mock by another host name, a body without a length, a stall."""
    port = int(mock.url.rsplit(":", 1)[1].split("/")[0])

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{port}/media/img-32x32-3-0.png")

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(30):
            await response.write(b"\0" * 10_000)
        await response.write_eof()
        return response

    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=b"late")

    app = web.Application()
    app.add_routes([web.get("/away", away), web.get("/chunked", chunked), web.get("/stall", stall)])
    runner = web.AppRunner(app)
    await runner.setup()
    own = free_port()
    await web.TCPSite(runner, "127.0.0.1", own).start()
    try:
        yield f"http://127.0.0.1:{own}"
    finally:
        await runner.cleanup()


async def stored(store: BlobStore, name: str) -> bytes:
    return b"".join([chunk async for chunk in (await store.open(name)).chunks])


async def test_copies_the_vendor_file_as_served(
    session: aiohttp.ClientSession, local: LocalBlobStore, mock: MockUpstream
) -> None:
    blob = await copy_url(session, f"{mock.url}/media/img-64x48-7-0.png", {}, local, "task_1/cover.png", OPEN)
    data = await stored(local, "task_1/cover.png")
    assert data == media_bytes.image("png", 64, 48, 7)
    assert (blob.size, blob.content_type) == (len(data), "image/png")
    assert Image.open(io.BytesIO(data)).size == (64, 48)
    [request] = [r for r in mock.requests if r.path.startswith("/media/")]
    assert "authorization" not in request["headers"]


async def test_sends_the_channel_headers_when_given(
    session: aiohttp.ClientSession, store: BlobStore, mock: MockUpstream
) -> None:
    url = f"{mock.url}/media/aud-1000-8000-0.wav"
    await copy_url(session, url, {"Authorization": "Bearer vendor-key"}, store, "t/a.wav", OPEN)
    assert await stored(store, "t/a.wav") == media_bytes.audio("wav", 1.0, 8000)
    assert (await store.stat("t/a.wav")).content_type == "audio/wav"
    [request] = [r for r in mock.requests if r.path.startswith("/media/")]
    assert request["headers"]["authorization"] == "Bearer vendor-key"


async def test_private_hosts_are_refused_unless_allowed(
    session: aiohttp.ClientSession, local: LocalBlobStore, mock: MockUpstream
) -> None:
    policy = CopyLimits.from_fetch_policy(ImageFetchConfig(), max_bytes=1000, timeout=5)
    with pytest.raises(ResultCopyError, match="private or reserved") as caught:
        await copy_url(session, f"{mock.url}/media/img-8x8-1-0.png", {}, local, "x.png", policy)
    assert not caught.value.retryable
    assert not [r for r in mock.requests if r.path.startswith("/media/")]
    with pytest.raises(BlobNotFound):
        await local.stat("x.png")
    for url in ("file:///etc/passwd", "ftp://example.com/x"):
        with pytest.raises(ResultCopyError, match="http"):
            await copy_url(session, url, {}, local, "x.png", OPEN)


async def test_too_large_is_cut_off_and_nothing_kept(
    session: aiohttp.ClientSession, store: BlobStore, mock: MockUpstream, helper: str
) -> None:
    small = CopyLimits(max_bytes=100_000, timeout=10, allow_private=True)
    with pytest.raises(ResultCopyError, match="larger than 100000") as declared:
        await copy_url(session, f"{mock.url}/media/img-8x8-1-300000.png", {}, store, "big.png", small)
    with pytest.raises(ResultCopyError, match="larger than 100000") as streamed:  # no Content-Length
        await copy_url(session, f"{helper}/chunked", {}, store, "big.mp4", small)
    assert not declared.value.retryable and not streamed.value.retryable
    for name in ("big.png", "big.mp4"):
        with pytest.raises(BlobNotFound):
            await store.stat(name)
    blob = await copy_url(session, f"{helper}/chunked", {}, store, "ok.mp4", OPEN)
    assert (blob.size, blob.content_type) == (300_000, "video/mp4")


async def test_dead_links_and_stalls(
    session: aiohttp.ClientSession, local: LocalBlobStore, mock: MockUpstream, helper: str
) -> None:
    with pytest.raises(ResultCopyError, match="HTTP 404") as dead:
        await copy_url(session, f"{mock.url}/media/nothing.mp4?token=s3cr3t", {}, local, "d.mp4", OPEN)
    assert (dead.value.status, dead.value.retryable) == (404, False)
    assert "s3cr3t" not in str(dead.value)
    quick = CopyLimits(max_bytes=1000, timeout=0.3, allow_private=True)
    with pytest.raises(ResultCopyError, match=r"within 0\.3 s") as slow:
        await copy_url(session, f"{helper}/stall", {}, local, "s.mp4", quick)
    assert slow.value.retryable


async def test_headers_stay_on_the_vendor_origin_across_redirects(
    session: aiohttp.ClientSession, local: LocalBlobStore, mock: MockUpstream, helper: str
) -> None:
    blob = await copy_url(session, f"{helper}/away", {"Authorization": "Bearer vendor-key"}, local, "r.png", OPEN)
    assert await stored(local, "r.png") == media_bytes.image("png", 32, 32, 3)
    assert blob.content_type == "image/png"
    [request] = [r for r in mock.requests if r.path.startswith("/media/")]
    assert "authorization" not in request["headers"]


async def test_a_data_url_is_stored_as_is_within_the_limit(
    session: aiohttp.ClientSession, local: LocalBlobStore
) -> None:
    blob = await copy_url(session, "data:application/json;base64,eyJ0ZXh0IjogImxhIn0=", {}, local, "t/text", OPEN)
    assert await stored(local, "t/text") == b'{"text": "la"}' and blob.content_type == "application/json"
    await copy_url(session, "data:,plain%20words", {}, local, "t/plain", OPEN)
    assert await stored(local, "t/plain") == b"plain words"
    tiny = CopyLimits(max_bytes=4, timeout=10)
    for url, limits in (("data:text/plain;base64,!!", OPEN), ("data:,too long", tiny), ("data:nocomma", OPEN)):
        with pytest.raises(ResultCopyError) as caught:
            await copy_url(session, url, {}, local, "t/bad", limits)
        assert not caught.value.retryable
    with pytest.raises(BlobNotFound):
        await local.stat("t/bad")
