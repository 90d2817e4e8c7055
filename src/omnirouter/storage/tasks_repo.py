"""The ``tasks`` table (migrations 0011, 0013) and the statements the task engine runs on it.

Times in this table are unix seconds (``Float``), taken from the engine's injected clock, so leases,
backoff and deadlines run in milliseconds under test.  Every state move is a compare-and-set:
``UPDATE … WHERE id = ? AND status IN (…) [AND lease_owner = ?]``; its row count says whether it
happened.  Claiming is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``:
on PostgreSQL concurrent pollers skip each other's rows, on SQLite the single writer serialises it.
No upstream key is ever stored here (a poll resolves the channel's key by channel name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict, TypeVar, Unpack, cast

from sqlalchemy import (
    BigInteger,
    Float,
    Index,
    Integer,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from omnirouter.storage.models import Base

__all__ = [
    "LIVE",
    "TaskRow",
    "claim_due",
    "count_live",
    "count_overdue",
    "count_tasks",
    "find_by_idempotency",
    "get_task",
    "hint_poll",
    "insert_task",
    "list_tasks",
    "mark_deleted",
    "move_task",
    "tasks_table",
]

_Query = TypeVar("_Query", bound=Select[Any, Any])

LIVE = ("pending", "queued", "running")
"""The statuses of unfinished tasks (``ir.TaskStatus`` values)."""


class TaskRow(Base):
    """One asynchronous task: who asked, where it runs, its schedule, lease and money."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("key_id", "idempotency_key"),
        Index("ix_tasks_status_next_poll_at", "status", "next_poll_at"),
        Index("ix_tasks_key_id_created_at", "key_id", "created_at"),
        Index("ix_tasks_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(256))
    channel: Mapped[str] = mapped_column(String(128))
    upstream_model: Mapped[str] = mapped_column(String(256))
    upstream_id: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int | None] = mapped_column(Integer)
    request: Mapped[str] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(256))
    body_digest: Mapped[str | None] = mapped_column(String(128))
    reserved_nano: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_nano: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    next_poll_at: Mapped[float | None] = mapped_column(Float)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[float | None] = mapped_column(Float)
    poll_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    poll_errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deadline_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    callback_url: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[float | None] = mapped_column(Float)  # the client deleted it: hidden from its reads


tasks_table = cast(Table, TaskRow.__table__)
_T = tasks_table


