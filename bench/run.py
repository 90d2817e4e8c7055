"""omnirouter's benchmark, in one command: ``.venv/bin/python bench/run.py [--quick]``.

Side by side in one run, against the same fast mock upstream (``bench/upstream.py``):

* ``direct``: client -> upstream, the floor;
* ``relay``: the 40-line uvicorn + aiohttp pass-through relay (``bench/relay.py``);
* ``omnirouter``: full features on (auth, routing, usage recording, prices), 1 worker,
  and ``omnirouter-wN`` with ``--workers N``;
* ``litellm``: LiteLLM's proxy (its own venv ``bench/.venv-litellm``, no database, a master key).

Measured, with the targets interleaved round after round so that noise shows (medians
reported): latency at concurrency 1 (wrk), requests/s at 64 connections (wrk), streamed
responses of 50 chunks (streams/s at 64 connections with wrk; time to first chunk at
concurrency 1 and chunk pacing with ``bench/loadgen.py``), 500 concurrent slow streams held
open (memory and CPU of the gateway while it holds them), memory idle and peak; the
Anthropic-client -> OpenAI-upstream translation path next to the pass-through path.

Then (full mode) a py-spy profile of one omnirouter worker under plain and streamed load
(``bench/profile.py``).  Results: ``bench/results/<stamp>/results.json`` (and ``latest``);
``bench/report.py`` turns them into the generated part of ``docs/benchmarks.md`` and the
PNG plots in ``docs/benchmarks/``.  Side environments are made on first use by
``bench/setup_env.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import setup_env  # noqa: E402

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
    profile: bool
    profile_s: float
    quick: bool
    nice: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = args.quick
        return cls(
            rounds=args.rounds or (1 if quick else 3),
            lat_s=1.0 if quick else 3.0,
            rps_s=1.5 if quick else 4.0,
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
            profile=not args.no_profile and not quick,
            profile_s=6.0,
            quick=quick,
            nice=args.nice,
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


# ----------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    label: str
    port: int
    key: str
    cpus: str | None
    openai_model: str = "gpt-4o-mini"
    anthropic_model: str | None = None  # None: no translated path
    health: str = "/health"
    proc: Proc | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def translated(self) -> bool:
        return self.anthropic_model is not None

    def headers(self, protocol: str) -> dict[str, str]:
        if protocol == "anthropic":
            return {"x-api-key": self.key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
        return {"authorization": f"Bearer {self.key}", "content-type": "application/json"}

    def path(self, protocol: str) -> str:
        return "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"

    def body(self, protocol: str, stream: bool, speed: str = "") -> dict[str, Any]:
        suffix = f"-{speed}" if speed else ""
        if protocol == "anthropic":
            assert self.anthropic_model is not None
            return anthropic_body(self.anthropic_model + suffix, stream)
        return openai_body(self.openai_model + suffix, stream)

    def pids(self) -> list[int]:
        return self.proc.pids() if self.proc is not None else []


def write_omnirouter_config(path: str, upstream_port: int, db: str, extra: str = "") -> None:
    models = [f"gpt-4o-mini{s}" for s in SPEEDS]
    claude = {f"claude-haiku-4-5{s}": f"gpt-4o-mini{s}" for s in SPEEDS}
    lines = [
        "# Written by bench/run.py: one OpenAI channel to the benchmark upstream, one client key,",
        "# usage recording on (default batching), prices for billing.",
        f"database_url: sqlite:///{db}",
        "channels:",
        "  - name: bench-openai",
        "    provider: openai",
        f"    base_url: http://127.0.0.1:{upstream_port}/v1",
        f"    api_keys: [{UPSTREAM_KEY}]",
        f"    models: [{', '.join(models + list(claude))}]",
        "    model_map: {" + ", ".join(f"{k}: {v}" for k, v in claude.items()) + "}",
        "keys:",
        "  - name: bench",
        f"    key: {CLIENT_KEY}",
        "prices:",
    ]
    for m in models + list(claude):
        lines.append(f"  {m}: {{input: 0.15, output: 0.60}}")
    if extra:
        lines.append(extra)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def write_litellm_config(path: str, upstream_port: int) -> None:
    entries = []
    pairs = [(f"gpt-4o-mini{s}", f"gpt-4o-mini{s}") for s in SPEEDS]
    pairs += [(f"claude-haiku-4-5{s}", f"gpt-4o-mini{s}") for s in SPEEDS]
    for public, upstream in pairs:
        entries.append(
            f"  - model_name: {public}\n"
            f"    litellm_params: {{model: openai/{upstream}, api_base: 'http://127.0.0.1:{upstream_port}/v1', "
            f"api_key: {UPSTREAM_KEY}}}\n"
        )
    with open(path, "w") as fh:
        fh.write("model_list:\n" + "".join(entries))
        fh.write(f"general_settings:\n  master_key: {LITELLM_KEY}\n")
        fh.write("litellm_settings:\n  telemetry: false\n")


LITELLM_ENV = {
    # /v1/messages for OpenAI models: translate to Chat Completions (the default goes to /v1/responses)
    "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no network fetch of the price list at start
    "LITELLM_LOG": "ERROR",
}


def start_targets(
    names: list[str], s: Settings, out: str, upstream_port: int, litellm_exe: str | None, targets: list[Target]
) -> None:
    """Start every target (appending to ``targets`` at once, so the caller can stop them whatever happens)."""
    n = cpus()
    gw_cpu = "1" if n >= 2 else None
    for name in names:
        port = free_port()
        if name == "direct":
            t = Target("direct", "direct (client -> upstream)", upstream_port, UPSTREAM_KEY, None)
        elif name == "relay":
            t = Target("relay", "minimal relay (1 worker)", port, "unused", gw_cpu, health="/health")
            cmd = [
                *pin(gw_cpu),
                PY,
                "-m",
                "uvicorn",
                "relay:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            t.proc = Proc(
                name,
                cmd,
                os.path.join(out, "relay.log"),
                env={"RELAY_UPSTREAM": f"http://127.0.0.1:{upstream_port}", "PYTHONPATH": HERE},
                cwd=HERE,
            )
        elif name.startswith("omnirouter"):
            workers = s.workers if name.startswith("omnirouter-w") else 1
            cfg = os.path.join(out, f"{name}.yaml")
            # omnirouter-noflush (diagnostic, not in the default set): usage kept in memory until shutdown,
            # to show what the periodic batch write costs the requests that arrive while it runs
            extra = "usage_flush_interval: 3600\nusage_batch_size: 100000" if name == "omnirouter-noflush" else ""
            write_omnirouter_config(cfg, upstream_port, os.path.join(out, f"{name}.db"), extra)
            label = "omnirouter (1 worker)" if workers == 1 else f"omnirouter ({workers} workers)"
            if name == "omnirouter-noflush":
                label = "omnirouter, usage flush deferred (diagnostic)"
            t = Target(
                name, label, port, CLIENT_KEY, gw_cpu if workers == 1 else None, anthropic_model="claude-haiku-4-5"
            )
            t.metrics["workers"] = workers
            exe = os.path.join(os.path.dirname(PY), "omnirouter")
            cmd = [*pin(t.cpus), exe, "serve", "--config", cfg, "--port", str(port), "--workers", str(workers)]
            t.proc = Proc(name, cmd, os.path.join(out, f"{name}.log"))
        elif name == "litellm":
            if litellm_exe is None:
                continue
            cfg = os.path.join(out, "litellm.yaml")
            write_litellm_config(cfg, upstream_port)
            t = Target(
                "litellm",
                "LiteLLM proxy (1 worker)",
                port,
                LITELLM_KEY,
                gw_cpu,
                anthropic_model="claude-haiku-4-5",
                health="/health/liveliness",
            )
            cmd = [
                *pin(gw_cpu),
                litellm_exe,
                "--config",
                cfg,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ]
            t.proc = Proc(name, cmd, os.path.join(out, "litellm.log"), env=LITELLM_ENV, cwd=out)
        else:
            raise SystemExit(f"unknown target {name!r}")
        targets.append(t)
    for t in targets:
        wait_ready(t.base + t.health, t.proc, 120.0 if t.name == "litellm" else 30.0)
        t.metrics["warmup_failures"] = check_target(t)
        time.sleep(1.0)
        t.metrics["idle_mb"] = rss_mb(t.pids()) if t.proc else None
        t.metrics["idle_mb_per_process"] = [round(rss_mb([p]), 1) for p in t.pids()] if t.proc else []
        print(
            f"bench: {t.label} ready on :{t.port}" + (f", idle {t.metrics['idle_mb']:.0f} MB" if t.proc else ""),
            flush=True,
        )


def check_target(t: Target) -> int:
    """Every path answers 200 with the expected shape before anything is measured (and warms it up).

    A path may fail a few times right after start (LiteLLM's first requests sometimes do); those
    failures are counted and returned, and each path must then answer three times in a row.
    """
    protocols = ["openai", "anthropic"] if t.translated else ["openai"]
    failures = 0
    for protocol in protocols:
        for stream in (False, True):
            body = json.dumps(t.body(protocol, stream)).encode()
            expect = ("message_stop" if protocol == "anthropic" else "[DONE]") if stream else "tok11"
            good, problem = 0, ""
            for _ in range(10):
                status, raw = http_request(t.base + t.path(protocol), body, t.headers(protocol), timeout=30.0)
                text = raw.decode(errors="replace")
                if status == 200 and expect in text:
                    good += 1
                    if good == 3:
                        break
                    continue
                failures += 1
                good, problem = 0, f"HTTP {status}: {text[:300]!r}"
                time.sleep(1.0)
            if good < 3:
                raise RuntimeError(f"{t.name} {protocol} stream={stream}: {problem}")
    if failures:
        print(f"bench: {t.name}: {failures} warm-up request(s) failed before every path answered", flush=True)
    return failures


# ----------------------------------------------------------------------------- load tools


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNITS[m.group(2)]


def lua_script(path: str, t: Target, body: dict[str, Any], protocol: str) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{json.dumps(body)}]==]"]
    for k, v in t.headers(protocol).items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def run_wrk(
    url: str, script: str, connections: int, seconds: float, load_cpu: str | None, pids: list[int] | None = None
) -> dict[str, Any]:
    cmd = [
        *pin(load_cpu),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        script,
        url,
    ]
    c0 = cpu_seconds(pids) if pids else 0.0
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    c1 = cpu_seconds(pids) if pids else 0.0
    out = proc.stdout
    res: dict[str, Any] = {"rps": float("nan"), "errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    for q in ("50", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        res[f"p{q}_ms"] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["errors"] += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["errors"] += sum(int(x) for x in m.groups())
    if proc.returncode != 0 or "Requests/sec" not in out:
        res["failed"] = (proc.stderr or out)[-300:]
    if pids and res["requests"]:
        res["cpu_us_per_req"] = (c1 - c0) * 1e6 / res["requests"]
    return res


def run_loadgen(
    mode: str, url: str, body_file: str, headers: dict[str, str], load_cpu: str | None, **opts: Any
) -> dict[str, Any]:
    cmd = [*pin(load_cpu), PY, os.path.join(HERE, "loadgen.py"), mode, "--url", url, "--body", body_file]
    for k, v in headers.items():
        cmd += ["--header", f"{k}:{v}"]
    for k, v in opts.items():
        cmd += [f"--{k}", str(v)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {"failed": proc.stderr[-500:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _median(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return statistics.median(vals) if vals else float("nan")


def latency_windows(url: str, script: str, s: Settings, load_cpu: str | None, pids: list[int]) -> dict[str, Any]:
    """Latency at 1 connection in ``lat_windows`` windows of 1 s: the median window, and the best one.

    On a machine shared with other jobs, one window can be hit by them; the best window says what
    the target costs when it has its core to itself.
    """
    windows = [run_wrk(url, script, 1, 1.0, load_cpu, pids) for _ in range(s.lat_windows)]
    out: dict[str, Any] = {
        "windows": windows,
        "errors": sum(w.get("errors", 0) for w in windows),
        "requests": sum(w.get("requests", 0) for w in windows),
    }
    for q in ("p50_ms", "p90_ms", "p99_ms"):
        vals = [w.get(q, float("nan")) for w in windows]
        out[q] = _median(vals)
        out["best_" + q] = min((v for v in vals if v == v), default=float("nan"))
    out["rps"] = _median([w.get("rps", float("nan")) for w in windows])
    cpus = [w["cpu_us_per_req"] for w in windows if "cpu_us_per_req" in w]
    if cpus:
        out["cpu_us_per_req"] = _median(cpus)
    return out


def ttfc_windows(
    url: str, body_file: str, headers: dict[str, str], s: Settings, load_cpu: str | None
) -> dict[str, Any]:
    """Time to first chunk at concurrency 1, in ``lat_windows`` windows: the median window, and the best one."""
    per = max(20, s.ttfc_requests // s.lat_windows)
    windows = [
        run_loadgen(
            "ttfc",
            url,
            body_file,
            headers,
            load_cpu,
            requests=per,
            warmup=s.ttfc_warmup if i == 0 else 5,
            **{"max-seconds": s.ttfc_max_s / s.lat_windows},
        )
        for i in range(s.lat_windows)
    ]
    ok = [w for w in windows if "ttfc_ms" in w]
    out: dict[str, Any] = {
        "windows": windows,
        "errors": sum(w.get("errors", 0) for w in ok) + len(windows) - len(ok),
        "n": sum(w.get("n", 0) for w in ok),
        "ttfc_ms": {},
        "best_ttfc_ms": {},
    }
    for q in ("p50", "p90", "p99"):
        vals = [w["ttfc_ms"].get(q, float("nan")) for w in ok]
        out["ttfc_ms"][q] = _median(vals)
        out["best_ttfc_ms"][q] = min((v for v in vals if v == v), default=float("nan"))
    return out


def hold_streams(t: Target, url: str, body_file: str, s: Settings, load_cpu: str | None) -> dict[str, Any]:
    """Open ``hold_streams`` slow streams at once; measure the gateway while all are open."""
    cmd = [
        *pin(load_cpu),
        PY,
        os.path.join(HERE, "loadgen.py"),
        "hold",
        "--url",
        url,
        "--body",
        body_file,
        "--concurrency",
        str(s.hold_streams),
        "--timeout",
        "120",
    ]
    for k, v in t.headers("openai" if "chat" in url else "anthropic").items():
        cmd += ["--header", f"{k}:{v}"]
    pids = t.pids()
    base_rss = rss_mb(pids) if pids else None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    open_s = None
    for line in proc.stderr:
        if line.startswith("OPEN"):
            open_s = float(line.split()[1])
            break
    sample: dict[str, Any] = {}
    stream_s = 50 * s.slow_delay
    if pids and open_s is not None:
        window = max(0.5, stream_s - open_s - 0.6)
        c0, w0 = cpu_seconds(pids), time.monotonic()
        peak = rss_mb(pids)
        while time.monotonic() - w0 < window:
            time.sleep(0.1)
            peak = max(peak, rss_mb(pids))
        c1, w1 = cpu_seconds(pids), time.monotonic()
        sample = {
            "cpu_pct": 100.0 * (c1 - c0) / (w1 - w0),
            "rss_mb": peak,
            "rss_before_mb": base_rss,
            "window_s": w1 - w0,
        }
    stdout, stderr = proc.communicate(timeout=300)
    try:
        result = dict(json.loads(stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        result = {"failed": stderr[-500:]}
    result.update(sample)
    return result


# ----------------------------------------------------------------------------- one round


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


def measure(t: Target, s: Settings, work: str, load_cpu: str | None, round_index: int) -> dict[str, Any]:
    """All measurements of one target, once.

    The concurrency-1 phases (latency, time to first chunk, paced chunks) run the whole chain on the
    load CPU: on this kind of VM a wake-up across vCPUs costs milliseconds at p90-p99 (see
    ``lat_xcpu``, the relay measured across CPUs), which would swamp what a gateway adds.  The
    throughput phases run the gateway on its own CPU.
    """
    m: dict[str, Any] = {}
    protocols = [("openai", "")] + ([("anthropic", "t_")] if t.translated else [])
    pids = t.pids()
    files: dict[tuple[str, str], str] = {}
    scripts: dict[tuple[str, str], str] = {}
    for protocol, _ in protocols:
        for kind, stream in (("plain", False), ("stream", True)):
            scripts[protocol, kind] = lua_script(
                os.path.join(work, f"{t.name}-{protocol}-{kind}.lua"), t, t.body(protocol, stream), protocol
            )
        for speed in ("", "paced", "slow", "ttfc"):
            f = os.path.join(work, f"{t.name}-{protocol}-{speed or 'fast'}.json")
            with open(f, "w") as fh:
                json.dump(t.body(protocol, True, speed), fh)
            files[protocol, speed] = f
    one_core = load_cpu is not None and t.proc is not None
    if one_core:
        set_affinity(pids, load_cpu)
    try:
        for protocol, prefix in protocols:
            url = t.base + t.path(protocol)
            headers = t.headers(protocol)
            m[prefix + "lat"] = latency_windows(url, scripts[protocol, "plain"], s, load_cpu, pids)
            m[prefix + "ttfc"] = ttfc_windows(url, files[protocol, "ttfc"], headers, s, load_cpu)
            m[prefix + "chunks"] = run_loadgen(
                "chunks", url, files[protocol, "paced"], headers, load_cpu, concurrency=s.chunk_streams, timeout=60
            )
    finally:
        if one_core:
            set_affinity(pids, t.cpus)
    if t.name == "relay" and one_core:
        # the same latency with the relay on its own CPU: what crossing vCPUs costs on this machine
        m["lat_xcpu"] = latency_windows(t.base + t.path("openai"), scripts["openai", "plain"], s, load_cpu, pids)
    for protocol, prefix in protocols:
        url = t.base + t.path(protocol)
        m[prefix + "rps"] = run_wrk(url, scripts[protocol, "plain"], s.connections, s.rps_s, load_cpu, pids)
        m[prefix + "srps"] = run_wrk(url, scripts[protocol, "stream"], s.connections, s.rps_s, load_cpu, pids)
    if round_index == 0 or t.name != "litellm":
        # LiteLLM needs ~50 s of CPU to serve 500 slow streams: measured in the first round only
        m["hold"] = hold_streams(t, t.base + t.path("openai"), files["openai", "slow"], s, load_cpu)
    if t.proc is not None:
        m["rss_mb"] = rss_mb(t.pids())
    return m


def summarize(m: dict[str, Any]) -> str:
    def g(*path: str) -> float:
        cur: Any = m
        for p in path:
            cur = cur.get(p, {}) if isinstance(cur, dict) else {}
        return cur if isinstance(cur, (int, float)) else float("nan")

    parts = [
        f"lat p50 {g('lat', 'p50_ms'):.3f} ms p99 {g('lat', 'p99_ms'):.3f} ms",
        f"{g('rps', 'rps'):.0f} rps",
        f"{g('srps', 'rps'):.0f} streams/s",
        f"ttfc p50 {g('ttfc', 'ttfc_ms', 'p50'):.3f} p99 {g('ttfc', 'ttfc_ms', 'p99'):.3f} ms",
        f"hold {g('hold', 'completed'):.0f} ok/{g('hold', 'errors'):.0f} err",
    ]
    if "t_rps" in m:
        parts.append(f"translated {g('t_rps', 'rps'):.0f} rps, {g('t_srps', 'rps'):.0f} streams/s")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "affinity": cpus(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
        m = re.search(r"model name\s*:\s*(.+)", text)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
        m = re.search(r"cpu MHz\s*:\s*(.+)", text)
        info["cpu_mhz"] = float(m.group(1)) if m else None
    except OSError:
        info["cpu"] = platform.processor()
    try:
        with open("/proc/meminfo") as fh:
            info["mem_gb"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as fh:
            info["loadavg_start"] = fh.read().split()[:3]
    except OSError:
        pass
    versions = {}
    for pkg in ("aiohttp", "uvicorn", "uvloop", "httptools", "orjson"):
        try:
            import importlib.metadata as md

            versions[pkg] = md.version(pkg)
        except Exception:
            pass
    info["versions"] = versions
    with contextlib.suppress(OSError):
        info["wrk"] = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    return info


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True).stdout
        return rev.strip() + ("+dirty" if dirty.strip() else "")
    except OSError:
        return "?"


def usage_rows(db: str) -> int | None:
    try:
        con = sqlite3.connect(db)
        try:
            return int(con.execute("select count(*) from usage_records").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return None


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("bench: wrk is missing; installing it (Debian package)", flush=True)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is required (apt-get install wrk)")


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description="omnirouter benchmark (see docs/benchmarks.md)")
    parser.add_argument("--quick", action="store_true", help="one short round, no profile (a smoke run)")
    parser.add_argument("--rounds", type=int, default=0, help="rounds of interleaved targets (default 3; quick 1)")
    parser.add_argument("--workers", type=int, default=max(2, cpus()), help="workers of the multi-worker omnirouter")
    parser.add_argument(
        "--targets",
        default="direct,relay,omnirouter,omnirouter-wN,litellm",
        help="comma-separated subset of direct,relay,omnirouter,omnirouter-wN,litellm "
        "(and omnirouter-noflush, a diagnostic: usage written only at shutdown)",
    )
    parser.add_argument("--hold", type=int, default=0, help="concurrent slow streams to hold (default 500)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/benchmarks.md and plots")
    parser.add_argument("--out", default=None, help="results directory (default bench/results/<stamp>)")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="raise the priority of every benchmark process by N (needs root; on a shared machine "
        "this keeps other jobs from adding noise)",
    )
    args = parser.parse_args()
    s = Settings.from_args(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    if s.nice:
        os.nice(-s.nice)  # inherited by every server, load generator and the upstream

    ensure_wrk()
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    litellm_exe = setup_env.setup_litellm(None) if "litellm" in names else None
    tools_py = setup_env.setup_tools()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = os.path.abspath(args.out or os.path.join(HERE, "results", stamp))
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    started = time.time()
    n = cpus()
    load_cpu = "0" if n >= 2 else None
    print(
        f"bench: results in {os.path.relpath(out, ROOT)}; {s.rounds} round(s); {n} cpus "
        f"(upstream and load generators on cpu 0; 1-worker gateways on cpu 1, moved to cpu 0 for the "
        f"concurrency-1 phases)",
        flush=True,
    )

    upstream_port = free_port()
    upstream = Proc(
        "upstream",
        [
            *pin(load_cpu),
            PY,
            os.path.join(HERE, "upstream.py"),
            "--port",
            str(upstream_port),
            "--slow-delay",
            str(s.slow_delay),
            "--paced-delay",
            str(s.paced_delay),
        ],
        os.path.join(out, "upstream.log"),
    )
    targets: list[Target] = []
    results: dict[str, Any] = {
        "machine": machine(),
        "git": git_rev(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "settings": s.__dict__,
        "targets": {},
        "rounds": [],
    }
    try:
        wait_ready(f"http://127.0.0.1:{upstream_port}/health", upstream, 10)
        names = [f"omnirouter-w{s.workers}" if x == "omnirouter-wN" else x for x in names]
        start_targets(names, s, out, upstream_port, litellm_exe, targets)
        for t in targets:
            results["targets"][t.name] = {
                "label": t.label,
                "cpus": t.cpus,
                "port": t.port,
                "idle_mb": t.metrics.get("idle_mb"),
                "idle_mb_per_process": t.metrics.get("idle_mb_per_process"),
                "workers": t.metrics.get("workers", 1),
                "translated": t.translated,
                "warmup_failures": t.metrics.get("warmup_failures", 0),
            }
        for r in range(s.rounds):
            order = targets[r % len(targets) :] + targets[: r % len(targets)]  # rotate: no fixed position bias
            round_results: dict[str, Any] = {}
            for t in order:
                t0 = time.monotonic()
                m = measure(t, s, work, load_cpu, r)
                m["seconds"] = time.monotonic() - t0
                round_results[t.name] = m
                print(f"bench: round {r + 1}/{s.rounds} {t.name:16s} {summarize(m)} ({m['seconds']:.0f}s)", flush=True)
            results["rounds"].append(round_results)
        for t in targets:
            if t.proc is not None:
                results["targets"][t.name]["peak_mb"] = hwm_mb(t.pids())
                results["targets"][t.name]["end_mb"] = rss_mb(t.pids())
    finally:
        for t in targets:
            if t.proc is not None:
                t.proc.stop()
        upstream.stop()
    for t in targets:
        if t.name.startswith("omnirouter"):
            results["targets"][t.name]["usage_rows"] = usage_rows(os.path.join(out, f"{t.name}.db"))
    try:
        with open("/proc/loadavg") as fh:
            results["machine"]["loadavg_end"] = fh.read().split()[:3]
    except OSError:
        pass
    results["bench_seconds"] = time.time() - started

    path = os.path.join(out, "results.json")

    def save() -> None:
        with open(path, "w") as fh:
            json.dump(results, fh, indent=1, default=str)

    save()
    if s.profile:
        import profile_gateway

        try:
            results["profile"] = profile_gateway.run(out, s.profile_s, tools_py, load_cpu)
        except Exception as exc:  # the measurements stand without the profile
            print(f"bench: profile failed: {exc!r}", flush=True)
        save()
    latest = os.path.join(HERE, "results", "latest")
    if not args.out:
        if os.path.islink(latest) or os.path.exists(latest):
            os.remove(latest)
        os.symlink(os.path.basename(out), latest)
    print(f"bench: wrote {os.path.relpath(path, ROOT)} in {time.time() - started:.0f}s", flush=True)
    if not args.no_docs:
        cmd = [tools_py, os.path.join(HERE, "report.py"), path]
        if s.quick:
            cmd.append("--no-docs")  # a smoke run prints its tables; only full runs rewrite the docs
        subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
