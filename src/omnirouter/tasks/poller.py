"""The poller: every replica (or every ``omnirouter tasks work`` worker) runs one.  It claims due tasks with a
lease (``storage.tasks_repo.claim_due``), polls each under a bounded timeout, a per-channel cap on concurrent
polls and a per-channel poll rate (``tasks.pacing``), and moves it by compare-and-set while its lease is its
own (a write that does not end the task is committed with those of the polls that finished beside it:
``tasks.poll_writes``).  A replica that dies leaves leases that lapse; another replica's poller picks its
tasks up.

Where the vendor's API answers several tasks in one call (``BatchPoll``), the due tasks of one channel are
polled together, one call per batch; each task then moves exactly as a poll of its own would move it.
A task whose poll would wait for the channel's rate longer than ``rate_wait`` is handed back to be polled
shortly, its lease released, without counting an attempt or an error.

Classify, don't guess: a transport error, 5xx, 429, auth error, vendor error inside a 200 or ``not_found``
is tried again later (counted in ``poll_errors``, shown in ``last_error``), never refunded; an unknown
vendor status is "running"; only the codec's ``FAILED`` or our deadline ends a task as failed.  A task
the vendor says succeeded becomes ``succeeded`` only once its outputs are in the result store (copied
through ``transport.result_copy``; an output that can never be copied fails the task, refunded).

Tasks ``pending`` without an upstream id whose submit lease lapsed are reconciled: found at the vendor by
our external id (then polled as usual), else failed and refunded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import msgspec

from omnirouter.background import BackgroundLoop
from omnirouter.ir import GatewayError
from omnirouter.ir.task import TaskState, TaskStatus, can_move
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall
from omnirouter.protocols.tasks.base import BatchPoll, TaskTarget, TaskVendor
from omnirouter.routing import Channel
from omnirouter.storage.tasks_repo import claim_due, move_task
from omnirouter.tasks.crashpoints import crash_point
from omnirouter.tasks.engine import TaskEngine
from omnirouter.tasks.ledger import task_usage
from omnirouter.tasks.outbox import record_change
from omnirouter.tasks.pacing import ChannelPacer
from omnirouter.tasks.poll_writes import PollWrites
from omnirouter.tasks.records import StoredOutput, TaskRecord, TaskSummary
from omnirouter.tasks.shared_rate import SharedPollRate
from omnirouter.tasks.vendor_state import deadline_failure, modal_deadline, with_state
from omnirouter.transport import AttemptFailure
from omnirouter.transport.result_copy import CopyLimits, ResultCopyError, copy_url

__all__ = ["TaskPoller"]

log = logging.getLogger("omnirouter.tasks")

_MAX_FOLLOWUPS = 8
_COPY_RETRIED = frozenset({401, 403, 404})  # answers of a result URL tried again at the next poll


class _BatchVendor(TaskVendor, BatchPoll, Protocol):
    """A vendor codec that also polls several tasks in one call."""


def _batch_size(channel: Channel, vendor: _BatchVendor) -> int:
    """The most tasks one batch poll of ``channel`` carries: its ``task_poll_batch`` option (1: no batch
    polls) within the vendor's limit."""
    raw = channel.options.get("task_poll_batch", "")
    wanted = int(raw) if raw.isdigit() and int(raw) > 0 else vendor.batch_limit
    return min(wanted, vendor.batch_limit)


class _Later(Exception):
    """This poll did not settle anything: try again later (``retry_after`` from the vendor, if it said)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Refused(Exception):
    """An output can never be copied (a refused address, over the size cap): the task fails."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@contextlib.contextmanager
def _as_later(what: str) -> Iterator[None]:
    """Classify, don't guess: a vendor call's failure (an error status, an error inside a 2xx answer, a
    timeout) becomes ``_Later`` — tried again, never a refund."""
    try:
        yield
    except AttemptFailure as failure:
        status = failure.upstream_status
        raise _Later(f"{what} answered {status or failure.error.kind.value}: {failure.error.message}",
                     failure.error.retry_after) from None  # fmt: skip
    except GatewayError as error:  # an error inside a 2xx answer
        raise _Later(f"vendor error: {error.message}", error.retry_after) from None
    except TimeoutError:
        raise _Later(f"{what} timed out") from None


