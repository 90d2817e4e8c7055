"""The engine's side of the seconds a vendor makes, on SQLite and PostgreSQL: ``begin`` reserves and records
them per the planned vendor (nothing is sent), falls back to the dialect's budget where nobody knows them,
and ``task_usage`` bills the vendor's report, else them, times the clips."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest

from omnirouter.ir import Usage
from omnirouter.ir.task import TaskKind, TaskRequest
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.tasks.base import TaskVendor
from omnirouter.protocols.tasks.hailuo import HAILUO_VIDEO
from omnirouter.protocols.tasks.hunyuan import HUNYUAN_VIDEO
from omnirouter.protocols.tasks.kling import KLING_VIDEO
from omnirouter.protocols.tasks.veo import VEO_VIDEO
from omnirouter.routing import Channel
from omnirouter.tasks import TaskRecord, TaskSummary
from omnirouter.tasks.engine import VendorFor
from omnirouter.tasks.ledger import task_usage
from tests.helpers.task_bench import KEY, MODEL, PER_CALL_NANO, PER_SECOND_NANO, budget, task_bench


def cost(seconds: float) -> int:
    return int(seconds * PER_SECOND_NANO) + PER_CALL_NANO


def only(vendor: TaskVendor) -> VendorFor:
    def vendor_for(channel: Channel, kind: TaskKind) -> TaskVendor | None:
        return vendor

    return vendor_for


@pytest.mark.parametrize(
    ("vendor", "request_", "reserved", "made"),
    [
        pytest.param(
            KLING_VIDEO, TaskRequest(model=MODEL, prompt="p", seconds=8), cost(10), 10.0, id="kling-8-makes-10"
        ),
        pytest.param(KLING_VIDEO, TaskRequest(model=MODEL, prompt="p"), cost(5), 5.0, id="kling-default-5"),
        pytest.param(VEO_VIDEO, TaskRequest(model=MODEL, prompt="p", seconds=5, n=4), cost(4 * 4), 4.0, id="veo-4x4"),
        # nobody knows what Hunyuan makes: the dialect's budget (10 s) is held, the asked seconds shown
        pytest.param(HUNYUAN_VIDEO, TaskRequest(model=MODEL, prompt="p", seconds=3), cost(10), None, id="hunyuan"),
        # a request the vendor refuses (its submit will say why): the dialect's budget is held
        pytest.param(
            HAILUO_VIDEO,
            TaskRequest(model=MODEL, prompt="p", seconds=8, resolution="4k"),
            cost(10),
            None,
            id="hailuo-refused",
        ),
    ],
)
async def test_begin_reserves_and_records_what_the_planned_vendor_makes(
    vendor: TaskVendor,
    request_: TaskRequest,
    reserved: int,
    made: float | None,
    database_url: str,
    mock: MockUpstream,
    tmp_path: Path,
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench:
        bench.engine.vendor_for = only(vendor)
        record = await bench.engine.begin(KEY, "test", request_, budget(10))
        assert record.reserved_nano == reserved and record.summary.made_seconds == made
        stored = await bench.engine.load(record.id)
        assert stored is not None and stored.summary.made_seconds == made
        assert stored.shown_seconds() == (made if made is not None else request_.seconds)
        money = await bench.money()
        assert (money["reserved"], money["reservations"]) == (reserved, 1)
        assert not [r for r in mock.requests if r.method == "POST"]  # begin sends nothing


def _record(request: TaskRequest, summary: TaskSummary) -> TaskRecord:
    row = {
        "id": "task_1", "kind": "video", "key_id": 1, "user_id": None, "protocol": "openai", "model": MODEL,
        "channel": "c", "upstream_model": "u", "upstream_id": "up", "status": "running", "progress": None,
        "request": msgspec.json.encode(request).decode(), "state": msgspec.json.encode(summary).decode(),
        "last_error": None, "idempotency_key": None, "reserved_nano": 0, "cost_nano": 0, "next_poll_at": None,
        "lease_owner": None, "lease_until": None, "poll_attempts": 0, "poll_errors": 0, "deadline_at": 0.0,
        "created_at": 0.0, "updated_at": 0.0, "finished_at": None, "callback_url": None, "deleted_at": None,
    }  # fmt: skip
    return TaskRecord.of(SimpleNamespace(**row))


@pytest.mark.parametrize(
    ("asked", "n", "made", "reported", "billed"),
    [
        (8, None, 10.0, 10.042, 10.042),  # the vendor's report wins (Kling's "10.042")
        (8, None, 10.0, None, 10.0),  # no report: what the vendor makes, not what was asked
        (7, 3, 6.0, None, 18.0),  # samples multiply (Veo's sampleCount)
        (3, None, None, None, 3.0),  # nobody knows what is made: the asked seconds
        (None, None, None, None, 0.0),  # nor asked: the call alone
    ],
)
def test_task_usage_bills_the_report_else_the_made_seconds_times_the_clips(
    asked: float | None, n: int | None, made: float | None, reported: float | None, billed: float
) -> None:
    request = TaskRequest(model=MODEL, prompt="p", seconds=asked, n=n)
    record = _record(request, TaskSummary(seconds=reported, made_seconds=made))
    usage = task_usage(record, Usage(output_tokens=7))
    assert (usage.seconds, usage.calls, usage.output_tokens) == (billed, 1, 7)
