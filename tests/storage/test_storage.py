"""Storage against real databases: SQLite files and a throwaway PostgreSQL database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, text

from omnirouter.storage import (
    Base,
    Database,
    KeyStore,
    alembic_config,
    api_keys_table,
    hash_key,
    is_current,
    migrate,
    normalize_database_url,
)
from omnirouter.storage.migrate import head_revision


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    await migrate(database_url)
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:////abs/path/x.db", "sqlite+aiosqlite:////abs/path/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?sslmode=require"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_normalize_database_url(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "sqlite+pysqlite:///x.db", "postgresql+psycopg2://u@h/db", "omnirouter.db", ""]
)
def test_normalize_database_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="database URL"):
        normalize_database_url(url)


def _schema(conn: Connection) -> tuple[set[str], list[object]]:
    tables = set(inspect(conn).get_table_names())
    diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    return tables, diff


async def test_migrate_is_idempotent_and_matches_models(database_url: str) -> None:
    assert not await is_current(database_url)  # a new database: no version table yet
    await migrate(database_url)
    assert await is_current(database_url)  # what the second migrate (and omnirouter serve) reads
    await migrate(database_url)
    async with Database(database_url) as db, db.engine.connect() as conn:
        tables, diff = await conn.run_sync(_schema)
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert {"api_keys", "usage_records", "response_states", "alembic_version"} <= tables
    assert diff == []
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head() == head_revision()


async def test_concurrent_migrations(database_url: str) -> None:
    await asyncio.gather(*(migrate(database_url) for _ in range(3)))
    async with Database(database_url) as db, db.engine.connect() as conn:
        tables, _ = await conn.run_sync(_schema)
    assert {"api_keys", "usage_records"} <= tables


def _downgrade(conn: Connection) -> set[str]:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, "base")
    return set(inspect(conn).get_table_names())


async def test_downgrade_then_upgrade(database_url: str) -> None:
    await migrate(database_url)
    async with Database(database_url) as db, db.engine.begin() as conn:
        tables = await conn.run_sync(_downgrade)
    assert not {"api_keys", "usage_records"} & tables
    await migrate(database_url)
    async with Database(database_url) as db:
        assert await KeyStore(db).load_active() == {}


async def test_sqlite_file_folder_and_pragmas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/gw.db"
    await migrate(url)
    assert (tmp_path / "nested/dir/gw.db").is_file()
    async with Database(url) as db, db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar_one() == 1  # NORMAL
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 5000


async def _all_key_rows(db: Database) -> list[tuple[object, ...]]:
    async with db.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(select(api_keys_table))]


async def test_ensure_keys_stores_only_hashes(db: Database) -> None:
    store = KeyStore(db)
    keys = [("alice", "sk-alice-0123456789abcdef"), ("bob", "sk-bob-fedcba9876543210")]
    await store.ensure_keys(keys)
    await store.ensure_keys([*keys, ("alice-again", keys[0][1])])

    rows = await _all_key_rows(db)
    assert len(rows) == 2
    dump = repr(rows)
    for _, key in keys:
        assert key not in dump
        assert hash_key(key) in dump
    assert "sk-alice…" in dump

    active = await store.load_active()
    assert set(active) == {hash_key(k) for _, k in keys}
    assert active[hash_key(keys[0][1])].name == "alice"
    assert active[hash_key(keys[1][1])].key_hash == hash_key(keys[1][1])


async def test_create_and_revoke(db: Database) -> None:
    store = KeyStore(db)
    key, record = await store.create("carol")
    assert re.fullmatch(r"sk-or-[A-Za-z0-9_-]{40}", key)
    assert record.key_hash == hash_key(key)
    assert key not in repr(await _all_key_rows(db))
    assert (await store.load_active())[record.key_hash] == record

    assert await store.revoke(record.id) is True
    assert await store.revoke(record.id) is False
    assert record.key_hash not in await store.load_active()

    # A revoked key listed in the config again stays revoked.
    await store.ensure_keys([("carol", key)])
    assert record.key_hash not in await store.load_active()
    async with db.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(api_keys_table))).scalar_one()
    assert count == 1


async def test_ensure_keys_empty_is_noop(db: Database) -> None:
    await KeyStore(db).ensure_keys([])
    assert await KeyStore(db).load_active() == {}


def test_hash_key() -> None:
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
