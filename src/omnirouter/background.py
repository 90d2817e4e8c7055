"""One shape for a worker's background jobs (the task poller, the webhook sender, the retention sweep, the
notification checker, the metrics gauge writer).

``BackgroundLoop`` runs ``tick`` (by default ``run_once``) again and again on this process's event loop
between ``start`` and ``stop``: after a round that did ``busy_at`` units of work or more it goes straight
on, else (and always without ``busy_at``) it rests ``interval`` seconds or until ``poke``.  A round that
raises is logged and retried after the rest: a job never dies of one bad round (the database or a store
being away for a while).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

__all__ = ["BackgroundLoop"]


class BackgroundLoop:
    """A background job: subclasses set ``name`` and ``log`` and implement ``run_once`` (one round; the
    amount of work it did: a round that did ``busy_at`` or more runs the next one at once)."""

    name = "omnirouter-background"
    log = logging.getLogger("omnirouter")

    def __init__(self, interval: float, busy_at: int | None = None) -> None:
        self.interval = interval
        self._busy_at = busy_at
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def run_once(self) -> int:
        raise NotImplementedError

    async def tick(self) -> int:
        """One round of the loop (``run_once``; a subclass may add chores around it)."""
        return await self.run_once()

    async def start(self) -> None:
        """Run in the background until ``stop`` (the first round at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop between rounds or within one (whatever a round holds, such as leases, lapses on its own)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def poke(self) -> None:
        """Run the next round now rather than after the rest."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                done = await self.tick()
            except Exception:
                self.log.warning("%s: a round failed; retrying in %.1f s", self.name, self.interval, exc_info=True)
                done = 0
            if self._busy_at is None or done < self._busy_at:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._wake.wait()
                self._wake.clear()
