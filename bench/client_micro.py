"""Microbenchmark of upstream HTTP clients: CPU µs per POST to a local keep-alive server at concurrency 64.

The server (a raw uvloop protocol answering a fixed ~600-byte chat completion with Content-Length) runs
in its own process on CPU 0; each client runs in a fresh process on CPU 1 and is timed by its process CPU
time (every thread: Rust runtimes' included) over ``--requests`` POSTs after a warm-up.

Clients: ``aiohttp`` (as transport/ used it: one session, CIMultiDictProxy headers, ClientTimeout,
readany until the end, release), ``httpx`` (AsyncClient over httpcore), ``h1`` (transport/h1_client.py),
and ``pyreqwest`` (Rust, on its own runtime thread) when ``--alt-python`` names an interpreter that has it.

    .venv/bin/python bench/client_micro.py [--requests 20000] [--alt-python /tmp/venv/bin/python]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

ANSWER_BODY = json.dumps(
    {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Echo: " + "hello " * 40},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52},
    }
).encode()
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 07 Dec 2026 00:00:00 GMT\r\n"
    b"Server: micro\r\nContent-Length: " + str(len(ANSWER_BODY)).encode() + b"\r\n\r\n" + ANSWER_BODY
)
REQUEST_BODY = json.dumps(
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello " * 30}], "max_tokens": 64}
).encode()
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-upstream-secret-key-000000000000"}


class _Server(asyncio.Protocol):
    """Answers each request (head + Content-Length body) with ``ANSWER``; keeps the connection."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            at = head.find(b"content-length:")
            stop = head.find(b"\r\n", at)
            length = int(head[at + 15 : stop if stop > 0 else None]) if at >= 0 else 0
            if len(buf) < end + 4 + length:
                break
            buf = buf[end + 4 + length :]
            out.append(ANSWER)
        self.buf = buf
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


def serve(port: int) -> None:
    import uvloop

    os.sched_setaffinity(0, {0})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Server, "127.0.0.1", port, backlog=1024)
        print("ready", flush=True)
        await server.serve_forever()

    uvloop.run(main())


async def _drive(call: object, requests: int, concurrency: int) -> None:
    """Run ``requests`` calls with ``concurrency`` workers."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()  # type: ignore[operator]

    await asyncio.gather(*[worker() for _ in range(concurrency)])


async def _client(kind: str, url: str, requests: int, concurrency: int) -> dict[str, float]:
    if kind == "aiohttp":
        import aiohttp
        from multidict import CIMultiDict, CIMultiDictProxy
        from yarl import URL

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
            timeout=aiohttp.ClientTimeout(total=None),
        )
        target, headers = URL(url), CIMultiDictProxy(CIMultiDict(HEADERS))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)

        async def call() -> None:
            response = await session.post(target, data=REQUEST_BODY, headers=headers, timeout=timeout)
            parts = []
            while chunk := await response.content.readany():
                parts.append(chunk)
            assert response.status == 200 and parts
            response.release()

        close = session.close
    elif kind == "httpx":
        import httpx

        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None, keepalive_expiry=60))

        async def call() -> None:
            response = await client.post(url, content=REQUEST_BODY, headers=HEADERS)
            assert response.status_code == 200 and response.content

        close = client.aclose
    elif kind == "h1":
        sys.path.insert(0, SRC)
        from yarl import URL

        from omnirouter.transport.h1_client import H1Client

        h1 = H1Client()
        target = URL(url)
        fixed = dict(HEADERS)

        async def call() -> None:
            response = await h1.post(target, fixed, REQUEST_BODY, 10, 300)
            parts = []
            while chunk := await response.content.readany():
                parts.append(chunk)
            assert response.status == 200 and parts
            response.release()

        close = h1.close
    elif kind == "pyreqwest":
        from pyreqwest.client import ClientBuilder

        client = ClientBuilder().http1_only().build()  # type: ignore[attr-defined]

        async def call() -> None:
            response = await client.post(url).headers(HEADERS).body_bytes(REQUEST_BODY).build().send()
            assert response.status == 200 and await response.bytes()

        close = client.close
    else:
        raise SystemExit(f"unknown client {kind}")
    await _drive(call, 2000, concurrency)  # warm-up: connections opened, code paths hot
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await _drive(call, requests, concurrency)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    result = close()
    if asyncio.iscoroutine(result):
        await result
    return {"cpu_us": cpu / requests * 1e6, "rps": requests / wall}


def run_client(kind: str, url: str, requests: int, concurrency: int) -> None:
    os.sched_setaffinity(0, {1})
    try:
        import uvloop

        result = uvloop.run(_client(kind, url, requests, concurrency))
    except ImportError:
        result = asyncio.run(_client(kind, url, requests, concurrency))
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default="aiohttp,httpx,h1,pyreqwest")
    parser.add_argument("--alt-python", help="an interpreter with pyreqwest installed (a throwaway venv)")
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}/v1/chat/completions"
    if args.serve:
        serve(args.port)
        return
    if args.client:
        run_client(args.client, url, args.requests, args.concurrency)
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(args.port)], stdout=subprocess.PIPE)
    assert server.stdout is not None
    server.stdout.readline()
    results: dict[str, list[dict[str, float]]] = {}
    try:
        for _ in range(args.rounds):
            for kind in args.clients.split(","):
                python = sys.executable
                if kind == "pyreqwest":
                    if not args.alt_python:
                        continue
                    python = args.alt_python
                cmd = [python, __file__, "--client", kind, "--port", str(args.port), "--requests", str(args.requests)]
                cmd += ["--concurrency", str(args.concurrency)]
                try:
                    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
                except subprocess.TimeoutExpired:
                    print(f"{kind}: timed out", file=sys.stderr)
                    continue
                if out.returncode != 0:
                    print(f"{kind}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                results.setdefault(kind, []).append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"{kind}: {results[kind][-1]}", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait()
    print(f"{'client':<10} {'CPU µs/request (median)':>24} {'req/s (median)':>15}   rounds")
    for kind, runs in results.items():
        cpu = sorted(r["cpu_us"] for r in runs)[len(runs) // 2]
        rps = sorted(r["rps"] for r in runs)[len(runs) // 2]
        shown = ", ".join(f"{r['cpu_us']:.1f}" for r in runs)
        print(f"{kind:<10} {cpu:>24.1f} {rps:>15.0f}   {shown}")


if __name__ == "__main__":
    main()
