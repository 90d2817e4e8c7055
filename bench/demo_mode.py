"""Demo mode's in-process mock against the same mock in a process of its own (docs/operations.md, "Demo mode").

Starts the real ``omnirouter serve`` twice in temporary directories: in demo mode (the mock upstream on a
loopback port of the worker's own event loop), then with a config whose channel reaches ``omnirouter
mock-upstream`` running as a separate process.  For each: ``--requests`` plain chat completions one at a
time (latency percentiles, after ``--warmup``), then ``--total`` requests ``--concurrency`` at a time
(requests per second).  Prints one JSON object.

    .venv/bin/python bench/demo_mode.py [--requests 500] [--total 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

OMNIROUTER = [sys.executable, "-m", "omnirouter.cli"]
MODEL = "gpt-4o-mini"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _start(args: list[str], cwd: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*OMNIROUTER, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _read_until(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            return line.rstrip("\n")
    raise RuntimeError(f"the process ended before printing {prefix!r}")


async def _wait_healthy(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(600):
        try:
            async with session.get(f"{url}/health") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


async def _measure(url: str, key: str, args: argparse.Namespace) -> dict[str, Any]:
    body = orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say something short."}]})
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _wait_healthy(session, url)

        async def one() -> float:
            started = time.perf_counter()
            async with session.post(f"{url}/v1/chat/completions", data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"status {response.status}")
            return time.perf_counter() - started

        for _ in range(args.warmup):
            await one()
        latencies = sorted([await one() for _ in range(args.requests)])
        remaining = args.total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": round(quantiles[49] * 1000, 3),
        "p90_ms": round(quantiles[89] * 1000, 3),
        "p99_ms": round(quantiles[98] * 1000, 3),
        "requests_per_second": round(args.total / elapsed, 1),
    }


def _stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.communicate(timeout=60)


def _demo(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as cwd:
        port = _free_port()
        gateway = _start(["serve", "--port", str(port)], cwd)
        try:
            key = _read_until(gateway, "demo key: ").removeprefix("demo key: ")
            return asyncio.run(_measure(f"http://127.0.0.1:{port}", key, args))
        finally:
            _stop(gateway)


def _separate(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as cwd:
        mock_port, port = _free_port(), _free_port()
        mock = _start(["mock-upstream", "--port", str(mock_port)], cwd)
        _read_until(mock, "omnirouter mock upstream listening")
        config = Path(cwd) / "omnirouter.yaml"
        config.write_text(
            f"channels:\n  - name: mock\n    provider: openai\n    base_url: http://127.0.0.1:{mock_port}/v1\n"
            f"    api_keys: [sk-mock]\n    models: [{MODEL}]\nkeys:\n  - name: bench\n    key: sk-bench-demo-mode\n"
        )
        gateway = _start(["serve", "--port", str(port), "--config", str(config)], cwd)
        try:
            return asyncio.run(_measure(f"http://127.0.0.1:{port}", "sk-bench-demo-mode", args))
        finally:
            _stop(gateway, mock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    results = {
        "cpus": os.cpu_count(),
        "demo_in_process": _demo(args),
        "mock_in_own_process": _separate(args),
    }
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
