"""The benchmark's numbers as Markdown: per-round medians, ratios within rounds, the tables and sections."""

from __future__ import annotations

import math
import statistics
from typing import Any

NAN = float("nan")


def get(d: Any, *path: str) -> float:
    cur = d
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return NAN
        cur = cur[p]
    return float(cur) if isinstance(cur, (int, float)) and cur is not None else NAN


def med(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else NAN


def spread(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if not math.isnan(v)]
    return (min(vals), max(vals)) if vals else (NAN, NAN)


class Results:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.rounds: list[dict[str, Any]] = data["rounds"]
        self.targets: dict[str, Any] = data["targets"]
        self.names = list(self.targets)
        self.multi = next((n for n in self.names if n.startswith("omnirouter-w")), None)

    def series(self, target: str, *path: str) -> list[float]:
        return [get(r.get(target, {}), *path) for r in self.rounds]

    def m(self, target: str, *path: str) -> float:
        return med(self.series(target, *path))

    def paired(
        self, target: str, other: str, path: tuple[str, ...], op: str, other_path: tuple[str, ...] | None = None
    ) -> float:
        vals = []
        for r in self.rounds:
            a = get(r.get(target, {}), *path)
            b = get(r.get(other, {}), *(other_path or path))
            if math.isnan(a) or math.isnan(b):
                continue
            if op == "-":
                vals.append(a - b)
            elif b > 0:
                vals.append(a / b)
        return med(vals)

    def label(self, name: str) -> str:
        return str(self.targets[name]["label"])


def fmt(v: float, digits: int = 2, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.{digits}f}"
    return s + unit


def ratio(v: float) -> str:
    if math.isnan(v):
        return "–"
    if v >= 10:
        return f"{v:.0f}×"
    return f"{v:.2f}×"


def table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] * len(headers)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------- tables


def machine_section(res: Results) -> str:
    mc = res.data["machine"]
    s = res.data["settings"]
    versions = ", ".join(f"{k} {v}" for k, v in mc.get("versions", {}).items())
    lines = [
        "### Machine and run",
        "",
        f"- CPU: {mc.get('cpu', '?')}, {mc.get('nproc')} cores (nproc), {mc.get('mem_gb', '?')} GB memory; "
        f"{mc.get('platform', '')}",
        f"- Python {mc.get('python')}; {versions}; {' '.join(str(mc.get('wrk', 'wrk')).split()[:2])}"
        + (
            "; Portkey " + ", ".join(f"{k} {v}" for k, v in mc["portkey"].items())
            if mc.get("portkey") and "portkey" in res.names
            else ""
        ),
        f"- omnirouter at git `{res.data.get('git', '?')}`; run started {res.data.get('started')}, "
        f"took {res.data.get('bench_seconds', 0) / 60:.1f} min" + (" (+ profile)" if "profile" in res.data else ""),
        f"- load average at start {' '.join(mc.get('loadavg_start', []))}, at end "
        f"{' '.join(mc.get('loadavg_end', []))} (other jobs shared the machine"
        + (f"; benchmark processes ran at nice -{s['nice']}" if s.get("nice") else "")
        + ")",
        f"- {s['rounds']} interleaved round(s) (target order rotated each round); "
        f"wrk {s.get('lat_windows', 1)} × 1 s windows at 1 connection, "
        f"{s['rps_s']:g} s per case at {s['connections']} connections in "
        f"{s.get('rps_windows', 1)} windows interleaved across targets; TTFC over up to {s['ttfc_requests']} streams "
        f"(≤ {s.get('ttfc_max_s', 0):g} s); {s['hold_streams']} held streams "
        f"of 50 chunks × {s['slow_delay'] * 1000:g} ms",
        "- pinning: the upstream, wrk and the stream client on CPU 0; each 1-worker gateway on CPU 1 for the "
        f"throughput phases, the {res.targets.get(res.multi, {}).get('workers', 'N')}-worker omnirouter unpinned; "
        "for the concurrency-1 phases (latency, time to first chunk, paced chunks) every gateway is moved to CPU 0",
    ]
    if "relay" in res.names and not math.isnan(res.m("relay", "lat_xcpu", "p99_ms")):
        lines.append(
            "- why: on this VM a wake-up across vCPUs is slow and jittery. The minimal relay at concurrency 1, "
            f"p50 / p99: {fmt(res.m('relay', 'lat', 'p50_ms'), 3)} / {fmt(res.m('relay', 'lat', 'p99_ms'), 3)} ms "
            f"with the chain on one core, {fmt(res.m('relay', 'lat_xcpu', 'p50_ms'), 3)} / "
            f"{fmt(res.m('relay', 'lat_xcpu', 'p99_ms'), 3)} ms with the relay on its own core "
            "(every request then crosses vCPUs four times)"
        )
    return "\n".join(lines)