class TaskPoller(BackgroundLoop):
    """Claims and polls due tasks of one engine; ``start``/``stop`` bracket its background loop, ``poke``
    claims at once (a vendor callback hints a task changed).

    ``interval``: seconds between claims when nothing is due; ``batch``: tasks claimed at once;
    ``lease``: how long a claim lasts (a few times the HTTP timeout); ``per_channel``: concurrent polls
    per channel (a channel's ``task_poll_concurrency`` option overrides it); ``rate_wait``: the longest a
    poll waits for its channel's poll rate (``tasks.poll_rate``, a channel's ``task_poll_rate``) before
    its task is handed back (default 5 s; never more than a quarter of the lease); ``shared_rate``: the
    rates' budgets in Redis, shared by every process (None: this process's own).
    """

    name = "omnirouter-task-poller"
    log = log

    def __init__(
        self,
        engine: TaskEngine,
        *,
        interval: float = 1.0,
        batch: int = 100,
        lease: float | None = None,
        per_channel: int = 8,
        rate_wait: float = 5.0,
        shared_rate: SharedPollRate | None = None,
    ) -> None:
        super().__init__(interval, batch)
        self.batch = batch
        self.engine = engine
        self.lease = lease if lease is not None else 4 * engine.http_timeout
        self.per_channel = per_channel
        self.pacer = ChannelPacer(engine.config.poll_rate, max(0.0, min(rate_wait, self.lease / 4)), shared_rate)
        self.writes = PollWrites(engine.db)  # a poll's new schedule, batched with its neighbours'
        self._limits: dict[str, asyncio.Semaphore] = {}

    async def stop(self) -> None:
        """Stop (tasks being polled keep their lease until it lapses; another poller takes them then)."""
        await super().stop()
        await self.writes.close()

    async def run_once(self) -> int:
        """Claim one batch of due tasks and handle each (concurrently); how many were claimed."""
        engine = self.engine
        now = engine.clock()
        async with engine.db.engine.begin() as conn:
            rows = await claim_due(conn, engine.owner, now, now + self.lease, self.batch)
        records = [TaskRecord.of(row) for row in rows]
        if records:
            alone, batches = self._group(records)
            await asyncio.gather(*(self._handle(record) for record in alone),
                                 *(self._handle_batch(*batch) for batch in batches))  # fmt: skip
        return len(records)

    def _group(
        self, records: list[TaskRecord]
    ) -> tuple[list[TaskRecord], list[tuple[list[TaskRecord], Channel, _BatchVendor]]]:
        """Split claimed tasks into those polled alone and batches (tasks with an upstream id, before their
        deadline, on one channel whose vendor polls in batches; ``task_poll_batch`` caps a batch, 1 = off)."""
        engine, now = self.engine, self.engine.clock()
        alone: list[TaskRecord] = []
        groups: dict[str, tuple[list[TaskRecord], Channel, _BatchVendor]] = {}
        for record in records:
            channel = engine.channel(record.channel) if record.upstream_id is not None else None
            vendor = engine.vendor_for(channel, record.kind) if channel is not None else None
            if channel is None or not isinstance(vendor, BatchPoll) or now >= record.deadline_at:
                alone.append(record)
                continue
            groups.setdefault(channel.name, ([], channel, vendor))[0].append(record)
        batches: list[tuple[list[TaskRecord], Channel, _BatchVendor]] = []
        for group, channel, vendor in groups.values():
            size = _batch_size(channel, vendor)
            if len(group) < 2 or size < 2:
                alone.extend(group)
                continue
            batches.extend((group[i : i + size], channel, vendor) for i in range(0, len(group), size))
        return alone, batches

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
            failure, code = deadline_failure(record)
            summary = msgspec.structs.replace(record.summary, failure=failure, failure_code=code)
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
        if not await self.pacer.admit(channel.name, channel.options):
            await self._defer([record], channel)
            return
        async with self._limit(channel):
            try:
                if record.upstream_id is None:
                    await self._reconcile(record, vendor, channel, target)
                    return
                state = await self._poll(record.upstream_id, vendor, channel, target)
            except _Later as later:
                await self._later(record, vendor, channel, later)
                return
        await self._settle(record, state, vendor, channel, key)

    async def _settle(self, record: TaskRecord, state: TaskState, vendor: TaskVendor, channel: Channel,
                      key: str) -> None:  # fmt: skip
        """Move the task as the vendor's answer says: keep the results and settle, end it, or schedule the
        next poll."""
        if state.status is TaskStatus.SUCCEEDED:
            async with self._limit(channel):
                try:
                    stored = await self._store(record, state, channel, key)
                except _Later as later:
                    await self._later(record, vendor, channel, later)
                    return
                except _Refused as refused:
                    await self._refuse(record, state, refused)
                    return
            crash_point("outputs_stored")
            await self._succeed(record, state, stored, vendor)
            return
        await self._apply(record, state, vendor, channel)

    async def _handle_batch(self, records: list[TaskRecord], channel: Channel, vendor: _BatchVendor) -> None:
        try:
            await self._step_batch(records, channel, vendor)
        except Exception:  # a bug or the database: the leases lapse and the tasks are tried again
            log.exception("tasks %s: batch poll step failed", ", ".join(record.id for record in records))

    async def _step_batch(self, records: list[TaskRecord], channel: Channel, vendor: _BatchVendor) -> None:
        """One vendor call for all of ``records`` (tasks of ``channel`` with upstream ids); each task then
        moves as its own poll would have moved it.  A task the answer lacks is polled alone."""
        engine = self.engine
        key = channel.upstream_keys.next_key()
        if key is None:
            later = _Later("no usable upstream key on the channel")
            await asyncio.gather(*(self._later(record, vendor, channel, later) for record in records))
            return
        target = engine.target(channel, records[0].upstream_model, key, records[0].id)
        call = vendor.poll_many([record.upstream_id or "" for record in records], target)
        if call is None:
            await asyncio.gather(*(self._handle(record) for record in records))
            return
        if not await self.pacer.admit(channel.name, channel.options):
            await self._defer(records, channel)
            return
        async with self._limit(channel):
            try:
                states = await self._poll_many(call, vendor, channel, target)
            except _Later as later:
                await asyncio.gather(*(self._later(record, vendor, channel, later) for record in records))
                return
        answered = [record for record in records if (record.upstream_id or "") in states]
        missing = [record for record in records if (record.upstream_id or "") not in states]
        await asyncio.gather(
            *(self._settle(record, states[record.upstream_id or ""], vendor, channel, key) for record in answered),
            *(self._handle(record) for record in missing),
        )

    async def _poll_many(self, call: UpstreamCall, vendor: _BatchVendor, channel: Channel,
                         target: TaskTarget) -> dict[str, TaskState]:  # fmt: skip
        """One batch poll within the HTTP timeout; anything but an answer is ``_Later`` (for every task in it)."""
        with _as_later("batch poll"):
            async with asyncio.timeout(self.engine.http_timeout):
                answer = await self.engine.answer(channel, call, target.upstream_key, vendor)
            return vendor.parse_poll_many(answer, target)

    async def _defer(self, records: Sequence[TaskRecord], channel: Channel) -> None:
        """The channel's poll rate has no turn for these tasks soon: hand them back to be polled shortly
        (lease released; no attempt, no error counted)."""
        engine = self.engine
        now = engine.clock()
        away = self.pacer.retry_in(channel.options)
        async with engine.db.engine.begin() as conn:
            for record in records:
                values = {"next_poll_at": min(now + away * (1.0 + engine.rng.random()), record.deadline_at),
                          "lease_owner": None, "lease_until": None}  # fmt: skip
                await move_task(conn, record.id, values, owner=engine.owner)
        log.debug("channel %s: poll rate reached; %d task(s) back in %.1f s or so", channel.name, len(records), away)

    async def _poll(self, upstream_id: str, vendor: TaskVendor, channel: Channel, target: TaskTarget) -> TaskState:
        """One poll (with its follow-up calls) within the HTTP timeout; anything but an answer is ``_Later``
        (the timeout too: it is raised where ``_as_later`` sees it)."""
        call = vendor.poll(upstream_id, target)
        step: Followup | None = None
        with _as_later("poll"):
            async with asyncio.timeout(self.engine.http_timeout):
                for _ in range(_MAX_FOLLOWUPS):
                    answer = await self.engine.answer(channel, call, target.upstream_key, vendor)
                    outcome = vendor.parse_poll(answer, target, step)
                    if not isinstance(outcome, Followup):
                        return outcome
                    step, call = outcome, outcome.call
        raise _Later("too many follow-up calls in one poll")

    async def _apply(self, record: TaskRecord, state: TaskState, vendor: TaskVendor, channel: Channel) -> None:
        engine = self.engine
        summary = with_state(msgspec.structs.replace(record.summary, vendor_status=state.vendor_status), state)
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
        if (modal := modal_deadline(record, state, now, engine.config.modal_wait)) is not None:
            values["deadline_at"] = modal  # waiting for the client's dialog: its own deadline
            values["next_poll_at"] = min(now + delay, modal)
        await self.writes.write(record, values, owner=engine.owner, announce=status is not record.status, now=now)

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
        await self.writes.write(record, values, owner=engine.owner)
        log.info("task %s: %s; next poll in %.1f s", record.id, later, delay)

    async def _store(self, record: TaskRecord, state: TaskState, channel: Channel, key: str) -> list[StoredOutput]:
        """Copy every output into the result store through ``transport.result_copy.copy_url`` (the address
        policy of ``image_fetch``, ``tasks.result_max_bytes``, a bounded time; the channel's key only where
        the output needs it, and never past a redirect to another origin).  ``_Later`` when a copy may work
        later (nothing is lost); ``_Refused`` when it never will (what was stored of this task is removed)."""
        engine = self.engine
        if not state.outputs and not state.result_in_details:  # a success must bring its files
            raise _Later("the vendor reported success without a result")
        limits = CopyLimits.from_fetch_policy(
            engine.fetch_policy, max_bytes=engine.config.result_max_bytes, timeout=self.lease / 2
        )
        stored: list[StoredOutput] = []
        seen: dict[str, int] = {}
        try:
            for output in state.outputs:
                count = seen[output.kind] = seen.get(output.kind, 0) + 1
                name = f"{record.id}/{output.kind}" + (f"-{count}" if count > 1 else "")
                headers = dict(channel.headers(key).items()) if output.auth else {}
                try:
                    blob = await copy_url(
                        engine.client.session, output.url, headers, engine.results, name, limits, output.mime
                    )
                except ResultCopyError as error:
                    # A file not (yet) there or a link the vendor refuses: the next poll may give a fresh one.
                    if error.retryable or error.status in _COPY_RETRIED:
                        raise _Later(f"copying the {output.kind} failed: {error}") from None
                    raise _Refused(output.kind, str(error)) from None
                except Exception as error:  # the store itself (a full disk, an unreachable bucket)
                    raise _Later(f"storing the {output.kind} failed: {type(error).__name__}") from None
                stored.append(StoredOutput(kind=output.kind, name=name, mime=blob.content_type))
        except _Refused:
            for done in stored:
                await engine.results.delete(done.name)
            raise
        return stored

    async def _refuse(self, record: TaskRecord, state: TaskState, refused: _Refused) -> None:
        """An output that can never be copied (too large, at a refused address): the task fails, refunded."""
        engine = self.engine
        log.warning("task %s: the %s cannot be copied: %s", record.id, refused.kind, refused)
        summary = msgspec.structs.replace(
            record.summary,
            vendor_status=state.vendor_status,
            failure=f"The {refused.kind} the vendor made could not be kept: it is too large or at an address "
            "the gateway may not fetch.",
            failure_code="result_refused",
        )
        await engine.end(record, TaskStatus.FAILED, summary, error_kind="result_refused", owner=engine.owner)

    async def _succeed(
        self, record: TaskRecord, state: TaskState, stored: list[StoredOutput], vendor: TaskVendor
    ) -> None:
        """Settle: each clip billed at the vendor's reported seconds, else at those it makes for the request."""
        engine = self.engine
        summary = TaskSummary(vendor_status=state.vendor_status, seconds=state.seconds, outputs=state.outputs,
                              stored=stored, made_seconds=record.summary.made_seconds,
                              details=state.details or record.summary.details)  # fmt: skip
        billed = msgspec.structs.replace(record, summary=summary)
        usage = task_usage(billed, state.usage)
        summary.seconds = billed.shown_seconds()
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
            if await move_task(conn, record.id, values, statuses=("pending",), owner=engine.owner,
                               no_upstream_id=True):  # fmt: skip
                await record_change(conn, record, now)
        log.info("task %s: found at the vendor by its external id", record.id)
