"""Write what the journals of stopped processes hold (run at start, before reservations are recovered).

For each dead journal (``usage/journal.py``): every finished request whose row is not in the ledger
yet is written, with its charge and the release of its reservation, exactly as the recorder would
have; every request that started but never finished (keys without a quota) gets a row with
``status_code`` 0 and ``error_kind`` ``interrupted`` and no charge.  Rows already in the ledger
(their batch committed before the crash) are skipped by request id, so a replay can run any number
of times.  Reservations of requests that finished are released here; those of requests still in
flight are left to ``usage/recovery.py``, which runs after.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from omnirouter.storage import Database, usage_records_table
from omnirouter.usage.journal import Started, dead_journals
from omnirouter.usage.record import UsageRecord
from omnirouter.usage.recorder import UsageRecorder

__all__ = ["INTERRUPTED", "replay_journals"]

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
_CHUNK = 500


def interrupted(entry: Started, now: float) -> UsageRecord:
    """The row of a request that was in flight when its process died."""
    return UsageRecord(
        request_id=entry.request_id,
        model=entry.model,
        inbound_protocol=entry.inbound_protocol,
        status_code=0,
        latency_ms=max(0.0, (now - entry.created_at) * 1000.0),
        created_at=entry.created_at,
        key_id=entry.key_id,
        key_name=entry.key_name,
        user_id=entry.user_id,
        error_kind=INTERRUPTED,
        attempts=0,
    )


async def _in_ledger(db: Database, request_ids: Iterable[str]) -> set[str]:
    ids = list(request_ids)
    found: set[str] = set()
    table = usage_records_table
    async with db.engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            query = select(table.c.request_id).where(table.c.request_id.in_(ids[start : start + _CHUNK]))
            found.update(await conn.scalars(query))
    return found


async def replay_journals(db: Database, directory: Path | None) -> int:
    """Write the records of the dead journals in ``directory``; return how many rows were added."""
    if directory is None:
        return 0
    added = 0
    for journal in dead_journals(directory, db.url):
        try:
            finished, started = journal.read()
            now = time.time()
            records = [(entry.record, entry.reserved) for entry in finished]
            records += [(interrupted(entry, now), False) for entry in started]
            in_ledger = await _in_ledger(db, (record.request_id for record, _ in records))
            recorder = UsageRecorder(db)
            for record, reserved in records:
                if record.request_id not in in_ledger:
                    recorder.record(record, reserved=reserved)
            written = await recorder.flush()
        except Exception:
            log.exception("cannot replay the usage journal %s; it is kept for the next start", journal.lock_path)
            journal.release()
            continue
        journal.remove()
        added += written
        if written:
            log.warning(
                "replayed the usage journal of a stopped process (%s): %d row(s) were not in the ledger yet "
                "(of %d finished and %d interrupted request(s))",
                journal.lock_path.name,
                written,
                len(finished),
                len(started),
            )
    return added
