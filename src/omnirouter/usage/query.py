"""Read helpers over ``usage_records`` for tests and the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from omnirouter.storage import Database, usage_records_table

__all__ = ["recent_usage", "usage_of"]


async def recent_usage(db: Database, limit: int = 100, *, key_id: int | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` records (optionally of one key), newest first, as column dicts.

    ``created_at`` comes back as an aware UTC ``datetime``.
    """
    table = usage_records_table
    stmt = select(table).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    if key_id is not None:
        stmt = stmt.where(table.c.key_id == key_id)
    async with db.engine.connect() as conn:
        result = await conn.execute(stmt)
        return [dict(row) for row in result.mappings()]


async def usage_of(db: Database, request_id: str, key_id: int) -> dict[str, Any] | None:
    """The usage record of ``request_id`` (a request or a task id) of key ``key_id``, as a column dict."""
    table = usage_records_table
    stmt = select(table).where(table.c.request_id == request_id, table.c.key_id == key_id).limit(1)
    async with db.engine.connect() as conn:
        row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row is not None else None
