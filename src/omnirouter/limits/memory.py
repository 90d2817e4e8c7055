"""Rate limits kept in this process: exact sliding windows per key.

* requests per minute: the start times of the requests admitted in the last ``window`` seconds;
  a request is refused while there are ``rpm`` of them, until the oldest leaves the window.
* tokens per minute: the tokens of requests that *finished* in the last ``window`` seconds
  (recorded at release); a request is refused while they add up to ``tpm`` or more.  A request's
  own tokens are unknown when it starts, so the limit is enforced on completed requests: a burst
  of concurrent requests can overshoot it once, and the next ones wait until the window frees.
* concurrent requests: a counter of requests in flight.

Requests refused here do not count.  ``Retry-After`` is when the window frees a slot (at least
1 s; for concurrency, 1 s).  Keys without any limit cost one attribute check.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from omnirouter.limits.limiter import Lease, rate_limited
from omnirouter.storage import KeyRecord


class _KeyState:
    """The windows and in-flight count of one key."""

    __slots__ = ("in_flight", "requests", "token_sum", "tokens")

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()
        self.token_sum = 0
        self.in_flight = 0

    def prune_tokens(self, horizon: float) -> None:
        tokens = self.tokens
        while tokens and tokens[0][0] <= horizon:
            self.token_sum -= tokens.popleft()[1]


class MemoryLimiter:
    """Per-key RPM, TPM and concurrency limits in this process.  ``window`` and ``clock`` are for tests."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._keys: dict[int, _KeyState] = {}

    async def start(self) -> None:
        return None

    async def acquire(self, key: KeyRecord) -> Lease | None:
        """Admit a request of ``key`` (``None`` when it has no limits) or raise the 429."""
        rpm, tpm, max_concurrent = key.rpm, key.tpm, key.max_concurrent
        if rpm is None and tpm is None and max_concurrent is None:
            return None
        return self.admit(key, rpm, tpm, max_concurrent)

    def admit(self, key: KeyRecord, rpm: int | None, tpm: int | None, max_concurrent: int | None) -> Lease:
        """The synchronous check-and-take behind ``acquire``."""
        state = self._keys.get(key.id)
        if state is None:
            state = self._keys[key.id] = _KeyState()
        now = self._clock()
        window = self.window
        horizon = now - window
        if max_concurrent is not None and state.in_flight >= max_concurrent:
            raise rate_limited(key, "concurrent requests", max_concurrent, 1.0)
        if rpm is not None:
            requests = state.requests
            while requests and requests[0] <= horizon:
                requests.popleft()
            if len(requests) >= rpm:
                # The slot frees when enough of the oldest requests have left the window.
                raise rate_limited(key, "requests per minute", rpm, requests[len(requests) - rpm] + window - now)
        if tpm is not None:
            state.prune_tokens(horizon)
            if state.token_sum >= tpm:
                remaining = state.token_sum
                wait = window
                for at, count in state.tokens:
                    remaining -= count
                    if remaining < tpm:
                        wait = at + window - now
                        break
                raise rate_limited(key, "tokens per minute", tpm, wait)
        if rpm is not None:
            state.requests.append(now)
        if max_concurrent is not None:
            state.in_flight += 1
        return Lease(key.id, concurrent=max_concurrent is not None, count_tokens=tpm is not None)

    async def release(self, lease: Lease, tokens: int) -> None:
        """The request of ``lease`` ended having used ``tokens`` (input + output)."""
        self.settle(lease, tokens)

    def settle(self, lease: Lease, tokens: int) -> None:
        """The synchronous bookkeeping behind ``release``."""
        state = self._keys.get(lease.key_id)
        if state is None:
            return
        if lease.concurrent and state.in_flight > 0:
            state.in_flight -= 1
        if lease.count_tokens and tokens > 0:
            now = self._clock()
            state.prune_tokens(now - self.window)
            state.tokens.append((now, tokens))
            state.token_sum += tokens

    async def close(self) -> None:
        self._keys.clear()
