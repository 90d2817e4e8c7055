"""What only the S3 backend does, checked behind its back on the real S3-compatible server (moto):
multipart uploads for large blobs, aborted uploads on failure, the key layout, the configured URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omnirouter.storage.blobs import make_blob_store
from omnirouter.storage.blobs_local import LocalBlobStore
from omnirouter.storage.blobs_s3 import MIN_PART_SIZE, S3BlobStore
from tests.helpers.s3_server import BUCKET

MiB = 1024 * 1024


async def chunks(total: int, size: int = MiB) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield bytes([start // size % 256]) * min(size, total - start)


async def keys(s3: Any, prefix: str) -> dict[str, int]:
    answer = await s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"]: item["Size"] for item in answer.get("Contents", [])}


async def test_large_blobs_go_up_in_parts_small_ones_whole(s3_store: S3BlobStore, s3_client: Any) -> None:
    await s3_store.put("task_9/video.mp4", chunks(12 * MiB), "video/mp4")
    await s3_store.put("task_9/cover.jpg", chunks(1000), "image/jpeg")
    big = await s3_client.head_object(Bucket=BUCKET, Key=f"{s3_store.prefix}/task_9/video.mp4")
    small = await s3_client.head_object(Bucket=BUCKET, Key=f"{s3_store.prefix}/task_9/cover.jpg")
    assert big["ETag"].strip('"').endswith("-3")  # 12 MiB in 5 MiB parts: 5 + 5 + 2
    assert big["ContentType"] == "video/mp4"
    assert big["ContentLength"] == 12 * MiB
    assert "-" not in small["ETag"]
    assert await keys(s3_client, s3_store.prefix + "/") == {
        f"{s3_store.prefix}/task_9/video.mp4": 12 * MiB,
        f"{s3_store.prefix}/task_9/cover.jpg": 1000,
        f"{s3_store.prefix}/.meta/task_9/video.mp4.json": pytest.approx(120, abs=60),
        f"{s3_store.prefix}/.meta/task_9/cover.jpg.json": pytest.approx(120, abs=60),
    }


async def test_a_failed_upload_is_aborted(s3_store: S3BlobStore, s3_client: Any) -> None:
    async def broken() -> AsyncIterator[bytes]:
        async for chunk in chunks(11 * MiB):
            yield chunk
        raise ConnectionResetError("vendor went away")

    with pytest.raises(ConnectionResetError):
        await s3_store.put("x/video.mp4", broken(), "video/mp4")
    uploads = await s3_client.list_multipart_uploads(Bucket=BUCKET, Prefix=s3_store.prefix)
    assert uploads.get("Uploads", []) == []
    assert await keys(s3_client, s3_store.prefix + "/") == {}


async def test_sweep_aborts_stale_uploads_and_orphans(s3_store: S3BlobStore, s3_client: Any) -> None:
    prefix = s3_store.prefix
    stale = await s3_client.create_multipart_upload(Bucket=BUCKET, Key=f"{prefix}/left/over.mp4")
    await s3_client.put_object(Bucket=BUCKET, Key=f"{prefix}/crashed/before-meta.mp4", Body=b"bytes")
    await asyncio.sleep(1.1)
    cutoff = datetime.now(UTC)
    await asyncio.sleep(1.1)
    assert await s3_store.delete_older_than(cutoff) == 0  # neither was ever a visible blob
    uploads = await s3_client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
    assert stale["UploadId"] not in [u["UploadId"] for u in uploads.get("Uploads", [])]
    assert await keys(s3_client, prefix + "/") == {}


async def test_make_blob_store_reads_the_configured_url(s3_endpoint: str, tmp_path: Path) -> None:
    store = make_blob_store(f"s3://{BUCKET}/cfg/results", s3_endpoint, tmp_path)
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.endpoint_url) == (BUCKET, "cfg/results", s3_endpoint)
    try:
        blob = await store.put("a.txt", chunks(10), "text/plain")
        assert await store.stat("a.txt") == blob
    finally:
        await store.close()
    local = make_blob_store("local:kept", None, tmp_path)
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "kept"
    absolute = make_blob_store(f"local:{tmp_path / 'abs'}", None, Path("/elsewhere"))
    assert isinstance(absolute, LocalBlobStore) and absolute.root == tmp_path / "abs"
    default = make_blob_store(None, None, tmp_path)
    assert isinstance(default, LocalBlobStore) and default.root == tmp_path / "results"
    for bad in ("s3://", "local:", "gs://bucket", "/tmp/x"):
        with pytest.raises(ValueError, match=r"tasks\.result_store"):
            make_blob_store(bad, None, tmp_path)


def test_parts_below_the_s3_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3BlobStore(BUCKET, "p", part_size=MIN_PART_SIZE - 1)
