"""The poller: every replica runs one.  It claims due tasks with a lease (``storage.tasks_repo.claim_due``),
polls each under a bounded timeout and a per-channel cap, and moves it by compare-and-set while its lease
is its own.  A replica that dies leaves leases that lapse; another replica's poller picks its tasks up.

Classify, don't guess: a transport error, 5xx, 429, auth error, vendor error inside a 200 or ``not_found``
is tried again later (counted in ``poll_errors``, shown in ``last_error``), never refunded; an unknown
vendor status is "running"; only the codec's ``FAILED`` or our deadline ends a task as failed.  A task
the vendor says succeeded becomes ``succeeded`` only once its outputs are in the result store.

Tasks ``pending`` without an upstream id whose submit lease lapsed are reconciled: found at the vendor by
our external id (then polled as usual), else failed and refunded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec

from omnirouter.ir import GatewayError
from omnirouter.ir.task import TaskState, TaskStatus, can_move
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget, TaskVendor
from omnirouter.routing import Channel
from omnirouter.storage.tasks_repo import claim_due, move_task
from omnirouter.tasks.crashpoints import crash_point
from omnirouter.tasks.engine import TaskEngine
from omnirouter.tasks.ledger import task_usage
from omnirouter.tasks.records import StoredOutput, TaskRecord, TaskSummary
from omnirouter.transport import AttemptFailure, open_call

__all__ = ["TaskPoller"]

log = logging.getLogger("omnirouter.tasks")

_MAX_FOLLOWUPS = 8
_CHUNK = 256 * 1024


class _Later(Exception):
    """This poll did not settle anything: try again later (``retry_after`` from the vendor, if it said)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TaskPoller:
    """Claims and polls due tasks of one engine; ``start``/``stop`` bracket its background loop.

    ``interval``: seconds between claims when nothing is due; ``batch``: tasks claimed at once;
    ``lease``: how long a claim lasts (a few times the HTTP timeout); ``per_channel``: concurrent polls
    per channel (a channel's ``task_poll_concurrency`` option overrides it).
    """

    def __init__(
        self,
        engine: TaskEngine,
        *,
        interval: float = 1.0,
        batch: int = 100,
        lease: float | None = None,
        per_channel: int = 8,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.batch = batch
        self.lease = lease if lease is not None else 4 * engine.http_timeout
        self.per_channel = per_channel
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ loop

    async def start(self) -> None:
        """Run in the background until ``stop``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="omnirouter-task-poller")

    async def stop(self) -> None:
        """Stop (tasks being polled keep their lease until it lapses; another poller takes them then)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def poke(self) -> None:
        """Claim now rather than after the interval (a vendor callback hints a task changed)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                done = await self.run_once()
            except Exception:
                log.warning("task poller: claiming failed; retrying in %.1f s", self.interval, exc_info=True)
                done = 0
            if done < self.batch:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._wake.wait()
                self._wake.clear()

    async def run_once(self) -> int:
        """Claim one batch of due tasks and handle each (concurrently); how many were claimed."""
        engine = self.engine
        now = engine.clock()
        async with engine.db.engine.begin() as conn:
            rows = await claim_due(conn, engine.owner, now, now + self.lease, self.batch)
        records = [TaskRecord.of(row) for row in rows]
        if records:
            await asyncio.gather(*(self._handle(record) for record in records))
        return len(records)

    # ------------------------------------------------------------------ one task

    def _limit(self, channel: Channel) -> asyncio.Semaphore:
        limit = self._limits.get(channel.name)
        if limit is None:
            raw = channel.options.get("task_poll_concurrency", "")
            size = int(raw) if raw.isdigit() and int(raw) > 0 else self.per_channel
            limit = self._limits[channel.name] = asyncio.Semaphore(size)
        return limit

    async def _handle(self, record: TaskRecord) -> None:
        try:
            await self._step(record)
        except Exception:  # a bug or the database: the lease lapses and the task is tried again
            log.exception("task %s: poll step failed", record.id)

    async def _step(self, record: TaskRecord) -> None:
        engine = self.engine
        if engine.clock() >= record.deadline_at:
            summary = msgspec.structs.replace(record.summary, failure="The task did not finish before its deadline.",
                                              failure_code="deadline_exceeded")  # fmt: skip
            await engine.end(record, TaskStatus.FAILED, summary, error_kind="task_deadline", owner=engine.owner)
            return
        channel = engine.channel(record.channel)
        vendor = engine.vendor_for(channel, record.kind) if channel is not None else None
        if channel is None or vendor is None:
            summary = msgspec.structs.replace(record.summary, failure="The task's channel no longer exists.",
                                              failure_code="channel_deleted")  # fmt: skip
            await engine.end(record, TaskStatus.FAILED, summary, error_kind="channel_deleted", owner=engine.owner)
            return
        key = channel.upstream_keys.next_key()
        if key is None:
            await self._later(record, vendor, channel, _Later("no usable upstream key on the channel"))
            return
        target = engine.target(channel, record.upstream_model, key, record.id)
        async with self._limit(channel):
            try:
                if record.upstream_id is None:
                    await self._reconcile(record, vendor, channel, target)
                    return
                async with asyncio.timeout(engine.http_timeout):
                    state = await self._poll(record.upstream_id, vendor, channel, target)
                if state.status is TaskStatus.SUCCEEDED:
                    stored = await self._store(record, state, vendor, channel, key)
                    crash_point("outputs_stored")
                    await self._succeed(record, state, stored, vendor)
                    return
            except _Later as later:
                await self._later(record, vendor, channel, later)
                return
        await self._apply(record, state, vendor, channel)

    async def _poll(self, upstream_id: str, vendor: TaskVendor, channel: Channel, target: TaskTarget) -> TaskState:
        """One poll (with its follow-up calls); anything but an answer is ``_Later``."""
        call = vendor.poll(upstream_id, target)
        step: Followup | None = None
        try:
            for _ in range(_MAX_FOLLOWUPS):
                answer = await self.engine.answer(channel, call, target.upstream_key, vendor)
                outcome = vendor.parse_poll(answer, target, step)
                if not isinstance(outcome, Followup):
                    return outcome
                step, call = outcome, outcome.call
        except AttemptFailure as failure:
            status = failure.upstream_status
            raise _Later(f"poll answered {status or failure.error.kind.value}: {failure.error.message}",
                         failure.error.retry_after) from None  # fmt: skip
        except GatewayError as error:  # an error inside a 2xx answer
            raise _Later(f"vendor error: {error.message}", error.retry_after) from None
        except TimeoutError:
            raise _Later("poll timed out") from None
        raise _Later("too many follow-up calls in one poll")

    async def _apply(self, record: TaskRecord, state: TaskState, vendor: TaskVendor, channel: Channel) -> None:
        engine = self.engine
        summary = msgspec.structs.replace(record.summary, vendor_status=state.vendor_status)
        if state.status is TaskStatus.FAILED:
            summary.failure, summary.failure_code = (
                state.failure or "The vendor reported a failure.",
                state.failure_code,
            )
            await engine.end(record, TaskStatus.FAILED, summary, error_kind="task_failed", owner=engine.owner)
            return
        status = state.status if can_move(record.status, state.status) else record.status
        if status is TaskStatus.PENDING:
            status = TaskStatus.QUEUED  # the vendor has it: it is no longer only ours
        now = engine.clock()
        delay = engine.schedule(vendor, channel).delay(record.poll_attempts, engine.rng)
        values = {
            "status": status.value, "progress": state.progress if state.progress is not None else record.progress,
            "state": msgspec.json.encode(summary).decode(), "last_error": None,
            "poll_attempts": record.poll_attempts + 1, "next_poll_at": min(now + delay, record.deadline_at),
            "lease_owner": None, "lease_until": None, "updated_at": now,
        }  # fmt: skip
        async with engine.db.engine.begin() as conn:
            await move_task(conn, record.id, values, owner=engine.owner)

    async def _later(self, record: TaskRecord, vendor: TaskVendor, channel: Channel, later: _Later) -> None:
        """Count the failed poll and schedule the next one (never a refund)."""
        engine = self.engine
        now = engine.clock()
        delay = engine.schedule(vendor, channel).delay(record.poll_attempts, engine.rng, later.retry_after)
        values: dict[str, Any] = {
            "poll_attempts": record.poll_attempts + 1, "poll_errors": record.poll_errors + 1,
            "last_error": str(later)[:1000], "next_poll_at": min(now + delay, record.deadline_at),
            "lease_owner": None, "lease_until": None, "updated_at": now,
        }  # fmt: skip
        async with engine.db.engine.begin() as conn:
            await move_task(conn, record.id, values, owner=engine.owner)
        log.info("task %s: %s; next poll in %.1f s", record.id, later, delay)

    async def _store(
        self, record: TaskRecord, state: TaskState, vendor: TaskVendor, channel: Channel, key: str
    ) -> list[StoredOutput]:
        """Copy every output into the result store (``_Later`` when any copy fails: nothing is lost)."""
        engine = self.engine
        if not state.outputs:
            raise _Later("the vendor reported success without a result")
        stored: list[StoredOutput] = []
        seen: dict[str, int] = {}
        for output in state.outputs:
            count = seen[output.kind] = seen.get(output.kind, 0) + 1
            name = f"{record.id}/{output.kind}" + (f"-{count}" if count > 1 else "")
            call = UpstreamCall(output.url, method="GET", auth=output.auth)
            try:
                async with asyncio.timeout(self.lease / 2):
                    response = await open_call(engine.client.session, channel, call, key, vendor.decode_error)
                    try:
                        mime = output.mime or response.content_type
                        await engine.sink.put(name, response.content.iter_chunked(_CHUNK), mime)
                    finally:
                        response.release()
            except AttemptFailure as failure:
                raise _Later(f"fetching the {output.kind} failed: {failure.error.message}") from None
            except (TimeoutError, OSError) as exc:
                raise _Later(f"storing the {output.kind} failed: {type(exc).__name__}") from None
            stored.append(StoredOutput(kind=output.kind, name=name, mime=mime))
        return stored

    async def _succeed(
        self, record: TaskRecord, state: TaskState, stored: list[StoredOutput], vendor: TaskVendor
    ) -> None:
        engine = self.engine
        summary = TaskSummary(vendor_status=state.vendor_status, seconds=state.seconds, outputs=state.outputs,
                              stored=stored)  # fmt: skip
        billed = msgspec.structs.replace(record, summary=summary)
        usage = task_usage(billed, state.usage, vendor.timing.default_seconds)
        summary.seconds = usage.seconds
        await engine.end(billed, TaskStatus.SUCCEEDED, summary, usage=usage, owner=engine.owner)

    async def _reconcile(self, record: TaskRecord, vendor: TaskVendor, channel: Channel, target: TaskTarget) -> None:
        """A ``pending`` task whose submit never recorded an upstream id: find it by external id, or refund."""
        engine = self.engine
        call = vendor.find(target)
        found: str | None = None
        if call is not None:
            try:
                async with asyncio.timeout(engine.http_timeout):
                    answer = await engine.answer(channel, call, target.upstream_key, vendor)
                found = vendor.parse_find(answer, target)
            except AttemptFailure as failure:
                if failure.upstream_status != 404:
                    raise _Later(f"find answered {failure.upstream_status}: {failure.error.message}",
                                 failure.error.retry_after) from None  # fmt: skip
                try:  # the vendor's "no such task": its codec says whether that means none (Kling's does)
                    found = vendor.parse_find(Answer(404, {}, b""), target)
                except GatewayError as error:
                    raise _Later(f"find answered 404: {error.message}") from None
            except (GatewayError, TimeoutError) as exc:
                raise _Later(f"find failed: {exc}") from None
        if found is None:
            summary = msgspec.structs.replace(record.summary, failure="The vendor never confirmed the task.",
                                              failure_code="submit_unconfirmed")  # fmt: skip
            await engine.end(record, TaskStatus.FAILED, summary, error_kind="task_unconfirmed", owner=engine.owner)
            return
        now = engine.clock()
        values = {
            "upstream_id": found, "status": TaskStatus.QUEUED.value, "updated_at": now,
            "next_poll_at": min(now + engine.schedule(vendor, channel).first, record.deadline_at),
            "lease_owner": None, "lease_until": None,
        }  # fmt: skip
        async with engine.db.engine.begin() as conn:
            await move_task(conn, record.id, values, statuses=("pending",), owner=engine.owner, no_upstream_id=True)
        log.info("task %s: found at the vendor by its external id", record.id)
