"""``tasks.retention.RetentionSweep`` over both result stores (a local directory and the S3-compatible moto
server), with an injected clock: nothing goes before its retention ends, everything older goes, and two
replicas sweeping the same store at once remove each blob once between them without failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from omnirouter.storage.blobs import BlobNotFound, BlobStore
from omnirouter.tasks.retention import DAY, RetentionSweep


async def stream(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_blobs_go_once_their_retention_ends(store: BlobStore) -> None:
    clock = Clock()
    sweep = RetentionSweep(store, 30, clock=clock)
    names = ["task_a/video", "task_a/thumbnail", "task_b/video"]
    for name in names:
        await store.put(name, stream(name.encode()), "video/mp4")
    assert await sweep.run_once() == 0
    clock.now += 29 * DAY  # still within 30 days
    assert await sweep.run_once() == 0
    assert [(await store.stat(name)).size for name in names] == [len(name) for name in names]
    clock.now += 1 * DAY + 5  # 30 days and a few seconds (S3 keeps whole seconds)
    assert await sweep.run_once() == 3
    for name in names:
        with pytest.raises(BlobNotFound):
            await store.stat(name)
    assert await sweep.run_once() == 0


async def test_replicas_sweeping_at_once_remove_each_blob_once(store: BlobStore) -> None:
    clock = Clock()
    for index in range(20):
        await store.put(f"task_{index}/video", stream(b"v" * index), "video/mp4")
    clock.now += 2 * DAY
    replicas = [RetentionSweep(store, 1, clock=clock) for _ in range(3)]
    removed = await asyncio.gather(*(replica.run_once() for replica in replicas))
    assert 20 <= sum(removed) <= 60  # each replica saw some of them; none failed
    for index in range(20):
        with pytest.raises(BlobNotFound):
            await store.stat(f"task_{index}/video")


async def test_the_background_loop_sweeps_at_start_and_stops(store: BlobStore) -> None:
    clock = Clock()
    await store.put("task_x/video", stream(b"x"), "video/mp4")
    clock.now += 3 * DAY
    sweep = RetentionSweep(store, 1, interval=3600, clock=clock)
    await sweep.start()
    try:
        for _ in range(200):
            try:
                await store.stat("task_x/video")
            except BlobNotFound:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the first sweep did not run")
    finally:
        await sweep.stop()


def test_a_retention_must_be_positive(store: BlobStore) -> None:
    with pytest.raises(ValueError):
        RetentionSweep(store, 0)
