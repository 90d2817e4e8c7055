"""The result store: where task outputs (video, cover, last frame) are kept once copied from the vendor.

A ``BlobStore`` takes a stream of bytes under a name and gives it back whole or by byte range (video
players seek), never holding a whole file in memory.  Two backends behave alike (one test suite runs
over both): a local directory (``blobs_local.py``, the default, beside the database) and any
S3-compatible store (``blobs_s3.py``).  ``make_blob_store`` reads the configured
``tasks.result_store`` URL.

A blob exists once its metadata (content type, size, SHA-256) is written; the data is written first,
so a crash mid-put leaves no visible blob, only bytes the retention sweep removes later.  Names are
``[A-Za-z0-9._-]`` segments joined by ``/`` (no segment starts with a dot: those are the store's own),
so no name can leave the store's directory or prefix.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol

__all__ = [
    "CHUNK_SIZE",
    "BlobChunks",
    "BlobNameError",
    "BlobNotFound",
    "BlobStore",
    "OpenedBlob",
    "StoredBlob",
    "check_blob_name",
    "database_dir",
    "make_blob_store",
]

CHUNK_SIZE = 256 * 1024  # bytes per chunk read back from a store
MAX_NAME_LENGTH = 512
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class BlobNameError(ValueError):
    """A blob name outside the allowed alphabet (or one that would leave the store)."""


class BlobNotFound(LookupError):
    """No blob of that name (never stored, deleted, or swept by retention)."""


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """What a store holds under ``name``: ``sha256`` is the hex digest of the bytes (the HTTP ETag)."""

    name: str
    size: int
    sha256: str
    content_type: str


class BlobChunks(Protocol):
    """The bytes of a blob as they are read; iterate to the end or ``aclose()`` to release the source."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class OpenedBlob(NamedTuple):
    """A blob opened whole: unpacks as ``content_type, size, chunks``."""

    content_type: str
    size: int
    chunks: BlobChunks


class BlobStore(Protocol):
    """Where task outputs are kept (local directory or S3-compatible); every method validates ``name``."""

    async def put(self, name: str, chunks: AsyncIterator[bytes], content_type: str) -> StoredBlob:
        """Store the stream under ``name`` (replacing any blob of that name); nothing is visible until done.

        If ``chunks`` raises, nothing is stored and the error propagates."""
        ...

    async def stat(self, name: str) -> StoredBlob:
        """What is stored under ``name`` (raises ``BlobNotFound``)."""
        ...

    async def open(self, name: str) -> OpenedBlob:
        """The whole blob (raises ``BlobNotFound`` before returning)."""
        ...

    async def open_range(self, name: str, start: int, end: int) -> BlobChunks:
        """Bytes ``start`` (inclusive) to ``end`` (exclusive), like a slice; needs ``0 <= start <= end <= size``
        (``ValueError`` otherwise; ``BlobNotFound`` if absent)."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the blob (nothing happens if there is none)."""
        ...

    async def delete_older_than(self, cutoff: datetime) -> int:
        """The retention sweep: remove blobs stored before ``cutoff`` (aware datetime) and leftovers of
        interrupted puts; the number of blobs removed."""
        ...

    async def close(self) -> None:
        """Release connections (the store is not used afterwards)."""
        ...


def check_blob_name(name: str) -> str:
    """``name`` if it is a valid blob name, else ``BlobNameError``."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BlobNameError(f"blob name must have 1 to {MAX_NAME_LENGTH} characters")
    for segment in name.split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise BlobNameError(
                f"invalid blob name {name!r}: use [A-Za-z0-9._-] segments joined by '/', none starting with '.'"
            )
    return name


def database_dir(database_url: str) -> Path:
    """The folder of a SQLite database file (the default result store lives beside it), else the working
    directory."""
    if database_url.startswith("sqlite") and ":///" in database_url:
        path = database_url.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path).parent
    return Path()


def make_blob_store(url: str | None, endpoint_url: str | None, base_dir: Path) -> BlobStore:
    """The store ``tasks.result_store`` names: ``local:DIR`` (a relative DIR is under ``base_dir``),
    ``s3://bucket/prefix`` (with ``tasks.s3_endpoint_url`` for S3-compatible servers, credentials and
    region from the environment: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), or
    ``None`` for ``base_dir/results`` (the caller passes the database's folder)."""
    from omnirouter.storage.blobs_local import LocalBlobStore

    if url is None:
        return LocalBlobStore(base_dir / "results")
    if url.startswith("local:"):
        directory = url.removeprefix("local:")
        if not directory:
            raise ValueError("tasks.result_store: 'local:' needs a directory")
        return LocalBlobStore(base_dir / directory)  # an absolute DIR replaces base_dir
    if url.startswith("s3://"):
        from omnirouter.storage.blobs_s3 import S3BlobStore

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError("tasks.result_store: 's3://' needs a bucket name")
        return S3BlobStore(bucket, prefix, endpoint_url=endpoint_url)
    raise ValueError(f"tasks.result_store must be 'local:DIR' or 's3://bucket/prefix', not {url!r}")