def vs_peer(res: Results, n: str, peer: str, path: tuple[str, ...], peer_path: tuple[str, ...] | None = None) -> float:
    """``n``'s figure over a peer gateway's (LiteLLM, Portkey) within each round, then the median."""
    return res.paired(n, peer, path, "/", peer_path) if peer in res.names and n != peer else NAN


def plain_table(res: Results, prefix: str) -> str:
    names = [n for n in res.names if prefix == "" or res.targets[n].get("translated")]
    peer_col = "portkey" in res.names
    rows = []
    for n in names:
        lat50, lat99 = res.m(n, prefix + "lat", "p50_ms"), res.m(n, prefix + "lat", "p99_ms")
        if n == "direct":
            add50 = add99 = NAN
        else:
            add50 = res.paired(n, "direct", (prefix + "lat", "p50_ms"), "-", ("lat", "p50_ms"))
            add99 = res.paired(n, "direct", (prefix + "lat", "p99_ms"), "-", ("lat", "p99_ms"))
        if n == "direct":
            b50 = b99 = NAN
        else:
            b50 = res.paired(n, "direct", (prefix + "lat", "best_p50_ms"), "-", ("lat", "best_p50_ms"))
            b99 = res.paired(n, "direct", (prefix + "lat", "best_p99_ms"), "-", ("lat", "best_p99_ms"))
        rps = res.m(n, prefix + "rps", "rps")
        lo, hi = spread(res.series(n, prefix + "rps", "rps"))
        vs_relay = res.paired(n, "relay", (prefix + "rps", "rps"), "/", ("rps", "rps")) if "relay" in res.names else NAN
        vs_direct = res.paired(n, "direct", (prefix + "rps", "rps"), "/", ("rps", "rps"))
        vs_litellm = (
            res.paired(n, "litellm", (prefix + "rps", "rps"), "/")
            if "litellm" in res.names and n != "litellm" and res.targets["litellm"].get("translated", True)
            else NAN
        )
        # against Portkey's pass-through figure: it does not translate
        vs_portkey = vs_peer(res, n, "portkey", (prefix + "rps", "rps"), ("rps", "rps"))
        cpu = res.m(n, prefix + "rps", "cpu_us_per_req")
        errors = sum(
            int(v)
            for v in res.series(n, prefix + "rps", "errors") + res.series(n, prefix + "lat", "errors")
            if not math.isnan(v)
        )
        rows.append(
            [
                res.label(n),
                fmt(lat50, 3),
                fmt(lat99, 3),
                fmt(add50, 3),
                fmt(add99, 3),
                f"{fmt(b50, 3)} / {fmt(b99, 3)}",
                fmt(rps, 0),
                f"{fmt(lo, 0)}–{fmt(hi, 0)}",
                ratio(vs_direct),
                ratio(vs_relay),
                ratio(vs_litellm),
                *([ratio(vs_portkey)] if peer_col else []),
                fmt(cpu, 0),
                str(errors),
            ]
        )
    relay_col = "÷ relay (pass-through)" if prefix else "÷ relay"
    return table(
        [
            "target",
            "latency p50 ms",
            "p99 ms",
            "added p50 ms",
            "added p99 ms",
            "added p50 / p99, best window",
            "req/s @64",
            "req/s range",
            "÷ direct",
            relay_col,
            "÷ LiteLLM",
            *(["÷ Portkey (pass-through)" if prefix else "÷ Portkey"] if peer_col else []),
            "CPU µs/req",
            "errors",
        ],
        rows,
    )


