"""The webhook outbox's writer: one event row per task state change, in the change's own transaction.

Every place a task's status moves (``engine._accepted``, the poller's ``_apply`` and ``_reconcile``,
``ledger.finish``) calls ``record_change`` with the connection of the transaction that moved it, right
after its compare-and-set succeeded.  So an event exists if and only if its change committed: a crash can
neither lose one nor announce a change that was rolled back.  Only tasks with a ``callback_url`` (the
create's, else the key's default, copied into the task at create) get events; ``pending`` (our own row,
before the vendor has it) is announced by the create's answer, not by an event, and so is a submit refused
while the create waits for it (the create answers the error; ``finish(announce=False)``).

What is stored is a snapshot of the task at the change (``tasks/webhook_body.py``): its client view with
gateway paths for outputs (never a vendor's id, URL, key or channel) and the dialect that created it; the
sender renders it in that dialect's shape when it POSTs.  The snapshot is written once, so every retry of an
event announces the same state (only its signed output URLs are fresh).
"""

from __future__ import annotations

import secrets

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.tasks_repo import get_task
from omnirouter.storage.webhooks_repo import insert_webhook
from omnirouter.tasks.records import TaskRecord
from omnirouter.tasks.webhook_body import snapshot

__all__ = ["new_event_id", "record_change"]


def new_event_id() -> str:
    """A fresh event id (``webhook-id``): stable across retries of one event, so clients can dedupe."""
    return f"evt_{secrets.token_hex(12)}"


async def record_change(conn: AsyncConnection, task: TaskRecord, now: float) -> str | None:
    """Queue the event of ``task``'s status as it now stands in ``conn``'s transaction (the caller just
    moved it; ``task`` is its record from before, read only for its id and callback URL, which never
    change); the event's id, or None when the task has no callback URL or is still ``pending``."""
    if not task.callback_url:
        return None  # no read, no row: tasks without webhooks cost nothing more
    row = await get_task(conn, task.id)
    if row is None or row.status == "pending":
        return None
    record = TaskRecord.of(row)
    event_id = new_event_id()
    body = snapshot(record, event_id, now)
    await insert_webhook(
        conn,
        {
            "id": event_id,
            "task_id": record.id,
            "key_id": record.key_id,
            "url": task.callback_url,
            "event_type": body["type"],
            "payload": msgspec.json.encode(body).decode(),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return event_id
