"""Server-sent events: an incremental parser over raw bytes and a frame builder."""

from __future__ import annotations

import msgspec


class SSEEvent(msgspec.Struct, kw_only=True):
    """One event: its optional ``event:`` name, its data, and the raw bytes it came in."""

    data: bytes
    event: str | None = None
    raw: bytes = b""


def frame(data: bytes, event: str | None = None) -> bytes:
    """Build one SSE frame (``data`` must not contain newlines; JSON from orjson never does)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class SSEParser:
    """Splits a byte stream into events as soon as each is complete.

    Handles ``\\n``, ``\\r\\n`` and ``\\r`` line ends, comments (``:`` lines are
    dropped), multi-line data, and events split across network reads.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            block = buffer[start:end]
            start = end + 2
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:]
        return events

    def finish(self) -> list[SSEEvent]:
        """Flush a last event the stream ended without a blank line after."""
        block, self._buffer = self._buffer.strip(b"\n"), b""
        if not block:
            return []
        event = _parse_block(block)
        return [event] if event is not None else []


def _parse_block(block: bytes) -> SSEEvent | None:
    name: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if not data and name is None:
        return None
    return SSEEvent(data=b"\n".join(data), event=name, raw=block + b"\n\n")
