"""The benchmark's plots (matplotlib, PNG), from the same ``Results`` the tables use."""

from __future__ import annotations

import math
import os
from typing import Any

from report_tables import PROFILE_CASES, Results, fmt, profile_cases

COLORS = {"direct": "#9e9e9e", "relay": "#607d8b", "omnirouter": "#1e88e5", "litellm": "#e53935", "portkey": "#fb8c00"}


def color(name: str) -> str:
    if name.startswith("omnirouter-w"):
        return "#43a047"
    return COLORS.get(name, "#8e24aa")


def short(res: Results, name: str) -> str:
    return {
        "direct": "direct",
        "relay": "relay",
        "omnirouter": "omnirouter\n1 worker",
        "litellm": "LiteLLM\n1 worker",
        "portkey": "Portkey\n(Node)",
        "omnirouter-noflush": "omnirouter\nno flush",
    }.get(name, f"omnirouter\n{res.targets[name].get('workers')} workers")


def plots(res: Results, img_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(img_dir, exist_ok=True)
    made = []

    def save(fig: Any, name: str) -> None:
        path = os.path.join(img_dir, name)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)

    def bars(
        ax: Any,
        names: list[str],
        metric: tuple[str, ...],
        title: str,
        ylabel: str,
        log: bool = True,
        fmt_digits: int = 0,
        offset_names: bool = False,
    ) -> None:
        xs = list(range(len(names)))
        meds = [res.m(n, *metric) for n in names]
        ax.bar(xs, [0 if math.isnan(v) else v for v in meds], color=[color(n) for n in names], alpha=0.85)
        for x, n in zip(xs, names, strict=False):
            pts = [v for v in res.series(n, *metric) if not math.isnan(v)]
            ax.scatter([x] * len(pts), pts, color="black", s=10, zorder=3)
        for x, v in zip(xs, meds, strict=False):
            if not math.isnan(v):
                ax.annotate(
                    fmt(v, fmt_digits if v < 10 else 0),
                    (x, v),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        ax.set_xticks(xs)
        ax.set_xticklabels([short(res, n) for n in names], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)

    translated = [n for n in res.names if res.targets[n].get("translated")]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    bars(axes[0][0], res.names, ("rps", "rps"), "OpenAI pass-through: requests/s at 64 connections", "req/s")
    bars(axes[0][1], translated, ("t_rps", "rps"), "Anthropic client → OpenAI upstream: requests/s @64", "req/s")
    bars(axes[1][0], res.names, ("srps", "rps"), "Streams (50 chunks) per second @64, pass-through", "streams/s")
    bars(axes[1][1], translated, ("t_srps", "rps"), "Streams per second @64, translated", "streams/s")
    fig.suptitle("Throughput (bars: median; dots: each round; log scale)")
    fig.tight_layout()
    save(fig, "throughput.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    gws = [n for n in res.names if n != "direct"]
    for ax, q in zip(axes, ("p50", "p99"), strict=False):
        width = 0.38
        xs = list(range(len(gws)))
        plain = [res.paired(n, "direct", ("lat", f"{q}_ms"), "-") for n in gws]
        trans = [res.paired(n, "direct", ("t_lat", f"{q}_ms"), "-", ("lat", f"{q}_ms")) for n in gws]
        ax.bar(
            [x - width / 2 for x in xs],
            [max(v, 1e-3) if not math.isnan(v) else 0 for v in plain],
            width,
            label="pass-through (OpenAI)",
            color=[color(n) for n in gws],
        )
        ax.bar(
            [x + width / 2 for x in xs],
            [max(v, 1e-3) if not math.isnan(v) else 0 for v in trans],
            width,
            label="translated (Anthropic → OpenAI)",
            color=[color(n) for n in gws],
            alpha=0.45,
            hatch="//",
        )
        for x, v in zip(xs, plain, strict=False):
            if not math.isnan(v):
                ax.annotate(f"{v:.2f}", (x - width / 2, max(v, 1e-3)), ha="center", va="bottom", fontsize=7)
        for x, v in zip(xs, trans, strict=False):
            if not math.isnan(v):
                ax.annotate(f"{v:.2f}", (x + width / 2, max(v, 1e-3)), ha="center", va="bottom", fontsize=7)
        goal = 0.5 if q == "p50" else 1.0
        ax.axhline(goal, color="black", linestyle="--", linewidth=1, label=f"target ≤ {goal:g} ms")
        ax.set_yscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([short(res, n) for n in gws], fontsize=8)
        ax.set_title(f"Added latency at concurrency 1, {q} (ms, vs direct)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, "latency.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, q in zip(axes, ("p50", "p99"), strict=True):
        bars(ax, res.names, ("ttfc", "ttfc_ms", q), f"Time to first chunk {q}, concurrency 1 (ms)", "ms", fmt_digits=2)
    fig.tight_layout()
    save(fig, "ttfc.png")

    gws = [n for n in res.names if res.targets[n].get("idle_mb")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = list(range(len(gws)))
    width = 0.27
    idle = [res.targets[n].get("idle_mb") or 0 for n in gws]
    hold = [0 if math.isnan(res.m(n, "hold", "rss_mb")) else res.m(n, "hold", "rss_mb") for n in gws]
    peak = [res.targets[n].get("peak_mb") or 0 for n in gws]
    for off, vals, lab, alpha in (
        (-width, idle, "idle", 1.0),
        (0, hold, "holding the streams", 0.7),
        (width, peak, "peak (VmHWM)", 0.45),
    ):
        axes[0].bar(
            [x + off for x in xs],
            vals,
            width,
            label=lab,
            color=[color(n) for n in gws],
            alpha=alpha,
            edgecolor="black",
            linewidth=0.4,
        )
        for x, v in zip(xs, vals, strict=False):
            axes[0].annotate(f"{v:.0f}", (x + off, v), ha="center", va="bottom", fontsize=7)
    axes[0].axhline(120, color="black", linestyle="--", linewidth=1, label="120 MB (per worker target)")
    axes[0].set_xticks(xs)
    axes[0].set_xticklabels([short(res, n) for n in gws], fontsize=8)
    axes[0].set_title("Resident memory, MB (all processes of the target)", fontsize=10)
    axes[0].legend(fontsize=7)
    axes[0].grid(axis="y", alpha=0.3)
    bars(
        axes[1],
        gws,
        ("hold", "cpu_pct"),
        f"CPU % while holding {res.data['settings']['hold_streams']} slow streams",
        "% of one core",
        log=False,
    )
    fig.tight_layout()
    save(fig, "memory.png")

    prof = res.data.get("profile")
    if prof:
        cases = profile_cases(prof)
        layers: list[str] = []
        for c in cases:
            for k in prof["cases"][c]["layers_pct"]:
                if k not in layers:
                    layers.append(k)
        fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1, 1]})
        cmap = plt.get_cmap("tab20")
        groups = (("relay_plain", "plain", "t_plain"), ("relay_stream", "stream", "t_stream"))
        for ax, group in zip(axes, groups, strict=False):
            group_cases = [c for c in group if c in cases]
            bottoms = [0.0] * len(group_cases)
            for i, layer in enumerate(layers):
                vals = [prof["cases"][c].get("layers_us", {}).get(layer, 0.0) for c in group_cases]
                ax.bar(range(len(group_cases)), vals, bottom=bottoms, label=layer, color=cmap(i % 20))
                total = max(sum(prof["cases"][c].get("layers_us", {}).values()) for c in group_cases) or 1
                for x, (v, b) in enumerate(zip(vals, bottoms, strict=False)):
                    if v >= total * 0.04:
                        ax.annotate(f"{v:.0f}", (x, b + v / 2), ha="center", va="center", fontsize=7)
                bottoms = [b + v for b, v in zip(bottoms, vals, strict=False)]
            ax.set_xticks(range(len(group_cases)))
            ax.set_xticklabels([PROFILE_CASES[c].replace(", ", "\n") for c in group_cases], fontsize=8)
            ax.set_ylabel("≈ CPU µs per request" if "plain" in group[0] else "≈ CPU µs per stream (50 chunks)")
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_title("Plain requests", fontsize=10)
        axes[1].set_title("Streams", fontsize=10)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, loc="center right")
        fig.suptitle(
            "Where a worker's CPU time goes (py-spy self time by layer × CPU per request, 64 connections)", fontsize=10
        )
        fig.tight_layout(rect=(0, 0, 0.8, 1))
        save(fig, "profile.png")
    return made


# ----------------------------------------------------------------------------- document
