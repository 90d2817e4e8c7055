"""Console sessions (``/dashboard``): one row per signed-in browser, found by the hash of its cookie.

The cookie holds 256 random bits; the table holds only their SHA-256 (a leaked table opens no session),
what signed in (``admin`` or ``key``), a digest of the credential used (the admin key's, or the client
key's stored hash) so that a changed admin key or a rotated or revoked client key ends its sessions, and
the expiry.  Every replica reads the same rows; signing out deletes the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import msgspec
from sqlalchemy import Integer, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from omnirouter.storage.models import Base, UTCDateTime

__all__ = [
    "ConsoleSession",
    "ConsoleSessionRow",
    "console_sessions_table",
    "delete_console_session",
    "find_console_session",
    "insert_console_session",
]


class ConsoleSessionRow(Base):
    """A signed-in console browser (migration 0016)."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # admin | key
    credential: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


console_sessions_table = cast(Table, ConsoleSessionRow.__table__)


class ConsoleSession(msgspec.Struct, frozen=True, kw_only=True):
    """A session row as the console reads it."""

    token_hash: str
    kind: str
    credential: str
    key_id: int | None
    created_at: datetime
    expires_at: datetime


async def insert_console_session(conn: AsyncConnection, session: ConsoleSession, now: datetime) -> None:
    """Store ``session`` and drop the sessions that expired before ``now``."""
    table = console_sessions_table
    await conn.execute(delete(table).where(table.c.expires_at <= now))
    await conn.execute(insert(table).values(msgspec.structs.asdict(session)))


async def find_console_session(conn: AsyncConnection, token_hash: str, now: datetime) -> ConsoleSession | None:
    """The unexpired session whose token hashes to ``token_hash``, if any."""
    table = console_sessions_table
    query = select(table).where(table.c.token_hash == token_hash, table.c.expires_at > now)
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else ConsoleSession(**row)


async def delete_console_session(conn: AsyncConnection, token_hash: str) -> bool:
    """Revoke a session; whether it existed."""
    table = console_sessions_table
    result = await conn.execute(delete(table).where(table.c.token_hash == token_hash))
    return bool(result.rowcount)
