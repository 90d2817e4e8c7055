"""The ledger's media columns (metered units, tokens by modality, image size and quality): written by the
recorder, carried by the journal (old journals still read), summed by the usage report.

Against real SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from omnirouter.ir import Usage
from omnirouter.storage import Database, migrate, usage_records_table
from omnirouter.usage import UsageJournal, UsageRecord, UsageRecorder, replay_journals
from omnirouter.usage.journal import Finished
from omnirouter.usage.report import UsageFilters, ledger_page, usage_report

NEW_FIELDS = (
    "images",
    "seconds",
    "characters",
    "calls",
    "image_input_tokens",
    "image_output_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "image_size",
    "image_quality",
)


@pytest.fixture
async def db_url(database_url: str) -> str:
    await migrate(database_url)
    return database_url


def record(request_id: str, model: str, usage: Usage, cost: int = 0) -> UsageRecord:
    base = UsageRecord(
        request_id=request_id, model=model, inbound_protocol="openai", status_code=200, latency_ms=1.0, cost_nano=cost
    )
    return base.with_usage(usage)


IMAGE = Usage(input_tokens=50, output_tokens=4160, image_output_tokens=4160, images=1, image_size="1024x1536",
              image_quality="high")  # fmt: skip
SPEECH = Usage(input_tokens=12, characters=1234, seconds=7.25)
TRANSCRIPT = Usage(input_tokens=900, audio_input_tokens=850, output_tokens=40, seconds=61.5)
SEARCH = Usage(input_tokens=10, output_tokens=3, calls=2)


async def test_the_report_sums_units_and_modality_tokens(db_url: str) -> None:
    async with Database(db_url) as db:
        recorder = UsageRecorder(db, flush_interval=60)
        traffic = [("gpt-image-1", IMAGE), ("gpt-image-1", IMAGE), ("tts-1", SPEECH), ("whisper-1", TRANSCRIPT),
                   ("whisper-1", TRANSCRIPT), ("search", SEARCH)]  # fmt: skip
        for i, (model, usage) in enumerate(traffic):
            recorder.record(record(f"req-{i}", model, usage, cost=1000 + i))
        assert await recorder.flush() == 6
        await recorder.close()
        async with db.engine.connect() as conn:
            report = await usage_report(conn, "model", UsageFilters())
            page = await ledger_page(conn, limit=10)
    totals = report.totals
    assert totals.requests == 6
    assert (totals.images, totals.characters, totals.calls) == (2, 1234, 2)
    assert totals.seconds == pytest.approx(7.25 + 2 * 61.5)
    assert (totals.image_output_tokens, totals.audio_input_tokens) == (2 * 4160, 2 * 850)
    assert (totals.image_input_tokens, totals.audio_output_tokens) == (0, 0)
    assert totals.total_tokens == 2 * 4210 + 12 + 2 * 940 + 13
    by_model = {group.group: group for group in report.data}
    assert by_model["gpt-image-1"].images == 2 and by_model["gpt-image-1"].seconds == 0
    assert by_model["whisper-1"].seconds == pytest.approx(123.0) and by_model["whisper-1"].audio_input_tokens == 1700
    assert by_model["tts-1"].characters == 1234 and by_model["search"].calls == 2
    entries = {entry.request_id: entry for entry in page.data}
    assert entries["req-0"].image_size == "1024x1536" and entries["req-0"].image_quality == "high"
    assert entries["req-3"].seconds == 61.5 and entries["req-2"].image_size == ""


async def test_hostile_unit_values_are_stored_sanitised(db_url: str) -> None:
    async with Database(db_url) as db:
        recorder = UsageRecorder(db, flush_interval=60)
        for i, seconds in enumerate((math.nan, -3.0, math.inf)):
            usage = Usage(seconds=seconds, images=-1, characters=10**12, image_size="x" * 1000 + "\x00")
            recorder.record(record(f"bad-{i}", "m", usage))
        assert await recorder.flush() == 3
        await recorder.close()
        async with db.engine.connect() as conn:
            rows = list(await conn.execute(sa.select(usage_records_table)))
    for row in rows:
        assert (row.seconds, row.images, row.characters) == (0.0, 0, 2**31 - 1)
        assert len(row.image_size) == 256 and "\x00" not in row.image_size


async def test_the_journal_carries_the_units_and_old_journals_still_replay(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "journal"
    async with Database(db_url) as db:
        journal = UsageJournal(folder, db.url, fsync_interval=0)
        journal.open()
        journal.finished(record("req-new", "gpt-image-1", IMAGE, cost=7), reserved=False)
        # A line as the journal wrote it before the media columns existed: the record without them.
        line = json.loads(journal_line(record("req-old", "gpt-4o", Usage(input_tokens=5, output_tokens=2))))
        for name in NEW_FIELDS:
            del line[1][name]
        [segment] = sorted(folder.glob("*.jnl"))
        with segment.open("a") as out:
            out.write(json.dumps(line) + "\n")
        journal.close(committed=False)  # as if the process died: the journal is left for the next start
        assert await replay_journals(db, folder) == 2
        async with db.engine.connect() as conn:
            rows = {row.request_id: row for row in await conn.execute(sa.select(usage_records_table))}
    new, old = rows["req-new"], rows["req-old"]
    assert (new.images, new.image_output_tokens, new.image_size, new.image_quality) == (1, 4160, "1024x1536", "high")
    assert new.cost_nano == 7
    assert (old.input_tokens, old.output_tokens, old.images, old.seconds, old.image_size) == (5, 2, 0, 0.0, "")


def journal_line(rec: UsageRecord) -> bytes:
    return msgspec.json.encode(Finished(rec, False))


def test_the_request_lifecycle_records_every_usage_field_the_ledger_has() -> None:
    from omnirouter.api.lifecycle import usage_record
    from omnirouter.relay.context import RequestContext

    ctx = RequestContext("openai")
    ctx.model, ctx.usage = "gpt-image-1", msgspec.structs.replace(IMAGE, seconds=2.5, characters=9, calls=1,
                                                                  audio_input_tokens=4, audio_output_tokens=5,
                                                                  image_input_tokens=6, cached_tokens=1)  # fmt: skip
    made = usage_record(ctx)
    shared = set(Usage.__struct_fields__) & set(UsageRecord.__struct_fields__)
    assert set(NEW_FIELDS) <= shared
    assert {name: getattr(made, name) for name in shared} == {name: getattr(ctx.usage, name) for name in shared}
    assert made.with_usage(Usage()).with_usage(ctx.usage) == made  # with_usage carries the same fields