def stream_table(res: Results, prefix: str) -> str:
    names = [n for n in res.names if prefix == "" or res.targets[n].get("translated")]
    peer_col = "portkey" in res.names
    rows = []
    for n in names:
        srps = res.m(n, prefix + "srps", "rps")
        t50, t99 = res.m(n, prefix + "ttfc", "ttfc_ms", "p50"), res.m(n, prefix + "ttfc", "ttfc_ms", "p99")
        if n == "direct":
            a50 = a99 = NAN
        else:
            a50 = res.paired(n, "direct", (prefix + "ttfc", "ttfc_ms", "p50"), "-", ("ttfc", "ttfc_ms", "p50"))
            a99 = res.paired(n, "direct", (prefix + "ttfc", "ttfc_ms", "p99"), "-", ("ttfc", "ttfc_ms", "p99"))
        vs_relay = (
            res.paired(n, "relay", (prefix + "srps", "rps"), "/", ("srps", "rps")) if "relay" in res.names else NAN
        )
        vs_litellm = (
            res.paired(n, "litellm", (prefix + "srps", "rps"), "/")
            if "litellm" in res.names and n != "litellm"
            else NAN
        )
        if n == "direct":
            bt = NAN
        else:
            bt = res.paired(n, "direct", (prefix + "ttfc", "best_ttfc_ms", "p99"), "-", ("ttfc", "best_ttfc_ms", "p99"))
        vs_portkey = vs_peer(res, n, "portkey", (prefix + "srps", "rps"), ("srps", "rps"))
        reads = res.m(n, prefix + "chunks", "reads", "p50")
        gap = res.m(n, prefix + "chunks", "max_gap_ms", "p50")
        cpu = res.m(n, prefix + "srps", "cpu_us_per_req")
        errors = sum(
            int(v)
            for v in res.series(n, prefix + "srps", "errors") + res.series(n, prefix + "ttfc", "errors")
            if not math.isnan(v)
        )
        window = res.data["settings"]["rps_s"]
        srps_text = fmt(srps, 0) if srps != 0 else f"< {1 / window:.2g} (none ended in {window:g} s)"
        rows.append(
            [
                res.label(n),
                srps_text,
                ratio(vs_relay),
                ratio(vs_litellm),
                *([ratio(vs_portkey)] if peer_col else []),
                fmt(t50, 3),
                fmt(t99, 3),
                fmt(a50, 3),
                fmt(a99, 3),
                fmt(bt, 3),
                fmt(reads, 0),
                fmt(gap, 1),
                fmt(cpu, 0),
                str(errors),
            ]
        )
    return table(
        [
            "target",
            "streams/s @64",
            "÷ relay (pass-through)" if prefix else "÷ relay",
            "÷ LiteLLM",
            *(["÷ Portkey (pass-through)" if prefix else "÷ Portkey"] if peer_col else []),
            "TTFC p50 ms",
            "TTFC p99 ms",
            "added p50 ms",
            "added p99 ms",
            "added p99, best window",
            "reads/stream (paced)",
            "max gap ms (paced)",
            "CPU µs/stream",
            "errors",
        ],
        rows,
    )


def pinned_table(res: Results) -> str:
    """Wall-clock figures from the pinned phase (``measure.pinned``): what wrk itself reports."""
    names = [n for n in res.names if any(not math.isnan(v) for v in res.series(n, "pinned", "c64", "rps"))]
    if not names:
        return "_No pinned phase in this run (`--suite` without `pinned`)._"
    rows = []
    for n in names:
        c50, c99 = res.m(n, "pinned", "c1", "p50_ms"), res.m(n, "pinned", "c1", "p99_ms")
        if n == "direct" or "direct" not in res.names:
            add50 = add99 = NAN
        else:
            add50 = res.paired(n, "direct", ("pinned", "c1", "p50_ms"), "-")
            add99 = res.paired(n, "direct", ("pinned", "c1", "p99_ms"), "-")
        rps = res.m(n, "pinned", "c64", "rps")
        lo, hi = spread(res.series(n, "pinned", "c64", "rps"))
        vs_relay = res.paired(n, "relay", ("pinned", "c64", "rps"), "/") if "relay" in res.names else NAN
        peers = [ratio(vs_peer(res, n, p, ("pinned", "c64", "rps"))) for p in ("litellm", "portkey") if p in res.names]
        errors = sum(
            int(v)
            for v in res.series(n, "pinned", "c1", "errors") + res.series(n, "pinned", "c64", "errors")
            if not math.isnan(v)
        )
        rows.append(
            [
                res.label(n),
                fmt(c50, 3),
                fmt(c99, 3),
                fmt(add50, 3),
                fmt(add99, 3),
                fmt(rps, 0),
                f"{fmt(lo, 0)}–{fmt(hi, 0)}",
                ratio(vs_relay),
                *peers,
                fmt(res.m(n, "pinned", "c64", "p50_ms"), 2),
                fmt(res.m(n, "pinned", "c64", "p99_ms"), 2),
                fmt(res.m(n, "pinned", "c64", "cpu_us_per_req"), 0),
                str(errors),
            ]
        )
    return table(
        [
            "target",
            "latency @1 p50 ms",
            "p99 ms",
            "added p50 ms",
            "added p99 ms",
            "req/s @64",
            "req/s range",
            "÷ relay",
            *[f"÷ {label}" for p, label in (("litellm", "LiteLLM"), ("portkey", "Portkey")) if p in res.names],
            "latency @64 p50 ms",
            "p99 ms",
            "CPU µs/req",
            "errors",
        ],
        rows,
    )


