"""The realtime relay's cost: added latency per relayed frame, and many sessions on one worker.

    .venv/bin/python bench/realtime.py [--frames 2000] [--sessions 200] [--per-session 50]

An echo upstream (a ``websockets`` server answering every frame with one event of the same size) runs in a
process of its own; one omnirouter worker (``omnirouter serve``) relays ``/v1/realtime`` to it. Round trips
of one JSON frame are timed straight to the echo server and through the gateway, one session, one frame at
a time: a frame crosses the relay twice per round trip, so the added latency per relayed frame is half
the difference (reported at p50 / p99).  Then ``--sessions`` sessions each send ``--per-session`` frames
at once through the gateway (the worker's p99 round trip and frames per second).  docs/realtime.md
reports a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PY, ROOT, Proc, free_port, wait_ready

CLIENT_KEY = "sk-bench-realtime-0001"
FRAME = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 640})  # 20 ms of 8 kHz G.711


async def _echo(ws: ServerConnection) -> None:
    await ws.send(json.dumps({"type": "session.created", "session": {"id": "sess_bench", "type": "realtime"}}))
    async for message in ws:
        await ws.send(message)


async def echo_server(port: int) -> None:
    async with serve(_echo, "127.0.0.1", port, compression=None, max_size=None):
        await asyncio.Future()


async def _round_trips(ws: ClientConnection, count: int) -> list[float]:
    await ws.recv()  # session.created
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await ws.send(FRAME)
        await ws.recv()
        times.append(time.perf_counter() - started)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(echo_port: int, gateway_port: int, frames: int, sessions: int, per_session: int) -> dict[str, float]:
    direct_url = f"ws://127.0.0.1:{echo_port}/v1/realtime?model=gpt-realtime"
    relay_url = f"ws://127.0.0.1:{gateway_port}/v1/realtime?model=gpt-realtime"
    auth = {"Authorization": f"Bearer {CLIENT_KEY}"}
    async with connect(direct_url, compression=None) as ws:
        await _round_trips(ws, 200)  # warm up
    async with connect(direct_url, compression=None) as ws:
        direct = await _round_trips(ws, frames)
    async with connect(relay_url, additional_headers=auth, compression=None) as ws:
        await _round_trips(ws, 200)
    async with connect(relay_url, additional_headers=auth, compression=None) as ws:
        relayed = await _round_trips(ws, frames)

    async def one_session() -> list[float]:
        async with connect(relay_url, additional_headers=auth, compression=None, open_timeout=60) as ws:
            return await _round_trips(ws, per_session)

    started = time.perf_counter()
    results = await asyncio.gather(*(one_session() for _ in range(sessions)))
    elapsed = time.perf_counter() - started
    many = [t for session in results for t in session]
    return {
        "direct_p50_ms": statistics.median(direct) * 1000,
        "direct_p99_ms": _pct(direct, 0.99) * 1000,
        "relayed_p50_ms": statistics.median(relayed) * 1000,
        "relayed_p99_ms": _pct(relayed, 0.99) * 1000,
        "added_per_frame_p50_ms": (statistics.median(relayed) - statistics.median(direct)) / 2 * 1000,
        "added_per_frame_p99_ms": (_pct(relayed, 0.99) - _pct(direct, 0.99)) / 2 * 1000,
        "sessions": sessions,
        "sessions_p99_ms": _pct(many, 0.99) * 1000,
        "sessions_frames_per_s": len(many) * 2 / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--per-session", type=int, default=50)
    parser.add_argument("--echo", type=int, help=argparse.SUPPRESS)  # run the echo upstream on this port
    args = parser.parse_args()
    if args.echo:
        asyncio.run(echo_server(args.echo))
        return
    workdir = tempfile.mkdtemp(prefix="omnirouter-rt-bench-")
    echo_port, gateway_port = free_port(), free_port()
    config = {
        "database_url": f"sqlite:///{workdir}/gw.db",
        "log_level": "warning",
        "channels": [{"name": "echo", "provider": "openai", "base_url": f"http://127.0.0.1:{echo_port}/v1",
                      "api_keys": ["sk-upstream-bench"], "models": ["gpt-realtime"]}],
        "keys": [{"name": "bench", "key": CLIENT_KEY}],
        "realtime": {"ping_interval": None},
    }  # fmt: skip
    config_path = os.path.join(workdir, "gateway.yaml")
    with open(config_path, "w") as fh:
        json.dump(config, fh)  # JSON is YAML
    echo = Proc("echo", [PY, __file__, "--echo", str(echo_port)], os.path.join(workdir, "echo.log"))
    gateway = Proc(
        "omnirouter",
        [PY, "-m", "omnirouter", "serve", "--config", config_path, "--port", str(gateway_port)],
        os.path.join(workdir, "gateway.log"),
        env={"PYTHONPATH": os.path.join(ROOT, "src")},
    )
    try:
        wait_ready(f"http://127.0.0.1:{gateway_port}/health", gateway, 60)
        time.sleep(0.5)
        result = asyncio.run(measure(echo_port, gateway_port, args.frames, args.sessions, args.per_session))
    finally:
        gateway.stop()
        echo.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
