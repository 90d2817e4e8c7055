"""Which gateway process holds a reservation, and whether that process is still alive.

Every process (each worker) picks a random 31-bit ``owner`` id and writes it on the reservations it
takes.  On PostgreSQL the process holds the session-level advisory lock ``(OWNER_LOCK_SPACE, owner)``
on a connection of its own for as long as it runs; the lock goes away with the process (or its
connection).  Recovery at start takes the lock of each owner it finds: if it can, the owner is gone
and its reservations are resolved; if it cannot, a live replica still serves those requests and they
are left alone.  SQLite has no such locks and serves one host: there, recovery (which runs before the
workers start) resolves every reservation it finds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage import Database

__all__ = ["OWNER_LOCK_SPACE", "OwnerLock", "dead_owners"]

OWNER_LOCK_SPACE = 0x6F6D6E69  # "omni": the first key of the two-int advisory lock
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:space, :owner)")
_UNLOCK = text("SELECT pg_advisory_unlock(:space, :owner)")
_UNLOCK_ALL = text("SELECT pg_advisory_unlock_all()")


def new_owner() -> int:
    """A random owner id (a positive int4)."""
    return secrets.randbelow(2**31 - 2) + 1


async def _try_lock(conn: AsyncConnection, owner: int) -> bool:
    got = (await conn.execute(_TRY_LOCK, {"space": OWNER_LOCK_SPACE, "owner": owner})).scalar_one()
    await conn.commit()  # session-level lock: it outlives the transaction; leave the connection idle
    return bool(got)


async def _release(conn: AsyncConnection, statement: TextClause, params: dict[str, int]) -> None:
    """Unlock and hand the connection back to the pool; if that fails, close it for good (which unlocks too)."""
    try:
        await conn.execute(statement, params)
        await conn.commit()
    except BaseException:
        await conn.invalidate()
        raise
    finally:
        await conn.close()


class OwnerLock:
    """This process's owner lock, held on a dedicated PostgreSQL connection until ``release``."""

    def __init__(self, conn: AsyncConnection, owner: int) -> None:
        self._conn = conn
        self.owner = owner

    @classmethod
    async def acquire(cls, db: Database, owner: int | None = None) -> OwnerLock:
        """Hold the lock of ``owner`` (or of a new id if that one is taken)."""
        conn = await db.engine.connect()
        try:
            candidate = owner or new_owner()
            while not await _try_lock(conn, candidate):
                candidate = new_owner()
        except BaseException:
            await conn.close()
            raise
        return cls(conn, candidate)

    async def release(self) -> None:
        """Drop the lock and close its connection."""
        await _release(self._conn, _UNLOCK, {"space": OWNER_LOCK_SPACE, "owner": self.owner})


class DeadOwners:
    """The owners found dead, whose locks are held until ``release`` so they cannot come back meanwhile."""

    def __init__(self, conn: AsyncConnection | None, owners: set[int]) -> None:
        self._conn = conn
        self.owners = owners

    async def release(self) -> None:
        if self._conn is not None:
            await _release(self._conn, _UNLOCK_ALL, {})


async def dead_owners(db: Database, owners: Iterable[int]) -> DeadOwners:
    """Which of ``owners`` no live process holds (PostgreSQL; on SQLite, all of them)."""
    wanted = set(owners)
    if db.is_sqlite or not wanted:
        return DeadOwners(None, wanted)
    conn = await db.engine.connect()
    try:
        dead = {owner for owner in sorted(wanted) if await _try_lock(conn, owner)}
    except BaseException:
        await conn.close()
        raise
    return DeadOwners(conn, dead)
