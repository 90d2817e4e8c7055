"""Failed console sign-ins, counted per client address: after :data:`MAX_FAILURES` within
:data:`WINDOW` seconds every sign-in from that address is refused (429 with ``Retry-After``) until the
oldest failure leaves the window, so a guessable admin key cannot be tried at speed through the form.

Kept in each worker's memory (a few deques; at most :data:`MAX_ADDRESSES` addresses, the stalest
dropped first): with N workers an address gets at most N times the budget.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["MAX_ADDRESSES", "MAX_FAILURES", "WINDOW", "SignInThrottle"]

MAX_FAILURES = 10
WINDOW = 60.0
MAX_ADDRESSES = 10_000


class SignInThrottle:
    """Sliding windows of failed sign-ins per address."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, address: str) -> None:
        """Raise a 429 if ``address`` has used up its failures in the window."""
        failures = self._failures.get(address)
        if failures is None:
            return
        now = self._clock()
        while failures and failures[0] <= now - WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[address]
        elif len(failures) >= MAX_FAILURES:
            raise GatewayError(
                ErrorKind.RATE_LIMIT,
                "Too many failed sign-ins from this address; wait a minute.",
                code="too_many_sign_ins",
                retry_after=failures[0] + WINDOW - now,
            )

    def failed(self, address: str) -> None:
        """Count a failed sign-in of ``address``."""
        failures = self._failures.pop(address, None) or deque()
        failures.append(self._clock())
        self._failures[address] = failures  # the most recent last
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)
