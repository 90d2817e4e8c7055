"""Per-channel poll rate: how many vendor calls per second the pollers make to one channel.

A channel's ``task_poll_rate`` option (calls per second), else ``tasks.poll_rate``, else uncapped.  With
Redis (``redis_url``), a channel's rate is one budget shared by every gateway process
(``SharedPollRate``); without it, each process keeps its own, so N processes (replicas, or ``workers``)
make up to N × the rate.  Either way a rate is a bucket of bursts of up to one second's worth (at least
one call), then the rate; per process, an ``aiolimiter.AsyncLimiter``.  A call that would wait longer
than ``wait`` seconds for its turn is not made: ``admit`` answers False and the poller hands the task
back to be polled shortly, without counting an attempt or an error (see ``TaskPoller``).  A turn
booked in Redis whose sleep ends more than one interval late (the process stalled: a pause, a swap, a
busy loop) is given up the same way, so that turns booked apart do not reach the vendor together.

Redis failing: ``admit`` never raises for it.  It logs one warning, paces with this process's limiters,
and tries Redis again after ``retry_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from aiolimiter import AsyncLimiter

from omnirouter.storage.redis import redis_failures
from omnirouter.tasks.shared_rate import SharedPollRate

log = logging.getLogger("omnirouter.tasks")


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
    """One budget per channel: shared through Redis (``shared``), else (or while Redis fails) one limiter per
    channel and rate in this process (a reloaded channel with another rate gets a fresh one).

    ``default``: ``tasks.poll_rate`` (None: uncapped); ``wait``: the longest a call may wait for its turn;
    ``retry_interval``: how long after a Redis failure the per-process limiters pace alone.
    """

    def __init__(
        self, default: float | None, wait: float, shared: SharedPollRate | None = None, retry_interval: float = 5.0
    ) -> None:
        self.default = default
        self.wait = wait
        self.shared = shared
        self._failures = redis_failures(shared)
        self.retry_interval = retry_interval
        self._limiters: dict[str, tuple[float, AsyncLimiter]] = {}
        self._down_until = 0.0  # monotonic; while set, the rates are this process's own

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
        asked = time.monotonic()
        if self.shared is not None and asked >= self._down_until:
            try:
                delay = await self.shared.take(name, rate, self.wait)
            except self._failures as exc:
                self._failed(exc)
            else:
                if self._down_until:
                    self._recovered()
                if delay is None:
                    return False
                if delay > 0:
                    await asyncio.sleep(delay)
                return time.monotonic() - (asked + delay) <= 1.0 / rate
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

    def _failed(self, exc: BaseException) -> None:
        if not self._down_until:
            log.warning(
                "poll rates: Redis unavailable (%s); pacing per process, retrying in %.0f s",
                exc or type(exc).__name__,
                self.retry_interval,
            )
        self._down_until = time.monotonic() + self.retry_interval

    def _recovered(self) -> None:
        self._down_until = 0.0
        log.warning("poll rates: Redis is back; poll rates are shared again")
