"""``omnirouter channels list|test``: the configured channels, and a live probe of each."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from omnirouter.config import ConfigError, GatewayConfig, load_config
from omnirouter.config.secrets import scrub
from omnirouter.routing.channel import Channel
from omnirouter.routing.probe import ProbeResult, probe_channels
from omnirouter.transport import Session


def add_channels_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``channels list`` and ``channels test`` under ``commands``."""
    channels = commands.add_parser("channels", help="list or test the configured upstream channels")
    actions = channels.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="print the channels (never their keys)")
    listing.add_argument("--config", help="YAML config file (default: embedded defaults)")
    listing.set_defaults(run=_list)
    test = actions.add_parser("test", help="send a tiny real request through each channel (exit 1 if any fails)")
    test.add_argument("name", nargs="?", help="test only this channel")
    test.add_argument("--config", help="YAML config file (default: embedded defaults)")
    test.set_defaults(run=_test)


def _load(path: str | None) -> GatewayConfig | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"omnirouter: config error: {exc}", file=sys.stderr)
        return None


def _list(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 2
    rows = [
        [
            c.name,
            c.provider.value,
            scrub(c.base_url, c.api_keys),
            ",".join(c.models),
            str(c.priority),
            str(c.weight),
        ]
        for c in config.channels
    ]
    if not rows:
        print("No channels configured.")
        return 0
    print(format_table(["CHANNEL", "PROVIDER", "BASE URL", "MODELS", "PRIORITY", "WEIGHT"], rows))
    return 0


def _test(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 2
    channels = [Channel(c, config.breaker) for c in config.channels]
    if args.name is not None:
        channels = [c for c in channels if c.name == args.name]
        if not channels:
            known = ", ".join(c.name for c in config.channels) or "none"
            print(f"omnirouter: no channel named {args.name!r} (configured: {known})", file=sys.stderr)
            return 2
    elif not channels:
        print("omnirouter: no channels configured", file=sys.stderr)
        return 2
    results = asyncio.run(_probe(channels))
    print(format_results(results))
    failed = sum(1 for r in results if not r.ok)
    print(f"\n{len(results) - failed} of {len(results)} channel(s) ok")
    return 1 if failed else 0


async def _probe(channels: Sequence[Channel]) -> list[ProbeResult]:
    async with Session() as session:
        return await probe_channels(session, channels)


def format_results(results: Sequence[ProbeResult]) -> str:
    """The probe results as a table: channel, model, result, HTTP status, latency, error."""
    rows = [
        [
            r.channel,
            r.model,
            "ok" if r.ok else "FAILED",
            "-" if r.status is None else str(r.status),
            f"{r.latency_ms:.1f}",
            r.error or "",
        ]
        for r in results
    ]
    return format_table(["CHANNEL", "MODEL", "RESULT", "STATUS", "LATENCY MS", "ERROR"], rows)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces (the last column is not padded)."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