async def insert_task(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Insert one task in the caller's transaction (an ``IntegrityError`` on a repeated idempotency key)."""
    await conn.execute(_T.insert(), row)


async def get_task(
    conn: AsyncConnection,
    task_id: str,
    *,
    key_id: int | None = None,
    user_id: int | None = None,
    visible_only: bool = False,
) -> Row[Any] | None:
    """The task ``task_id``, only if it belongs to ``key_id`` / ``user_id`` when given, and (``visible_only``)
    its client has not deleted it (None: not found)."""
    query = select(_T).where(_T.c.id == task_id)
    if visible_only:
        query = query.where(_T.c.deleted_at.is_(None))
    if key_id is not None:
        query = query.where(_T.c.key_id == key_id)
    if user_id is not None:
        query = query.where(_T.c.user_id == user_id)
    return (await conn.execute(query)).first()


async def find_by_idempotency(conn: AsyncConnection, key_id: int, idempotency_key: str) -> Row[Any] | None:
    """The task this key created with ``idempotency_key``, if any."""
    query = select(_T).where(_T.c.key_id == key_id, _T.c.idempotency_key == idempotency_key)
    return (await conn.execute(query)).first()


async def list_tasks(
    conn: AsyncConnection,
    *,
    key_id: int | None = None,
    user_id: int | None = None,
    status: Sequence[str] = (),
    model: str | None = None,
    channel: str | None = None,
    since: float | None = None,
    until: float | None = None,
    after: str | None = None,
    limit: int = 20,
    newest_first: bool = True,
    visible_only: bool = False,
) -> list[Row[Any]]:
    """Tasks matching the filters, ordered by (created_at, id), ``limit`` at most; ``after`` is the id
    of the last task of the previous page (a cursor: stable while new tasks arrive); ``visible_only``:
    not those their client deleted."""
    query = select(_T)
    if visible_only:
        query = query.where(_T.c.deleted_at.is_(None))
    query = _filtered(query, key_id=key_id, user_id=user_id, model=model, channel=channel, since=since, until=until)
    if status:
        query = query.where(_T.c.status.in_(list(status)))
    if after is not None:
        mark = (await conn.execute(select(_T.c.created_at).where(_T.c.id == after))).scalar_one_or_none()
        if mark is not None:
            if newest_first:
                query = query.where(or_(_T.c.created_at < mark, and_(_T.c.created_at == mark, _T.c.id < after)))
            else:
                query = query.where(or_(_T.c.created_at > mark, and_(_T.c.created_at == mark, _T.c.id > after)))
    if newest_first:
        query = query.order_by(_T.c.created_at.desc(), _T.c.id.desc())
    else:
        query = query.order_by(_T.c.created_at, _T.c.id)
    return list((await conn.execute(query.limit(max(1, min(limit, 1000))))).all())


async def mark_deleted(conn: AsyncConnection, task_id: str, key_id: int, now: float) -> bool:
    """Compare-and-set: the client ``key_id`` deleted its task (hidden from its reads from now on, the row
    kept); False when it is not this key's or was deleted already."""
    query = update(_T).where(_T.c.id == task_id, _T.c.key_id == key_id, _T.c.deleted_at.is_(None))
    result = await conn.execute(query.values(deleted_at=now, updated_at=now))
    return result.rowcount == 1


async def claim_due(conn: AsyncConnection, owner: str, now: float, lease_until: float, limit: int) -> list[Row[Any]]:
    """Lease up to ``limit`` unfinished tasks that are due (``next_poll_at <= now``) and not leased by a
    live lease, to ``owner`` until ``lease_until``; the claimed rows (one statement: atomic)."""
    due = (
        select(_T.c.id)
        .where(
            _T.c.status.in_(LIVE),
            _T.c.next_poll_at <= now,
            or_(_T.c.lease_until.is_(None), _T.c.lease_until < now),
        )
        .order_by(_T.c.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(_T)
        .where(_T.c.id.in_(due.scalar_subquery()), or_(_T.c.lease_until.is_(None), _T.c.lease_until < now))
        .values(lease_owner=owner, lease_until=lease_until)
        .returning(*_T.c)
    )
    return list((await conn.execute(claim)).all())


async def move_task(
    conn: AsyncConnection,
    task_id: str,
    values: dict[str, Any],
    *,
    statuses: Sequence[str] = LIVE,
    owner: str | None = None,
    no_upstream_id: bool = False,
) -> bool:
    """Compare-and-set: apply ``values`` to the task only while its status is one of ``statuses`` (and
    it is leased to ``owner`` when given; it has no upstream id yet when ``no_upstream_id``); whether it did."""
    query = update(_T).where(_T.c.id == task_id, _T.c.status.in_(list(statuses)))
    if owner is not None:
        query = query.where(_T.c.lease_owner == owner)
    if no_upstream_id:
        query = query.where(_T.c.upstream_id.is_(None))
    result = await conn.execute(query.values(**values))
    return result.rowcount == 1


async def move_tasks(conn: AsyncConnection, moves: Sequence[tuple[str, dict[str, Any]]], *, owner: str) -> None:
    """``move_task`` for many tasks in one round trip (an ``executemany``): each ``(task id, values)`` is
    applied only while the task is live and leased to ``owner``.  Every ``values`` must name the same
    columns.  Which ones moved is not told: for writes whose outcome nobody reads (a poll's new schedule)."""
    if not moves:
        return
    columns = sorted(moves[0][1])
    live = or_(*(_T.c.status == literal_column(f"'{status}'") for status in LIVE))  # constant SQL text
    query = (
        update(_T)
        .where(_T.c.id == bindparam("move_id"), live, _T.c.lease_owner == bindparam("move_owner"))
        .values({column: bindparam(f"move_{column}") for column in columns})
    )
    rows = [{"move_id": task_id, "move_owner": owner, **{f"move_{c}": values[c] for c in columns}}
            for task_id, values in moves]  # fmt: skip
    await conn.execute(query, rows)


class TaskFilters(TypedDict, total=False):
    """The filters every task query takes (None or absent: any): the key or user that created it, the
    public model, the channel, and a window on ``created_at`` (``since`` inclusive, ``until`` exclusive)."""

    key_id: int | None
    user_id: int | None
    model: str | None
    channel: str | None
    since: float | None
    until: float | None


def _filtered(query: _Query, **filters: Unpack[TaskFilters]) -> _Query:
    key_id, user_id, model, channel = (filters.get(name) for name in ("key_id", "user_id", "model", "channel"))
    since, until = filters.get("since"), filters.get("until")
    for column, value in ((_T.c.key_id, key_id), (_T.c.user_id, user_id), (_T.c.model, model), (_T.c.channel, channel)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(_T.c.created_at >= since)
    if until is not None:
        query = query.where(_T.c.created_at < until)
    return query


async def count_tasks(conn: AsyncConnection, **filters: Unpack[TaskFilters]) -> dict[str, int]:
    """How many tasks there are in each status (only the statuses that have some), filtered as ``list_tasks``."""
    query = _filtered(select(_T.c.status, func.count()).group_by(_T.c.status), **filters)
    return {status: int(count) for status, count in (await conn.execute(query)).all()}


async def count_live(conn: AsyncConnection) -> dict[str, int]:
    """How many unfinished tasks there are in each live status (only the statuses that have some): the
    finished ones are never read, so the ``(status, next_poll_at)`` index answers it however many there are."""
    query = select(_T.c.status, func.count()).where(_T.c.status.in_(LIVE)).group_by(_T.c.status)
    return {status: int(count) for status, count in (await conn.execute(query)).all()}


async def hint_poll(conn: AsyncConnection, task_id: str, now: float) -> bool:
    """A vendor callback's hint: make an unfinished task due now, only while no live lease holds it (a
    replica polling or submitting it writes its own schedule when done); whether it did."""
    query = (
        update(_T)
        .where(_T.c.id == task_id, _T.c.status.in_(LIVE), or_(_T.c.lease_until.is_(None), _T.c.lease_until < now))
        .values(next_poll_at=now)
    )
    result = await conn.execute(query)
    return result.rowcount == 1


async def count_overdue(
    conn: AsyncConnection, before: float, **filters: Unpack[TaskFilters]
) -> tuple[int, float | None]:
    """Unfinished tasks whose next poll was due before ``before`` (a poller falling behind), filtered as
    ``count_tasks``: how many, and the earliest such ``next_poll_at`` (None: none)."""
    query = select(func.count(), func.min(_T.c.next_poll_at)).where(_T.c.status.in_(LIVE), _T.c.next_poll_at < before)
    query = _filtered(query, **filters)
    row = (await conn.execute(query)).one()
    return int(row[0]), float(row[1]) if row[1] is not None else None
