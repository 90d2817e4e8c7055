"""Resolve reservations that were never settled because their process died (run at start, before workers).

A reservation row outlives its request only when the process holding it stopped before the usage
recorder wrote the request's ledger row (a crash, a kill, a database outage through shutdown).  What
the request really cost is unknown then; the rule is: release the reservation, charge the request's
input estimate (``reservations.input_nano``: the prompt estimated from its size at the model's input
price and the key's multiplier, never more than the reservation), and write a ledger row for it with
``status_code`` 0, ``error_kind`` ``unsettled_after_restart`` and ``usage_estimated`` true, so the
ledger's sum still equals the key's ``used_nano``.  The output (if any was produced) is not charged.

The money moves in ``billing/money.py``; this module writes the ledger rows beside it.  Only
reservations held by requests whose owner process is gone are touched (``billing/owner.py``), so a
replica that starts beside live ones leaves their requests in flight alone; reservations held by tasks
(``holder = 'task'``) outlive restarts and are the task engine's to settle.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select

from omnirouter.billing.money import REQUEST_HOLDER, resolve_abandoned
from omnirouter.billing.owner import dead_owners
from omnirouter.storage import Database, api_keys_table, reservations_table
from omnirouter.usage.record import UsageRecord
from omnirouter.usage.writer import UsageWriter

__all__ = ["UNSETTLED_AFTER_RESTART", "recover_reservations"]

log = logging.getLogger("omnirouter.billing")

UNSETTLED_AFTER_RESTART = "unsettled_after_restart"
_CHUNK = 500


async def recover_reservations(db: Database) -> int:
    """Resolve the open reservations of dead processes; return how many were resolved."""
    table = reservations_table
    async with db.engine.connect() as conn:
        held_by_requests = table.c.holder == REQUEST_HOLDER  # tasks keep theirs across restarts
        rows = (await conn.execute(select(table.c.request_id, table.c.owner).where(held_by_requests))).all()
    if not rows:
        return 0
    dead = await dead_owners(db, {row.owner for row in rows if row.owner is not None})
    try:
        ids = [row.request_id for row in rows if row.owner is None or row.owner in dead.owners]
        resolved = 0
        for start in range(0, len(ids), _CHUNK):
            resolved += await _resolve(db, ids[start : start + _CHUNK])
    finally:
        await dead.release()
    if resolved:
        log.warning(
            "resolved %d reservation(s) left open by a stopped process: each charged its input estimate "
            "and recorded as %s",
            resolved,
            UNSETTLED_AFTER_RESTART,
        )
    return resolved


async def _resolve(db: Database, request_ids: list[str]) -> int:
    async with db.engine.begin() as conn:
        resolved = await conn.run_sync(resolve_abandoned, request_ids)
        if not resolved:
            return 0
        key_ids = {row.key_id for row in resolved}
        keys: dict[int, Any] = {
            row.id: row
            for row in await conn.execute(
                select(api_keys_table.c.id, api_keys_table.c.name, api_keys_table.c.user_id).where(
                    api_keys_table.c.id.in_(key_ids)
                )
            )
        }
        now = time.time()
        records = []
        for row in resolved:
            key = keys.get(row.key_id)
            records.append(
                UsageRecord(
                    request_id=row.request_id,
                    model=row.model,
                    inbound_protocol="unknown",
                    status_code=0,
                    latency_ms=max(0.0, (now - row.created_at.timestamp()) * 1000.0),
                    created_at=now,
                    key_id=row.key_id,
                    key_name=key.name if key is not None else None,
                    error_kind=UNSETTLED_AFTER_RESTART,
                    usage_estimated=True,
                    attempts=0,
                    user_id=key.user_id if key is not None else None,
                    cost_nano=row.charged_nano,
                )
            )
        await conn.run_sync(UsageWriter(conn.dialect).write, records)
    return len(resolved)
