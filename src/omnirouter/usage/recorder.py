"""``UsageRecorder``: buffers usage in memory on the hot path, writes it in batches off it."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any

from sqlalchemy import Connection

from omnirouter.storage import Database
from omnirouter.usage.charges import apply_charges
from omnirouter.usage.record import UsageRecord
from omnirouter.usage.writer import UsageWriter

__all__ = ["UsageRecorder"]

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY = 5.0


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set or ``seconds`` pass, whichever is first."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass


def _write_batch(
    conn: Connection, writer: UsageWriter, records: list[UsageRecord], rows: list[tuple[Any, ...]], settled: set[str]
) -> None:
    """One batch in one transaction: its rows, its keys' charges and its reservations' release."""
    writer.write_rows(conn, rows)
    apply_charges(conn, records, settled)


class UsageRecorder:
    """Collects ``UsageRecord``s and bulk-inserts them from a background task.

    ``record()`` turns the record into its driver row and appends both to lists: no await, no
    I/O (rows built as requests end spread that work evenly, instead of one stretch of
    event-loop time per flush that requests arriving meanwhile would wait behind).  The task
    writes every ``flush_interval`` seconds, or as soon as ``batch_size`` records wait, in
    transactions of at most ``batch_size`` rows, each one hop to ``Database.background``
    (on SQLite, a writer thread of its own).  A failed write keeps the records and retries with backoff
    (up to 5 s); only when ``max_buffer`` records are waiting are new ones
    dropped, with a warning.  ``close()`` stops the task and writes what is left.
    Delivery is at-least-once: a batch whose commit acknowledgement is lost is
    written again.

    Money rides on the records (``usage/charges.py``): the transaction that
    inserts a batch also adds each record's ``cost_nano`` to its key's
    ``used_nano`` and, for records queued with ``reserved=True``, deletes the
    request's reservation and releases it from the key's ``reserved_nano``; a
    failed write retries all of it together.
    """

    def __init__(
        self,
        db: Database,
        flush_interval: float = 0.5,
        batch_size: int = 500,
        *,
        max_buffer: int = 100_000,
    ) -> None:
        if flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        if batch_size < 1 or max_buffer < batch_size:
            raise ValueError("need 1 <= batch_size <= max_buffer")
        self._db = db
        self._interval = flush_interval
        self._batch_size = batch_size
        self._max_buffer = max_buffer
        self._buffer: list[UsageRecord] = []
        self._rows: list[tuple[Any, ...]] = []  # the driver rows of ``_buffer``, index for index
        self._reserved: set[str] = set()  # request ids of buffered records whose reservation to settle
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._writer = UsageWriter(db.engine.dialect)
        self._dropped_unreported = 0
        self.dropped = 0
        """Records dropped because the buffer was full, since creation."""
        self.written = 0
        """Records written, since creation."""

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return len(self._buffer)

    def record(self, rec: UsageRecord, *, reserved: bool = False) -> None:
        """Queue one record: O(1), never blocks, never touches the database.

        ``reserved``: the request holds a reservation (its request id), settled with this record.
        A record dropped because the buffer is full leaves its reservation to the next start's recovery.
        """
        buffer = self._buffer
        if len(buffer) >= self._max_buffer:
            self._dropped_unreported += 1
            self.dropped += 1
            return
        buffer.append(rec)
        self._rows.append(self._writer.row(rec))
        if reserved:
            self._reserved.add(rec.request_id)
        if len(buffer) >= self._batch_size:
            self._wake.set()

    async def start(self) -> None:
        """Start the background writer (idempotent)."""
        if self._task is not None and not self._task.done():
            return
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="omnirouter-usage-recorder")

    async def flush(self) -> int:
        """Write everything waiting now; return the number of rows written.

        On failure the unwritten records go back to the front of the buffer and
        the error propagates.
        """
        async with self._lock:
            self._report_drops()
            writer = self._writer
            pending, self._buffer = self._buffer, []
            rows, self._rows = self._rows, []
            written = 0
            try:
                for start in range(0, len(pending), self._batch_size):
                    chunk = pending[start : start + self._batch_size]
                    settled = {rec.request_id for rec in chunk if rec.request_id in self._reserved}
                    await self._db.background.run(
                        _write_batch, writer, chunk, rows[start : start + self._batch_size], settled
                    )
                    if settled:
                        self._reserved.difference_update(settled)
                    written += len(chunk)
                    self.written += len(chunk)
            except BaseException:
                self._requeue(pending[written:], rows[written:])
                raise
            return written

    async def close(self) -> None:
        """Stop the background writer and write what is left (logged if that fails)."""
        self._stop.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await task
            except Exception:
                logger.exception("usage recorder task failed")
        try:
            await self.flush()
        except Exception:
            logger.exception("usage recorder closing with %d unwritten records", len(self._buffer))
        self._report_drops()

    async def __aenter__(self) -> UsageRecorder:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _requeue(self, records: list[UsageRecord], rows: list[tuple[Any, ...]]) -> None:
        """Put unwritten records back, oldest first; beyond the cap the newest go."""
        if not records:
            return
        self._buffer[:0] = records
        self._rows[:0] = rows
        overflow = len(self._buffer) - self._max_buffer
        if overflow > 0:
            if self._reserved:
                self._reserved.difference_update([rec.request_id for rec in self._buffer[self._max_buffer :]])
            del self._buffer[self._max_buffer :]
            del self._rows[self._max_buffer :]
            self._dropped_unreported += overflow
            self.dropped += overflow

    def _report_drops(self) -> None:
        if self._dropped_unreported:
            logger.warning(
                "usage buffer full (%d records): dropped %d records",
                self._max_buffer,
                self._dropped_unreported,
            )
            self._dropped_unreported = 0

    async def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if failures:
                await _wait(self._stop, min(self._interval * 2 ** (failures - 1), MAX_RETRY_DELAY))
            else:
                await _wait(self._wake, self._interval)
            if self._stop.is_set():
                return
            self._wake.clear()
            if not self._buffer:
                self._report_drops()
                continue
            try:
                await self.flush()
            except Exception as exc:
                failures += 1
                logger.warning(
                    "usage flush failed (attempt %d, %d records kept): %s",
                    failures,
                    len(self._buffer),
                    exc,
                    exc_info=failures == 1,
                )
            else:
                failures = 0
