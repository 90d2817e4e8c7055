"""Per-channel circuit breaker: open after N failures within a window, probe once after a cooldown.

closed ──N failures in `window` s──► open ──`cooldown` s──► half-open (one probe at a time)
   ▲                                                          │
   └────────────── probe succeeds ◄───────────────────────────┘ probe fails → open again
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from omnirouter.config.schema import BreakerConfig


class CircuitBreaker:
    """The health state of one channel in one worker.  ``clock`` is injectable for tests."""

    __slots__ = ("_clock", "_config", "_failures", "_opened_at", "_probing")

    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open``."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._config.cooldown:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a request may use the channel now (in half-open state: one probe at a time)."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        """A request through the channel worked: close the breaker."""
        self._failures.clear()
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        """A request failed because of the channel (not the client)."""
        now = self._clock()
        if self._opened_at is not None:  # the probe failed: stay open for another cooldown
            self._opened_at = now
            self._probing = False
            return
        failures = self._failures
        failures.append(now)
        while failures and now - failures[0] > self._config.window:
            failures.popleft()
        if len(failures) >= self._config.failures:
            self._opened_at = now
            failures.clear()

    def release_probe(self) -> None:
        """A probe ended without a verdict (e.g. the client left): let another probe through."""
        self._probing = False
