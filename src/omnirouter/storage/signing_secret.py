"""The secret that signs gateway URLs (``http/signed_urls.py``), the same on every replica.

Configured, it is used as given.  Otherwise the first replica to start draws 256 random bits and stores
them in the ``settings`` table (four 64-bit rows, the table's value type), inserting only where absent,
so every replica reads the same secret without a migration; a restart keeps it, so URLs stay valid.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from sqlalchemy import select

from omnirouter.storage.accounts_models import settings_table
from omnirouter.storage.database import Database, upsert_insert

__all__ = ["SECRET_ROWS", "url_signing_secret"]

SECRET_ROWS = tuple(f"url_signing_key_{i}" for i in range(4))


def _random_word(random_bits: Callable[[int], int]) -> int:
    return random_bits(64) - 2**63  # a signed BIGINT


async def url_signing_secret(
    db: Database, configured: str | None = None, random_bits: Callable[[int], int] = secrets.randbits
) -> bytes:
    """The 32-byte URL-signing key: from ``configured`` when set, else from (or first into) the database."""
    if configured:
        return hashlib.sha256(b"omnirouter url signing\n" + configured.encode()).digest()
    table = settings_table
    async with db.engine.begin() as conn:
        insert = upsert_insert(conn.dialect.name)
        rows = [{"name": name, "value": _random_word(random_bits)} for name in SECRET_ROWS]
        await conn.execute(insert(table).values(rows).on_conflict_do_nothing(index_elements=[table.c.name]))
    async with db.engine.connect() as conn:
        query = select(table.c.name, table.c.value).where(table.c.name.in_(SECRET_ROWS))
        found = dict((await conn.execute(query)).all())
    words = b"".join(int(found[name]).to_bytes(8, "big", signed=True) for name in SECRET_ROWS)
    return hashlib.sha256(b"omnirouter url signing\n" + words).digest()
