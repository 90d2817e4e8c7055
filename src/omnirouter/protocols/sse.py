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

    Handles ``\\n``, ``\\r\\n`` and ``\\r`` line ends (also a ``\\r\\n`` split across two
    reads), comments (``:`` lines are dropped), multi-line data, and events split across network
    reads.  The common shapes, a lone ``data: …`` line and ``event: …`` + ``data: …``, are sliced
    straight out of the buffer.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = _normalize_line_ends(buffer)
        events: list[SSEEvent] = []
        start = 0
        find = buffer.find
        while True:
            end = find(b"\n\n", start)
            if end < 0:
                break
            newline = find(b"\n", start, end)
            if newline < 0 and buffer.startswith(b"data: ", start):
                events.append(SSEEvent(data=buffer[start + 6 : end], raw=buffer[start : end + 2]))
            elif (
                newline > 0
                and buffer.startswith(b"event: ", start)
                and buffer.startswith(b"data: ", newline + 1)
                and find(b"\n", newline + 1, end) < 0
            ):
                name = buffer[start + 7 : newline].decode("utf-8", "replace")
                events.append(SSEEvent(data=buffer[newline + 7 : end], event=name, raw=buffer[start : end + 2]))
            else:
                event = _parse_block(buffer[start:end])
                if event is not None:
                    events.append(event)
            start = end + 2
        self._buffer = buffer[start:]
        return events

    def finish(self) -> list[SSEEvent]:
        """Flush a last event the stream ended without a blank line after."""
        block, self._buffer = self._buffer.replace(b"\r", b"\n").strip(b"\n"), b""
        if not block:
            return []
        event = _parse_block(block)
        return [event] if event is not None else []


def _normalize_line_ends(buffer: bytes) -> bytes:
    """``\\r\\n`` and ``\\r`` to ``\\n``; a final ``\\r`` stays as it is (its ``\\n`` may be in the next read)."""
    if buffer.endswith(b"\r"):
        return buffer[:-1].replace(b"\r\n", b"\n").replace(b"\r", b"\n") + b"\r"
    return buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


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
