"""The gateway killed between the steps of create and of settle (``tasks/crashpoints.py``), restarted,
and the books summed: every task ends — succeeded and billed once (found again by our external id on
Kling) or failed and refunded (Veo cannot look a task up) — with exactly one ledger row, the key's
balance equal to its quota minus the settled costs and nothing left reserved.  On SQLite and PostgreSQL,
the real ``omnirouter serve`` as a child process, the official ``openai`` SDK as the client."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_video import VideoTask
from omnirouter.tasks.crashpoints import CRASH_POINTS
from tests.helpers.task_gateway import CLIENT_KEY, KLING_MODEL, PER_CALL_NANO, PER_SECOND_NANO, VEO_MODEL
from tests.helpers.task_processes import GatewayProcess, books, task_rows, wait_until, write_config

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

QUOTA_NANO = 10 * 10**9  # the tester key's 10 USD
KLING_COST = 5 * PER_SECOND_NANO + PER_CALL_NANO  # Kling's default 5 s, as its answer reports it
TERMINAL = ("succeeded", "failed", "cancelled")

CASES = [
    # crash point, model, how the task ends after the restart
    ("task_created", KLING_MODEL, "failed"),  # nothing was sent: Kling has no task of our external id
    ("task_created", VEO_MODEL, "failed"),
    ("submit_accepted", KLING_MODEL, "succeeded"),  # found at Kling by external_task_id
    ("submit_accepted", VEO_MODEL, "failed"),  # Veo cannot look up: refunded
    ("outputs_stored", KLING_MODEL, "succeeded"),  # polled again once the dead process's lease lapsed
    ("task_settled", KLING_MODEL, "succeeded"),  # already settled: the restart changes nothing
]


def test_every_named_point_is_tested() -> None:
    assert sorted({point for point, _, _ in CASES}) == sorted(CRASH_POINTS)


@pytest.mark.parametrize(("named", "code"), [("", 0), ("other_point", 0), ("other_point, task_settled", 137)])
def test_a_crash_point_ends_the_process_only_when_named(named: str, code: int) -> None:
    script = "from omnirouter.tasks.crashpoints import crash_point\ncrash_point('task_settled')\nprint('alive')"
    env = {**os.environ, "OMNIROUTER_CRASH_AT": named}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert ("alive" in done.stdout) == (code == 0)


def vendor_tasks(mock: MockUpstream, prompt: str) -> list[VideoTask]:
    return list(
        {id(t): t for t in mock.state.tasks.values() if isinstance(t, VideoTask) and t.prompt == prompt}.values()
    )


@pytest.mark.parametrize(("point", "model", "ends"), CASES, ids=[f"{p}-{m.split('-')[0]}" for p, m, _ in CASES])
async def test_a_gateway_killed_mid_task_is_finished_or_refunded_after_a_restart(
    mock: MockUpstream, tmp_path: Path, database_url: str, point: str, model: str, ends: str
) -> None:
    prompt = f"crash at {point} {uuid.uuid4().hex[:8]}"
    gateway = GatewayProcess(write_config(mock.url, tmp_path, database_url))
    try:
        await gateway.start(crash_at=point)
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            try:
                video = await client.videos.create(model=model, prompt=prompt)
                answered: str | None = video.id
            except openai.APIConnectionError:
                answered = None  # the process died under the create
        assert await gateway.died() == 137, gateway.output
        assert (answered is None) == (point in ("task_created", "submit_accepted"))
        (row,) = await task_rows(database_url)
        assert answered in (None, row.id)
        assert row.status not in TERMINAL or point == "task_settled"
        sent = vendor_tasks(mock, prompt)
        assert len(sent) == (0 if point == "task_created" else 1)

        await gateway.start()  # the same config, without the crash point
        await wait_until(lambda: _ended(database_url), within=60)
    finally:
        await gateway.stop()
    assert "Traceback" not in gateway.output, gateway.output

    (row,) = await task_rows(database_url)
    assert row.status == ends, (row.status, row.last_error, row.state)
    assert len(vendor_tasks(mock, prompt)) == (0 if point == "task_created" else 1)  # never submitted twice
    key = await books(database_url, "tester")
    assert [entry.request_id for entry in key.ledger] == [row.id]  # exactly one terminal ledger row
    cost = KLING_COST if ends == "succeeded" else 0
    assert key.ledger[0].cost_nano == row.cost_nano == cost
    assert key.ledger[0].status_code == (200 if ends == "succeeded" else 502)
    assert key.balance_nano == QUOTA_NANO - sum(entry.cost_nano for entry in key.ledger) == QUOTA_NANO - cost
    assert key.reserved_nano == 0
    assert key.reservations == []
    if ends == "failed":
        assert row.state is not None and "submit_unconfirmed" in row.state


async def _ended(url: str) -> bool:
    rows = await task_rows(url)
    return len(rows) == 1 and rows[0].status in TERMINAL
