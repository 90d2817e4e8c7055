"""Alert flags in the ``settings`` table: which operator alert has fired and not yet been re-armed.

One row per alert subject (``notify.breaker.<hash of the channel>``, ``notify.balance.<key id>``,
``notify.tasks``): absent or 0 means armed, any other value (the unix second it fired) means fired.  Firing is
a compare-and-set (``INSERT … ON CONFLICT DO NOTHING``, else ``UPDATE … WHERE value = 0``), so when several
workers of several replicas see the same condition at once exactly one of them wins; it queues the alert in
the same transaction.  No migration: ``settings`` is a name → BIGINT table already.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.accounts_models import settings_table
from omnirouter.storage.database import upsert_insert

__all__ = ["FLAG_PREFIX", "fire_flag", "fired_flags", "rearm_flag"]

FLAG_PREFIX = "notify."
_S = settings_table


async def fire_flag(conn: AsyncConnection, name: str, now: int) -> bool:
    """Move ``name`` from armed to fired (``now``) in the caller's transaction; whether this call did it."""
    insert = upsert_insert(conn.dialect.name)
    stmt = insert(_S).values(name=name, value=max(1, now)).on_conflict_do_nothing(index_elements=[_S.c.name])
    if (await conn.execute(stmt)).rowcount == 1:
        return True
    result = await conn.execute(update(_S).where(_S.c.name == name, _S.c.value == 0).values(value=max(1, now)))
    return result.rowcount == 1


async def rearm_flag(conn: AsyncConnection, name: str) -> bool:
    """Move ``name`` from fired back to armed; whether this call did it."""
    result = await conn.execute(update(_S).where(_S.c.name == name, _S.c.value != 0).values(value=0))
    return result.rowcount == 1


async def fired_flags(conn: AsyncConnection, prefix: str) -> list[str]:
    """The names under ``prefix`` that are fired."""
    query = select(_S.c.name).where(_S.c.name.startswith(prefix, autoescape=True), _S.c.value != 0)
    return list((await conn.execute(query)).scalars())
