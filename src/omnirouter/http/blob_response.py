"""Answering a stored blob over ASGI: whole (200), by byte range (206: video players seek), or 416.

Headers: ``Content-Type``, ``Content-Length``, ``ETag`` (the blob's SHA-256), ``Accept-Ranges: bytes``;
``If-None-Match`` → 304, ``If-Range`` honoured, ``HEAD`` answers headers only.  One range per request
(several ranges answer the whole blob, which RFC 9110 allows); a malformed ``Range`` is ignored likewise.
The body streams chunk by chunk from the store.  The store is any object with the ``stat`` and
``open_range`` of ``storage.blobs.BlobStore`` (named here structurally: http sits below storage).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from omnirouter.http.asgi import Scope, Send, header

__all__ = ["BlobSource", "byte_range", "send_blob"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class BlobFacts(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...

    @property
    def content_type(self) -> str: ...


class Chunks(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class BlobSource(Protocol):
    async def stat(self, name: str) -> BlobFacts: ...

    async def open_range(self, name: str, start: int, end: int) -> Chunks: ...


def byte_range(value: str | None, size: int) -> tuple[int, int] | bool | None:
    """The ``[start, end)`` a ``Range`` header asks of ``size`` bytes: ``None`` to send everything (no
    header, or one this helper does not serve), ``False`` when unsatisfiable (416)."""
    if value is None:
        return None
    match = _RANGE.fullmatch(value.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size
    start = int(first)
    end = size if last == "" else int(last) + 1
    if last != "" and end <= start:
        return None  # last < first: invalid, ignored
    if start >= size:
        return False
    return start, min(end, size)


def _etag_matches(value: bytes, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in value.decode("latin-1").split(",")]
    return "*" in tags or etag in tags


async def send_blob(
    send: Send, scope: Scope, store: BlobSource, name: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Answer the blob ``name`` from ``store`` to this request, with ``headers`` added (``Cache-Control``,
    ``Content-Disposition``…).  Raises the store's ``LookupError`` (``BlobNotFound``) before sending
    anything when there is no such blob, so the route answers 404 in its own error shape."""
    blob = await store.stat(name)
    etag = f'"{blob.sha256}"'
    common = [
        (b"etag", etag.encode()),
        (b"accept-ranges", b"bytes"),
        *headers,
    ]
    none_match = header(scope, b"if-none-match")
    if none_match is not None and _etag_matches(none_match, etag):
        await send({"type": "http.response.start", "status": 304, "headers": common})
        await send({"type": "http.response.body", "body": b""})
        return
    raw_range = header(scope, b"range")
    if_range = header(scope, b"if-range")
    wanted = byte_range(raw_range.decode("latin-1") if raw_range else None, blob.size)
    if if_range is not None and if_range.decode("latin-1").strip() != etag:
        wanted = None  # the client's copy is of another version: send it all
    if wanted is False:
        await send(
            {
                "type": "http.response.start",
                "status": 416,
                "headers": [*common, (b"content-range", f"bytes */{blob.size}".encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    start, end = wanted if isinstance(wanted, tuple) else (0, blob.size)
    status = 206 if isinstance(wanted, tuple) else 200
    answer = [
        (b"content-type", blob.content_type.encode("latin-1")),
        (b"content-length", str(end - start).encode()),
        *common,
    ]
    if status == 206:
        answer.append((b"content-range", f"bytes {start}-{end - 1}/{blob.size}".encode()))
    if scope.get("method") == "HEAD":
        await send({"type": "http.response.start", "status": status, "headers": answer})
        await send({"type": "http.response.body", "body": b""})
        return
    chunks = await store.open_range(name, start, end)
    try:
        await send({"type": "http.response.start", "status": status, "headers": answer})
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await chunks.aclose()
