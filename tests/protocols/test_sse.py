"""The SSE parser against a line-by-line reading of the SSE rules, on random streams cut at random points."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable

import pytest

from omnirouter.protocols.sse import EventTooLarge, SSEEvent, SSEParser


def reference_events(raw: bytes) -> list[tuple[str | None, bytes]]:
    """Events as the SSE rules read them: lines end in CRLF, LF or CR; a blank line ends an event."""
    text = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    events: list[tuple[str | None, bytes]] = []
    name: str | None = None
    data: list[bytes] = []
    for line in [*text.split(b"\n"), b""]:
        if not line:
            if data or name is not None:
                events.append((name, b"\n".join(data)))
            name, data = None, []
            continue
        if line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode()
    return events


def parse_in_reads(raw: bytes, cuts: list[int]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    previous = 0
    for cut in [*sorted(cuts), len(raw)]:
        events += parser.feed(raw[previous:cut])
        previous = cut
    return events + parser.finish()


def random_stream(rng: random.Random) -> bytes:
    ends = [b"\n", b"\r\n", b"\r"]
    end = rng.choice(ends)
    lines: list[bytes] = []
    for _ in range(rng.randrange(1, 12)):
        shape = rng.randrange(6)
        payload = b'{"choices":[{"delta":{"content":"a:b"}}],"n":%d}' % rng.randrange(1000)
        if shape == 0:
            lines += [b"data: " + payload]
        elif shape == 1:
            lines += [b"event: content_block_delta", b"data: " + payload]
        elif shape == 2:
            lines += [b": keep-alive"]
        elif shape == 3:
            lines += [b"data:" + payload, b"data: second line"]
        elif shape == 4:
            lines += [b"id: 7", b"event: ping", b"data: {}", b"retry: 10"]
        else:
            lines += [b"data: [DONE]"]
        lines += [b""] * rng.choice([1, 1, 1, 2])
    mixed = rng.random() < 0.2
    return b"".join(line + (rng.choice(ends) if mixed else end) for line in lines)


@pytest.mark.parametrize("seed", range(400))
def test_parser_matches_the_rules_however_the_stream_is_cut(seed: int) -> None:
    rng = random.Random(seed)
    raw = random_stream(rng)
    cuts = [rng.randrange(len(raw) + 1) for _ in range(rng.randrange(0, 8))]
    if rng.random() < 0.3:
        cuts = list(range(len(raw)))  # one byte per read
    events = parse_in_reads(raw, cuts)
    assert [(e.event, e.data) for e in events] == reference_events(raw)


def test_crlf_split_between_reads_is_one_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\r") == []
    events = parser.feed(b"\ndata: b\r\n\r\n")
    assert [e.data for e in events] == [b"a", b"b"]


def test_common_shapes_keep_their_exact_frames() -> None:
    raw = b'data: {"a":1}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    first, second = SSEParser().feed(raw)
    assert (first.event, first.data, first.raw) == (None, b'{"a":1}', b'data: {"a":1}\n\n')
    assert second.event == "message_stop"
    assert second.raw == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def allocated_while(action: Callable[[], object]) -> int:
    """Bytes allocated at the peak of ``action`` beyond what was allocated before it."""
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    action()
    return tracemalloc.get_traced_memory()[1] - before


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"])
def test_a_long_event_costs_each_read_only_its_own_size(line_end: bytes) -> None:
    """No read re-copies (or re-normalises) what is already buffered: the work per read stays that read's size.

    A parser that re-concatenates or rescans its buffer on every read copies O(buffered) per read, O(n²)
    for an event of n bytes; here every read of 64 KiB may allocate a few times its own size at most.
    """
    piece = 64 * 1024
    parser = SSEParser()
    chunk = (b"data: " + b"x" * (piece - 8) + line_end)[:piece]
    tracemalloc.start()
    try:
        worst = max(allocated_while(lambda: parser.feed(chunk)) for _ in range(64))  # a 4 MiB event so far
    finally:
        tracemalloc.stop()
    assert worst < 4 * piece
    (event,) = parser.feed(line_end)
    assert len(event.data) > 63 * piece and event.data.count(b"\n") == 63


def test_an_event_over_the_limit_raises_as_soon_as_that_much_is_buffered() -> None:
    parser = SSEParser(max_event_bytes=100)
    assert [e.data for e in parser.feed(b"data: " + b"a" * 90 + b"\n\ndata: ")] == [b"a" * 90]
    assert parser.feed(b"b" * 50) == []  # 56 bytes of the next event
    with pytest.raises(EventTooLarge, match="larger than 100 bytes"):
        parser.feed(b"b" * 50)
    with pytest.raises(EventTooLarge):
        SSEParser(max_event_bytes=100).feed(b"data: " + b"c" * 200 + b"\n\n")  # complete, but too long
    assert [e.data for e in SSEParser(max_event_bytes=100).feed(b"data: " + b"d" * 94 + b"\n\n")] == [b"d" * 94]
    parser = SSEParser(max_event_bytes=100)
    assert [e.data for e in parser.feed(b"data: e\n\ndata: " + b"f" * 200)] == [b"e"]  # what came before it first
    with pytest.raises(EventTooLarge):
        parser.finish()