def memory_table(res: Results) -> str:
    rows = []
    for n in res.names:
        tg = res.targets[n]
        completed = res.series(n, "hold", "completed")
        errs = res.series(n, "hold", "errors")
        held = [c for c in completed if not math.isnan(c)]
        per_proc = tg.get("idle_mb_per_process") or []
        rows.append(
            [
                res.label(n),
                fmt(tg.get("idle_mb") or NAN, 0)
                + (f" ({' + '.join(f'{x:.0f}' for x in per_proc)})" if len(per_proc) > 1 else ""),
                fmt(tg.get("peak_mb") or NAN, 0),
                f"{int(min(held)) if held else '–'}/{res.data['settings']['hold_streams']}",
                str(int(sum(e for e in errs if not math.isnan(e)))) if held else "–",
                fmt(res.m(n, "hold", "open_s"), 2),
                fmt(res.m(n, "hold", "rss_mb"), 0),
                fmt(res.m(n, "hold", "cpu_pct"), 0),
                str(tg.get("usage_rows", "–")) if n.startswith("omnirouter") else "–",
            ]
        )
    return table(
        [
            "target",
            "idle MB (per process)",
            "peak MB",
            "held streams completed",
            "errors",
            "s until all open",
            "MB while holding",
            "CPU % while holding",
            "usage rows written",
        ],
        rows,
    )


def rounds_table(res: Results) -> str:
    rows = []
    for n in res.names:
        vals = res.series(n, "rps", "rps")
        svals = res.series(n, "srps", "rps")
        lat = res.series(n, "lat", "p50_ms")
        rows.append(
            [
                res.label(n),
                " / ".join(fmt(v, 0) for v in vals),
                " / ".join(fmt(v, 0) for v in svals),
                " / ".join(fmt(v, 3) for v in lat),
            ]
        )
    return table(["target", "req/s @64 per round", "streams/s @64 per round", "latency p50 ms per round"], rows)


