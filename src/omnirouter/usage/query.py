"""Read helpers over ``usage_records`` for tests and the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from omnirouter.storage import Database, usage_records_table

__all__ = ["recent_usage"]


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
