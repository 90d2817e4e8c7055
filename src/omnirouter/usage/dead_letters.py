"""Set aside a usage record the database refuses on its own, so that it cannot hold the others back.

The record goes to the ``usage_dead_letters`` table with the database's error; its charge is NOT
applied to the key and its reservation, if any, is released, in the same transaction, so the ledger
(``usage_records``) still sums to the keys' ``used_nano``.  If even that insert fails, the record is
appended to a JSON-lines file (``dead_letter_file``), and failing that it is logged in full.
docs/operations.md says how to read and replay them.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Connection, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.billing.money import apply_charges
from omnirouter.storage import dead_letters_table
from omnirouter.storage.models import utcnow
from omnirouter.usage.record import UsageRecord

__all__ = ["DeadLetterView", "list_dead_letters", "record_json", "set_aside_in_database", "set_aside_in_file"]

log = logging.getLogger(__name__)

_MAX_ERROR = 2000
_INSERT = insert(dead_letters_table)


def record_json(record: UsageRecord) -> str:
    """The record as ASCII JSON (storable in any text column: no NUL byte, no lone surrogate)."""
    return json.dumps(msgspec.to_builtins(record))  # ensure_ascii: NUL and lone surrogates become escapes


def _clean(text: str, limit: int) -> str:
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii").replace("\x00", "\\x00")


def set_aside_in_database(conn: Connection, record: UsageRecord, reserved: bool, error: str) -> None:
    """Insert the dead letter and release the record's reservation (a ``Database.background`` function)."""
    params: dict[str, Any] = {
        "request_id": _clean(record.request_id, 256),
        "created_at": utcnow(),
        "key_id": record.key_id if record.key_id is None or 0 <= record.key_id < 2**31 else None,
        "cost_nano": max(0, min(record.cost_nano, 2**63 - 1)),
        "error": _clean(error, _MAX_ERROR),
        "record": record_json(record),
    }
    conn.execute(_INSERT, params)
    if reserved:
        apply_charges(conn, [msgspec.structs.replace(record, cost_nano=0)], {record.request_id})


def set_aside_in_file(path: Path | None, record: UsageRecord, error: str) -> None:
    """Append the dead letter to ``path`` (JSON lines); log it in full if that fails too."""
    line = json.dumps({"error": _clean(error, _MAX_ERROR), "record": msgspec.to_builtins(record)})
    try:
        if path is None:
            raise OSError("no dead-letter file configured")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="ascii") as file:
            file.write(line + "\n")
    except OSError as exc:
        log.error("usage record set aside but not stored anywhere (%s): %s", exc, line)


class DeadLetterView(msgspec.Struct, kw_only=True):
    """A set-aside record as the admin API shows it; ``cost_nano`` was not charged."""

    id: int
    request_id: str
    created_at: datetime
    key_id: int | None
    cost_nano: int
    error: str
    record: dict[str, Any]


async def list_dead_letters(conn: AsyncConnection, limit: int = 100) -> list[DeadLetterView]:
    """The newest ``limit`` dead letters."""
    table = dead_letters_table
    rows = await conn.execute(select(table).order_by(table.c.id.desc()).limit(limit))
    return [
        DeadLetterView(
            id=row.id,
            request_id=row.request_id,
            created_at=row.created_at,
            key_id=row.key_id,
            cost_nano=row.cost_nano,
            error=row.error,
            record=json.loads(row.record),
        )
        for row in rows
    ]
