"""Run the packaged Alembic migrations programmatically (no ``alembic.ini`` on disk).

Alembic (with Mako and Pygments, ~11 MB) is imported only when a migration has something to do: a
database already at the newest revision is recognised by one read of ``alembic_version``
(``is_current``), and ``omnirouter serve`` runs the migrations a new database needs in a child process
(``cli_prepare.py``), so a serving worker never holds Alembic."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from omnirouter.storage.database import Database
from omnirouter.storage.url import normalize_database_url

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "alembic_config", "head_revision", "is_current", "migrate"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Arbitrary constant for pg_advisory_xact_lock: replicas starting together migrate one at a time.
_PG_MIGRATION_LOCK = 0x6F6D6E69


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged scripts (also usable for ``command.revision``)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if database_url is not None:
        cfg.set_main_option("sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest packaged revision, read from the scripts' names (revision ``"0016"`` is ``0016_….py``;
    ``tests/storage`` checks this is Alembic's head)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


async def is_current(database_url: str) -> bool:
    """Whether the database is at the newest revision already: one read of ``alembic_version``, no Alembic."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:  # no version table yet: a new database
        return False
    finally:
        await db.close()
    return version == [head_revision()]


def _upgrade(connection: Connection) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _sqlite_transactional_ddl(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, issue BEGIN, and make it ``BEGIN IMMEDIATE``.

    The migration then runs as one transaction holding the write lock from the
    start, so processes migrating the same file at once wait for each other.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


_in_process: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def migrate(database_url: str) -> None:
    """Upgrade the database to the newest revision; a no-op when it is already there.

    Runs in one transaction holding a lock (a PostgreSQL advisory lock, the SQLite
    write lock), so replicas that start together do not race.  A SQLite file is
    created if absent.  Within one process, migrations also take turns: Alembic keeps
    its running context in module globals, which two at once would share.
    """
    loop = asyncio.get_running_loop()
    lock = _in_process.get(loop)
    if lock is None:
        lock = _in_process[loop] = asyncio.Lock()
    async with lock:
        if not await is_current(database_url):
            await _migrate(database_url)


async def _migrate(database_url: str) -> None:
    db = Database(database_url)
    if db.is_sqlite:
        _sqlite_transactional_ddl(db.engine)
    try:
        async with db.engine.begin() as conn:
            if not db.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            await conn.run_sync(_upgrade)
    finally:
        await db.close()
