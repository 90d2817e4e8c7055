"""The ``task_webhooks`` outbox (migration 0012) and the statements the webhook sender runs on it.

One row per task event to deliver to a client's ``callback_url`` (and per operator alert, ``notify/``),
inserted in the same transaction as the task's state change (``tasks/outbox.py``), so an event exists exactly
when its change committed. Times are unix seconds from the sender's injected clock. Claiming is one ``UPDATE …
WHERE seq IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` (PostgreSQL: concurrent senders skip each other's
rows; SQLite: the single writer serialises it); an event is only due once every earlier event of its task is
delivered or dead, so a client receives a task's events in the order they happened. Every later write is a
compare-and-set on the lease owner.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import BigInteger, Float, Index, Integer, Row, String, Table, Text, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from omnirouter.storage.models import Base

__all__ = [
    "OPERATOR_KEY_ID",
    "WEBHOOK_STATES",
    "TaskWebhookRow",
    "claim_due_webhooks",
    "get_webhook",
    "insert_webhook",
    "list_webhooks",
    "prune_webhooks",
    "revive_webhook",
    "settle_webhook",
    "task_webhooks_table",
    "webhook_state",
]

OPERATOR_KEY_ID = 0
"""``key_id`` of the operator's alerts (``notify/``): no client key has it; ``task_id`` is ``notify:<kind>``."""

_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class TaskWebhookRow(Base):
    """One event to POST to a client: its stable id, target, body, and delivery state (``delivered_at``
    once a 2xx came back; ``dead_at`` once the attempts or the age ran out)."""

    __tablename__ = "task_webhooks"
    __table_args__ = (
        Index("ix_task_webhooks_next_attempt_at", "next_attempt_at"),
        Index("ix_task_webhooks_task_id_seq", "task_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    task_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[float | None] = mapped_column(Float)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[float | None] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float)
    dead_at: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


task_webhooks_table = cast(Table, TaskWebhookRow.__table__)
_W = task_webhooks_table


async def insert_webhook(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Insert one event in the caller's transaction (the one that changed the task)."""
    await conn.execute(_W.insert(), row)


async def claim_due_webhooks(
    conn: AsyncConnection, owner: str, now: float, lease_until: float, limit: int, *, operator: bool = False
) -> list[Row[Any]]:
    """Lease up to ``limit`` due events (open, ``next_attempt_at <= now``, no live lease, every earlier
    event of the task finished) to ``owner`` until ``lease_until``; the claimed rows, oldest first.
    ``operator``: the operator's alerts (``key_id`` ``OPERATOR_KEY_ID``) instead of the clients' events."""
    earlier = _W.alias("earlier")
    blocked = exists().where(
        earlier.c.task_id == _W.c.task_id,
        earlier.c.seq < _W.c.seq,
        earlier.c.delivered_at.is_(None),
        earlier.c.dead_at.is_(None),
    )
    free = (_W.c.lease_until.is_(None)) | (_W.c.lease_until < now)
    due = (
        select(_W.c.seq)
        .where(_W.c.next_attempt_at <= now, _W.c.delivered_at.is_(None), _W.c.dead_at.is_(None), free, ~blocked)
        .where((_W.c.key_id == OPERATOR_KEY_ID) if operator else (_W.c.key_id != OPERATOR_KEY_ID))
        .order_by(_W.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(_W)
        .where(_W.c.seq.in_(due.scalar_subquery()), free, _W.c.delivered_at.is_(None), _W.c.dead_at.is_(None))
        .values(lease_owner=owner, lease_until=lease_until)
        .returning(*_W.c)
    )
    rows = list((await conn.execute(claim)).all())
    return sorted(rows, key=lambda row: row.seq)


async def settle_webhook(conn: AsyncConnection, seq: int, owner: str, values: dict[str, Any]) -> bool:
    """Compare-and-set: apply ``values`` (and drop the lease) while ``owner`` holds the event's lease."""
    query = update(_W).where(_W.c.seq == seq, _W.c.lease_owner == owner, _W.c.delivered_at.is_(None))
    result = await conn.execute(query.values(lease_owner=None, lease_until=None, **values))
    return result.rowcount == 1


WEBHOOK_STATES = ("pending", "delivered", "dead")
"""An event is ``pending`` (still to be delivered), ``delivered`` (a 2xx came back) or ``dead`` (given up)."""


def webhook_state(row: Any) -> str:
    """The ``WEBHOOK_STATES`` value of an event row."""
    return "delivered" if row.delivered_at is not None else "dead" if row.dead_at is not None else "pending"


async def list_webhooks(
    conn: AsyncConnection,
    *,
    task_id: str | None = None,
    key_id: int | None = None,
    state: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[Row[Any]]:
    """Events (of a task, of a key), oldest first, only those in ``state`` when given; ``after``: a ``seq``."""
    query = select(_W)
    if task_id is not None:
        query = query.where(_W.c.task_id == task_id)
    if key_id is not None:
        query = query.where(_W.c.key_id == key_id)
    if state == "delivered":
        query = query.where(_W.c.delivered_at.is_not(None))
    elif state == "dead":
        query = query.where(_W.c.dead_at.is_not(None))
    elif state == "pending":
        query = query.where(_W.c.delivered_at.is_(None), _W.c.dead_at.is_(None))
    if after is not None:
        query = query.where(_W.c.seq > after)
    return list((await conn.execute(query.order_by(_W.c.seq).limit(max(1, min(limit, 1000))))).all())


async def prune_webhooks(conn: AsyncConnection, before: float) -> int:
    """Delete delivered and dead events created before ``before``; how many went."""
    finished = _W.c.delivered_at.is_not(None) | _W.c.dead_at.is_not(None)
    result = await conn.execute(_W.delete().where(_W.c.created_at < before, finished))
    return int(result.rowcount)


async def get_webhook(conn: AsyncConnection, event_id: str) -> Row[Any] | None:
    """The event ``event_id``, if any."""
    return (await conn.execute(select(_W).where(_W.c.id == event_id))).first()


async def revive_webhook(conn: AsyncConnection, event_id: str, now: float) -> bool:
    """Give a dead event a fresh start (attempts from zero, due now); whether it was dead."""
    query = update(_W).where(_W.c.id == event_id, _W.c.dead_at.is_not(None), _W.c.delivered_at.is_(None))
    result = await conn.execute(query.values(dead_at=None, attempts=0, next_attempt_at=now, last_error=None))
    return result.rowcount == 1
