"""Signing users in by name and password (the console's sign-in for resellers' customers).

``verify_user_password`` takes as long for an unknown name, a user without a password or a disabled
user as for a wrong password (an Argon2 verification each time, ``storage/passwords.py``), and compares
hashes in constant time (argon2-cffi), so neither the answer's timing nor its content tells which names
exist.  A hash made with older parameters is replaced at the next successful sign-in.
"""

from __future__ import annotations

import asyncio

import msgspec
from sqlalchemy import select, update

from omnirouter.storage import Database, users_table
from omnirouter.storage.keys_repo import KeyView, list_keys
from omnirouter.storage.ownership import ConfigOwned
from omnirouter.storage.passwords import (
    hash_password,
    needs_rehash,
    verify_password,
    verify_password_against_nothing,
)
from omnirouter.storage.users_repo import UserView, get_user

__all__ = ["SignedIn", "verify_user_password"]


class SignedIn(msgspec.Struct, kw_only=True):
    """A user whose password matched, and their keys that are not revoked (never their secrets)."""

    user: UserView
    keys: list[KeyView]


async def verify_user_password(
    db: Database, name: str, password: str, owned: ConfigOwned | None = None
) -> SignedIn | None:
    """The active user ``name`` and their keys if ``password`` is theirs; ``None`` otherwise, whatever the reason."""
    table = users_table
    stmt = select(table.c.id, table.c.status, table.c.password_hash).where(table.c.name == name)
    async with db.engine.connect() as conn:
        row = (await conn.execute(stmt)).first()
    encoded = row.password_hash if row is not None else None
    if encoded is None:
        await asyncio.to_thread(verify_password_against_nothing, password)
        return None
    if not await asyncio.to_thread(verify_password, encoded, password) or row is None or row.status != "active":
        return None
    async with db.engine.begin() as conn:
        if needs_rehash(encoded):
            fresh = await asyncio.to_thread(hash_password, password)
            await conn.execute(update(table).where(table.c.id == row.id).values(password_hash=fresh))
        user = await get_user(conn, row.id)
        keys = await list_keys(conn, owned or ConfigOwned(), user_id=row.id)
    return SignedIn(user=user, keys=[key for key in keys if key.status != "revoked"])
