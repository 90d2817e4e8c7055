"""omnirouter's benchmark, in one command: ``.venv/bin/python bench/run.py [--quick]``.

Side by side in one run, against the same fast mock upstream (``bench/upstream.py``):

* ``direct``: client -> upstream, the floor;
* ``relay``: the 40-line uvicorn + aiohttp pass-through relay (``bench/relay.py``);
* ``omnirouter``: full features on (auth, routing, usage recording, prices), 1 worker,
  and ``omnirouter-wN`` with ``--workers N``;
* ``litellm``: LiteLLM's proxy (its own venv ``bench/.venv-litellm``, no database, a master key);
* ``portkey``: the Portkey AI Gateway on Node (npm ``@portkey-ai/gateway``, pinned, installed into
  ``bench/.node-portkey``), routed to the upstream by its ``x-portkey-*`` headers.

Measured, with the targets interleaved round after round so that noise shows (medians
reported): latency at concurrency 1 (wrk), requests/s at 64 connections (wrk), streamed
responses of 50 chunks (streams/s at 64 connections with wrk; time to first chunk at
concurrency 1 and chunk pacing with ``bench/loadgen.py``), 500 concurrent slow streams held
open (memory and CPU of the gateway while it holds them), memory idle and peak; the
Anthropic-client -> OpenAI-upstream translation path next to the pass-through path.

The media scenarios (``bench/media_scenarios.py``; ``direct``, ``relay`` and omnirouter only): OpenAI
embeddings (8 inputs x 1536 dimensions, base64 and float; latency at concurrency 1, requests/s at
8 and 64 connections) and streamed speech (200 KB of mp3 in 8 KB chunks; time to first audio byte
at concurrency 1, answers/s at 16 connections).  ``--suite media`` runs them alone.

Wall-clock, pinned (``--suite pinned``): what a user's load generator sees, each 1-worker gateway
pinned to one core and wrk on the other (the upstream with wrk): requests/s and latency p50 / p99 at
64 connections and latency at 1 connection, straight from wrk, beside the CPU-time figures above.

Then (full mode) a py-spy profile of one omnirouter worker under plain and streamed load
(``bench/profile_gateway.py``).  The pieces: ``targets.py`` (the gateways), ``measure.py`` (the
measurements), ``common.py`` (settings, processes), ``report.py`` (the docs).
Results: ``bench/results/<stamp>/results.json`` (and ``latest``);
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
import signal
import sqlite3
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import setup_env  # noqa: E402
from common import PY, ROOT, Proc, Settings, cpus, ensure_wrk, free_port, hwm_mb, pin, rss_mb, wait_ready  # noqa: E402
from measure import measure, pinned, summarize, summarize_pinned, throughput  # noqa: E402
from media_scenarios import check_media, media_round, runs_media, summarize_media  # noqa: E402
from targets import Target, start_targets  # noqa: E402

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
    pk = setup_env.portkey_versions()
    if "@portkey-ai/gateway" in pk:
        info["portkey"] = pk
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


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description="omnirouter benchmark (see docs/benchmarks.md)")
    parser.add_argument("--quick", action="store_true", help="one short round, no profile (a smoke run)")
    parser.add_argument("--rounds", type=int, default=0, help="rounds of interleaved targets (default 3; quick 1)")
    parser.add_argument("--workers", type=int, default=max(2, cpus()), help="workers of the multi-worker omnirouter")
    parser.add_argument(
        "--targets",
        default="direct,relay,omnirouter,omnirouter-wN,litellm,portkey",
        help="comma-separated subset of direct,relay,omnirouter,omnirouter-wN,litellm,portkey "
        "(and omnirouter-noflush, a diagnostic: usage written only at shutdown)",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="a checkout of an earlier omnirouter (e.g. a git worktree): adds the target omnirouter-base, "
        "that code's gateway (1 worker), interleaved with the others for a before/after comparison",
    )
    parser.add_argument(
        "--suite",
        default="chat,media,pinned",
        help="what to measure: chat (chat completions: latency, req/s, streams, held streams), "
        "media (embeddings and streamed speech), pinned (wall-clock req/s and latency as wrk sees them, "
        "each 1-worker gateway pinned to one core and wrk on the other), or any set of them (default: all)",
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
    if s.baseline and "omnirouter-base" not in names:
        names.append("omnirouter-base")
    litellm_exe = setup_env.setup_litellm(None) if "litellm" in names else None
    portkey_entry = setup_env.setup_portkey() if "portkey" in names else None
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
        start_targets(names, s, out, upstream_port, litellm_exe, targets, portkey_entry)
        if "media" in s.suites:
            for t in targets:
                if runs_media(t):
                    check_media(t)
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
            round_results: dict[str, Any] = {t.name: {} for t in order}
            if "chat" in s.suites:
                for t in order:
                    t0 = time.monotonic()
                    round_results[t.name] = measure(t, s, work, load_cpu, r)
                    round_results[t.name]["seconds"] = time.monotonic() - t0
                for name, rates in throughput(order, s, work, load_cpu).items():
                    round_results[name].update(rates)
                for t in order:
                    m = round_results[t.name]
                    line = f"bench: round {r + 1}/{s.rounds} {t.name:16s} {summarize(m)} ({m['seconds']:.0f}s)"
                    print(line, flush=True)
            if "media" in s.suites:
                for name, media in media_round(order, s, work, load_cpu).items():
                    round_results[name].update(media)
                    print(f"bench: round {r + 1}/{s.rounds} {name:16s} media: {summarize_media(media)}", flush=True)
            if "pinned" in s.suites:
                for name, walls in pinned(order, s, work, load_cpu).items():
                    round_results[name]["pinned"] = walls
                    print(f"bench: round {r + 1}/{s.rounds} {name:16s} {summarize_pinned(walls)}", flush=True)
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
    if s.profile and "chat" in s.suites:
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
