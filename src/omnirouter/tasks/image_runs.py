"""Omni-Image tasks on the engine (``TaskKind.IMAGE``): create, and the background runs of synchronous
image vendors.

``create`` plans the model's image-task channels (``input_region`` honoured: ``routing/regions.py``) and
keeps one family of them, the first attempt's:

* vendors with a task API of their own (FLUX, wanx, Kling, Hunyuan: real ``TaskVendor`` codecs) go through
  ``TaskEngine.create`` as every task does (write before you call, submit, the poller follows them);
* synchronous vendors (OpenAI, Gemini, Ark: ``InlineImageTask``) get their task row and reservation first
  (``TaskEngine.begin_new``, leased to this replica for ``submit_grace``); the client has the id at once and
  the vendor's synchronous call (with its follow-ups, failing over to the next channel as the synchronous
  route does) runs in the background here.  Its images, answered inline as base64 (or as short-lived URLs),
  are kept in the result store and the task settles on the vendor's usage, exactly as the synchronous call
  would be billed; a failure refunds it.  A crash mid-call leaves a ``pending`` row without an upstream id:
  once its lease lapses the reconciler finds no task at the vendor (``find`` is None) and refunds it.
"""

from __future__ import annotations

import asyncio
import base64
import logging

import msgspec

from omnirouter.ir import Budget, GatewayError
from omnirouter.ir.media import ImageRequest, ImageResult
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.media.base import Answer, Target, UpstreamCall
from omnirouter.protocols.tasks.image_vendors import IMAGE_REQUEST_CODECS, InlineImageTask
from omnirouter.protocols.tasks.omni_image import image_request, vendor_native
from omnirouter.routing import Attempt
from omnirouter.routing.executor import run_attempts
from omnirouter.routing.regions import by_region
from omnirouter.storage import KeyRecord
from omnirouter.storage.tasks_repo import move_task
from omnirouter.tasks.engine import TaskEngine
from omnirouter.tasks.records import StoredOutput, TaskRecord, TaskSummary
from omnirouter.transport import follow_calls, overran
from omnirouter.transport.result_copy import CopyLimits, ResultCopyError, copy_url, store_bytes

__all__ = ["ImageRuns"]

log = logging.getLogger("omnirouter.tasks")


