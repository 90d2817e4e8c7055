"""The async engine, one per process, with pragmas and pool settings per backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from omnirouter.storage.background_writes import BackgroundWrites
from omnirouter.storage.url import normalize_database_url

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert

__all__ = ["Database", "sqlite_path", "upsert_insert"]

SQLITE_BUSY_TIMEOUT_MS = 5000


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or ``None`` for in-memory and ``file:`` URI databases."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri") or database.startswith("file:"):
        return None
    return Path(database)


def upsert_insert(dialect: str) -> Callable[[Table], SQLiteInsert | PostgresInsert]:
    """The ``insert`` (with ``ON CONFLICT`` clauses) of the dialect named ``dialect`` (``"sqlite"``, else
    PostgreSQL's).  Imports only that dialect's module: a SQLite deployment does not load PostgreSQL's (~2 MB)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    from sqlalchemy.dialects import postgresql

    return postgresql.insert


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the one writer; NORMAL sync is safe under WAL."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()
        if mode is None or str(mode[0]).lower() != "wal":  # WAL is kept in the file: only a new file switches
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


class Database:
    """Owns the ``AsyncEngine`` for one database URL (any form ``normalize_database_url`` accepts).

    SQLite: a small queue pool of aiosqlite connections, each set to WAL,
    ``synchronous=NORMAL`` and a busy timeout; the file's folder is created.
    PostgreSQL: a pool of asyncpg connections, pre-pinged so a database restart
    costs one failed checkout, not a failed request.  ``background`` runs the background
    writers' transactions (usage batches), on SQLite files in a thread of their own.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_database_url(url)
        sa_url = make_url(self.url)
        self.backend = sa_url.get_backend_name()
        if self.backend == "sqlite":
            path = sqlite_path(sa_url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(sa_url, echo=echo)
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            self.background = BackgroundWrites(self.engine, path is not None, _sqlite_on_connect)
        else:
            self.engine = create_async_engine(
                sa_url,
                echo=echo,
                pool_size=10,
                max_overflow=10,
                pool_timeout=30,
                pool_recycle=1800,
                pool_pre_ping=True,
                connect_args={"timeout": 10, "command_timeout": 60},
            )
            self.background = BackgroundWrites(self.engine, False, _sqlite_on_connect)

    @property
    def is_sqlite(self) -> bool:
        """True for SQLite, False for PostgreSQL."""
        return self.backend == "sqlite"

    async def close(self) -> None:
        """Close every pooled connection (the background writer's too)."""
        await self.background.close()
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"
