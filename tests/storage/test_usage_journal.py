"""No usage record is lost: refused records are set aside, a killed process's journal is replayed.

Against real SQLite and PostgreSQL; the crashes are real ``SIGKILL``s of a child process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from omnirouter.config import GatewayConfig
from omnirouter.storage import (
    Database,
    KeyStore,
    api_keys_table,
    dead_letters_table,
    migrate,
    reservations_table,
    usage_records_table,
)
from omnirouter.usage import UsageJournal, UsageRecord, UsageRecorder, journal_dir, replay_journals
from omnirouter.usage.replay import INTERRUPTED
from tests.helpers.usage_rows import refuse_model


@pytest.fixture
async def db_url(database_url: str) -> str:
    """A migrated database (SQLite and PostgreSQL)."""
    await migrate(database_url)
    return database_url


def record(request_id: str, key_id: int | None = None, cost: int = 0, model: str = "gpt-4o-mini") -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        model=model,
        inbound_protocol="openai_chat",
        status_code=200,
        latency_ms=1.0,
        key_id=key_id,
        cost_nano=cost,
    )


async def rows(db: Database, table: sa.Table = usage_records_table) -> list[sa.Row[tuple[object, ...]]]:
    async with db.engine.connect() as conn:
        return list(await conn.execute(sa.select(table)))


async def key_balance(db: Database, key_id: int) -> tuple[int, int]:
    async with db.engine.connect() as conn:
        row = (await conn.execute(sa.select(api_keys_table).where(api_keys_table.c.id == key_id))).one()
    return row.used_nano, row.reserved_nano


async def reserve(db: Database, key_id: int, request_id: str, amount: int) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            reservations_table.insert().values(
                request_id=request_id, key_id=key_id, amount_nano=amount, input_nano=0, model="m", owner=1
            )
        )
        await conn.execute(api_keys_table.update().where(api_keys_table.c.id == key_id).values(reserved_nano=amount))


async def test_a_refused_record_is_set_aside_and_every_other_one_lands(db_url: str) -> None:
    async with Database(db_url) as db:
        _, key = await KeyStore(db).create("k")
        await reserve(db, key.id, "req-poison", 9_000)
        await refuse_model(db, "poison")
        recorder = UsageRecorder(db, flush_interval=60, batch_size=500)
        for i in range(4):
            recorder.record(record(f"req-{i}", key.id, 1_000 + i))
        recorder.record(record("req-poison", key.id, 5_000, model="poison"), reserved=True)
        for i in range(4, 8):
            recorder.record(record(f"req-{i}", key.id, 1_000 + i))
        assert await recorder.flush() == 8
        assert recorder.pending == 0 and recorder.set_aside == 1
        landed = await rows(db)
        assert sorted(row.request_id for row in landed) == [f"req-{i}" for i in range(8)]
        letters = await rows(db, dead_letters_table)
        assert [(row.request_id, row.key_id, row.cost_nano) for row in letters] == [("req-poison", key.id, 5_000)]
        assert "refused by the test" in letters[0].error
        assert json.loads(letters[0].record)["model"] == "poison"
        # The set-aside charge is not applied, its reservation is released: the ledger sums to the balance.
        assert await key_balance(db, key.id) == (sum(row.cost_nano for row in landed), 0)
        async with db.engine.connect() as conn:
            assert (await conn.execute(sa.select(reservations_table))).all() == []
        await recorder.close()


async def test_an_outage_is_not_mistaken_for_a_refused_record(db_url: str) -> None:
    async with Database(db_url) as db:
        recorder = UsageRecorder(db, flush_interval=60, batch_size=2)
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE usage_dead_letters RENAME TO dead_off"))
            await conn.execute(sa.text("ALTER TABLE usage_records RENAME TO usage_off"))
        for i in range(3):
            recorder.record(record(f"req-{i}"))
        with pytest.raises(Exception, match="usage_records"):
            await recorder.flush()
        assert recorder.pending == 3 and recorder.set_aside == 0
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE usage_off RENAME TO usage_records"))
            await conn.execute(sa.text("ALTER TABLE dead_off RENAME TO usage_dead_letters"))
        assert await recorder.flush() == 3
        await recorder.close()


async def test_journal_files_come_and_go_with_the_batches(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "journal"
    async with Database(db_url) as db:
        recorder = UsageRecorder(db, flush_interval=60, journal=UsageJournal(folder, db.url, fsync_interval=0))
        await recorder.start()
        recorder.started("req-open", "gpt-4o-mini", "openai_chat", 1, "k", None)
        recorder.record(record("req-1"))
        segments = sorted(folder.glob("*.jnl"))
        assert len(segments) == 1 and segments[0].read_bytes().count(b"\n") == 2
        await recorder.flush()
        segments = sorted(folder.glob("*.jnl"))  # the sealed one is gone; the open request is carried over
        assert len(segments) == 1 and b"req-open" in segments[0].read_bytes()
        assert b"req-1" not in segments[0].read_bytes()
        recorder.record(record("req-open"))
        await recorder.close()
        assert list(folder.iterdir()) == []  # everything written: nothing left to replay


async def test_a_segment_made_ahead_takes_over_at_the_seal(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "journal"
    async with Database(db_url) as db:
        journal = UsageJournal(folder, db.url, fsync_interval=0)
        recorder = UsageRecorder(db, flush_interval=60, journal=journal)
        await recorder.start()
        recorder.started("req-open", "gpt-4o-mini", "openai_chat", 1, "k", None)
        recorder.record(record("req-1"))
        await journal.prepare()
        await journal.prepare()  # one spare at a time
        first, spare = sorted(folder.glob("*.jnl"))
        assert b"req-1" in first.read_bytes() and spare.read_bytes().strip(b"\0") == b""
        await recorder.flush()
        assert sorted(folder.glob("*.jnl")) == [spare]  # swapped in; the committed one deleted
        assert b"req-open" in spare.read_bytes() and b"req-1" not in spare.read_bytes()
        recorder.record(record("req-open"))
        await journal.prepare()
        await recorder.close()
        assert list(folder.iterdir()) == []  # the unused spare goes too
        assert {row.request_id for row in await rows(db)} == {"req-1", "req-open"}


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from omnirouter.storage import Database
    from omnirouter.usage import UsageJournal, UsageRecord, UsageRecorder

    async def main(url: str, folder: str, flushed: int, pending: int) -> None:
        db = Database(url)
        recorder = UsageRecorder(db, flush_interval=3600, journal=UsageJournal(Path(folder), db.url, 0))
        await recorder.start()
        def record(i: int) -> UsageRecord:
            return UsageRecord(request_id=f"req-{i}", model="m", inbound_protocol="openai_chat", status_code=200,
                               latency_ms=1.0, key_id=int(sys.argv[5]), cost_nano=100 + i)
        for i in range(flushed):
            recorder.record(record(i))
        await recorder.flush()
        for i in range(flushed, flushed + pending):
            recorder.record(record(i))
        recorder.started("req-in-flight", "m", "openai_chat", int(sys.argv[5]), "k", None)
        print("ready", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    """
)


