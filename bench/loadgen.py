"""The benchmark's streaming load client: raw asyncio + uvloop + httptools, one process.

Modes (each prints one JSON object on stdout):

* ``ttfc``: concurrency 1 over one keep-alive connection, ``--requests`` streams (after
  ``--warmup``); for each, the time from writing the request to the first body bytes
  (time to first chunk) and to the end of the stream.
* ``chunks``: ``--concurrency`` paced streams at once; for each, how many separate reads
  brought data and the largest gap between two of them (a relay that buffers shows few
  reads and one big gap; one that forwards as chunks arrive shows about one read per
  upstream event, spaced by the upstream's delay).
* ``hold``: ``--concurrency`` slow streams opened at once and held to their end; prints
  ``OPEN <seconds>`` on stderr once every stream has its first chunk, so the caller can
  measure the server while they are all open; reports completed streams and errors.

The request is given as ``--url``, ``--body`` (a JSON file) and ``--header name:value``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson


class StreamResult:
    __slots__ = ("bytes", "end", "error", "first", "max_gap", "reads", "start", "status")

    def __init__(self) -> None:
        self.start = 0.0
        self.first: float | None = None
        self.end: float | None = None
        self.reads = 0
        self.max_gap = 0.0
        self.bytes = 0
        self.status = 0
        self.error: str | None = None


class ClientProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.result: StreamResult | None = None
        self.done: asyncio.Future[StreamResult] | None = None
        self.last = 0.0
        self.first_event: asyncio.Future[None] | None = None
        self.now = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.done is not None and not self.done.done():
            assert self.result is not None
            self.result.error = f"connection lost: {exc!r}"
            self.done.set_result(self.result)
        if self.first_event is not None and not self.first_event.done():
            self.first_event.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.now = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.done is not None and not self.done.done() and self.result is not None:
                self.result.error = f"parse error: {exc}"
                self.done.set_result(self.result)

    def request(self, raw: bytes) -> asyncio.Future[StreamResult]:
        loop = asyncio.get_running_loop()
        self.result = StreamResult()
        self.done = loop.create_future()
        self.first_event = loop.create_future()
        assert self.transport is not None
        self.result.start = time.perf_counter()
        self.transport.write(raw)
        return self.done

    # httptools callbacks
    def on_headers_complete(self) -> None:
        assert self.result is not None
        self.result.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        now = self.now  # when the read that brought this body arrived
        result = self.result
        assert result is not None
        result.bytes += len(body)
        if now == self.last:
            return  # the same read as the previous body piece
        result.reads += 1
        if result.first is None:
            result.first = now
            if self.first_event is not None and not self.first_event.done():
                self.first_event.set_result(None)
        else:
            gap = now - self.last
            if gap > result.max_gap:
                result.max_gap = gap
        self.last = now

    def on_message_complete(self) -> None:
        result = self.result
        assert result is not None and self.done is not None
        result.end = time.perf_counter()
        if result.status != 200 and result.error is None:
            result.error = f"HTTP {result.status}"
        if not self.done.done():
            self.done.set_result(result)


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    fields = {"content-type": "application/json", "accept": "text/event-stream"}
    for h in headers:  # a given header replaces the default (a repeated content-type is refused by some servers)
        name, _, value = h.partition(":")
        fields[name.strip().lower()] = value.strip()
    lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in fields.items()]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def connect(host: str, port: int) -> ClientProtocol:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(ClientProtocol, host, port)
    return proto


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


async def run_ttfc(host: str, port: int, raw: bytes, n: int, warmup: int, max_seconds: float) -> dict[str, Any]:
    proto = await connect(host, port)
    ttfc, total, errors = [], [], 0
    deadline = time.perf_counter() + max_seconds
    for i in range(warmup + n):
        if i == warmup:
            deadline = time.perf_counter() + max_seconds  # the sampling budget starts after the warm-up
        if i < warmup and time.perf_counter() > deadline:
            continue  # a slow target: cut the warm-up short
        if i >= warmup + 20 and time.perf_counter() > deadline:
            break  # a slow target gets fewer samples (at least 20), not a much longer run
        if proto.transport is None:
            proto = await connect(host, port)
        res = await proto.request(raw)
        if res.error is not None or res.first is None or res.end is None:
            errors += 1
            continue
        if i >= warmup:
            ttfc.append((res.first - res.start) * 1e3)
            total.append((res.end - res.start) * 1e3)
    if proto.transport is not None:
        proto.transport.close()
    return {
        "n": len(ttfc),
        "errors": errors,
        "ttfc_ms": {
            "p50": pct(ttfc, 0.5),
            "p90": pct(ttfc, 0.9),
            "p99": pct(ttfc, 0.99),
            "mean": sum(ttfc) / max(1, len(ttfc)),
        },
        "stream_ms": {"p50": pct(total, 0.5), "p99": pct(total, 0.99)},
    }


async def one_stream(
    host: str,
    port: int,
    raw: bytes,
    opened: list[int],
    all_open: asyncio.Event,
    total: int,
    timeout: float,  # noqa: ASYNC109
) -> StreamResult:
    try:
        proto = await asyncio.wait_for(connect(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        res = StreamResult()
        res.error = f"connect: {exc!r}"
        opened[0] += 1
        if opened[0] >= total:
            all_open.set()
        return res
    done = proto.request(raw)
    assert proto.first_event is not None
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proto.first_event), timeout)
    opened[0] += 1
    if opened[0] >= total:
        all_open.set()
    try:
        res = await asyncio.wait_for(done, timeout)
    except TimeoutError:
        res = proto.result or StreamResult()
        res.error = "timeout"
    if proto.transport is not None:
        proto.transport.close()
    return res


async def run_many(
    host: str,
    port: int,
    raw: bytes,
    concurrency: int,
    timeout: float,  # noqa: ASYNC109
    announce: bool,
) -> dict[str, Any]:
    opened = [0]
    all_open = asyncio.Event()
    t0 = time.perf_counter()
    tasks = [
        asyncio.create_task(one_stream(host, port, raw, opened, all_open, concurrency, timeout))
        for _ in range(concurrency)
    ]
    await all_open.wait()
    open_s = time.perf_counter() - t0
    if announce:
        print(f"OPEN {open_s:.3f}", file=sys.stderr, flush=True)
    results = await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    ok = [r for r in results if r.error is None and r.end is not None]
    errors: dict[str, int] = {}
    for r in results:
        if r.error is not None:
            errors[r.error[:80]] = errors.get(r.error[:80], 0) + 1
    ttfc = [(r.first - r.start) * 1e3 for r in ok if r.first is not None]
    return {
        "concurrency": concurrency,
        "completed": len(ok),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "open_s": open_s,
        "wall_s": wall,
        "ttfc_ms": {"p50": pct(ttfc, 0.5), "p99": pct(ttfc, 0.99)},
        "reads": {"p50": pct([float(r.reads) for r in ok], 0.5), "min": min((r.reads for r in ok), default=0)},
        "max_gap_ms": {
            "p50": pct([r.max_gap * 1e3 for r in ok], 0.5),
            "max": max((r.max_gap * 1e3 for r in ok), default=0.0),
        },
        "bytes_p50": pct([float(r.bytes) for r in ok], 0.5),
    }


async def main_async(args: argparse.Namespace, body: bytes) -> dict[str, Any]:
    host, port, raw = build_request(args.url, body, args.header)
    if args.mode == "ttfc":
        return await run_ttfc(host, port, raw, args.requests, args.warmup, args.max_seconds)
    return await run_many(host, port, raw, args.concurrency, args.timeout, announce=args.mode == "hold")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["ttfc", "chunks", "hold"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-seconds", type=float, default=1e9, help="ttfc: stop sampling after this long")
    args = parser.parse_args()
    with open(args.body, "rb") as fh:
        body = fh.read()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(main_async(args, body))
    else:
        result = uvloop.run(main_async(args, body))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
