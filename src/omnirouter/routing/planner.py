"""The pure routing planner: which channels to try, in which order."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from omnirouter.routing.channel import Attempt, Channel

__all__ = ["Attempt", "order_channels", "plan", "plan_with_fallbacks"]


def order_channels(channels: Sequence[Channel], rng: random.Random | None = None) -> list[Channel]:
    """Higher priority first; within one priority, a weighted random order."""
    rand = rng or random
    if len(channels) == 1:
        return [channels[0]]
    by_priority: dict[int, list[Channel]] = {}
    for channel in channels:
        by_priority.setdefault(channel.priority, []).append(channel)
    ordered: list[Channel] = []
    for priority in sorted(by_priority, reverse=True):
        group = [c for c in by_priority[priority] if c.weight > 0] or by_priority[priority]
        while group:
            weights = [max(c.weight, 0) for c in group]
            if sum(weights) <= 0:
                ordered.extend(group)
                break
            pick = rand.choices(range(len(group)), weights=weights, k=1)[0]
            ordered.append(group.pop(pick))
    return ordered


def plan_with_fallbacks(
    model: str,
    channels_for: Callable[[str], Sequence[Channel]],
    fallbacks: dict[str, list[str]],
    rng: random.Random | None = None,
) -> list[Attempt]:
    """The attempts for ``model`` followed by those of its configured fallback models, in order."""
    attempts = plan(model, channels_for(model), rng)
    for fallback in fallbacks.get(model, ()):
        attempts += plan(fallback, channels_for(fallback), rng)
    return attempts


def plan(model: str, channels: Sequence[Channel], rng: random.Random | None = None) -> list[Attempt]:
    """The attempts for a request to ``model`` over the channels that serve it."""
    if len(channels) == 1:
        return [channels[0].attempt(model)]
    return [channel.attempt(model) for channel in order_channels(channels, rng)]
