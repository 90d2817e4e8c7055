"""Client keys: stored as SHA-256 hashes, loaded into memory for O(1) auth lookups."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC
from typing import TYPE_CHECKING, Any

import msgspec
import orjson
from sqlalchemy import insert, select, update

from omnirouter.storage.database import Database, upsert_insert
from omnirouter.storage.models import KeyStatus, api_keys_table, utcnow

if TYPE_CHECKING:
    from omnirouter.config.schema import KeyConfig

__all__ = [
    "DEMO_SOURCE",
    "KEY_PREFIX",
    "KeyRecord",
    "KeyStore",
    "display_prefix",
    "generate_key",
    "hash_key",
    "key_record",
]

KEY_PREFIX = "sk-or-"
DEMO_SOURCE = "demo"  # ``api_keys.source`` of demo mode's client key (docs/operations.md, "Demo mode")


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
    callback_url: str | None = None  # the default webhook target of its tasks (docs/tasks.md "Webhooks")


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
        callback_url=row.callback_url,
    )


_CONFIG_COLUMNS = (
    "name",
    "rpm",
    "tpm",
    "max_concurrent",
    "quota_nano",
    "models",
    "ip_allow",
    "group_name",
    "expires_at",
    "source",
    "callback_url",
)


def _json_list(values: list[str] | None) -> str | None:
    return None if values is None else orjson.dumps(values).decode()


def _config_settings(name: str, config: KeyConfig | None) -> dict[str, object]:
    """The ``api_keys`` columns a config key's entry sets (``_CONFIG_COLUMNS``)."""
    expires_at = config.expires_at if config is not None else None
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    quota_usd = config.quota_usd if config is not None else None
    return {
        "name": name,
        "rpm": config.rpm if config is not None else None,
        "tpm": config.tpm if config is not None else None,
        "max_concurrent": config.max_concurrent if config is not None else None,
        "quota_nano": None if quota_usd is None else round(quota_usd * 1_000_000_000),
        "models": _json_list(config.models) if config is not None else None,
        "ip_allow": _json_list(config.ip_allow) if config is not None else None,
        "group_name": config.group if config is not None else None,
        "expires_at": expires_at,
        "source": "config",
        "callback_url": config.callback_url if config is not None else None,
    }


class KeyStore:
    """Reads and writes ``api_keys``; never stores or returns a stored raw key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure_keys(self, keys: Iterable[KeyConfig | tuple[str, str]]) -> None:
        """Make the configured keys exist with their configured settings (config is their source of truth).

        A key whose hash is absent is created, active.  An existing one is given the config's name,
        limits (``rpm``, ``tpm``, ``max_concurrent``), quota, model and IP allow-lists, group and
        expiry, and ``source="config"`` (also when it was created through the API); its status (a
        revoked key stays revoked) and its spending are never touched.  A ``(name, key)`` pair is a
        key without limits.  The first entry of a repeated key wins.  Safe against replicas doing the same.
        """
        rows: dict[str, dict[str, object]] = {}
        for item in keys:
            name, key = item if isinstance(item, tuple) else (item.name, item.key)
            key_hash = hash_key(key)
            if key_hash not in rows:
                rows[key_hash] = {
                    "key_hash": key_hash,
                    "key_prefix": display_prefix(key),
                    "status": KeyStatus.ACTIVE.value,
                    "created_at": utcnow(),
                    **_config_settings(name, None if isinstance(item, tuple) else item),
                }
        if not rows:
            return
        upsert = upsert_insert(self._db.engine.dialect.name)
        stmt = upsert(api_keys_table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key_hash"], set_={column: stmt.excluded[column] for column in _CONFIG_COLUMNS}
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(stmt, list(rows.values()))

    async def replace_demo_key(self, key: str | None) -> None:
        """Revoke every earlier demo key, then store ``key`` (if any) as the one active demo key.

        A demo key is printed on stdout and has no limits, so it must never outlive demo mode: each start
        revokes the last one (``None`` when demo mode is off); rows are kept for the ledger.
        """
        table = api_keys_table
        revoke = (
            update(table)
            .where(table.c.source == DEMO_SOURCE, table.c.status == KeyStatus.ACTIVE.value)
            .values(status=KeyStatus.REVOKED.value)
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(revoke)
            if key is not None:
                row = {
                    "name": "demo",
                    "key_hash": hash_key(key),
                    "key_prefix": display_prefix(key),
                    "status": KeyStatus.ACTIVE.value,
                    "created_at": utcnow(),
                    "source": DEMO_SOURCE,
                }
                await conn.execute(insert(table).values(**row))

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
