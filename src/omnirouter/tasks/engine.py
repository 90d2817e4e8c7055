"""The task engine's service API: create (write before you call), read, list, cancel.

``create``: one transaction reserves the key's quota (``billing.money.hold``, holder ``TASK_HOLDER``, the
reservation named by the task id: the most expensive planned attempt, each priced on the seconds its vendor
makes for the request, ``TaskVendor.seconds_for``, times the clips) and inserts the task ``pending`` (leased
to this replica for the submit); then the vendor is called through the planned attempts
(``routing.run_attempts``: a submit that fails retryably moves on to the next channel, with the same external
id ``omni-<task id>``); then the upstream id is recorded.  A crash anywhere in between leaves a ``pending``
row whose lease lapses: the poller's reconciler finds it at the vendor by external id, or refunds it.  A
submit whose answer never came (a timeout) is left to the reconciler too, not retried elsewhere (it may run at
the vendor).

Idempotency: the same ``Idempotency-Key`` with the same body digest gives the same task (also while the
first create is in flight: it is waited for, within a bound); another digest is a 409.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import msgspec
from sqlalchemy.exc import IntegrityError

from omnirouter.billing.money import TASK_HOLDER, hold
from omnirouter.billing.prices import PriceBook
from omnirouter.config.schema import ImageFetchConfig, RoutingConfig, TasksConfig
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskVendor, UploadsFirst
from omnirouter.providers import TASK_CAPABILITIES
from omnirouter.routing import Attempt, Channel, ModelCatalog, plan_with_fallbacks
from omnirouter.routing.executor import run_attempts
from omnirouter.storage import Database, KeyRecord
from omnirouter.storage.blobs import BlobStore
from omnirouter.storage.models import utcnow
from omnirouter.storage.tasks_repo import (
    find_by_idempotency,
    get_task,
    insert_task,
    list_tasks,
    mark_deleted,
    move_task,
)
from omnirouter.tasks.crashpoints import crash_point
from omnirouter.tasks.ledger import clips, finish, reserve_amount, task_usage
from omnirouter.tasks.outbox import record_change
from omnirouter.tasks.records import Schedule, TaskRecord, TaskSummary, schedule_for
from omnirouter.tasks.submit_log import SubmitLog
from omnirouter.tasks.task_ends import TaskEnds
from omnirouter.tasks.vendor_state import modal_deadline, with_state
from omnirouter.transport import AttemptFailure, UpstreamClient, open_call, read_answer
from omnirouter.usage import UsageRecord

__all__ = ["TaskEngine", "VendorFor", "external_id", "registry_vendor"]

log = logging.getLogger("omnirouter.tasks")
_MAX_UPLOADS = 8
"""The most uploads one submit may need (``UploadsFirst``)."""

VendorFor = Callable[[Channel, TaskKind], TaskVendor | None]


def registry_vendor(channel: Channel, kind: TaskKind) -> TaskVendor | None:
    """The channel's provider's task codec for ``kind`` (``ProviderSpec.tasks``), if it has one."""
    return channel.spec.tasks.get(TASK_CAPABILITIES[kind])


def external_id(task_id: str) -> str:
    """Our deterministic id of a task at a vendor (Kling's ``external_task_id``, …)."""
    return f"omni-{task_id}"


def _new_task_id() -> str:
    return f"task_{secrets.token_hex(12)}"


class _OutcomeUnknown(Exception):
    """A submit was sent but its answer never came: the vendor may run it (left to the reconciler)."""


class TaskEngine:
    """Creates, reads and ends tasks; the poller (``tasks/poller.py``) moves them in between.

    ``clock`` (unix seconds) and ``rng`` are injected: tests run leases, backoff and deadlines in
    milliseconds.  ``owner`` names this replica in leases.  ``submit_grace``: how long a ``pending`` task
    stays this replica's before the reconciler may take it; ``http_timeout`` bounds each poll call.
    ``callback_url(task_id)``: the URL vendors that take one are asked to call back (``tasks/callbacks.py``;
    None: no callbacks, polling alone).
    ``results`` keeps the outputs; ``fetch_policy`` (the gateway's ``image_fetch``) says which addresses
    a result copy may reach (``transport.result_copy``).
    """

    def __init__(
        self,
        db: Database,
        prices: PriceBook,
        catalog: Callable[[], ModelCatalog],
        client: UpstreamClient,
        results: BlobStore,
        config: TasksConfig | None = None,
        *,
        fetch_policy: ImageFetchConfig | None = None,
        routing: RoutingConfig | None = None,
        fallbacks: dict[str, list[str]] | None = None,
        vendor_for: VendorFor = registry_vendor,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        owner: str | None = None,
        submit_grace: float = 900.0,
        http_timeout: float = 30.0,
        idempotency_wait: float = 30.0,
        callback_url: Callable[[str], str | None] | None = None,
    ) -> None:
        self.db = db
        self.prices = prices
        self.catalog = catalog
        self.on_ledger_row: Callable[[UsageRecord], None] | None = None
        """Called with a task's ledger row once the transaction that wrote it commits (the gateway's metrics)."""
        self.client = client
        self.results = results
        self.fetch_policy = fetch_policy or ImageFetchConfig()
        self.config = config or TasksConfig()
        self.routing = routing or RoutingConfig()
        self.fallbacks = fallbacks or {}
        self.vendor_for = vendor_for
        self.clock = clock
        self.rng = rng or random.Random()
        self.owner = owner or f"replica-{os.getpid()}-{secrets.token_hex(4)}"  # its leases name the process
        self.submit_grace = submit_grace
        self.http_timeout = http_timeout
        self.idempotency_wait = idempotency_wait
        self.callback_url = callback_url
        self.ends = TaskEnds()  # waiters in this process woken by ``end`` (``tasks/task_ends.py``)

    # ------------------------------------------------------------------ helpers shared with the poller

    def channel(self, name: str) -> Channel | None:
        """The catalog's channel of that name now (None: it was deleted)."""
        for channel in self.catalog().channels:
            if channel.name == name:
                return channel
        return None

    def schedule(self, vendor: TaskVendor, channel: Channel) -> Schedule:
        """The poll schedule and deadline of a task of ``vendor`` on ``channel``."""
        config = self.config
        return schedule_for(vendor.timing, channel.options, poll_first=config.poll_first, poll_max=config.poll_max,
                            poll_backoff=config.poll_backoff, deadline=config.deadline)  # fmt: skip

    def target(self, channel: Channel, upstream_model: str, upstream_key: str, task_id: str) -> TaskTarget:
        """What the vendor codec may know for one call about this task."""
        callback = self.callback_url(task_id) if self.callback_url is not None else None
        return TaskTarget(upstream_model, channel.options, upstream_key, channel.base_url, external_id(task_id),
                          self.clock(), callback)  # fmt: skip

    async def answer(self, channel: Channel, call: UpstreamCall, key: str, vendor: TaskVendor) -> Answer:
        """Make one call; a non-2xx raises ``AttemptFailure`` (its status in ``upstream_status``)."""
        response = await open_call(self.client, channel, call, key, vendor.decode_error)
        body = await read_answer(response, channel)
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(response.status, headers, body)

    async def load(self, task_id: str) -> TaskRecord | None:
        """The task, unscoped (the engine's own reads)."""
        async with self.db.engine.connect() as conn:
            row = await get_task(conn, task_id)
        return TaskRecord.of(row) if row is not None else None

    async def end(
        self,
        record: TaskRecord,
        status: TaskStatus,
        summary: TaskSummary,
        *,
        usage: Any = None,
        error_kind: str | None = None,
        owner: str | None = None,
        announce: bool = True,
    ) -> int | None:
        """Make the task terminal with its money (``tasks.ledger.finish``) in one transaction; ``announce``
        False: no webhook event (a create whose own answer is the error)."""
        channel = self.channel(record.channel)
        provider = channel.spec.kind.value if channel is not None else None
        written: list[UsageRecord] = []
        async with self.db.engine.begin() as conn:
            cost = await finish(conn, record, status, prices=self.prices, now=self.clock(), usage=usage,
                                summary=summary, provider=provider, error_kind=error_kind, owner=owner,
                                announce=announce, written=written)  # fmt: skip
        if written and self.on_ledger_row is not None:  # committed: metrics and logs count the task now
            self.on_ledger_row(written[0])
        self.ends.ended(record.id)
        crash_point("task_settled")
        return cost

    # ------------------------------------------------------------------ create

    def made_seconds(self, request: TaskRequest, attempt: Attempt) -> float | None:
        """The seconds of each clip ``attempt``'s vendor makes for ``request`` (None: unknown, or a request
        that vendor refuses: its submit says why)."""
        vendor = self.vendor_for(attempt.channel, request.kind)
        if vendor is None:
            return None
        try:
            return vendor.seconds_for(request, attempt.upstream_model, attempt.channel.options)
        except GatewayError:
            return None

    def attempt_budget(self, request: TaskRequest, budget: Budget, attempt: Attempt) -> Budget:
        """``budget`` with the seconds ``attempt``'s vendor makes, times the clips (unchanged when unknown)."""
        made = self.made_seconds(request, attempt)
        return budget if made is None else budget._replace(seconds=made * clips(request))

    def _summary_for(self, record: TaskRecord, attempt: Attempt, state: TaskState | None = None) -> str:
        """The task's ``state`` column with the seconds ``attempt``'s vendor makes (and what ``state`` tells)."""
        summary = msgspec.structs.replace(with_state(record.summary, state),
                                          made_seconds=self.made_seconds(record.request, attempt))  # fmt: skip
        return msgspec.json.encode(summary).decode()

    def plan(self, model: str, kind: TaskKind) -> list[Attempt]:
        """The attempts for ``model`` whose vendor makes tasks of ``kind`` (404/400 naming the model)."""
        attempts = plan_with_fallbacks(model, self.catalog().channels_for, self.fallbacks, self.rng)
        if not attempts:
            raise GatewayError(ErrorKind.NOT_FOUND, f"The model '{model}' does not exist or you do not have access "
                               "to it.", code="model_not_found", param="model")  # fmt: skip
        usable = [a for a in attempts if self.vendor_for(a.channel, kind) is not None]
        if not usable:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"The model '{model}' is not served for {kind.value} tasks "
                               "on this gateway.", code="model_not_supported", param="model")  # fmt: skip
        return usable

    async def create(
        self,
        key: KeyRecord,
        protocol: str,
        request: TaskRequest,
        budget: Budget,
        *,
        idempotency_key: str | None = None,
        digest: str | None = None,
        attempts: Sequence[Attempt] | None = None,
    ) -> TaskRecord:
        """Create a task and submit it; the record (``pending`` if the submit's outcome is unknown).

        Raises the submit's error (the task then failed and its money was released), 429
        ``insufficient_quota``, 404/400 for the model, 409 for an idempotency key reused with another body.
        """
        if attempts is None and request.remix_of is not None:
            attempts = await self.remix_attempts(key, request)
        record, fresh = await self._begin(key, protocol, request, budget, idempotency_key, digest, attempts)
        if not fresh:
            return record  # an idempotent replay: the task an earlier create made
        crash_point("task_created")
        return await self.submit(record, attempts or self.plan(request.model, request.kind))

    async def remix_attempts(self, key: KeyRecord, request: TaskRequest) -> list[Attempt]:
        """A remix goes where its source ran (the vendor knows the source by its own id there): the
        planned attempts on the source task's channel; 404 when the source is not this key's."""
        source = await self.get(request.remix_of or "", key_id=key.id)
        if source is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"Video '{request.remix_of}' was not found.",
                               code="video_not_found", param="video_id")  # fmt: skip
        if source.status is not TaskStatus.SUCCEEDED or source.upstream_id is None:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"Video '{source.id}' is not completed, so it cannot be "
                               "remixed.", code="invalid_video_state", param="video_id")  # fmt: skip
        usable = [a for a in self.plan(request.model, request.kind) if a.channel.name == source.channel]
        if not usable:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"Video '{source.id}' can no longer be remixed: its "
                               "channel is gone.", code="invalid_video_state", param="video_id")  # fmt: skip
        return usable[:1]

    async def _vendor_request(self, request: TaskRequest) -> TaskRequest:
        """The request as the vendor gets it: ``remix_of`` names the source by the vendor's own id (ours
        stays in the task row and the client's view)."""
        if request.remix_of is None:
            return request
        source = await self.load(request.remix_of)
        upstream = source.upstream_id if source is not None else None
        if upstream is None:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"Video '{request.remix_of}' cannot be remixed.",
                               code="invalid_video_state", param="video_id")  # fmt: skip
        return msgspec.structs.replace(request, remix_of=upstream)

    async def begin(
        self,
        key: KeyRecord,
        protocol: str,
        request: TaskRequest,
        budget: Budget,
        *,
        idempotency_key: str | None = None,
        digest: str | None = None,
        attempts: Sequence[Attempt] | None = None,
    ) -> TaskRecord:
        """Step one of ``create``: the reservation and the ``pending`` row in one transaction (or, for a
        repeated idempotency key, the task it made).  Nothing is sent anywhere."""
        if attempts is None and request.remix_of is not None:
            attempts = await self.remix_attempts(key, request)
        record, _ = await self._begin(key, protocol, request, budget, idempotency_key, digest, attempts)
        return record

    async def begin_new(self, key: KeyRecord, protocol: str, request: TaskRequest, budget: Budget, *,
                        idempotency_key: str | None = None, digest: str | None = None,
                        attempts: Sequence[Attempt] | None = None) -> tuple[TaskRecord, bool]:  # fmt: skip
        """``begin``, and whether the task is new (False: the one an earlier create with the key made)."""
        return await self._begin(key, protocol, request, budget, idempotency_key, digest, attempts)

    async def _begin(
        self,
        key: KeyRecord,
        protocol: str,
        request: TaskRequest,
        budget: Budget,
        idempotency_key: str | None,
        digest: str | None,
        attempts: Sequence[Attempt] | None,
    ) -> tuple[TaskRecord, bool]:
        """``begin``, and whether the task is new (False: an idempotent replay)."""
        if idempotency_key is not None:
            async with self.db.engine.connect() as conn:
                earlier = await find_by_idempotency(conn, key.id, idempotency_key)
            if earlier is not None:
                return await self._replay(TaskRecord.of(earlier), earlier.body_digest, digest), False
        planned = list(attempts) if attempts is not None else self.plan(request.model, request.kind)
        amount = reserve_amount(self.prices, key, planned, budget,
                                per_attempt=lambda attempt: self.attempt_budget(request, budget, attempt))  # fmt: skip
        first = planned[0]
        vendor = self.vendor_for(first.channel, request.kind)
        assert vendor is not None  # plan() kept only attempts with a vendor
        now = self.clock()
        task_id = _new_task_id()
        row: dict[str, Any] = {
            "id": task_id, "kind": request.kind.value, "key_id": key.id, "user_id": key.user_id,
            "protocol": protocol, "model": request.model, "channel": first.channel.name,
            "upstream_model": first.upstream_model, "upstream_id": None, "status": TaskStatus.PENDING.value,
            "progress": None, "request": msgspec.json.encode(request).decode(),
            "state": msgspec.json.encode(TaskSummary(made_seconds=self.made_seconds(request, first))).decode(),
            "last_error": None,
            "idempotency_key": idempotency_key, "body_digest": digest, "reserved_nano": amount, "cost_nano": 0,
            "next_poll_at": now + self.submit_grace, "lease_owner": self.owner,
            "lease_until": now + self.submit_grace, "poll_attempts": 0, "poll_errors": 0,
            "deadline_at": now + self.schedule(vendor, first.channel).deadline, "created_at": now,
            "updated_at": now, "finished_at": None, "callback_url": request.callback_url or key.callback_url,
            "deleted_at": None,
        }  # fmt: skip
        try:
            async with self.db.engine.begin() as conn:
                if amount > 0:
                    held = await hold(
                        conn,
                        request_id=task_id,
                        key_id=key.id,
                        amount_nano=amount,
                        input_nano=0,
                        model=request.model,
                        created_at=utcnow(),
                        owner=0,
                        holder=TASK_HOLDER,
                    )
                    if not held:
                        raise GatewayError(
                            ErrorKind.INSUFFICIENT_QUOTA,
                            "You exceeded your current quota: this key's remaining balance cannot cover this task.",
                            code="insufficient_quota",
                        )
                await insert_task(conn, row)
        except IntegrityError:
            if idempotency_key is None:
                raise
            async with self.db.engine.connect() as conn:  # a concurrent create with the same key won
                existing = await find_by_idempotency(conn, key.id, idempotency_key)
            if existing is None:
                raise
            return await self._replay(TaskRecord.of(existing), existing.body_digest, digest), False
        return TaskRecord.of(SimpleNamespace(**row)), True

    async def _replay(self, record: TaskRecord, stored: str | None, digest: str | None) -> TaskRecord:
        """The task an idempotency key made, once its create has settled (waited for within a bound)."""
        if stored != digest:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "This Idempotency-Key was used with a different request "
                               "body.", status=409, code="idempotency_key_reused", param="Idempotency-Key")  # fmt: skip
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.idempotency_wait
        while (
            record.status is TaskStatus.PENDING
            and record.upstream_id is None
            and record.lease_until is not None
            and record.lease_until > self.clock()
            and loop.time() < give_up
        ):
            await asyncio.sleep(0.02)
            again = await self.load(record.id)
            if again is None:
                break
            record = again
        return record

    async def submit(self, record: TaskRecord, attempts: Sequence[Attempt]) -> TaskRecord:
        """Step two of ``create``: send the task to the first attempt that takes it; record its id."""
        request = record.request
        try:
            sent = await self._vendor_request(request)
        except GatewayError as error:
            summary = TaskSummary(failure=error.message, failure_code=error.code or error.kind.value)
            await self.end(record, TaskStatus.FAILED, summary, error_kind=error.kind.value, owner=self.owner,
                           announce=False)  # fmt: skip
            raise
        accepted: list[tuple[Attempt, Submitted]] = []
        tried: list[str] = []

        def on_begin(channel: str, upstream_model: str) -> None:
            tried.append(channel)

        async def run_one(attempt: Attempt, upstream_key: str) -> None:
            channel = attempt.channel
            if len(tried) > 1:  # the reconciler must look where the last submit went
                async with self.db.engine.begin() as conn:
                    where = {"channel": channel.name, "upstream_model": attempt.upstream_model,
                             "state": self._summary_for(record, attempt)}  # fmt: skip
                    await move_task(
                        conn, record.id, where, statuses=("pending",), owner=self.owner, no_upstream_id=True
                    )
            vendor = self.vendor_for(channel, request.kind)
            assert vendor is not None
            target = self.target(channel, attempt.upstream_model, upstream_key, record.id)
            ready = sent
            try:
                first = vendor.upload(sent, target) if isinstance(vendor, UploadsFirst) else None
                if first is not None:
                    ready = await self._upload(channel, vendor, first, sent, target)
                call = vendor.submit(ready, target)
            except GatewayError as error:  # this vendor cannot do what was asked: the client's fault
                raise AttemptFailure(error, retryable=False) from None
            try:
                async with asyncio.timeout(channel.total_timeout):
                    answer = await self.answer(channel, call, upstream_key, vendor)
            except TimeoutError:
                raise _OutcomeUnknown from None
            except AttemptFailure as failure:
                if failure.upstream_status is None and failure.error.kind is ErrorKind.UPSTREAM_TIMEOUT:
                    raise _OutcomeUnknown from None
                raise
            try:
                accepted.append((attempt, vendor.parse_submit(answer, ready, target)))
            except GatewayError as error:  # an error inside a 2xx answer: the vendor did not take it
                raise AttemptFailure(error, retryable=True) from None

        log_ = SubmitLog(request.model, on_begin)
        try:
            await run_attempts(attempts, log_, run_one, self.routing)
        except _OutcomeUnknown:
            log.warning("task %s: the submit's answer never came; the reconciler will look for it", record.id)
            again = await self.load(record.id)
            return again or record
        except GatewayError as error:
            summary = TaskSummary(failure=error.message, failure_code=error.code or error.kind.value)
            await self.end(await self.load(record.id) or record, TaskStatus.FAILED, summary,
                           error_kind=error.kind.value, owner=self.owner, announce=False)  # fmt: skip
            raise
        attempt, submitted = accepted[0]
        crash_point("submit_accepted")
        return await self._accepted(record, attempt, submitted)

    async def _upload(
        self, channel: Channel, vendor: TaskVendor, step: Followup, request: TaskRequest, target: TaskTarget
    ) -> TaskRequest:
        """The uploads a vendor needs before its submit (``UploadsFirst``); the request to submit.  Nothing
        runs at the vendor yet, so any failure here may move on to the next channel."""
        assert isinstance(vendor, UploadsFirst)
        for _ in range(_MAX_UPLOADS):
            try:
                async with asyncio.timeout(channel.total_timeout):
                    answer = await self.answer(channel, step.call, target.upstream_key, vendor)
            except TimeoutError:
                error = GatewayError(ErrorKind.UPSTREAM_TIMEOUT, "the vendor's upload timed out")
                raise AttemptFailure(error, retryable=True) from None
            try:
                outcome = vendor.parse_upload(answer, request, target, step)
            except GatewayError as error:  # an error inside a 2xx answer (a 4xx: the input refused)
                raise AttemptFailure(error, retryable=error.kind is not ErrorKind.INVALID_REQUEST) from None
            if not isinstance(outcome, Followup):
                return outcome
            step = outcome
        raise AttemptFailure(GatewayError(ErrorKind.UPSTREAM, "too many uploads for one task"), retryable=False)

    async def _accepted(self, record: TaskRecord, attempt: Attempt, submitted: Submitted) -> TaskRecord:
        vendor = self.vendor_for(attempt.channel, record.kind)
        assert vendor is not None
        now = self.clock()
        state = submitted.state
        status = TaskStatus.QUEUED
        next_poll = now + self.schedule(vendor, attempt.channel).first
        if state is not None and state.status is TaskStatus.RUNNING:
            status = TaskStatus.RUNNING
        # finished with nothing to store (the result is in its details): settled here, below
        done = state is not None and state.status is TaskStatus.SUCCEEDED and state.result_in_details
        done = done and state is not None and not state.outputs
        if state is not None and state.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED) and not done:
            status, next_poll = TaskStatus.RUNNING, now  # the poller stores results or ends it at once
        values = {
            "upstream_id": submitted.upstream_id, "channel": attempt.channel.name,
            "upstream_model": attempt.upstream_model, "status": status.value,
            "state": self._summary_for(record, attempt, state),
            "progress": state.progress if state is not None else None, "next_poll_at": next_poll,
            "lease_owner": None, "lease_until": None, "updated_at": now,
        }  # fmt: skip
        if (modal := modal_deadline(record, state, now, self.config.modal_wait)) is not None:
            values["deadline_at"] = modal  # waiting for the client's dialog: its own deadline
        async with self.db.engine.begin() as conn:
            moved = await move_task(conn, record.id, values, statuses=("pending",), owner=self.owner,
                                    no_upstream_id=True)  # fmt: skip
            if moved:
                await record_change(conn, record, now)
        if not moved:
            log.warning("task %s was taken over while its submit ran (vendor id kept in the log only)", record.id)
        loaded = await self.load(record.id) or record
        if moved and done and state is not None:
            await self.end(loaded, TaskStatus.SUCCEEDED, loaded.summary, usage=task_usage(loaded, state.usage))
            return await self.load(record.id) or loaded
        return loaded

    # ------------------------------------------------------------------ read, list, cancel

    async def get(
        self, task_id: str, *, key_id: int | None = None, user_id: int | None = None, include_deleted: bool = False
    ) -> TaskRecord | None:
        """The task, only when it belongs to ``key_id`` (or ``user_id``); both None: any task.  A task its
        client deleted is found only with ``include_deleted`` (the admin's reads)."""
        async with self.db.engine.connect() as conn:
            row = await get_task(conn, task_id, key_id=key_id, user_id=user_id, visible_only=not include_deleted)
        return TaskRecord.of(row) if row is not None else None

    async def list(
        self, *, key_id: int | None = None, user_id: int | None = None, include_deleted: bool = False, **filters: Any
    ) -> list[TaskRecord]:
        """Tasks of a key (or user; neither: all), newest first; filters as ``storage.tasks_repo.list_tasks``;
        deleted ones only with ``include_deleted``."""
        async with self.db.engine.connect() as conn:
            rows = await list_tasks(conn, key_id=key_id, user_id=user_id, visible_only=not include_deleted,
                                    **filters)  # fmt: skip
        return [TaskRecord.of(row) for row in rows]

    async def delete(self, task_id: str, *, key_id: int) -> TaskRecord | None:
        """The client's delete: an unfinished task is cancelled and refunded first; the task is then hidden
        from the key's reads (the row stays for the ledger and the admin) and its stored outputs removed.
        None when the key has no such task (or it was deleted already)."""
        record = await self.get(task_id, key_id=key_id)
        if record is None:
            return None
        if not record.status.terminal:
            record = await self.cancel(record.id) or record
        async with self.db.engine.begin() as conn:
            if not await mark_deleted(conn, record.id, key_id, self.clock()):
                return None  # a concurrent delete won
        for stored in record.summary.stored:
            try:
                await self.results.delete(stored.name)
            except Exception:  # the store is unreachable: the retention sweep removes it later
                log.warning("task %s: removing %s failed", record.id, stored.name, exc_info=True)
        return await self.load(record.id)

    async def cancel(self, task_id: str, *, key_id: int | None = None, user_id: int | None = None) -> TaskRecord | None:
        """Cancel and refund an unfinished task (the vendor is asked to stop where it can); a finished task
        is returned as it is; None when there is no such task for this key / user."""
        record = await self.get(task_id, key_id=key_id, user_id=user_id, include_deleted=True)
        if record is None or record.status.terminal:
            return record
        channel = self.channel(record.channel)
        vendor = self.vendor_for(channel, record.kind) if channel is not None else None
        if channel is not None and vendor is not None and record.upstream_id is not None:
            await self._cancel_upstream(channel, vendor, record)
        summary = msgspec.structs.replace(record.summary, failure="cancelled", failure_code="cancelled")
        await self.end(record, TaskStatus.CANCELLED, summary, error_kind="task_cancelled")
        return await self.load(task_id)

    async def _cancel_upstream(self, channel: Channel, vendor: TaskVendor, record: TaskRecord) -> None:
        key = channel.upstream_keys.next_key()
        if key is None or record.upstream_id is None:
            return
        call = vendor.cancel(record.upstream_id, self.target(channel, record.upstream_model, key, record.id))
        if call is None:
            return
        try:
            async with asyncio.timeout(self.http_timeout):
                await self.answer(channel, call, key, vendor)
        except (AttemptFailure, TimeoutError) as exc:
            log.info("task %s: the vendor did not take the cancel (%s); refunded anyway", record.id, exc)
