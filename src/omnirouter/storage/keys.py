"""Client keys: stored as SHA-256 hashes, loaded into memory for O(1) auth lookups."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

import msgspec
import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from omnirouter.storage.database import Database
from omnirouter.storage.models import KeyStatus, api_keys_table, utcnow

__all__ = ["KEY_PREFIX", "KeyRecord", "KeyStore", "display_prefix", "generate_key", "hash_key", "key_record"]

KEY_PREFIX = "sk-or-"


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a client key.

    A fast unsalted hash is right here: keys are random with ~240 bits of entropy,
    so there is nothing to brute-force, and the hash must be cheap because it runs
    on every request to look the key up.  (Passwords would need a slow KDF.)
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """The first 8 characters and an ellipsis, safe to show in listings."""
    return key[:8] + "…"


def generate_key() -> str:
    """A new random key: ``sk-or-`` followed by 40 URL-safe characters (240 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(30)


class KeyRecord(msgspec.Struct, frozen=True):
    """What the hot path needs about an active key: identity, limits and money (nano-USD).

    ``quota_nano`` None means unlimited; ``models`` / ``ip_allow`` None mean no restriction;
    ``expires_at`` is a Unix time.
    """

    id: int
    name: str
    key_hash: str
    user_id: int | None = None
    expires_at: float | None = None
    quota_nano: int | None = None
    models: tuple[str, ...] | None = None
    ip_allow: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    group: str | None = None


def _json_tuple(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    parsed = orjson.loads(value)
    return tuple(str(item) for item in parsed) if isinstance(parsed, list) else None


def key_record(row: Any) -> KeyRecord:
    """A ``KeyRecord`` from an ``api_keys`` row."""
    return KeyRecord(
        row.id,
        row.name,
        row.key_hash,
        user_id=row.user_id,
        expires_at=row.expires_at.timestamp() if row.expires_at is not None else None,
        quota_nano=row.quota_nano,
        models=_json_tuple(row.models),
        ip_allow=_json_tuple(row.ip_allow),
        rpm=row.rpm,
        tpm=row.tpm,
        max_concurrent=row.max_concurrent,
        group=row.group_name,
    )


class KeyStore:
    """Reads and writes ``api_keys``; never stores or returns a stored raw key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure_keys(self, keys: Iterable[tuple[str, str]]) -> None:
        """Create each ``(name, key)`` whose hash is absent.

        Existing rows are left as they are: a revoked key stays revoked and a
        renamed one keeps its first name.  Safe against replicas doing the same.
        """
        rows: dict[str, dict[str, object]] = {}
        for name, key in keys:
            key_hash = hash_key(key)
            rows.setdefault(
                key_hash,
                {
                    "name": name,
                    "key_hash": key_hash,
                    "key_prefix": display_prefix(key),
                    "status": KeyStatus.ACTIVE.value,
                    "created_at": utcnow(),
                },
            )
        if not rows:
            return
        table = api_keys_table
        upsert = sqlite_insert if self._db.is_sqlite else pg_insert
        async with self._db.engine.begin() as conn:
            existing = set((await conn.execute(select(table.c.key_hash).where(table.c.key_hash.in_(rows)))).scalars())
            missing = [row for key_hash, row in rows.items() if key_hash not in existing]
            if missing:
                stmt = upsert(table).on_conflict_do_nothing(index_elements=["key_hash"])
                await conn.execute(stmt, missing)

    async def load_active(self) -> dict[str, KeyRecord]:
        """Every active key, by hash."""
        table = api_keys_table
        stmt = select(table).where(table.c.status == KeyStatus.ACTIVE.value)
        async with self._db.engine.connect() as conn:
            result = await conn.execute(stmt)
            return {row.key_hash: key_record(row) for row in result}

    async def create(self, name: str) -> tuple[str, KeyRecord]:
        """Generate, store and return a new key; the raw key is returned once and never stored."""
        key = generate_key()
        key_hash = hash_key(key)
        table = api_keys_table
        stmt = (
            insert(table)
            .values(
                name=name,
                key_hash=key_hash,
                key_prefix=display_prefix(key),
                status=KeyStatus.ACTIVE.value,
                created_at=utcnow(),
            )
            .returning(table.c.id)
        )
        async with self._db.engine.begin() as conn:
            key_id = (await conn.execute(stmt)).scalar_one()
        return key, KeyRecord(key_id, name, key_hash)

    async def revoke(self, key_id: int) -> bool:
        """Mark a key revoked; False if no active key has that id."""
        table = api_keys_table
        stmt = (
            update(table)
            .where(table.c.id == key_id, table.c.status == KeyStatus.ACTIVE.value)
            .values(status=KeyStatus.REVOKED.value)
        )
        async with self._db.engine.begin() as conn:
            result = await conn.execute(stmt)
        return result.rowcount > 0
