"""Measuring one target: wrk and loadgen runs, latency and first-chunk windows, held streams."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import time
from typing import Any

from common import HERE, PY, Settings, cpu_seconds, pin, rss_mb, set_affinity
from targets import Target

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
    vals = [v for v in values if v is not None and v == v]  # NaN (null in a loadgen answer) left out
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


def _scripts(t: Target, work: str) -> dict[tuple[str, str], str]:
    """The wrk scripts of a target: (protocol, "plain" | "stream") -> path."""
    scripts = {}
    for protocol in ["openai", "anthropic"] if t.translated else ["openai"]:
        for kind, stream in (("plain", False), ("stream", True)):
            scripts[protocol, kind] = lua_script(
                os.path.join(work, f"{t.name}-{protocol}-{kind}.lua"), t, t.body(protocol, stream), protocol
            )
    return scripts


def measure(t: Target, s: Settings, work: str, load_cpu: str | None, round_index: int) -> dict[str, Any]:
    """The measurements of one target alone: concurrency 1, held streams, memory.

    The concurrency-1 phases (latency, time to first chunk, paced chunks) run the whole chain on the
    load CPU: on this kind of VM a wake-up across vCPUs costs milliseconds at p90-p99 (see
    ``lat_xcpu``, the relay measured across CPUs), which would swamp what a gateway adds.  The
    throughput phases (``throughput``) run the gateways on their own CPU.
    """
    m: dict[str, Any] = {}
    protocols = [("openai", "")] + ([("anthropic", "t_")] if t.translated else [])
    pids = t.pids()
    scripts = _scripts(t, work)
    files: dict[tuple[str, str], str] = {}
    for protocol, _ in protocols:
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
    if round_index == 0 or t.name != "litellm":
        # LiteLLM needs ~50 s of CPU to serve 500 slow streams: measured in the first round only
        m["hold"] = hold_streams(t, t.base + t.path("openai"), files["openai", "slow"], s, load_cpu)
    if t.proc is not None:
        m["rss_mb"] = rss_mb(t.pids())
    return m


def throughput(targets: list[Target], s: Settings, work: str, load_cpu: str | None) -> dict[str, dict[str, Any]]:
    """Requests/s and streams/s at ``s.connections`` of every target, in 1-s windows interleaved across targets.

    Window by window the targets take turns (relay, omnirouter, LiteLLM, relay, ...), so that two
    targets' numbers are never minutes apart: on a shared VM whose speed drifts by tens of percent
    within minutes, the ratios between targets then hold still.  Each case is the sum of its windows.
    """
    cases = {
        t.name: [(p, k) for p in (["openai", "anthropic"] if t.translated else ["openai"]) for k in ("plain", "stream")]
        for t in targets
    }
    scripts = {t.name: _scripts(t, work) for t in targets}
    windows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    seconds = s.rps_s / s.rps_windows
    for w in range(s.rps_windows):
        order = targets[w % len(targets) :] + targets[: w % len(targets)]
        for t in order:
            for protocol, kind in cases[t.name]:
                result = run_wrk(
                    t.base + t.path(protocol),
                    scripts[t.name][protocol, kind],
                    s.connections,
                    seconds,
                    load_cpu,
                    t.pids(),
                )
                windows.setdefault((t.name, protocol, kind), []).append(result)
    out: dict[str, dict[str, Any]] = {t.name: {} for t in targets}
    for (name, protocol, kind), results in windows.items():
        prefix = "t_" if protocol == "anthropic" else ""
        out[name][prefix + ("rps" if kind == "plain" else "srps")] = combine_windows(results, seconds)
    return out


def combine_windows(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """One wrk result from several windows: totals for rate, errors and CPU; medians for percentiles."""
    requests = sum(r.get("requests", 0) for r in results)
    combined: dict[str, Any] = {
        "rps": requests / (seconds * len(results)) if results else float("nan"),
        "requests": requests,
        "errors": sum(r.get("errors", 0) for r in results),
        "windows": [round(r.get("rps", float("nan")), 1) for r in results],
    }
    for q in ("p50_ms", "p90_ms", "p99_ms"):
        combined[q] = _median([r.get(q, float("nan")) for r in results])
    cpu = [r["cpu_us_per_req"] * r["requests"] for r in results if "cpu_us_per_req" in r and r.get("requests")]
    if cpu and requests:
        combined["cpu_us_per_req"] = sum(cpu) / requests
    failed = [r["failed"] for r in results if "failed" in r]
    if failed:
        combined["failed"] = failed[-1]
    return combined


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


def pinned(targets: list[Target], s: Settings, work: str, load_cpu: str | None) -> dict[str, dict[str, Any]]:
    """Wall-clock figures as a user's load generator sees them: the gateway's one worker pinned to one core.

    Each 1-worker target stays on its own CPU (``t.cpus``) and wrk runs on the load CPU, as a user would
    measure it from outside: latency at 1 connection and requests/s (with latency) at ``s.connections``,
    plain OpenAI requests, ``s.pinned_s`` seconds each in one continuous wrk run (no 1-s windows), the
    targets taking turns (order rotated by the caller).  Nothing is normalised by CPU time: this is the
    number a user's benchmark reports, crossings between cores and all.  ``direct`` is the upstream
    itself (on the load CPU with wrk); multi-worker targets (not pinned) are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    chosen = [t for t in targets if t.proc is None or (t.cpus is not None and t.metrics.get("workers", 1) == 1)]
    for t in chosen:
        script = _scripts(t, work)["openai", "plain"]
        url = t.base + t.path("openai")
        pids = t.pids()
        c1 = run_wrk(url, script, 1, s.pinned_s, load_cpu, pids)
        c64 = run_wrk(url, script, s.connections, s.pinned_s, load_cpu, pids)
        out[t.name] = {"c1": c1, "c64": c64}
    return out


def summarize_pinned(p: dict[str, Any]) -> str:
    c1, c64 = p.get("c1", {}), p.get("c64", {})
    return (
        f"pinned: c1 p50 {c1.get('p50_ms', float('nan')):.3f} p99 {c1.get('p99_ms', float('nan')):.3f} ms; "
        f"@64 {c64.get('rps', float('nan')):.0f} rps p50 {c64.get('p50_ms', float('nan')):.2f} "
        f"p99 {c64.get('p99_ms', float('nan')):.2f} ms; errors {c1.get('errors', 0) + c64.get('errors', 0)}"
    )
