"""Server-sent events: an incremental parser over raw bytes and a frame builder."""

from __future__ import annotations

import sys

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


class EventTooLarge(ValueError):
    """One event grew past the parser's ``max_event_bytes`` (nothing more should be read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"stream event larger than {limit} bytes")
        self.limit = limit


class SSEParser:
    """Splits a byte stream into events as soon as each is complete.

    Handles ``\\n``, ``\\r\\n`` and ``\\r`` line ends (also a ``\\r\\n`` split across two
    reads), comments (``:`` lines are dropped), multi-line data, and events split across network
    reads.  The common shapes, a lone ``data: …`` line and ``event: …`` + ``data: …``, are sliced
    straight out of the read.  Work is linear in the bytes fed: line ends are normalised per read
    (a read ending in ``\\r`` holds it back for the next), and an incomplete event is kept as a list
    of pieces, scanned only where it grows and joined once, when it completes.  An event longer than
    ``max_event_bytes`` raises :class:`EventTooLarge` as soon as that much of it is buffered.
    """

    __slots__ = ("_cr", "_limit", "_parts", "_size")

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._parts: list[bytes] = []  # the incomplete event at the end of what was fed (never a blank line)
        self._size = 0  # bytes in _parts
        self._cr = False  # the last read ended with a "\r", held back (a "\n" may come next)
        self._limit = max_event_bytes if max_event_bytes is not None else sys.maxsize

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete."""
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
                self._cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        limit = self._limit
        if self._parts:  # an event is pending: look for its end only in what is new
            if self._size > limit:
                raise EventTooLarge(limit)
            parts = self._parts
            if chunk.startswith(b"\n") and parts[-1].endswith(b"\n"):
                end = self._size - 1
            else:
                found = chunk.find(b"\n\n")
                if found < 0:
                    if chunk:
                        self._size += len(chunk)
                        if self._size > limit:
                            raise EventTooLarge(limit)
                        parts.append(chunk)
                    return []
                end = self._size + found
            parts.append(chunk)
            buffer = b"".join(parts)
            self._parts = []
            self._size = 0
        else:
            buffer = chunk
            end = buffer.find(b"\n\n")
        events: list[SSEEvent] = []
        start = 0
        find = buffer.find
        while end >= 0:
            if end - start > limit:
                raise EventTooLarge(limit)
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
            end = find(b"\n\n", start)
        if start < len(buffer):
            rest = buffer[start:] if start else buffer
            if len(rest) > limit and not events:  # else the events first: the next feed or finish() raises
                raise EventTooLarge(limit)
            self._parts.append(rest)
            self._size = len(rest)
        return events

    def finish(self) -> list[SSEEvent]:
        """Flush a last event the stream ended without a blank line after."""
        if self._size > self._limit:
            raise EventTooLarge(self._limit)
        block = b"".join(self._parts).strip(b"\n")
        self._parts, self._size, self._cr = [], 0, False
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
