"""``/admin/tasks``: every key's asynchronous tasks for operators — list (filtered, paged), one task, counts
by state (``/admin/tasks/summary``), force a poll now, cancel and refund.

The admin sees what clients never do: the channel, the vendor's task id, the schedule, poll errors and
the money (USD).  Vendor URLs of results are not shown (they are kept only until stored); stored outputs
are listed by kind and blob name, each with ``url``: a signed, expiring gateway URL of its bytes (as the
client's answers give them, on the origin the admin reached).  Times are unix seconds, as the engine keeps them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from omnirouter.api.admin_common import AdminContext, AdminRequest, QueryParam, Reply, admin_route, refusal
from omnirouter.api.task_common import URL_LIFETIME, content_path, origin, variant_of
from omnirouter.http.asgi import Scope
from omnirouter.http.routes import Route
from omnirouter.http.signed_urls import signed_url
from omnirouter.ir.task import TaskStatus
from omnirouter.storage.tasks_repo import LIVE, count_overdue, count_tasks, move_task
from omnirouter.tasks import StoredOutput, TaskRecord

__all__ = ["TaskAdminView", "TaskCounts", "TaskPage", "admin_task_view", "task_routes"]

_NANO = 1_000_000_000
_STATUSES = tuple(status.value for status in TaskStatus)
MAX_TASK_PAGE = 500
OVERDUE_AFTER = 60
"""Seconds past its ``next_poll_at`` after which ``/admin/tasks/summary`` counts a task as overdue."""


class StoredOutputView(msgspec.Struct, kw_only=True):
    """One stored result file."""

    kind: str
    name: str
    mime: str | None = None
    url: str | None = None  # a signed gateway URL of its bytes (the admin API's answers; not the CLI's)


class TaskAdminView(msgspec.Struct, kw_only=True):
    """One task as the admin sees it."""

    id: str
    kind: str
    status: str
    progress: int | None
    model: str
    protocol: str
    key_id: int
    user_id: int | None
    channel: str
    upstream_model: str
    upstream_id: str | None
    prompt: str | None
    seconds: float | None
    reserved_usd: float
    cost_usd: float
    poll_attempts: int
    poll_errors: int
    last_error: str | None
    failure: str | None
    failure_code: str | None
    vendor_status: str
    outputs: list[StoredOutputView]
    next_poll_at: float | None
    lease_owner: str | None
    lease_until: float | None
    deadline_at: float
    created_at: float
    updated_at: float
    finished_at: float | None
    deleted_at: float | None  # when its client deleted it (hidden from the client, kept here)


class TaskPage(msgspec.Struct, kw_only=True):
    """A page of tasks, newest first; ``next_after``: pass it as ``after`` for the next page (None: the last)."""

    object: Literal["list"]
    data: list[TaskAdminView]
    next_after: str | None


class TaskCounts(msgspec.Struct, kw_only=True):
    """How many tasks are in each state (every state listed, zeros included), and in all; ``overdue``: the
    unfinished tasks whose next poll was due more than ``overdue_after`` seconds ago (pollers falling
    behind), ``most_overdue_seconds`` how late the latest of them is (None: none is)."""

    counts: dict[str, int]
    live: int
    total: int
    overdue: int
    overdue_after: int
    most_overdue_seconds: float | None


OutputUrl = Callable[[TaskRecord, StoredOutput], str]


def admin_task_view(record: TaskRecord, output_url: OutputUrl | None = None) -> TaskAdminView:
    """``record`` for the admin API and the CLI; ``output_url`` links each stored output."""
    summary = record.summary

    def output(o: StoredOutput) -> StoredOutputView:
        url = output_url(record, o) if output_url is not None else None
        return StoredOutputView(kind=o.kind, name=o.name, mime=o.mime, url=url)

    return TaskAdminView(
        id=record.id,
        kind=record.kind.value,
        status=record.status.value,
        progress=record.progress,
        model=record.model,
        protocol=record.protocol,
        key_id=record.key_id,
        user_id=record.user_id,
        channel=record.channel,
        upstream_model=record.upstream_model,
        upstream_id=record.upstream_id,
        prompt=record.request.prompt,
        seconds=record.shown_seconds(),
        reserved_usd=record.reserved_nano / _NANO,
        cost_usd=record.cost_nano / _NANO,
        poll_attempts=record.poll_attempts,
        poll_errors=record.poll_errors,
        last_error=record.last_error,
        failure=summary.failure,
        failure_code=summary.failure_code,
        vendor_status=summary.vendor_status,
        outputs=[output(o) for o in summary.stored],
        next_poll_at=record.next_poll_at,
        lease_owner=record.lease_owner,
        lease_until=record.lease_until,
        deadline_at=record.deadline_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
        finished_at=record.finished_at,
        deleted_at=record.deleted_at,
    )


def signed_links(scope: Scope, secret: bytes, clock: Callable[[], float] = time.time) -> OutputUrl:
    """Signed gateway URLs of stored outputs, valid for ``URL_LIFETIME``, on the origin ``scope`` reached."""
    base, expires = origin(scope), int(clock()) + URL_LIFETIME

    def url(task: TaskRecord, stored: StoredOutput) -> str:
        return base + signed_url(content_path(task.id), expires, secret, {"variant": variant_of(stored)})

    return url


def _filters(req: AdminRequest) -> dict[str, Any]:
    start, end = req.time("from"), req.time("to")
    return {
        "key_id": req.integer("key_id", low=1),
        "user_id": req.integer("user_id", low=1),
        "model": req.text("model"),
        "channel": req.text("channel"),
        "since": start.timestamp() if start is not None else None,
        "until": end.timestamp() if end is not None else None,
    }


def _statuses(req: AdminRequest) -> tuple[str, ...]:
    raw = req.text("status")
    if raw is None:
        return ()
    wanted = tuple(part.strip() for part in raw.split(",") if part.strip())
    for status in wanted:
        if status not in _STATUSES:
            raise refusal(400, f"'status' must be one or more of {', '.join(_STATUSES)} (comma-separated); got "
                          f"{status!r}.", "invalid_value", "status")  # fmt: skip
    return wanted


def task_routes(ctx: AdminContext) -> list[Route]:
    """The task routes."""
    engine = ctx.gateway.tasks

    async def found(req: AdminRequest) -> TaskRecord:
        task_id = req.params["id"]
        record = await engine.get(task_id, include_deleted=True)
        if record is None:
            raise refusal(404, f"No task with id {task_id!r}.", "task_not_found")
        return record

    async def list_all(req: AdminRequest) -> Reply:
        limit = req.integer("limit", default=50, low=1, high=MAX_TASK_PAGE) or 50
        records = await engine.list(status=_statuses(req), after=req.text("after"), limit=limit + 1,
                                    include_deleted=True, **_filters(req))  # fmt: skip
        links = signed_links(req.scope, ctx.gateway.url_secret)
        page = [admin_task_view(record, links) for record in records[:limit]]
        return 200, TaskPage(object="list", data=page, next_after=page[-1].id if len(records) > limit else None)

    async def summary(req: AdminRequest) -> Reply:
        filters = _filters(req)
        after = req.integer("overdue_after", default=OVERDUE_AFTER, low=0, high=30 * 86400) or 0
        now = engine.clock()
        counted = await ctx.read(lambda conn: count_tasks(conn, **filters))
        overdue, earliest = await ctx.read(lambda conn: count_overdue(conn, now - after, **filters))
        counts = {status: counted.get(status, 0) for status in _STATUSES}
        most = round(now - earliest, 3) if earliest is not None else None
        return 200, TaskCounts(counts=counts, live=sum(counts[s] for s in LIVE), total=sum(counts.values()),
                               overdue=overdue, overdue_after=after, most_overdue_seconds=most)  # fmt: skip

    async def one(req: AdminRequest) -> Reply:
        return 200, admin_task_view(await found(req), signed_links(req.scope, ctx.gateway.url_secret))

    async def poll_now(req: AdminRequest) -> Reply:
        record = await found(req)
        if record.status.terminal:
            raise refusal(409, f"Task {record.id!r} is {record.status.value}: there is nothing to poll.",
                          "task_finished")  # fmt: skip
        async with ctx.gateway.db.engine.begin() as conn:
            await move_task(conn, record.id, {"next_poll_at": engine.clock()}, statuses=LIVE)
        ctx.gateway.task_poller.poke()
        links = signed_links(req.scope, ctx.gateway.url_secret)
        return 202, admin_task_view(await engine.load(record.id) or record, links)

    async def cancel(req: AdminRequest) -> Reply:
        record = await found(req)
        if record.status.terminal:
            raise refusal(409, f"Task {record.id!r} is already {record.status.value}.", "task_finished")
        cancelled = await engine.cancel(record.id)
        return 200, admin_task_view(cancelled or record, signed_links(req.scope, ctx.gateway.url_secret))

    filters = (
        QueryParam("status", "only tasks in these states (comma-separated)", enum=_STATUSES),
        QueryParam("model", "only this public model"),
        QueryParam("channel", "only this channel"),
        QueryParam("key_id", "only this key's tasks", "integer"),
        QueryParam("user_id", "only this user's tasks", "integer"),
        QueryParam("from", "tasks created at or after this time (ISO 8601)", "date-time"),
        QueryParam("to", "tasks created before this time (ISO 8601)", "date-time"),
    )
    page = (
        QueryParam("after", "the previous page's next_after"),
        QueryParam("limit", f"tasks per page, 1 to {MAX_TASK_PAGE} (default 50)", "integer"),
    )
    overdue = QueryParam("overdue_after", f"count an unfinished task as overdue once its poll is this many seconds "
                         f"late (default {OVERDUE_AFTER})", "integer")  # fmt: skip
    finished = (400, 401, 404, 409)
    return [
        admin_route("GET", "/admin/tasks", "Asynchronous tasks of every key, newest first, paged", list_all, None,
                    TaskPage, query=(*filters, *page), errors=(400, 401)),
        admin_route("GET", "/admin/tasks/summary", "How many tasks are in each state, and how many unfinished "
                    "ones are overdue for their poll", summary, None, TaskCounts, query=(*filters[1:], overdue),
                    errors=(400, 401)),
        admin_route("GET", "/admin/tasks/{id}", "One task, with its channel, vendor id, schedule and money", one,
                    None, TaskAdminView),
        admin_route("POST", "/admin/tasks/{id}/poll", "Poll an unfinished task now (its poll is moved to now and "
                    "this replica's poller woken)", poll_now, None, TaskAdminView, status=202, errors=finished,
                    body_required=False),
        admin_route("POST", "/admin/tasks/{id}/cancel", "Cancel an unfinished task and refund its reservation (the "
                    "vendor is asked to stop where it can)", cancel, None, TaskAdminView, errors=finished,
                    body_required=False),
    ]  # fmt: skip