async def _killed_when_ready(script: str, url: str, folder: Path, written: str, pending: str, key_id: int) -> None:
    """Run ``script`` (``CHILD`` or a variant) in a child process: ``written`` records stored, ``pending`` only
    queued; SIGKILL it once it says it is ready."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, url, str(folder), written, pending, str(key_id)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert await asyncio.to_thread(child.stdout.readline) == "ready\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()


async def test_a_killed_process_loses_no_record(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "journal"
    async with Database(db_url) as db:
        _, key = await KeyStore(db).create("k")
        await _killed_when_ready(CHILD, db.url, folder, "5", "7", key.id)
        assert len(await rows(db)) == 5  # the 7 queued ones were only in memory and in the journal
        assert await replay_journals(db, folder) == 8
        landed = {row.request_id: row for row in await rows(db)}
        assert set(landed) == {f"req-{i}" for i in range(12)} | {"req-in-flight"}
        assert landed["req-in-flight"].error_kind == INTERRUPTED and landed["req-in-flight"].status_code == 0
        used, _ = await key_balance(db, key.id)
        assert used == sum(row.cost_nano for row in landed.values()) == sum(100 + i for i in range(12))
        assert list(folder.iterdir()) == []
        assert await replay_journals(db, folder) == 0  # nothing twice
        assert len(await rows(db)) == 13


async def test_a_killed_process_loses_no_record_past_the_first_allocation(tmp_path: Path, db_url: str) -> None:
    """~1.6 MB of lines: the mapped segment grows past its first 1 MiB, and every line survives the kill."""
    folder = tmp_path / "journal"
    pending = 2500
    big_batches = CHILD.replace("flush_interval=3600,", "flush_interval=3600, batch_size=10_000,")  # no flush
    assert big_batches != CHILD
    async with Database(db_url) as db:
        _, key = await KeyStore(db).create("k")
        await _killed_when_ready(big_batches, db.url, folder, "0", str(pending), key.id)
        (segment,) = folder.glob("*.jnl")
        assert segment.stat().st_size > 1 << 20
        assert await replay_journals(db, folder) == pending + 1
        landed = {row.request_id for row in await rows(db)}
        assert landed == {f"req-{i}" for i in range(pending)} | {"req-in-flight"}
        used, _ = await key_balance(db, key.id)
        assert used == sum(100 + i for i in range(pending))


async def test_a_segment_that_cannot_be_allocated_is_written_line_by_line(tmp_path: Path, db_url: str) -> None:
    """No room for the mapped segment (here a file size limit below its allocation): lines are written
    with os.write, and a killed process still loses none."""
    folder = tmp_path / "journal"
    limited = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 19, 1 << 19))\n" + CHILD
    )
    async with Database(db_url) as db:
        _, key = await KeyStore(db).create("k")
        await _killed_when_ready(limited, db.url, folder, "0", "7", key.id)
        (segment,) = folder.glob("*.jnl")
        assert b"\0" not in segment.read_bytes() and segment.read_bytes().count(b"\n") == 8
        assert await replay_journals(db, folder) == 8
        assert {row.request_id for row in await rows(db)} == {f"req-{i}" for i in range(7)} | {"req-in-flight"}


def test_a_journal_written_line_by_line_reads_the_same(tmp_path: Path) -> None:
    """Segments of older versions (plain lines, no zero tail) and a mapped segment's zero tail."""
    from omnirouter.usage.journal import DeadJournal, Finished, Started

    encoder = msgspec.json.Encoder()
    started = Started("req-open", 1.0, "m", "openai_chat", 1, "k", None)
    lines = [encoder.encode(started), encoder.encode(Finished(record("req-1"), False))]
    old = tmp_path / "usage-x-1-aa.00000001.jnl"
    old.write_bytes(b"\n".join(lines) + b"\n" + lines[1][:20])  # ends with a line cut short
    mapped = tmp_path / "usage-x-1-aa.00000002.jnl"
    mapped.write_bytes(encoder.encode(Finished(record("req-2"), True)) + b"\n" + lines[1][:30] + bytes(4096))
    lock = tmp_path / "usage-x-1-aa.lock"
    lock.touch()
    journal = DeadJournal(lock, os.open(lock, os.O_RDWR))
    try:
        finished, in_flight = journal.read()
    finally:
        journal.release()
    assert [(f.record.request_id, f.reserved) for f in finished] == [("req-1", False), ("req-2", True)]
    assert in_flight == [started]


