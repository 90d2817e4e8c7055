"""The result store: one suite over the local directory and a real S3-compatible server (moto), the
signed gateway URLs, and ``send_blob`` answering stored bytes (with ranges) over ASGI."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omnirouter.http.blob_response import byte_range, send_blob
from omnirouter.storage.blobs import BlobNameError, BlobNotFound, BlobStore, check_blob_name
from omnirouter.storage.blobs_local import LocalBlobStore
from omnirouter.storage.blobs_s3 import S3BlobStore

DATA = bytes(range(256)) * 1000 + b"tail"  # 256,004 bytes


async def stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_put_stat_open_round_trip(store: BlobStore) -> None:
    blob = await store.put("task_1/video.mp4", stream([DATA[:1000], b"", DATA[1000:]]), "video/mp4")
    assert (blob.name, blob.size, blob.content_type) == ("task_1/video.mp4", len(DATA), "video/mp4")
    assert blob.sha256 == hashlib.sha256(DATA).hexdigest()
    assert await store.stat("task_1/video.mp4") == blob
    content_type, size, chunks = await store.open("task_1/video.mp4")
    assert (content_type, size) == ("video/mp4", len(DATA))
    assert await read_all(chunks) == DATA


async def test_empty_blob(store: BlobStore) -> None:
    blob = await store.put("empty.bin", stream([]), "application/octet-stream")
    assert (blob.size, blob.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert await read_all((await store.open("empty.bin")).chunks) == b""


@pytest.mark.parametrize(("start", "end"), [(0, 10), (5, 1000), (255_990, 256_004), (100_000, 100_001), (7, 7)])
async def test_open_range_is_a_slice(store: BlobStore, start: int, end: int) -> None:
    await store.put("r.bin", stream([DATA]), "application/octet-stream")
    assert await read_all(await store.open_range("r.bin", start, end)) == DATA[start:end]


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (10, 5), (0, len(DATA) + 1)])
async def test_open_range_outside_the_blob_is_refused(store: BlobStore, start: int, end: int) -> None:
    await store.put("r.bin", stream([DATA]), "application/octet-stream")
    with pytest.raises(ValueError, match="outside"):
        await store.open_range("r.bin", start, end)


async def test_missing_blobs(store: BlobStore) -> None:
    for call in (store.stat("nope"), store.open("nope"), store.open_range("nope", 0, 0)):
        with pytest.raises(BlobNotFound):
            await call
    await store.delete("nope")  # nothing to delete: no error


async def test_delete_and_overwrite(store: BlobStore) -> None:
    await store.put("a/b/c.jpg", stream([b"first"]), "image/jpeg")
    replaced = await store.put("a/b/c.jpg", stream([b"second!"]), "image/png")
    assert await store.stat("a/b/c.jpg") == replaced
    assert (replaced.size, replaced.content_type) == (7, "image/png")
    assert await read_all((await store.open("a/b/c.jpg")).chunks) == b"second!"
    await store.put("a/other.jpg", stream([b"x"]), "image/jpeg")
    await store.delete("a/b/c.jpg")
    with pytest.raises(BlobNotFound):
        await store.stat("a/b/c.jpg")
    with pytest.raises(BlobNotFound):
        await store.open("a/b/c.jpg")
    assert (await store.stat("a/other.jpg")).size == 1


async def test_a_failing_stream_stores_nothing(store: BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (6 * 1024 * 1024)  # past one S3 part: a multipart upload was begun
        raise RuntimeError("vendor hung up")

    with pytest.raises(RuntimeError, match="vendor hung up"):
        await store.put("broken.mp4", broken(), "video/mp4")
    with pytest.raises(BlobNotFound):
        await store.stat("broken.mp4")
    with pytest.raises(BlobNotFound):
        await store.open("broken.mp4")


async def test_retention_sweep_removes_only_older_blobs(store: BlobStore) -> None:
    await store.put("old/video.mp4", stream([b"old"]), "video/mp4")
    await store.put("old/cover.jpg", stream([b"cover"]), "image/jpeg")
    await asyncio.sleep(1.1)  # S3 keeps whole seconds
    cutoff = datetime.now(UTC)
    await asyncio.sleep(1.1)
    await store.put("new/video.mp4", stream([b"new"]), "video/mp4")
    assert await store.delete_older_than(cutoff) == 2
    for name in ("old/video.mp4", "old/cover.jpg"):
        with pytest.raises(BlobNotFound):
            await store.stat(name)
    assert await read_all((await store.open("new/video.mp4")).chunks) == b"new"
    assert await store.delete_older_than(cutoff) == 0
    with pytest.raises(ValueError, match="timezone"):
        await store.delete_older_than(datetime.now())  # naive on purpose


BAD_NAMES = ["", "../x", "a/../../b", "/etc/passwd", "a//b", "a/", ".meta/x.json", "a/.tmp-1", "a\\b", "..", "é"]
BAD_NAMES.append("x" * 600)


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_names_that_could_leave_the_store_are_refused(store: BlobStore, name: str) -> None:
    with pytest.raises(BlobNameError):
        await store.put(name, stream([b"evil"]), "text/plain")
    for call in (store.stat(name), store.open(name), store.open_range(name, 0, 0), store.delete(name)):
        with pytest.raises(BlobNameError):
            await call


def test_good_names() -> None:
    for name in ("task_abc/video.mp4", "a", "A-b_c.d/e.f", "v1/x..y"):
        assert check_blob_name(name) == name


async def test_local_store_never_writes_outside_its_folder(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "results")
    for name in BAD_NAMES:
        with pytest.raises(BlobNameError):
            await store.put(name, stream([b"evil"]), "text/plain")
    await store.put("ok/one.bin", stream([b"1"]), "text/plain")
    files = await asyncio.to_thread(lambda: [p for p in tmp_path.rglob("*") if p.is_file()])
    outside = [p for p in files if (tmp_path / "results") not in p.parents]
    assert outside == []


async def test_fifty_megabytes_stream_in_bounded_memory(store: BlobStore) -> None:
    block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)  # 1 MiB
    expected = hashlib.sha256()

    async def big() -> AsyncIterator[bytes]:
        for i in range(50):
            chunk = i.to_bytes(4, "big") + block[4:]
            expected.update(chunk)
            yield chunk

    await store.put("warm.bin", stream([b"w"]), "text/plain")  # one-time setup (an S3 client loads its model)
    tracemalloc.start()
    try:
        blob = await store.put("big.mp4", big(), "video/mp4")
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        seen = hashlib.sha256()
        size = 0
        async for chunk in (await store.open("big.mp4")).chunks:
            seen.update(chunk)
            size += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (blob.size, size) == (50 * 1024 * 1024, 50 * 1024 * 1024)
    assert blob.sha256 == seen.hexdigest() == expected.hexdigest()
    # An S3 put holds one part (5 MiB here) and the client's copy of it; a local put about one chunk
    # (the generator above makes three 1 MiB objects per chunk itself).
    assert put_peak < (14 if isinstance(store, S3BlobStore) else 6) * 1024 * 1024, put_peak
    assert read_peak < 3 * 1024 * 1024, read_peak


# --- send_blob: the ASGI answer ------------------------------------------------------------------


async def asgi_get(
    store: BlobStore, name: str, headers: dict[str, str], method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(dict(message))

    await send_blob(send, scope, store, name, [(b"cache-control", b"private, max-age=60")])
    start, *body = messages
    assert start["type"] == "http.response.start"
    assert all(m["type"] == "http.response.body" for m in body)
    assert [m.get("more_body", False) for m in body][-1] is False
    answer = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, b"".join(m["body"] for m in body)


async def test_send_blob_whole_and_ranges(store: BlobStore) -> None:
    blob = await store.put("v/video.mp4", stream([DATA]), "video/mp4")
    etag = f'"{blob.sha256}"'
    status, headers, body = await asgi_get(store, "v/video.mp4", {})
    assert (status, body) == (200, DATA)
    assert headers["content-type"] == "video/mp4"
    assert headers["content-length"] == str(len(DATA))
    assert headers["etag"] == etag
    assert headers["accept-ranges"] == "bytes"
    assert headers["cache-control"] == "private, max-age=60"

    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=10-19"})
    assert (status, body, headers["content-range"]) == (206, DATA[10:20], f"bytes 10-19/{len(DATA)}")
    assert headers["content-length"] == "10"
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=256000-"})
    assert (status, body, headers["content-range"]) == (206, DATA[256000:], f"bytes 256000-256003/{len(DATA)}")
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=-4"})
    assert (status, body) == (206, b"tail")
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=0-999999999"})
    assert (status, body) == (206, DATA)
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": f"bytes={len(DATA)}-"})
    assert (status, body, headers["content-range"]) == (416, b"", f"bytes */{len(DATA)}")
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=0-1,5-6"})
    assert (status, body) == (200, DATA)  # several ranges: the whole blob
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert (status, body) == (200, DATA)
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=0-9", "If-Range": etag})
    assert (status, body) == (206, DATA[:10])
    status, headers, body = await asgi_get(store, "v/video.mp4", {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    status, headers, body = await asgi_get(store, "v/video.mp4", {"Range": "bytes=5-9"}, method="HEAD")
    assert (status, body, headers["content-length"]) == (206, b"", "5")


async def test_send_blob_of_a_missing_blob_sends_nothing(store: BlobStore) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    with pytest.raises(BlobNotFound):
        await send_blob(send, {"type": "http", "method": "GET", "headers": []}, store, "gone.mp4")
    assert sent == []


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-0", 100, (0, 1)),
        ("bytes=99-", 100, (99, 100)),
        ("bytes=-200", 100, (0, 100)),
        ("bytes=100-", 100, False),
        ("bytes=-0", 100, False),
        ("bytes=5-2", 100, None),
        ("bytes=-", 100, None),
        ("items=0-5", 100, None),
        ("bytes=0-", 0, False),
    ],
)
def test_byte_range(header: str | None, size: int, expected: object) -> None:
    assert byte_range(header, size) == expected


async def test_local_sweep_removes_leftovers_of_crashed_puts(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "results")
    await store.put("kept/video.mp4", stream([b"v"]), "video/mp4")
    leftovers = [tmp_path / "results" / "kept" / ".tmp-abc", tmp_path / "results" / "crashed" / "before-meta.mp4"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
        os.utime(path, (1_000_000_000, 1_000_000_000))  # 2001
    assert await store.delete_older_than(datetime(2020, 1, 1, tzinfo=UTC)) == 0  # no visible blob was removed
    assert not any(path.exists() for path in leftovers)
    assert await read_all((await store.open("kept/video.mp4")).chunks) == b"v"
