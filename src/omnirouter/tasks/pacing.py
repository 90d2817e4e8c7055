"""Per-channel poll rate: how many vendor calls per second one poller makes to one channel.

A channel's ``task_poll_rate`` option (calls per second), else ``tasks.poll_rate``, else uncapped.  The cap
is per poller, so per gateway process: N processes (replicas, or ``workers``) make up to N × the rate.
Each rate is an ``aiolimiter.AsyncLimiter`` (a leaky bucket: bursts of up to one second's worth, at
least one call).  A call that would wait longer than ``wait`` seconds for its turn is not made:
``admit`` answers False and the poller hands the task back to be polled shortly, without counting an
attempt or an error (see ``TaskPoller``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiolimiter import AsyncLimiter

__all__ = ["ChannelPacer", "poll_rate"]


def poll_rate(options: Mapping[str, str], default: float | None) -> float | None:
    """The channel's calls per second: its ``task_poll_rate`` option when a positive number, else ``default``
    (None: uncapped)."""
    raw = options.get("task_poll_rate")
    if raw is not None:
        try:
            rate = float(raw)
        except ValueError:
            rate = 0.0
        if rate > 0 and rate != float("inf"):
            return rate
    return default


class ChannelPacer:
    """One limiter per channel (and rate: a reloaded channel with another rate gets a fresh one).

    ``default``: ``tasks.poll_rate`` (None: uncapped); ``wait``: the longest a call may wait for its turn.
    """

    def __init__(self, default: float | None, wait: float) -> None:
        self.default = default
        self.wait = wait
        self._limiters: dict[str, tuple[float, AsyncLimiter]] = {}

    def rate(self, options: Mapping[str, str]) -> float | None:
        """The calls per second allowed to a channel of these options (None: uncapped)."""
        return poll_rate(options, self.default)

    def _limiter(self, name: str, rate: float) -> AsyncLimiter:
        known = self._limiters.get(name)
        if known is None or known[0] != rate:
            burst = max(1.0, rate)
            known = self._limiters[name] = (rate, AsyncLimiter(burst, burst / rate))
        return known[1]

    async def admit(self, name: str, options: Mapping[str, str]) -> bool:
        """Take one call's turn on channel ``name``, waiting at most ``wait`` seconds; False when the
        turn would come later (nothing is taken then)."""
        rate = self.rate(options)
        if rate is None:
            return True
        limiter = self._limiter(name, rate)
        try:
            async with asyncio.timeout(self.wait):
                await limiter.acquire()
        except TimeoutError:
            return False
        return True

    def retry_in(self, options: Mapping[str, str]) -> float:
        """How long a task turned away should stay away: the wait bound, at least one call's interval."""
        rate = self.rate(options)
        return max(self.wait, 1.0 / rate if rate else 0.0)
