"""``UsageRecorder``: buffers usage in memory on the hot path, writes it in batches off it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from omnirouter.billing.money import apply_charges
from omnirouter.storage import Database
from omnirouter.usage.dead_letters import set_aside_in_database, set_aside_in_file
from omnirouter.usage.journal import Started, UsageJournal
from omnirouter.usage.record import UsageRecord
from omnirouter.usage.writer import UsageWriter

__all__ = ["UsageRecorder"]

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY = 5.0
OBSERVE_SLICE = 256
"""Records handed to the observer at once (~0.2 ms of metrics work) before the event loop gets a turn."""


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


class _CanaryWritten(Exception):
    """Raised to roll back the test insert of ``_insert_canary`` once it has worked."""


_CANARY = UsageRecord(
    request_id="canary",
    model="canary",
    inbound_protocol="canary",
    status_code=0,
    latency_ms=0.0,
    key_id=-1,
    cost_nano=1,
)


def _insert_canary(conn: Connection, writer: UsageWriter) -> None:
    """Write a plain record the way a batch does (row, charge, release; no key or reservation has its ids),
    then roll it back: does the database take usage records at all?"""
    _write_batch(conn, writer, [_CANARY], [writer.row(_CANARY)], {_CANARY.request_id})
    raise _CanaryWritten


def _database_gone(exc: BaseException) -> bool:
    """The error says the connection itself failed (no use trying row by row)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


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

    One record the database refuses cannot hold the others back: when a batch fails, its records
    are written one by one, and one that fails twice while the database takes a plain record is
    set aside as a dead letter (``usage/dead_letters.py``; counted in ``set_aside``).
    An ``observer`` (metrics and the request log: ``observability``) is handed the records queued
    since the last tick, each once, by the background task (and by ``flush()`` before it writes): off
    the hot path, and whether or not the database takes them.  With a
    ``journal`` (``usage/journal.py``) every record is also appended to a local file as it is
    queued, so a crash of the process loses none of them: the next start replays it.

    Money rides on the records (``billing/money.py``): the transaction that
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
        journal: UsageJournal | None = None,
        dead_letter_file: Path | None = None,
        observer: Callable[[Sequence[UsageRecord]], None] | None = None,
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
        self._journal = journal
        self._dead_letter_file = dead_letter_file
        self._observer = observer
        self._unobserved: list[UsageRecord] = []  # queued since the observer's last call (with an observer)
        self.dropped = 0
        """Records dropped from memory because the buffer was full, since creation (kept in the journal)."""
        self.written = 0
        """Records written, since creation."""
        self.set_aside = 0
        """Records the database refused on their own, set aside as dead letters, since creation."""

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
        if self._journal is not None:
            self._journal.finished(rec, reserved)
        if self._observer is not None:
            self._unobserved.append(rec)
        if len(buffer) >= self._max_buffer:
            self._dropped_unreported += 1
            self.dropped += 1
            if self._journal is not None:
                self._journal.retain()
            return
        buffer.append(rec)
        self._rows.append(self._writer.row(rec))
        if reserved:
            self._reserved.add(rec.request_id)
        if len(buffer) >= self._batch_size:
            self._wake.set()

    def observed(self, rec: UsageRecord) -> None:
        """A ledger row written elsewhere (a task's end, in the task engine's transaction): the observer gets
        it with the next tick, as it gets the records queued here.  O(1), no I/O."""
        if self._observer is not None:
            self._unobserved.append(rec)

    def started(
        self, request_id: str, model: str, inbound_protocol: str, key_id: int, key_name: str, user_id: int | None
    ) -> None:
        """Note in the journal that a request without a reservation began (its ``record`` ends it)."""
        if self._journal is not None:
            entry = Started(request_id, time.time(), model, inbound_protocol, key_id, key_name, user_id)
            self._journal.started(entry)

    async def start(self) -> None:
        """Start the background writer (idempotent); open the journal on first start."""
        if self._task is not None and not self._task.done():
            return
        if self._journal is not None and not self._journal.is_open:
            self._journal.open()
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="omnirouter-usage-recorder")

    async def flush(self) -> int:
        """Write everything waiting now; return the number of rows written.

        On failure the unwritten records go back to the front of the buffer and
        the error propagates.
        """
        await self.observe()  # a row in the database has always reached the observer
        async with self._lock:
            self._report_drops()
            pending, self._buffer = self._buffer, []
            rows, self._rows = self._rows, []
            journal = self._journal
            if journal is not None and journal.is_open and pending:
                journal.seal()
            done = written = 0  # records handled (written or set aside), and of those written
            try:
                for start in range(0, len(pending), self._batch_size):
                    chunk = pending[start : start + self._batch_size]
                    chunk_rows = rows[start : start + self._batch_size]
                    settled = {rec.request_id for rec in chunk if rec.request_id in self._reserved}
                    try:
                        await self._db.background.run(_write_batch, self._writer, chunk, chunk_rows, settled)
                    except Exception as exc:
                        if _database_gone(exc):
                            raise
                        for rec, row in zip(chunk, chunk_rows, strict=True):
                            written += await self._write_alone(rec, row)
                            done += 1
                        continue
                    self._reserved.difference_update(settled)
                    done += len(chunk)
                    written += len(chunk)
                    self.written += len(chunk)
            except BaseException:
                self._requeue(pending[done:], rows[done:])
                raise
            if journal is not None and journal.is_open:
                sealed = journal.take_sealed()
                if sealed:  # unmapping and deleting files: off the event loop
                    await asyncio.to_thread(journal.remove, sealed)
            return written

    async def _write_alone(self, rec: UsageRecord, row: tuple[Any, ...]) -> int:
        """Write one record of a failed batch in a transaction of its own; 1 if written, 0 if set aside.

        A record that fails twice while the database answers is set aside; if the database does not
        answer, the error propagates and the record stays queued.
        """
        settled = {rec.request_id} if rec.request_id in self._reserved else set()
        error: Exception | None = None
        for _ in range(2):
            try:
                await self._db.background.run(_write_batch, self._writer, [rec], [row], settled)
            except Exception as exc:
                if _database_gone(exc):
                    raise
                error = exc
                continue
            self._reserved.difference_update(settled)
            self.written += 1
            return 1
        # Is it the record or the database?  A plain record must go in (then it is rolled back); any other
        # error propagates: the database is the problem, and the record stays queued.
        with contextlib.suppress(_CanaryWritten):
            await self._db.background.run(_insert_canary, self._writer)
        reason = f"{type(error).__name__}: {error}"
        logger.error("usage record %s refused by the database, set aside as a dead letter: %s", rec.request_id, reason)
        try:
            await self._db.background.run(set_aside_in_database, rec, bool(settled), reason)
        except Exception as exc:
            logger.error("cannot store dead letter %s in the database: %s", rec.request_id, exc)
            set_aside_in_file(self._dead_letter_file, rec, reason)
        self._reserved.difference_update(settled)
        self.set_aside += 1
        return 0

    async def observe(self) -> None:
        """Hand the records queued since the last call to the observer (each record once), in slices of
        :data:`OBSERVE_SLICE` with the event loop let through between them: requests running meanwhile wait
        for one slice at most, not for the whole tick's records."""
        records, self._unobserved = self._unobserved, []
        if not records or self._observer is None:
            return
        for start in range(0, len(records), OBSERVE_SLICE):
            if start:
                await asyncio.sleep(0)
            try:
                self._observer(records[start : start + OBSERVE_SLICE])
            except Exception:
                logger.exception("usage observer failed on %d records", min(OBSERVE_SLICE, len(records) - start))

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
        committed = False
        try:
            await self.flush()
            committed = True
        except Exception:
            logger.exception("usage recorder closing with %d unwritten records", len(self._buffer))
        self._report_drops()
        if self._journal is not None and self._journal.is_open:
            self._journal.close(committed=committed)

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
        synced = time.monotonic()
        while not self._stop.is_set():
            if failures:
                await _wait(self._stop, min(self._interval * 2 ** (failures - 1), MAX_RETRY_DELAY))
            else:
                await _wait(self._wake, self._interval)
            if self._stop.is_set():
                return
            self._wake.clear()
            await self.observe()
            journal = self._journal
            if journal is not None and journal.is_open and journal.fsync_interval > 0:
                now = time.monotonic()
                if now - synced >= journal.fsync_interval:
                    synced = now
                    await asyncio.to_thread(journal.sync)
            if not self._buffer:
                self._report_drops()
                continue
            if journal is not None:
                await journal.prepare()  # the next segment, made in a thread for the seal of this flush
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
