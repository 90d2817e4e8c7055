"""The webhook outbox's writer: one event row per task state change, in the change's own transaction.

Every place a task's status moves (``engine._accepted``, the poller's ``_apply`` and ``_reconcile``,
``ledger.finish``) calls ``record_change`` with the connection of the transaction that moved it, right
after its compare-and-set succeeded.  So an event exists if and only if its change committed: a crash can
neither lose one nor announce a change that was rolled back.  Only tasks with a ``callback_url`` (the
create's, else the key's default, copied into the task at create) get events; ``pending`` (our own row,
before the vendor has it) is announced by the create's answer, not by an event, and so is a submit refused
while the create waits for it (the create answers the error; ``finish(announce=False)``).

The body is the documented common shape (docs/tasks.md "Webhooks"): ``{type: "task.<status>", id: <event
id>, created_at, data: <the task as the gateway shows it>}`` — gateway paths for outputs, never a vendor's
id, URL, key or channel.  It is written once, so every retry of an event sends the same bytes.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.tasks_repo import get_task
from omnirouter.storage.webhooks_repo import insert_webhook
from omnirouter.tasks.records import StoredOutput, TaskRecord

__all__ = ["event_body", "new_event_id", "record_change"]


def new_event_id() -> str:
    """A fresh event id (``webhook-id``): stable across retries of one event, so clients can dedupe."""
    return f"evt_{secrets.token_hex(12)}"


def _output_path(task: TaskRecord, stored: StoredOutput) -> str:
    """The gateway path of a stored output (fetched with the client's key), as ``GET`` routes name it."""
    return f"/v1/videos/{task.id}/content?variant={stored.name.rsplit('/', 1)[-1]}"


def event_body(record: TaskRecord, event_id: str, now: float) -> dict[str, Any]:
    """The event announcing ``record``'s current status."""
    view = record.view(_output_path)
    view.updated_at = int(record.updated_at)
    view.client_ref = record.request.client_ref
    data = {"object": "task", **msgspec.to_builtins(view)}
    return {"type": f"task.{record.status.value}", "id": event_id, "created_at": int(now), "data": data}


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
    body = event_body(record, event_id, now)
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
