"""What every part of the benchmark shares: constants, request bodies, settings, processes."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PY = sys.executable
CLIENT_KEY = "sk-bench-client-0001"
LITELLM_KEY = "sk-bench-master-0001"
UPSTREAM_KEY = "sk-upstream-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SYSTEM = "You are a helpful assistant."
SPEEDS = ("", "-paced", "-slow", "-ttfc")  # model suffixes: how the benchmark upstream paces a stream
PROMPT = "Say hello in one short sentence."


def openai_body(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
    return body


def anthropic_body(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 64,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return body


# ----------------------------------------------------------------------------- settings


@dataclass
class Settings:
    rounds: int
    lat_s: float
    rps_s: float
    rps_windows: int
    connections: int
    ttfc_requests: int
    ttfc_warmup: int
    ttfc_max_s: float
    lat_windows: int
    chunk_streams: int
    hold_streams: int
    slow_delay: float
    paced_delay: float
    workers: int
    baseline: str | None
    profile: bool
    profile_s: float
    quick: bool
    nice: int
    suites: tuple[str, ...] = ("chat", "media", "pinned")
    pinned_s: float = 5.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = args.quick
        return cls(
            rounds=args.rounds or (1 if quick else 3),
            lat_s=1.0 if quick else 3.0,
            rps_s=2.0 if quick else 4.0,  # per case and target, in 1-s windows interleaved across targets
            rps_windows=2 if quick else 4,
            connections=64,
            ttfc_requests=100 if quick else 300,
            ttfc_warmup=20 if quick else 30,
            ttfc_max_s=3.0 if quick else 6.0,
            lat_windows=2 if quick else 3,
            chunk_streams=4,
            hold_streams=args.hold or 500,
            slow_delay=0.05 if quick else 0.1,
            paced_delay=0.01,
            workers=args.workers,
            baseline=os.path.abspath(args.baseline) if args.baseline else None,
            profile=not args.no_profile and not quick,
            profile_s=6.0,
            quick=quick,
            nice=args.nice,
            suites=tuple(x.strip() for x in getattr(args, "suite", "chat,media,pinned").split(",") if x.strip()),
            pinned_s=2.0 if quick else 5.0,
        )


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpus() -> int:
    return len(os.sched_getaffinity(0))


def pin(cpu_list: str | None) -> list[str]:
    if cpu_list is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", cpu_list]


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pids: list[int]) -> float:
    return sum(_status_kb(p, "VmRSS:") for p in pids) / 1024.0


def hwm_mb(pids: list[int]) -> float:
    return sum(_status_kb(p, "VmHWM:") for p in pids) / 1024.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


class Proc:
    """A server process we started, in its own process group."""

    def __init__(self, name: str, cmd: list[str], log: str, env: dict[str, str] | None = None, cwd: str | None = None):
        self.name = name
        self.log_path = log
        self.log = open(log, "wb")  # noqa: SIM115 (open for the life of the process)
        full_env = {**os.environ, **(env or {})}
        full_env.pop("PYTHONDONTWRITEBYTECODE", None)  # servers run as deployed: bytecode cached
        self.popen = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd or ROOT, start_new_session=True
        )

    def pids(self) -> list[int]:
        return tree_pids(self.popen.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self.log.close()


def http_request(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(url: str, proc: Proc | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited early; see {proc.log_path}")
        try:
            http_request(url, timeout=2.0)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def set_affinity(pids: list[int], cpu_list: str | None) -> None:
    """Move every thread of ``pids`` to ``cpu_list`` (None: every CPU)."""
    if not hasattr(os, "sched_setaffinity"):
        return
    cpus_set = set(range(os.cpu_count() or 1)) if cpu_list is None else {int(c) for c in cpu_list.split(",")}
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cpus_set)


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("bench: wrk is missing; installing it (Debian package)", flush=True)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is required (apt-get install wrk)")
