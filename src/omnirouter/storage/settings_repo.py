"""The shared change counter: ``settings.config_version``, bumped by every admin write.

Each worker polls it (``gateway.py``, ``ConfigReloader``) and reloads keys, channels and prices when it moved, so a
change made through any replica's admin API, or the CLI, reaches every replica without a restart.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.accounts_models import settings_table
from omnirouter.storage.database import Database, upsert_insert

__all__ = ["CONFIG_VERSION", "bump_config_version", "read_config_version"]

CONFIG_VERSION = "config_version"


async def bump_config_version(conn: AsyncConnection) -> None:
    """Add one to ``config_version`` inside the caller's transaction (created at 1 if absent)."""
    table = settings_table
    insert = upsert_insert(conn.dialect.name)
    stmt = insert(table).values(name=CONFIG_VERSION, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.name], set_={"value": table.c.value + 1})
    await conn.execute(stmt)


async def read_config_version(db: Database) -> int:
    """The current ``config_version`` (0 before the first change)."""
    table = settings_table
    async with db.engine.connect() as conn:
        value = (await conn.execute(select(table.c.value).where(table.c.name == CONFIG_VERSION))).scalar()
    return int(value or 0)