def checks(res: Results) -> tuple[str, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    o = "omnirouter"
    if o not in res.names:
        return "", out

    def add(what: str, target: str, value: float, ok: bool | None, unit: str = "") -> None:
        out.append({"what": what, "target": target, "value": value, "ok": ok, "unit": unit})

    if "relay" in res.names:
        v = res.paired(o, "relay", ("pinned", "c64", "rps"), "/")
        add("req/s of a pinned worker vs the minimal relay (wrk's wall clock)", "≥ 0.9×", v, v >= 0.9, "×")
        v = res.paired(o, "relay", ("rps", "rps"), "/")
        add("… unpinned, 64 connections", "≥ 0.9×", v, v >= 0.9, "×")
        v = res.paired("relay", o, ("rps", "cpu_us_per_req"), "/")
        add("… from CPU time per request (less sensitive to other jobs)", "≥ 0.9×", v, v >= 0.9, "×")
    if res.multi is not None:
        v = res.paired(res.multi, o, ("rps", "rps"), "/")
        add(f"{res.multi.removeprefix('omnirouter-w')} workers vs one, req/s (wrk on the same 2 vCPUs)", "≥ 1.8×", v,
            v >= 1.8, "×")  # fmt: skip
        v = res.paired(o, res.multi, ("rps", "cpu_us_per_req"), "/")
        add("… CPU per request, one worker ÷ several (1.0: workers cost nothing extra)", "–", v, None, "×")
    v = res.paired(o, "direct", ("lat", "p50_ms"), "-")
    add("added latency p50, concurrency 1", "≤ 0.4 ms", v, v <= 0.4, " ms")
    v = res.paired(o, "direct", ("lat", "p99_ms"), "-")
    add("added latency p99, concurrency 1", "≤ 0.6 ms", v, v <= 0.6, " ms")
    v = res.paired(o, "direct", ("lat", "best_p99_ms"), "-")
    add("… p99 in the best 1-s window", "≤ 0.6 ms", v, v <= 0.6, " ms")
    v = res.paired(o, "direct", ("ttfc", "ttfc_ms", "p99"), "-")
    add("added time to first chunk p99, pass-through", "≤ 0.6 ms", v, v <= 0.6, " ms")
    v = res.paired(o, "direct", ("t_ttfc", "ttfc_ms", "p99"), "-", ("ttfc", "ttfc_ms", "p99"))
    add("added time to first chunk p99, translated (Anthropic client → OpenAI upstream)", "≤ 1 ms", v, v <= 1.0,
        " ms")  # fmt: skip
    reads, direct_reads = res.m(o, "chunks", "reads", "p50"), res.m("direct", "chunks", "reads", "p50")
    add(
        "chunks forwarded as they arrive (reads per paced stream vs direct)",
        f"= {fmt(direct_reads, 0)}",
        reads,
        not math.isnan(reads) and reads >= direct_reads - 1,
        "",
    )
    errs = [e for e in res.series(o, "hold", "errors") if not math.isnan(e)]
    comp = [c for c in res.series(o, "hold", "completed") if not math.isnan(c)]
    hold = res.data["settings"]["hold_streams"]
    add(
        f"{hold} concurrent open streams on one worker",
        "0 errors",
        sum(errs) if errs else NAN,
        bool(comp) and sum(errs) == 0 and min(comp) == hold,
        " errors",
    )
    idle = res.targets[o].get("idle_mb") or NAN
    add("idle memory, one worker", "≤ 60 MB", idle, idle <= 60, " MB")
    verdict = {True: "met", False: "**not met**", None: ""}
    rows = [[c["what"], c["target"], fmt(c["value"], 2) + c["unit"], verdict[c["ok"]]] for c in out]
    return table(["target (issue 17)", "goal", "measured (median)", ""], rows), out


PROFILE_CASES = {
    "relay_plain": "relay, plain",
    "plain": "omnirouter, plain",
    "relay_stream": "relay, streamed",
    "stream": "omnirouter, streamed",
    "t_plain": "omnirouter, translated plain",
    "t_stream": "omnirouter, translated streamed",
}


def profile_cases(prof: dict[str, Any]) -> list[str]:
    return [c for c in PROFILE_CASES if c in prof["cases"] and "failed" not in prof["cases"][c]]


def profile_section(res: Results) -> str:
    prof = res.data.get("profile")
    if not prof:
        return "_No profile in this run (quick mode or `--no-profile`)._"
    cases = profile_cases(prof)
    parts = [
        f"py-spy at {prof['rate_hz']} Hz for {prof['seconds']:g} s per case on one worker (pinned to CPU 1) under wrk "
        "at 64 connections, omnirouter and the minimal relay in turn. *µs per request by layer* splits the measured "
        "CPU time per request (from /proc, under the profiler) by the main thread's self-time samples: the layer is "
        "the file of the innermost Python frame, so time in C code (socket writes, orjson, regex) counts to the "
        "Python function that called it. Streamed cases are per stream of 50 chunks.",
        "",
    ]
    rows = [
        ["req/s under the profiler"] + [fmt(prof["cases"][c].get("rps_under_profiler", NAN), 0) for c in cases],
        ["CPU µs per request"] + [fmt(prof["cases"][c].get("cpu_us_per_request") or NAN, 0) for c in cases],
    ]
    layers: list[str] = []
    for c in cases:
        for k in prof["cases"][c]["layers_pct"]:
            if k not in layers:
                layers.append(k)
    for layer in layers:
        row = [layer]
        for c in cases:
            us = prof["cases"][c].get("layers_us", {}).get(layer)
            pct = prof["cases"][c]["layers_pct"].get(layer)
            row.append(f"{fmt(us, 0)} ({fmt(pct, 0)}%)" if us is not None else "–")
        rows.append(row)
    parts.append(table(["µs per request by layer (% of samples)", *[PROFILE_CASES[c] for c in cases]], rows))
    for c in cases:
        if c.startswith("relay_"):
            continue
        case = prof["cases"][c]
        parts += [
            "",
            f"**{PROFILE_CASES[c]}**: top self time (% of main-thread samples) and omnirouter functions "
            "by inclusive time",
            "",
        ]
        top = case["top_self_pct"][:12]
        incl = [x for x in case["top_inclusive_pct"] if not x[0].startswith(("main (", "_serve ("))][:12]
        rows = []
        for i in range(max(len(top), len(incl))):
            a = top[i] if i < len(top) else ("", "")
            b = incl[i] if i < len(incl) else ("", "")
            rows.append(
                [
                    f"`{a[0]}`" if a[0] else "",
                    fmt(a[1], 1) if a[0] else "",
                    f"`{b[0]}`" if b[0] else "",
                    fmt(b[1], 1) if b[0] else "",
                ]
            )
        parts.append(table(["self time", "%", "omnirouter, inclusive", "%"], rows))
        threads = case.get("threads_pct", {})
        other = {k: v for k, v in threads.items() if "MainThread" not in k}
        if other:
            parts.append("")
            parts.append("Other threads busy (% of one core): " + ", ".join(f"{k} {v}" for k, v in other.items()))
    return "\n".join(parts)


# ----------------------------------------------------------------------------- plots