async def test_a_live_process_journal_and_another_databases_are_left_alone(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "journal"
    async with Database(db_url) as db:
        live = UsageRecorder(db, flush_interval=3600, journal=UsageJournal(folder, db.url, 0))
        await live.start()
        live.record(record("req-live"))
        other = UsageJournal(folder, "sqlite:///elsewhere.db", 0)
        other.open()
        other.finished(record("req-other"), False)
        other.close(committed=False)  # a dead journal, but of another database
        assert await replay_journals(db, folder) == 0
        assert await rows(db) == []
        await live.close()
        assert [row.request_id for row in await rows(db)] == ["req-live"]
        assert len(list(folder.glob("*.jnl"))) == 1  # the other database's journal is still there


def test_journal_folder_follows_the_database() -> None:
    def folder(**fields: object) -> Path | None:
        return journal_dir(msgspec.convert(fields, GatewayConfig))

    assert folder(database_url="sqlite:////srv/gw/omnirouter.db") == Path("/srv/gw/omnirouter.db.usage-journal")
    assert folder(database_url="postgresql://db.internal/omnirouter") == Path("omnirouter-journal")
    assert folder(database_url="sqlite:///x.db", usage_journal_dir="/var/lib/j") == Path("/var/lib/j")
    assert folder(usage_journal=False) is None
