"""Where a task's results go: ``BlobSink`` (the engine's need: put a named file), a local-directory sink
(the engine's tests) and ``StoreSink``, the gateway's: any ``storage.blobs.BlobStore`` (local or S3),
streamed chunk by chunk and cut off past a size cap.  Names are ``<task id>/<output kind>``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from omnirouter.config.schema import TasksConfig
from omnirouter.storage.blobs import BlobStore

__all__ = ["MAX_RESULT_BYTES", "BlobSink", "LocalBlobSink", "ResultTooLarge", "StoreSink", "sink_from_config"]

MAX_RESULT_BYTES = 2 * 1024**3
"""The largest result file kept (a video of minutes at high bit rates stays well below)."""
DEFAULT_MIME = "application/octet-stream"


class BlobSink(Protocol):
    """Keeps named result files; ``put`` returns once the file is durably stored (or raises)."""

    async def put(self, name: str, data: AsyncIterator[bytes] | bytes, content_type: str = DEFAULT_MIME) -> None: ...


class ResultTooLarge(OSError):
    """A result stream went past the sink's size cap (nothing was stored)."""


class StoreSink:
    """A ``BlobSink`` over the result store: the stream goes straight into ``store`` (never whole in memory),
    refused past ``max_bytes``."""

    def __init__(self, store: BlobStore, max_bytes: int = MAX_RESULT_BYTES) -> None:
        self.store = store
        self.max_bytes = max_bytes

    async def put(self, name: str, data: AsyncIterator[bytes] | bytes, content_type: str = DEFAULT_MIME) -> None:
        await self.store.put(name, self._bounded(data), content_type or DEFAULT_MIME)

    async def _bounded(self, data: AsyncIterator[bytes] | bytes) -> AsyncIterator[bytes]:
        if isinstance(data, bytes):
            if len(data) > self.max_bytes:
                raise ResultTooLarge(f"result larger than {self.max_bytes} bytes")
            yield data
            return
        total = 0
        async for chunk in data:
            total += len(chunk)
            if total > self.max_bytes:
                raise ResultTooLarge(f"result larger than {self.max_bytes} bytes")
            yield chunk


class LocalBlobSink:
    """Files under ``root`` (written to a temporary name, then renamed: a reader never sees half a file)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        """The file of ``name`` (names are ours: ``task_…/kind``; no ``..`` can appear)."""
        if ".." in name.split("/") or name.startswith("/"):
            raise ValueError(f"bad blob name {name!r}")
        return self.root / name

    async def put(self, name: str, data: AsyncIterator[bytes] | bytes, content_type: str = DEFAULT_MIME) -> None:
        path = self.path(name)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        handle = await asyncio.to_thread(open, partial, "wb")
        try:
            try:
                if isinstance(data, bytes):
                    await asyncio.to_thread(handle.write, data)
                else:
                    async for chunk in data:
                        await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(handle.flush)
                await asyncio.to_thread(os.fsync, handle.fileno())
            finally:
                await asyncio.to_thread(handle.close)
        except BaseException:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
            raise
        await asyncio.to_thread(os.replace, partial, path)

    async def get(self, name: str) -> bytes:
        """A stored file's bytes (tests and the local result route)."""
        return await asyncio.to_thread(self.path(name).read_bytes)


def default_result_dir(database_url: str) -> Path:
    """``task-results`` beside a SQLite file, else in the working directory."""
    if database_url.startswith("sqlite") and ":///" in database_url:
        path = database_url.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path).parent / "task-results"
    return Path("task-results")


def sink_from_config(config: TasksConfig, database_url: str) -> BlobSink:
    """The result store ``tasks.result_store`` names: ``local:DIR``, or the default folder beside the database.

    ``s3://…`` is served by ``storage/blobs.py`` (being built beside this engine): refused here until then.
    """
    store = config.result_store
    if store is None:
        return LocalBlobSink(default_result_dir(database_url))
    if store.startswith("local:") and len(store) > len("local:"):
        return LocalBlobSink(store[len("local:") :])
    raise ValueError(f"tasks.result_store {store!r}: expected local:DIR (s3:// arrives with storage/blobs.py)")
