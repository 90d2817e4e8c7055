"""Per-channel circuit breaker: open after N failures within a window, probe once after a cooldown.

closed ──N failures in `window` s──► open ──`cooldown` s──► half-open (one probe at a time)
   ▲                                                          │
   └────────────── probe succeeds ◄───────────────────────────┘ probe fails → open again

``listener`` (optional) hears this worker's own transitions — ``("open", until)`` with ``until`` on the
breaker's clock, ``("closed", None)`` — and ``force_open`` / ``force_close`` apply another worker's
(they do not call the listener); ``omnirouter.cluster.breakers`` wires both to Redis.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from omnirouter.config.schema import BreakerConfig

BreakerListener = Callable[[str, float | None], None]


class CircuitBreaker:
    """The health state of one channel in one worker.  ``clock`` is injectable for tests."""

    __slots__ = ("_clock", "_config", "_failures", "_open_since", "_opened_at", "_probing", "listener")

    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._open_since: float | None = None  # when it last left ``closed`` (kept through failed probes)
        self._probing = False
        self.listener: BreakerListener | None = None

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
        was_open = self._opened_at is not None
        self._opened_at = None
        self._open_since = None
        self._probing = False
        if was_open and self.listener is not None:
            self.listener("closed", None)

    def record_failure(self) -> None:
        """A request failed because of the channel (not the client)."""
        now = self._clock()
        if self._opened_at is not None:  # the probe failed: stay open for another cooldown
            self._opened_at = now
            self._probing = False
            self._opened()
            return
        failures = self._failures
        failures.append(now)
        while failures and now - failures[0] > self._config.window:
            failures.popleft()
        if len(failures) >= self._config.failures:
            self._opened_at = self._open_since = now
            failures.clear()
            self._opened()

    def release_probe(self) -> None:
        """A probe ended without a verdict (e.g. the client left): let another probe through."""
        self._probing = False

    def now(self) -> float:
        """The current time on this breaker's clock."""
        return self._clock()

    @property
    def open_since(self) -> float | None:
        """When (on its clock) the breaker last opened from ``closed``; ``None`` while closed.  Failed probes
        keep it: the channel has not worked since."""
        return self._open_since

    @property
    def open_until(self) -> float | None:
        """When the breaker turns half-open (on its clock), or ``None`` while closed."""
        return None if self._opened_at is None else self._opened_at + self._config.cooldown

    def force_open(self, until: float) -> None:
        """Another worker opened the channel: stay open until ``until`` (this breaker's clock), then probe.

        A later local ``until`` is kept; a probe in flight still ends with its own verdict.
        """
        opened_at = until - self._config.cooldown
        if self._opened_at is None:
            self._open_since = opened_at
        if self._opened_at is None or opened_at > self._opened_at:
            self._opened_at = opened_at
        self._failures.clear()

    def force_close(self) -> None:
        """Another worker saw the channel work again: close."""
        self._failures.clear()
        self._opened_at = self._open_since = None
        self._probing = False

    def _opened(self) -> None:
        if self.listener is not None and self._opened_at is not None:
            self.listener("open", self._opened_at + self._config.cooldown)
