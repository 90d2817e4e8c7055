"""The local result store: a directory, ``DIR/<name>`` for the bytes and ``DIR/.meta/<name>.json`` for
what was stored (content type, size, SHA-256).

A put streams into a temporary file beside its target (``.tmp-…``), fsyncs it and renames it into place
(atomic on one filesystem), then writes the metadata the same way: the metadata is the commit point.
File I/O runs in worker threads so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import IO

from omnirouter.storage.blobs import CHUNK_SIZE, BlobNameError, BlobNotFound, OpenedBlob, StoredBlob, check_blob_name

__all__ = ["LocalBlobStore"]

META = ".meta"
TEMP_PREFIX = ".tmp-"


class _FileChunks:
    """Bytes ``[position, end)`` of an open file, read in a worker thread; closes the file when done."""

    def __init__(self, file: IO[bytes], position: int, end: int) -> None:
        self._file: IO[bytes] | None = file
        self._left = end - position
        file.seek(position)

    def __aiter__(self) -> _FileChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._file is None or self._left <= 0:
            await self.aclose()
            raise StopAsyncIteration
        try:
            data = await asyncio.to_thread(self._file.read, min(CHUNK_SIZE, self._left))
        except BaseException:
            await self.aclose()
            raise
        if not data:  # the file shrank under us: end here rather than loop
            await self.aclose()
            raise StopAsyncIteration
        self._left -= len(data)
        return data

    async def aclose(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


class LocalBlobStore:
    """A ``BlobStore`` in a local directory (created on first put)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _data(self, name: str) -> Path:
        return self.root / check_blob_name(name)

    def _meta(self, name: str) -> Path:
        return self.root / META / f"{check_blob_name(name)}.json"

    async def put(self, name: str, chunks: AsyncIterator[bytes], content_type: str) -> StoredBlob:
        target = self._data(name)
        meta = self._meta(name)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        fd, temp = await asyncio.to_thread(tempfile.mkstemp, prefix=TEMP_PREFIX, dir=target.parent)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as file:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(file.write, chunk)
                await asyncio.to_thread(file.flush)
                await asyncio.to_thread(os.fsync, file.fileno())
            await asyncio.to_thread(os.replace, temp, target)
        except BaseException:
            await asyncio.to_thread(Path(temp).unlink, missing_ok=True)
            raise
        blob = StoredBlob(name, size, digest.hexdigest(), content_type)
        record = {"content_type": content_type, "size": size, "sha256": blob.sha256}
        await asyncio.to_thread(_write_atomically, meta, json.dumps(record).encode())
        return blob

    def _read_meta(self, name: str) -> StoredBlob:
        try:
            record = json.loads(self._meta(name).read_bytes())
        except FileNotFoundError:
            raise BlobNotFound(name) from None
        return StoredBlob(name, int(record["size"]), str(record["sha256"]), str(record["content_type"]))

    async def stat(self, name: str) -> StoredBlob:
        return await asyncio.to_thread(self._read_meta, name)

    def _open(self, name: str, start: int, end: int | None) -> tuple[StoredBlob, _FileChunks]:
        blob = self._read_meta(name)
        stop = blob.size if end is None else end
        if not 0 <= start <= stop <= blob.size:
            raise ValueError(f"range [{start}, {stop}) is outside blob {name!r} of {blob.size} bytes")
        try:
            file = self._data(name).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(name) from None
        return blob, _FileChunks(file, start, stop)

    async def open(self, name: str) -> OpenedBlob:
        blob, chunks = await asyncio.to_thread(self._open, name, 0, None)
        return OpenedBlob(blob.content_type, blob.size, chunks)

    async def open_range(self, name: str, start: int, end: int) -> _FileChunks:
        _, chunks = await asyncio.to_thread(self._open, name, start, end)
        return chunks

    def _delete(self, name: str) -> bool:
        meta = self._meta(name)
        existed = meta.exists()
        meta.unlink(missing_ok=True)  # invisible first, then the bytes
        self._data(name).unlink(missing_ok=True)
        for path in (meta, self._data(name)):
            self._prune(path.parent)
        return existed

    def _prune(self, directory: Path) -> None:
        """Remove empty folders left between ``directory`` and the root."""
        stop = {self.root, self.root / META}
        while directory not in stop and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self._delete, name)

    def _sweep(self, cutoff: float) -> int:
        removed = 0
        if not self.root.is_dir():
            return 0
        for folder, dirs, files in os.walk(self.root):
            here = Path(folder)
            if here == self.root:
                dirs[:] = [d for d in dirs if d != META]
            for file in files:
                path = here / file
                try:
                    if path.stat().st_mtime >= cutoff:
                        continue
                except FileNotFoundError:
                    continue
                if file.startswith(TEMP_PREFIX):
                    path.unlink(missing_ok=True)
                    continue
                try:
                    removed += self._delete(path.relative_to(self.root).as_posix())
                except BlobNameError:  # not ours: leave it
                    continue
        for folder, _, files in os.walk(self.root / META):  # metadata whose bytes are gone
            for file in files:
                path = Path(folder) / file
                name = path.relative_to(self.root / META).as_posix().removesuffix(".json")
                try:  # another replica's sweep may remove it first
                    stale = path.stat().st_mtime < cutoff
                except FileNotFoundError:
                    continue
                if stale and (file.startswith(TEMP_PREFIX) or not (self.root / name).exists()):
                    path.unlink(missing_ok=True)
        return removed

    async def delete_older_than(self, cutoff: datetime) -> int:
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must be timezone-aware")
        return await asyncio.to_thread(self._sweep, cutoff.timestamp())

    async def close(self) -> None:
        return None
