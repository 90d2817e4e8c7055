"""A task as the engine hands it out (``TaskRecord``), what its last poll left (``TaskSummary``), and the
schedule arithmetic (``Schedule``): pure, with time and randomness passed in."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import msgspec

from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskStatus
from omnirouter.protocols.tasks.base import TaskTiming, TaskView, ViewOutput

__all__ = ["Schedule", "StoredOutput", "TaskRecord", "TaskSummary", "schedule_for"]


class StoredOutput(msgspec.Struct, frozen=True, kw_only=True):
    """One result file kept in the result store under ``name``."""

    kind: str
    name: str
    mime: str | None = None


class TaskSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the task's polls learned (the ``state`` column): never a raw vendor body, never a key.

    ``made_seconds``: the length of each clip the task's vendor makes for its request
    (``TaskVendor.seconds_for``), known from create on; ``seconds``: the length made, once it succeeded
    (the vendor's report where it gives one, else ``made_seconds``); ``details``: the vendor facts of its
    final state (``TaskState.details``): the keys starting ``vendor_`` stay private (Suno's own clip ids,
    which a continue is resolved to), the others are shown to dialects (``TaskView.details``)."""

    vendor_status: str = ""
    seconds: float | None = None
    made_seconds: float | None = None
    outputs: list[TaskOutput] = msgspec.field(default_factory=list)
    stored: list[StoredOutput] = msgspec.field(default_factory=list)
    failure: str | None = None
    failure_code: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class TaskRecord(msgspec.Struct, kw_only=True):
    """One task row, typed.  ``upstream_id``, ``channel``, lease and digest fields are private: a route
    renders ``view()`` for clients, never the record itself."""

    id: str
    kind: TaskKind
    key_id: int
    user_id: int | None
    protocol: str
    model: str
    channel: str
    upstream_model: str
    upstream_id: str | None
    status: TaskStatus
    progress: int | None
    request: TaskRequest
    summary: TaskSummary
    last_error: str | None
    idempotency_key: str | None
    reserved_nano: int
    cost_nano: int
    next_poll_at: float | None
    lease_owner: str | None
    lease_until: float | None
    poll_attempts: int
    poll_errors: int
    deadline_at: float
    created_at: float
    updated_at: float
    finished_at: float | None
    callback_url: str | None
    deleted_at: float | None = None

    @classmethod
    def of(cls, row: Any) -> TaskRecord:
        """A record from a ``tasks`` row."""
        summary = msgspec.json.decode(row.state, type=TaskSummary) if row.state else TaskSummary()
        return cls(
            id=row.id,
            kind=TaskKind(row.kind),
            key_id=row.key_id,
            user_id=row.user_id,
            protocol=row.protocol,
            model=row.model,
            channel=row.channel,
            upstream_model=row.upstream_model,
            upstream_id=row.upstream_id,
            status=TaskStatus(row.status),
            progress=row.progress,
            request=msgspec.json.decode(row.request, type=TaskRequest),
            summary=summary,
            last_error=row.last_error,
            idempotency_key=row.idempotency_key,
            reserved_nano=row.reserved_nano,
            cost_nano=row.cost_nano,
            next_poll_at=row.next_poll_at,
            lease_owner=row.lease_owner,
            lease_until=row.lease_until,
            poll_attempts=row.poll_attempts,
            poll_errors=row.poll_errors,
            deadline_at=row.deadline_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
            callback_url=row.callback_url,
            deleted_at=row.deleted_at,
        )

    def shown_seconds(self) -> float | None:
        """The clip length clients are shown (and billed for each clip): what was made once it is known,
        else what the vendor will make, else what was asked."""
        summary = self.summary
        if summary.seconds is not None:
            return summary.seconds
        return summary.made_seconds if summary.made_seconds is not None else self.request.seconds

    def view(self, output_url: Callable[[TaskRecord, StoredOutput], str]) -> TaskView:
        """The client's view; ``output_url`` makes the gateway URL of a stored output (signed by the routes)."""
        request = self.request
        error = self.summary.failure if self.status in (TaskStatus.FAILED, TaskStatus.CANCELLED) else None
        return TaskView(
            id=self.id,
            kind=self.kind,
            model=self.model,
            status=self.status,
            created_at=int(self.created_at),
            progress=100 if self.status is TaskStatus.SUCCEEDED else self.progress,
            completed_at=int(self.finished_at) if self.finished_at is not None else None,
            seconds=self.shown_seconds(),
            size=request.size,
            resolution=request.resolution,
            aspect_ratio=request.aspect_ratio,
            prompt=request.prompt,
            outputs=[ViewOutput(kind=o.kind, url=output_url(self, o), mime=o.mime) for o in self.summary.stored],
            error_code=self.summary.failure_code if error is not None else None,
            error_message=error,
            remix_of=request.remix_of,
            details={name: fact for name, fact in self.summary.details.items() if not name.startswith("vendor_")},
        )


class Schedule(NamedTuple):
    """A task's poll schedule (seconds): first poll, longest gap, growth factor, deadline."""

    first: float
    most: float
    backoff: float
    deadline: float

    def delay(self, polls: int, rng: random.Random, retry_after: float | None = None) -> float:
        """The gap before the next poll after ``polls`` polls: ``first × backoff^polls`` capped at ``most``,
        with up to 20 % jitter taken off (so replicas spread), never below ``retry_after``."""
        gap = min(self.most, self.first * self.backoff ** min(polls, 64))
        gap *= 1.0 - 0.2 * rng.random()
        if retry_after is not None and retry_after > gap:
            gap = min(retry_after, max(self.most, retry_after))
        return gap


def _option(options: Mapping[str, str], name: str) -> float | None:
    value = options.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 0 else None


def schedule_for(
    timing: TaskTiming,
    options: Mapping[str, str],
    *,
    poll_first: float | None,
    poll_max: float | None,
    poll_backoff: float,
    deadline: float | None,
) -> Schedule:
    """The schedule of a task on a channel: the channel's ``task_*`` options, else the ``tasks:`` config,
    else the vendor's timing."""
    first = _option(options, "task_poll_first") or poll_first or timing.first_poll
    most = _option(options, "task_poll_max") or poll_max or timing.max_poll
    factor = _option(options, "task_poll_backoff") or poll_backoff
    ends = _option(options, "task_deadline") or deadline or timing.deadline
    return Schedule(first, max(most, first), max(factor, 1.0), ends)
