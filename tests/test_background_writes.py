"""Background transactions: one hop to a writer thread on SQLite files, the event loop elsewhere; all or nothing."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from omnirouter.storage import Database, migrate
from omnirouter.usage.writer import SQLITE_SLICE, UsageWriter
from tests.test_storage import postgres_database, reset_postgres
from tests.test_usage import count_rows, make_record


@pytest.fixture(scope="module")
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path}/bg.db" if request.param == "sqlite" else await reset_postgres(postgres_url)
    await migrate(url)
    async with Database(url) as database:
        yield database


def insert_rows(conn: Connection, count: int, fail: bool = False) -> str:
    UsageWriter(conn.dialect).write(conn, [make_record(i) for i in range(count)])
    if fail:
        raise RuntimeError("after the insert")
    return threading.current_thread().name


async def test_a_batch_commits_whole_or_not_at_all(db: Database) -> None:
    with pytest.raises(RuntimeError, match="after the insert"):
        await db.background.run(insert_rows, 3, True)
    assert await count_rows(db) == 0
    thread = await db.background.run(insert_rows, SQLITE_SLICE * 2 + 3)
    assert await count_rows(db) == SQLITE_SLICE * 2 + 3
    if db.is_sqlite:  # a SQLite file: the writer's own thread, off the event loop
        assert thread.startswith("omnirouter-db-writer")
    else:  # asyncpg: on the event loop, through run_sync
        assert thread == threading.current_thread().name


async def test_the_async_sqlite_driver_takes_the_same_multi_row_inserts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/adapter.db"
    await migrate(url)
    async with Database(url) as db:
        records = [make_record(i) for i in range(SQLITE_SLICE * 3 + 1)]
        async with db.engine.begin() as conn:
            await conn.run_sync(UsageWriter(conn.dialect).write, records)
        assert await count_rows(db) == len(records)
        async with db.engine.connect() as conn:
            ids = (await conn.execute(text("SELECT request_id FROM usage_records ORDER BY id"))).scalars().all()
        assert ids == [r.request_id for r in records]
