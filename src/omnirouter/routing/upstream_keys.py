"""A channel's upstream keys (its credentials with the vendor; never the gateway's client keys):
round robin, with keys the upstream rejects set aside for a while."""

from __future__ import annotations

import time
from collections.abc import Callable


class UpstreamKeyPool:
    """Rotates upstream keys; a key set aside (invalid, out of credit) is skipped until its time is up."""

    __slots__ = ("_aside_until", "_clock", "_keys", "_next")

    def __init__(self, keys: tuple[str, ...], clock: Callable[[], float] = time.monotonic) -> None:
        self._keys = keys
        self._next = 0
        self._aside_until: dict[str, float] = {}
        self._clock = clock

    def next_key(self) -> str | None:
        """The next usable key, or ``None`` when every key is set aside."""
        count = len(self._keys)
        if not self._aside_until:
            key = self._keys[self._next % count]
            self._next += 1
            return key
        now = self._clock()
        for _ in range(count):
            key = self._keys[self._next % count]
            self._next += 1
            until = self._aside_until.get(key)
            if until is None:
                return key
            if until <= now:
                del self._aside_until[key]
                return key
        return None

    def set_aside(self, key: str, seconds: float) -> None:
        """Skip ``key`` for ``seconds``."""
        self._aside_until[key] = self._clock() + seconds

    def usable(self) -> int:
        """How many keys are usable now."""
        now = self._clock()
        return sum(1 for key in self._keys if self._aside_until.get(key, 0.0) <= now)
