"""The usage recorder against real databases: batching, shutdown, failures, sanitising; background transactions."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import Connection, text

from omnirouter.ir.usage import Usage
from omnirouter.storage import Database, migrate, usage_records_table
from omnirouter.usage import UsageRecord, UsageRecorder, recent_usage
from omnirouter.usage.record import COLUMNS
from omnirouter.usage.recorder import OBSERVE_SLICE
from omnirouter.usage.writer import SQLITE_SLICE, UsageWriter
from tests.helpers.postgres import reset_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Database]:
    """A freshly migrated database: a new SQLite file, or the module's PostgreSQL database emptied."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/usage.db"
    else:
        url = await reset_postgres(postgres_url)
    await migrate(url)
    async with Database(url) as database:
        yield database


def make_record(i: int, **overrides: object) -> UsageRecord:
    fields: dict[str, object] = {
        "request_id": f"req-{i}",
        "model": "gpt-4o",
        "inbound_protocol": "openai_chat",
        "status_code": 200,
        "latency_ms": 12.5 + i,
    }
    fields.update(overrides)
    return UsageRecord(**fields)  # type: ignore[arg-type]


async def count_rows(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM usage_records"))).scalar_one())


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def set_table_present(db: Database, present: bool) -> None:
    """Rename ``usage_records`` away (to make writes fail) and back."""
    old, new = ("usage_records_off", "usage_records") if present else ("usage_records", "usage_records_off")
    async with db.engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_columns_match_table_and_struct() -> None:
    assert tuple(c.name for c in usage_records_table.c if c.name != "id") == COLUMNS
    assert set(COLUMNS) == set(UsageRecord.__struct_fields__)


async def test_record_is_synchronous() -> None:
    assert not inspect.iscoroutinefunction(UsageRecorder.record)
    # No database behind it at all: record() still only buffers.
    async with Database("postgresql://nobody@127.0.0.1:1/none") as nowhere:
        recorder = UsageRecorder(nowhere)
        recorder.record(make_record(1))
        assert recorder.pending == 1


async def test_flush_writes_all_fields(db: Database) -> None:
    recorder = UsageRecorder(db, flush_interval=60, batch_size=500)
    full = make_record(
        0,
        created_at=1_700_000_000.25,
        key_id=7,
        key_name="alice",
        upstream_model="gpt-4o-2024-08-06",
        channel="openai-main",
        provider="openai",
        stream=True,
        status_code=502,
        error_kind="upstream_5xx",
        ttfb_ms=3.5,
        attempts=3,
    ).with_usage(
        Usage(
            input_tokens=100,
            output_tokens=50,
            cached_tokens=20,
            cache_write_tokens=10,
            reasoning_tokens=5,
            estimated=True,
            images=2,
            seconds=12.345,
            characters=1234,
            calls=3,
            image_input_tokens=30,
            image_output_tokens=40,
            audio_input_tokens=25,
            audio_output_tokens=6,
            image_size="1024x1536",
            image_quality="high",
        )
    )
    for i in range(1, 1234):
        recorder.record(make_record(i))
    recorder.record(full)
    assert recorder.pending == 1234
    assert await recorder.flush() == 1234
    assert recorder.pending == 0
    assert await count_rows(db) == 1234

    rows = await recent_usage(db, limit=2000, key_id=7)
    assert len(rows) == 1
    row = rows[0]
    assert isinstance(row.pop("id"), int)
    assert row.pop("created_at") == datetime.fromtimestamp(1_700_000_000.25, UTC)
    expected = {k: v for k, v in msgspec.structs.asdict(full).items() if k != "created_at"}
    assert row == expected

    newest = await recent_usage(db, limit=3)
    assert [r["request_id"] for r in newest] == ["req-1233", "req-1232", "req-1231"]
    assert newest[0]["created_at"].tzinfo is not None
    await recorder.close()


async def test_background_batches_and_close_flushes_rest(db: Database) -> None:
    recorder = UsageRecorder(db, flush_interval=60, batch_size=10)
    await recorder.start()
    for i in range(25):
        recorder.record(make_record(i))

    async def all_written() -> bool:
        return await count_rows(db) == 25

    # A full batch wakes the writer long before the 60 s interval; it takes everything waiting.
    await eventually(all_written)
    for i in range(25, 28):
        recorder.record(make_record(i))
    await asyncio.sleep(0.05)
    assert recorder.pending == 3
    await recorder.close()
    assert recorder.pending == 0
    assert await count_rows(db) == 28


async def test_interval_flush(db: Database) -> None:
    async with UsageRecorder(db, flush_interval=0.05, batch_size=500) as recorder:
        for i in range(3):
            recorder.record(make_record(i))

        async def written() -> bool:
            return await count_rows(db) == 3

        await eventually(written)


async def test_failed_flush_keeps_records(db: Database) -> None:
    recorder = UsageRecorder(db, flush_interval=60, batch_size=2)
    await set_table_present(db, False)
    for i in range(5):
        recorder.record(make_record(i))
    with pytest.raises(Exception, match="usage_records"):
        await recorder.flush()
    assert recorder.pending == 5
    recorder.record(make_record(5))

    await set_table_present(db, True)
    assert await recorder.flush() == 6
    rows = await recent_usage(db)
    assert sorted(r["request_id"] for r in rows) == [f"req-{i}" for i in range(6)]
    await recorder.close()


async def test_background_retries_after_outage(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    recorder = UsageRecorder(db, flush_interval=0.02, batch_size=500)
    await set_table_present(db, False)
    await recorder.start()
    for i in range(4):
        recorder.record(make_record(i))
    with caplog.at_level(logging.WARNING, logger="omnirouter.usage.recorder"):

        async def retried() -> bool:  # two failed flushes: the first and a retry
            return caplog.text.count("usage flush failed") >= 2

        await eventually(retried)
    # Nothing written, nothing set aside: the records wait (in the buffer, or in a flush under way).
    assert (recorder.written, recorder.set_aside) == (0, 0)

    await set_table_present(db, True)

    async def landed() -> bool:
        return await count_rows(db) == 4

    await eventually(landed)
    await recorder.close()
    assert (recorder.written, recorder.set_aside, recorder.pending) == (4, 0, 0)


async def test_buffer_cap_drops_newest_with_warning(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    recorder = UsageRecorder(db, flush_interval=60, batch_size=5, max_buffer=10)
    for i in range(15):
        recorder.record(make_record(i))
    assert recorder.pending == 10
    assert recorder.dropped == 5
    with caplog.at_level(logging.WARNING, logger="omnirouter.usage.recorder"):
        await recorder.close()
    assert "dropped 5 records" in caplog.text
    rows = await recent_usage(db)
    assert sorted(r["request_id"] for r in rows) == sorted(f"req-{i}" for i in range(10))


async def test_hostile_values_do_not_block_the_batch(db: Database) -> None:
    recorder = UsageRecorder(db, flush_interval=60)
    recorder.record(
        make_record(
            0,
            model="bad\x00model-" + "x" * 1000,
            request_id="\ud800lone-surrogate",
            latency_ms=math.nan,
            ttfb_ms=math.inf,
            input_tokens=10**12,
            output_tokens=-3,
            created_at=1e300,
        )
    )
    recorder.record(make_record(1))
    assert await recorder.flush() == 2
    rows = {r["latency_ms"]: r for r in await recent_usage(db)}
    bad = rows[0.0]
    assert len(bad["model"]) == 256
    assert bad["model"].startswith("bad\ufffdmodel-")
    assert bad["request_id"].endswith("lone-surrogate")
    assert bad["ttfb_ms"] is None
    assert (bad["input_tokens"], bad["output_tokens"]) == (2**31 - 1, 0)
    await recorder.close()


def test_constructor_validates() -> None:
    db = Database("sqlite:///:memory:")
    with pytest.raises(ValueError):
        UsageRecorder(db, flush_interval=0)
    with pytest.raises(ValueError):
        UsageRecorder(db, batch_size=0)
    with pytest.raises(ValueError):
        UsageRecorder(db, batch_size=10, max_buffer=5)


# ------------------------------------------- background transactions (Database.background, UsageWriter)


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


async def test_observer_gets_each_record_once_whether_or_not_the_database_takes_it(db: Database) -> None:
    seen: list[str] = []

    def observer(records: Sequence[UsageRecord]) -> None:
        seen.extend(record.request_id for record in records)

    recorder = UsageRecorder(db, flush_interval=0.02, observer=observer)
    await set_table_present(db, False)  # every write fails: the records stay queued and are retried
    await recorder.start()
    for i in range(4):
        recorder.record(make_record(i))

    async def observed() -> bool:
        return len(seen) >= 4

    await eventually(observed)
    assert recorder.written == 0  # seen before any write succeeded
    await set_table_present(db, True)

    async def landed() -> bool:
        return await count_rows(db) == 4

    await eventually(landed)
    recorder.observed(make_record(9, request_id="task_1"))  # a row written elsewhere (a task's end)
    recorder.record(make_record(5))
    await recorder.close()
    assert sorted(seen) == ["req-0", "req-1", "req-2", "req-3", "req-5", "task_1"]  # retries are not seen twice


async def test_observer_gets_a_big_tick_in_slices_each_record_once(db: Database) -> None:
    slices: list[list[str]] = []

    def observer(records: Sequence[UsageRecord]) -> None:
        slices.append([record.request_id for record in records])

    recorder = UsageRecorder(db, flush_interval=60, batch_size=10_000, observer=observer)
    count = 2 * OBSERVE_SLICE + 7
    for i in range(count):
        recorder.record(make_record(i))
    assert await recorder.flush() == count
    assert [len(part) for part in slices] == [OBSERVE_SLICE, OBSERVE_SLICE, 7]
    assert [rid for part in slices for rid in part] == [f"req-{i}" for i in range(count)]
    await recorder.close()
