"""In-process wake-ups when a task ends: ``TaskEngine.end`` calls ``ended(task_id)`` once its transaction
committed, and whoever waits on that task in this process (the synchronous image call that waits on an
engine task: ``api/images_async.py``) wakes at once instead of at its next re-read of the row.

Only ends made in this process are told: a task another replica (or process) ends is seen by the waiter's
own re-read of the row, which stays the fallback.  A wake-up says "re-read the row now", never what the
task became.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

__all__ = ["TaskEnds"]


class TaskEnds:
    """Waiters on tasks of this process, each an ``asyncio.Event`` set when its task ends here."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watch(self, task_id: str) -> Iterator[asyncio.Event]:
        """An event set when ``task_id`` ends in this process (clear it after each wake-up); forgotten on
        leaving the block."""
        event = asyncio.Event()
        self._waiters.setdefault(task_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(task_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[task_id]

    def ended(self, task_id: str) -> None:
        """Wake every waiter on ``task_id`` (none: nothing happens)."""
        for event in self._waiters.get(task_id, ()):
            event.set()

    def watched(self) -> int:
        """How many tasks have a waiter now (for tests and metrics)."""
        return len(self._waiters)
