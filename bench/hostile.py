"""Hostile upstreams: memory after failed big requests, and the cost of one giant stream event.

    python bench/hostile.py [--gateway-src DIR] [--set key=value ...] [--sse-from FILE]

Starts the mock upstream and one omnirouter worker (``omnirouter serve``, so with the serving
worker's GC tuning) and reports, in MB of the worker's RSS and in seconds:

* ``error-bodies``: N plain requests whose upstream answers 500 with a 50 MB error body (bytes the
  client got back, RSS before, just after, after a few idle seconds, after small requests);
* ``big-prompts``: N requests with a 20 MB prompt the upstream answers 503 (the big allocations are
  the gateway's own: the request, its parse, the upstream body);
* ``giant-event``: a stream whose second event is 10 MB / 40 MB without an end (parse time, and the
  worst ``GET /health`` latency meanwhile); and the SSE parser alone on the same events in 64 KiB reads.

``--gateway-src`` runs the gateway from another source tree (e.g. an export of an older commit, for
before/after numbers; the mock always runs from this tree).  ``--set`` adds top-level config lines.
``--sse-from`` times the parser of another ``sse.py`` file.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from typing import Any

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import PY, Proc, free_port, rss_mb, wait_ready

KEY = "sk-hostile-client"
MB = 1024 * 1024


def write_config(path: str, mock_port: int, db: str, extra: list[str]) -> None:
    lines = [
        f"database_url: sqlite:///{db}",
        "channels:",
        f"  - {{name: mock, provider: openai, base_url: 'http://127.0.0.1:{mock_port}/v1', api_keys: [sk-up], "
        "models: [m]}",
        "keys:",
        f"  - {{name: hostile, key: {KEY}}}",
        *[line.replace("=", ": ", 1) for line in extra],
    ]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def chat(content: str, stream: bool = False) -> dict[str, Any]:
    return {"model": "m", "stream": stream, "messages": [{"role": "user", "content": content}]}


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, int]:
    """Status and size of the answer."""
    async with session.post(f"{url}/v1/chat/completions", json=body) as response:
        return response.status, len(await response.read())


async def memory_case(url: str, pids: list[int], name: str, body: dict[str, Any], count: int) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=120)) as session:
        for _ in range(20):
            await post(session, url, chat("warm up"))
        result: dict[str, Any] = {"case": name, "baseline_mb": round(rss_mb(pids), 1)}
        statuses, sizes = set(), []
        for _ in range(count):
            status, size = await post(session, url, body)
            statuses.add(status)
            sizes.append(size)
        result["statuses"] = sorted(statuses)
        result["client_got_bytes"] = max(sizes)
        result["after_mb"] = round(rss_mb(pids), 1)
        await asyncio.sleep(3)
        result["after_3s_idle_mb"] = round(rss_mb(pids), 1)
        for _ in range(50):
            await post(session, url, chat("small"))
        result["after_50_small_mb"] = round(rss_mb(pids), 1)
    return result


async def giant_event(url: str, size: int) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {KEY}"}
    worst = 0.0
    done = asyncio.Event()

    async def probe(session: aiohttp.ClientSession) -> None:
        nonlocal worst
        while not done.is_set():
            began = time.perf_counter()
            async with session.get(f"{url}/health") as response:
                await response.read()
            worst = max(worst, time.perf_counter() - began)
            await asyncio.sleep(0.02)

    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=300)) as session:
        prober = asyncio.create_task(probe(session))
        began = time.perf_counter()
        status, got = await post(session, url, chat(f'[[mock {{"unterminated_event_bytes": {size}}}]]', True))
        took = time.perf_counter() - began
        done.set()
        await prober
    return {"case": f"giant-event {size // MB} MB", "status": status, "client_got_bytes": got,
            "seconds": round(took, 2), "worst_health_s": round(worst, 3)}  # fmt: skip


def parser_time(sse_file: str | None, size: int) -> float:
    """Seconds for the SSE parser to take one ``size``-byte event without an end, in 64 KiB reads."""
    if sse_file is None:
        from omnirouter.protocols.sse import SSEParser
    else:
        spec = importlib.util.spec_from_file_location("sse_under_test", sse_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        SSEParser = module.SSEParser
    piece = b"x" * (64 * 1024)
    parser = SSEParser()
    began = time.perf_counter()
    parser.feed(b"data: ")
    for _ in range(size // len(piece)):
        parser.feed(piece)
    parser.feed(b"\n\n")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway-src", help="run the gateway from this source tree (its src/ directory)")
    parser.add_argument("--set", action="append", default=[], help="a top-level config line, key=value")
    parser.add_argument("--sse-from", help="time the SSEParser of this sse.py instead of this tree's")
    parser.add_argument("--count", type=int, default=10, help="failed big requests per memory case")
    args = parser.parse_args()
    for size in (10 * MB, 40 * MB):
        print(f"parser alone, {size // MB} MB event in 64 KiB reads: {parser_time(args.sse_from, size):.2f} s")
    out = tempfile.mkdtemp(prefix="hostile-")
    mock_port, port = free_port(), free_port()
    env = {"PYTHONPATH": args.gateway_src} if args.gateway_src else None
    config = os.path.join(out, "gw.yaml")
    write_config(config, mock_port, os.path.join(out, "gw.db"), args.set)
    mock = Proc("mock", [PY, "-m", "omnirouter.mock_upstream", "--port", str(mock_port)], os.path.join(out, "mock.log"))
    exe = os.path.join(os.path.dirname(PY), "omnirouter")
    cmd = [exe, "serve", "--config", config, "--port", str(port), "--workers", "1"]
    gateway = Proc("gateway", cmd, os.path.join(out, "gw.log"), env=env)
    try:
        wait_ready(f"http://127.0.0.1:{mock_port}/_mock/health", mock, 30)
        wait_ready(f"http://127.0.0.1:{port}/health", gateway, 30)
        url = f"http://127.0.0.1:{port}"
        pids = gateway.pids()
        cases = [
            ("error-bodies", chat('[[mock {"fail": 500, "body_bytes": 50000000}]]')),
            ("big-prompts", chat('[[mock {"fail": 503}]] ' + "x" * (20 * 1000 * 1000))),
        ]
        for name, body in cases:
            print(asyncio.run(memory_case(url, pids, name, body, args.count)), flush=True)
        for size in (10 * MB, 40 * MB):
            print(asyncio.run(giant_event(url, size)), flush=True)
    finally:
        gateway.stop()
        mock.stop()
    print(f"logs in {out}")


if __name__ == "__main__":
    main()
