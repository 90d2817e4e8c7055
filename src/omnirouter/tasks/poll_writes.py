"""The poller's compare-and-set writes, batched: the rows a poll writes when it does not end the task (its
next schedule, progress, the state the vendor reports, a failed poll counted) go to the database together
with those of the other polls that finished within ``linger`` seconds — one transaction, and one
``executemany`` per shape of write — instead of a transaction each.

Profiling the poll path (bench/tasks_scale.py ``--profile``; docs/benchmarks.md) showed about half of a
poll's CPU in its own transaction: the pool checkout with its ping, ``BEGIN``, the ``UPDATE``, ``COMMIT``,
and new connections opened when more polls finished at once than the pool holds.  Batching pays those
once per batch.

Nothing else changes: each write is still a compare-and-set on the task being live and leased to this
poller; a write that moves the task to another status is still made with its webhook event in the same
transaction (``outbox.record_change``), row by row since whether it moved matters there; every caller
waits until its write committed (or gets the transaction's error, as it would have alone).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from omnirouter.storage import Database
from omnirouter.storage.tasks_repo import move_task, move_tasks
from omnirouter.tasks.outbox import record_change
from omnirouter.tasks.records import TaskRecord

__all__ = ["PollWrites"]


@dataclass(frozen=True, slots=True)
class _Write:
    record: TaskRecord
    values: dict[str, Any]
    owner: str
    announce: bool  # the status moves: record the webhook event where the compare-and-set succeeds
    now: float


def _retrieved(done: asyncio.Future[None]) -> None:
    """Mark an error as seen: a caller cancelled meanwhile no longer waits for it (its poll logged why)."""
    if not done.cancelled():
        done.exception()


class PollWrites:
    """Collects ``write`` calls for ``linger`` seconds (at most ``most`` at once) and commits them together."""

    def __init__(self, db: Database, *, linger: float = 0.005, most: int = 200) -> None:
        self.db = db
        self.linger = linger
        self.most = most
        self.batches = 0  # transactions committed (for tests and benchmarks)
        self._pending: list[tuple[_Write, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, record: TaskRecord, values: dict[str, Any], *, owner: str, announce: bool = False,
                    now: float = 0.0) -> None:  # fmt: skip
        """Apply ``values`` to ``record``'s task while it is live and leased to ``owner``; with ``announce``
        (its status moves) also queue its webhook event if it moved.  Returns once committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)
        self._pending.append((_Write(record, values, owner, announce, now), done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="omnirouter-poll-writes")
        await asyncio.shield(done)  # a cancelled poll does not cancel the batch it is in

    async def close(self) -> None:
        """Wait for the writes already queued."""
        flusher = self._flusher
        if flusher is not None:
            with contextlib.suppress(Exception):
                await flusher

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(self.linger)
            while self._pending:
                batch, self._pending = self._pending[: self.most], self._pending[self.most :]
                try:
                    await self._commit([write for write, _ in batch])
                except Exception as error:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._flusher = None
            for _, done in self._pending:  # only when cancelled: nothing may wait for ever
                if not done.done():
                    done.cancel()
            self._pending = []

    async def _commit(self, writes: list[_Write]) -> None:
        shapes: dict[tuple[str, tuple[str, ...]], list[tuple[str, dict[str, Any]]]] = {}
        async with self.db.engine.begin() as conn:
            for write in writes:
                if write.announce:
                    if await move_task(conn, write.record.id, write.values, owner=write.owner):
                        await record_change(conn, write.record, write.now)
                else:
                    key = (write.owner, tuple(sorted(write.values)))
                    shapes.setdefault(key, []).append((write.record.id, write.values))
            for (owner, _), moves in shapes.items():
                await move_tasks(conn, moves, owner=owner)
        self.batches += 1
