"""``input_region``: a routing hint naming where a request's reference URLs are hosted (Omni-Image's
``Mainland``, ``Oversea``, ``OverseaUSWest``).

A channel declares the regions it fetches reference URLs from in its ``input_regions`` option (comma
separated, e.g. ``input_regions: "Mainland"``); a channel that declares none serves any region.  When a
request names a region and some planned channel declares it, the channels that declare only other regions
are skipped; when none declares it, the plan stays as it is (no request fails for its hint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from omnirouter.routing.planner import Attempt

__all__ = ["REGIONS_OPTION", "by_region", "channel_regions"]

REGIONS_OPTION = "input_regions"


def channel_regions(options: Mapping[str, str]) -> frozenset[str]:
    """The regions a channel's options declare (lower-cased; empty: any)."""
    return frozenset(part.strip().lower() for part in options.get(REGIONS_OPTION, "").split(",") if part.strip())


def by_region(attempts: Sequence[Attempt], region: str | None) -> list[Attempt]:
    """``attempts`` without those whose channel declares only other regions, when one declares ``region``."""
    if not region:
        return list(attempts)
    wanted = region.lower()
    declared = [channel_regions(attempt.channel.options) for attempt in attempts]
    if not any(wanted in regions for regions in declared):
        return list(attempts)
    return [attempt for attempt, regions in zip(attempts, declared, strict=True) if not regions or wanted in regions]
