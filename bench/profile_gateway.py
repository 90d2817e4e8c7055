"""Profile one omnirouter worker under load with py-spy: where does a request's time go?

For each case (OpenAI pass-through plain and streamed; Anthropic client -> OpenAI upstream
plain and streamed; and the minimal relay's plain and streamed pass-through, for the floor),
wrk drives 64 connections while ``py-spy record`` samples the worker
(non-blocking, all threads, full file names, raw collapsed stacks).  The stacks are then
summarized: CPU per request (from /proc), the main thread's busy share, self time by layer
(server, omnirouter's own modules, aiohttp client, usage writing, event loop, logging) and the
functions with the most self and inclusive time.  Raw stacks stay in the results directory
(``profile-<case>.txt``, loadable in speedscope or flamegraph.pl).

With ``--media``, the media cases instead (``bench/media_scenarios.py``): embeddings base64 and float,
streamed speech, through omnirouter and the relay.

Standalone: ``.venv/bin/python bench/profile_gateway.py [--seconds 8] [--media]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
import measure  # noqa: E402
import media_scenarios  # noqa: E402
import setup_env  # noqa: E402
import targets  # noqa: E402

RATE = 250
CASES = [
    ("plain", "openai", False),
    ("stream", "openai", True),
    ("t_plain", "anthropic", False),
    ("t_stream", "anthropic", True),
]

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _owner(path: str) -> str:
    """The layer a source file belongs to."""
    p = path.replace("\\", "/")
    if "/omnirouter/" in p:
        rest = p.split("/omnirouter/", 1)[1]
        sub = rest.split("/", 1)[0] if "/" in rest else rest.removesuffix(".py")
        return f"omnirouter.{sub}"
    for key, name in (
        ("/uvicorn/", "uvicorn (client-side HTTP server)"),
        ("/httptools/", "uvicorn (client-side HTTP server)"),
        ("/aiohttp/", "aiohttp (upstream HTTP client)"),
        ("/yarl/", "aiohttp (upstream HTTP client)"),
        ("/multidict/", "aiohttp (upstream HTTP client)"),
        ("/sqlalchemy/", "usage writes (SQLAlchemy/aiosqlite)"),
        ("/aiosqlite/", "usage writes (SQLAlchemy/aiosqlite)"),
        ("/sqlite3/", "usage writes (SQLAlchemy/aiosqlite)"),
        ("/logging/", "logging"),
        ("/asyncio/", "event loop (asyncio/uvloop)"),
        ("/uvloop/", "event loop (asyncio/uvloop)"),
        ("/msgspec/", "msgspec"),
    ):
        if key in p:
            return name
    return "other"


def _short(path: str) -> str:
    p = path.replace("\\", "/")
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in p:
            p = p.split(marker, 1)[1]
            if marker == "/lib/python3":
                p = "stdlib/" + p.split("/", 1)[1] if "/" in p else p
            break
    return p


def parse_frame(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), ""
    return m.group("func"), m.group("file") or ""


def analyze(raw_path: str, seconds: float) -> dict[str, Any]:
    """Summaries of a py-spy raw (collapsed) file recorded with ``--threads``."""
    by_thread: collections.Counter[str] = collections.Counter()
    layers: collections.Counter[str] = collections.Counter()
    self_fn: collections.Counter[str] = collections.Counter()
    incl_fn: collections.Counter[str] = collections.Counter()
    main = 0
    with open(raw_path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count_s = line.rpartition(" ")
            try:
                count = int(count_s)
            except ValueError:
                continue
            frames = stack.split(";")
            thread = frames[0]
            by_thread[re.sub(r"^thread \(\d+\): ", "", thread)] += count
            if "MainThread" not in thread:
                continue
            main += count
            parsed = [parse_frame(f) for f in frames[1:]]
            if not parsed:
                continue
            func, path = parsed[-1]
            layers[_owner(path)] += count
            self_fn[f"{func} ({_short(path)})"] += count
            seen = set()
            for func, path in parsed:
                if "/omnirouter/" in path.replace("\\", "/"):
                    key = f"{func} ({_short(path)})"
                    if key not in seen:
                        seen.add(key)
                        incl_fn[key] += count
    expected = RATE * seconds
    return {
        "samples_main": main,
        "main_busy_pct": 100.0 * main / expected if expected else None,
        "threads_pct": {k: round(100.0 * v / expected, 1) for k, v in by_thread.most_common(6)},
        "layers_pct": {k: round(100.0 * v / main, 1) for k, v in layers.most_common()} if main else {},
        "top_self_pct": [(k, round(100.0 * v / main, 1)) for k, v in self_fn.most_common(25)] if main else [],
        "top_inclusive_pct": [(k, round(100.0 * v / main, 1)) for k, v in incl_fn.most_common(25)] if main else [],
    }


def _profile_case(
    pyspy: str, pid: int, url: str, script: str, raw: str, seconds: float, load_cpu: str | None
) -> dict[str, Any]:
    measure.run_wrk(url, script, 64, 1, load_cpu)  # warm
    wrk = subprocess.Popen(
        [*common.pin(load_cpu), "wrk", "-t1", "-c64", f"-d{int(seconds + 2)}s", "-s", script, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1.0)
    c0, w0 = common.cpu_seconds([pid]), time.monotonic()
    spy = subprocess.run(
        [
            pyspy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(RATE),
            "--duration",
            str(int(seconds)),
            "--nonblocking",
            "--threads",
            "--full-filenames",
            "--format",
            "raw",
            "-o",
            raw,
        ],
        capture_output=True,
        text=True,
    )
    c1, w1 = common.cpu_seconds([pid]), time.monotonic()
    wrk_out, _ = wrk.communicate(timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", wrk_out)
    rps = float(m.group(1)) if m else float("nan")
    if spy.returncode != 0 or not os.path.exists(raw):
        return {"failed": (spy.stderr or spy.stdout)[-400:], "rps_under_profiler": rps}
    result = analyze(raw, seconds)
    result["rps_under_profiler"] = rps
    result["cpu_pct"] = 100.0 * (c1 - c0) / (w1 - w0)
    cpu_us = 1e6 * (c1 - c0) / (w1 - w0) / rps if rps == rps and rps > 0 else None
    result["cpu_us_per_request"] = cpu_us
    if cpu_us:
        # the main thread's share of the CPU, split by layer: an estimate of microseconds per request
        result["layers_us"] = {k: round(v * cpu_us / 100.0, 1) for k, v in result["layers_pct"].items()}
    return result


def run(out: str, seconds: float, tools_py: str, load_cpu: str | None, media: bool = False) -> dict[str, Any]:
    """Start an upstream, a 1-worker omnirouter and the minimal relay; profile each case; return the summaries."""
    pyspy = os.path.join(os.path.dirname(tools_py), "py-spy")
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    up_port, gw_port, relay_port = common.free_port(), common.free_port(), common.free_port()
    gw_cpu = "1" if common.cpus() >= 2 else None
    upstream = common.Proc(
        "upstream-profile",
        [*common.pin(load_cpu), common.PY, os.path.join(HERE, "upstream.py"), "--port", str(up_port)],
        os.path.join(out, "upstream-profile.log"),
    )
    cfg = os.path.join(out, "omnirouter-profile.yaml")
    targets.write_omnirouter_config(cfg, up_port, os.path.join(out, "omnirouter-profile.db"))
    exe = os.path.join(os.path.dirname(common.PY), "omnirouter")
    gw = common.Proc(
        "omnirouter-profile",
        [*common.pin(gw_cpu), exe, "serve", "--config", cfg, "--port", str(gw_port)],
        os.path.join(out, "omnirouter-profile.log"),
    )
    relay = targets.start_relay("relay-profile", relay_port, up_port, gw_cpu, os.path.join(out, "relay-profile.log"))
    t = targets.Target(
        "omnirouter", "omnirouter (1 worker)", gw_port, common.CLIENT_KEY, gw_cpu, anthropic_model="claude-haiku-4-5"
    )
    t.proc = gw
    r = targets.Target("relay", "minimal relay", relay_port, "unused", gw_cpu, health="/health")
    r.proc = relay
    summary: dict[str, Any] = {"rate_hz": RATE, "seconds": seconds, "cases": {}}
    try:
        common.wait_ready(f"http://127.0.0.1:{up_port}/health", upstream, 10)
        common.wait_ready(t.base + "/health", gw, 30)
        common.wait_ready(r.base + "/health", relay, 30)
        targets.check_target(t)
        targets.check_target(r)
        plan: list[tuple[targets.Target, str, str, dict[str, Any]]] = []
        if media:
            for target, prefix in ((t, ""), (r, "relay_")):
                media_scenarios.check_media(target)
                for case, path in media_scenarios.PATHS.items():
                    if case in media_scenarios.BIG_CASES:  # seconds an answer: MB/s and RSS are bench/run.py's
                        continue
                    plan.append((target, prefix + case, path, media_scenarios.body(case)))
        else:
            for case, protocol, stream in CASES:
                plan.append((t, case, t.path(protocol), t.body(protocol, stream)))
                if protocol == "openai":
                    plan.append((r, "relay_" + case, r.path(protocol), r.body(protocol, stream)))
        for target, case, path, body in plan:
            assert target.proc is not None
            protocol = "anthropic" if case.startswith("t_") else "openai"
            script = measure.lua_script(os.path.join(work, f"profile-{case}.lua"), target, body, protocol)
            result = _profile_case(
                pyspy,
                target.proc.popen.pid,
                target.base + path,
                script,
                os.path.join(out, f"profile-{case}.txt"),
                seconds,
                load_cpu,
            )
            summary["cases"][case] = result
            if "failed" in result:
                print(f"bench: profile {case}: py-spy failed: {result['failed']}", flush=True)
                continue
            print(
                f"bench: profile {case:14s} {result['rps_under_profiler']:7.0f} req/s under py-spy, "
                f"{result['cpu_us_per_request'] or float('nan'):.0f} us CPU/request; "
                f"top layers {dict(list(result['layers_pct'].items())[:3])}",
                flush=True,
            )
    finally:
        relay.stop()
        gw.stop()
        upstream.stop()
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--media", action="store_true", help="profile the media cases (embeddings, speech)")
    args = parser.parse_args()
    tools_py = setup_env.setup_tools()
    out = os.path.abspath(args.out or os.path.join(HERE, "results", "profile-" + time.strftime("%Y%m%d-%H%M%S")))
    os.makedirs(out, exist_ok=True)
    common.ensure_wrk()
    load_cpu = "0" if common.cpus() >= 2 else None
    summary = run(out, args.seconds, tools_py, load_cpu, args.media)
    with open(os.path.join(out, "profile.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