class _RunLog:
    """The ``routing.executor.AttemptLog`` of one background run."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.attempts = 0
        self.status = 200
        self.error_kind: str | None = None

    def begin_attempt(self, channel: str, provider: str, model: str, upstream_model: str) -> None:
        self.attempts += 1

    def end_attempt(self, status: int, error: str | None = None) -> None:
        self.status, self.error_kind = status, error

    def note_skip(self, channel: str, reason: str) -> None:
        pass


class ImageRuns:
    """Creates image tasks and runs those of synchronous vendors in the background (``close`` cancels the
    runs still going: their rows are left to the reconciler)."""

    def __init__(self, engine: TaskEngine) -> None:
        self.engine = engine
        self._running: set[asyncio.Task[None]] = set()

    def inline(self, attempt: Attempt) -> bool:
        """Whether the attempt's vendor is a synchronous one (its call made here, not polled)."""
        return isinstance(self.engine.vendor_for(attempt.channel, TaskKind.IMAGE), InlineImageTask)

    def plan(self, request: TaskRequest) -> list[Attempt]:
        """The model's image-task attempts in the region asked, of the first attempt's family."""
        attempts = by_region(self.engine.plan(request.model, TaskKind.IMAGE), image_request(request).input_region)
        inline = self.inline(attempts[0])
        return [attempt for attempt in attempts if self.inline(attempt) == inline]

    async def create(
        self,
        key: KeyRecord,
        protocol: str,
        request: TaskRequest,
        budget: Budget,
        *,
        idempotency_key: str | None = None,
        digest: str | None = None,
    ) -> TaskRecord:
        """Create the task (an idempotent replay: the task the key made); a synchronous vendor's call is
        started in the background, the task returned at once."""
        attempts = self.plan(request)
        if not self.inline(attempts[0]):
            vendors = [self.engine.vendor_for(attempt.channel, TaskKind.IMAGE) for attempt in attempts]
            if not all(isinstance(vendor, IMAGE_REQUEST_CODECS) for vendor in vendors):
                request = vendor_native(request)
            return await self.engine.create(key, protocol, request, budget, idempotency_key=idempotency_key,
                                            digest=digest, attempts=attempts)  # fmt: skip
        self._check(attempts[0], request)
        record, fresh = await self.engine.begin_new(key, protocol, request, budget, idempotency_key=idempotency_key,
                                                    digest=digest, attempts=attempts)  # fmt: skip
        if fresh:
            run = asyncio.create_task(self._run(record, attempts), name=f"omnirouter-image-{record.id}")
            self._running.add(run)
            run.add_done_callback(self._running.discard)
        return record

    def _check(self, attempt: Attempt, request: TaskRequest) -> None:
        """The first channel's vendor takes the request (its first call builds: pure, nothing sent), else its
        4xx now, as the synchronous route answers it, rather than a task that fails."""
        vendor = self.engine.vendor_for(attempt.channel, TaskKind.IMAGE)
        assert isinstance(vendor, InlineImageTask)
        channel = attempt.channel
        vendor.upstream.build(image_request(request), Target(attempt.upstream_model, channel.options, "",
                                                             channel.base_url))  # fmt: skip

    async def close(self) -> None:
        """Cancel the runs still going (their tasks stay ``pending`` until the reconciler refunds them)."""
        for run in list(self._running):
            run.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    # ------------------------------------------------------------------ one background run

    async def _run(self, record: TaskRecord, attempts: list[Attempt]) -> None:
        try:
            await self._serve(record, attempts)
        except Exception:  # a bug or the database: the row's lease lapses and the reconciler refunds it
            log.exception("image task %s: its run failed", record.id)

    async def _serve(self, record: TaskRecord, attempts: list[Attempt]) -> None:
        engine = self.engine
        image = image_request(record.request)
        made: list[ImageResult] = []

        async def run_one(attempt: Attempt, upstream_key: str) -> None:
            await self._move_to(record, attempt)
            made.append(await self._call(attempt, upstream_key, image))

        try:
            await run_attempts(attempts, _RunLog(record.model), run_one, engine.routing)
        except GatewayError as error:
            await self._fail(record.id, error.message, error.code or error.kind.value, "task_failed")
            return
        try:
            stored = await self._store(record, made[0])
        except ResultCopyError as error:
            log.warning("image task %s: its images could not be kept: %s", record.id, error)
            await self._fail(record.id, "The images the vendor made could not be kept.", "result_refused",
                             "result_refused")  # fmt: skip
            return
        current = await engine.load(record.id) or record
        summary = TaskSummary(vendor_status="completed", stored=stored)
        await engine.end(current, TaskStatus.SUCCEEDED, summary, usage=made[0].usage, owner=engine.owner)

    async def _move_to(self, record: TaskRecord, attempt: Attempt) -> None:
        """The task runs (``in_progress``) on this attempt's channel (what it is priced and shown by), its lease
        renewed for the attempt (the reconciler takes it only once a whole ``submit_grace`` passed silently)."""
        engine = self.engine
        now = engine.clock()
        values = {"status": TaskStatus.RUNNING.value, "channel": attempt.channel.name,
                  "upstream_model": attempt.upstream_model, "updated_at": now,
                  "lease_until": now + engine.submit_grace, "next_poll_at": now + engine.submit_grace}  # fmt: skip
        async with self.engine.db.engine.begin() as conn:
            await move_task(conn, record.id, values, statuses=("pending", "running"), owner=self.engine.owner,
                            no_upstream_id=True)  # fmt: skip

    async def _call(self, attempt: Attempt, upstream_key: str, image: ImageRequest) -> ImageResult:
        """The vendor's synchronous call and its follow-ups, within the channel's total time; an error is an
        ``AttemptFailure`` (the next channel is tried, as on the synchronous route)."""
        channel = attempt.channel
        vendor = self.engine.vendor_for(channel, TaskKind.IMAGE)
        assert isinstance(vendor, InlineImageTask)
        target = Target(attempt.upstream_model, channel.options, upstream_key, channel.base_url)

        async def answer(call: UpstreamCall) -> Answer:
            return await self.engine.answer(channel, call, upstream_key, vendor)

        try:
            async with asyncio.timeout(channel.total_timeout):
                return await follow_calls(vendor.upstream, image, target, answer)
        except TimeoutError:
            raise overran(channel.name, channel.total_timeout) from None

    async def _store(self, record: TaskRecord, result: ImageResult) -> list[StoredOutput]:
        """Keep every image (inline base64 as is, a URL copied) as ``{task}/image``, ``{task}/image-2``, …"""
        engine = self.engine
        max_bytes = engine.config.result_max_bytes
        limits = CopyLimits.from_fetch_policy(engine.fetch_policy, max_bytes=max_bytes, timeout=engine.http_timeout)
        stored: list[StoredOutput] = []
        try:
            for index, made in enumerate(result.images):
                name = f"{record.id}/image" + (f"-{index + 1}" if index else "")
                if made.b64 is not None:
                    blob = await store_bytes(engine.results, name, base64.b64decode(made.b64), made.mime, max_bytes)
                elif made.url is not None:
                    blob = await copy_url(engine.client.session, made.url, {}, engine.results, name, limits)
                else:
                    raise ResultCopyError("an image without data", retryable=False)
                stored.append(StoredOutput(kind="image", name=name, mime=blob.content_type))
        except ResultCopyError:
            for done in stored:
                await engine.results.delete(done.name)
            raise
        return stored

    async def _fail(self, task_id: str, message: str, code: str, error_kind: str) -> None:
        engine = self.engine
        current = await engine.load(task_id)
        if current is None:
            return
        summary = msgspec.structs.replace(current.summary, failure=message, failure_code=code)
        await engine.end(current, TaskStatus.FAILED, summary, error_kind=error_kind, owner=engine.owner)
