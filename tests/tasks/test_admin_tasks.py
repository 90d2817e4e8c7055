"""``/admin/tasks`` through a running gateway against the mock's Kling and Veo: list with every filter and
paging, the counts by state, force-poll, cancel-and-refund (the reservation released, the ledger exact)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance, key_row, ledger, open_reservations
from tests.helpers.task_gateway import (
    ADMIN_KEY,
    KLING_MODEL,
    OTHER_KEY,
    PER_CALL_NANO,
    PER_SECOND_NANO,
    VEO_MODEL,
    call,
    task_gateway,
    until,
)

KLING_BODY = {"model_name": KLING_MODEL, "prompt": "a cat", "duration": "5"}
VEO_BODY = {"instances": [{"prompt": "a fox"}], "parameters": {"durationSeconds": 8}}


async def _kling(session: aiohttp.ClientSession, url: str, key: str = "sk-test-client-0001") -> str:
    status, created = await call(session, "POST", f"{url}/kling/v1/videos/text2video", key=key, body=KLING_BODY)
    assert status == 200, created
    return str(created["data"]["task_id"])


async def _admin(session: aiohttp.ClientSession, method: str, url: str) -> tuple[int, Any]:
    return await call(session, method, url, key=ADMIN_KEY)


async def test_list_filters_pages_and_counts(mock: MockUpstream, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'gw.db'}"
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        base = f"{running.url}/admin/tasks"
        mock.script({"pending_polls": 10_000}, times=2)  # these two stay running
        slow = await _kling(session, running.url)
        status, operation = await call(session, "POST", f"{running.url}/v1beta/models/{VEO_MODEL}:predictLongRunning",
                                       key=OTHER_KEY, body=VEO_BODY)  # fmt: skip
        assert status == 200, operation
        veo = operation["name"].rsplit("/", 1)[1]
        done = await _kling(session, running.url)

        async def succeeded() -> Any:
            _, task = await _admin(session, "GET", f"{base}/{done}")
            return task if task["status"] == "succeeded" else None

        task = await until(succeeded)
        assert (task["channel"], task["upstream_model"], task["model"]) == ("kling-main", KLING_MODEL, KLING_MODEL)
        assert task["upstream_id"] and task["seconds"] == 5.0 and task["protocol"] == "kling"
        assert task["cost_usd"] == (5 * PER_SECOND_NANO + PER_CALL_NANO) / 1e9
        assert {o["kind"] for o in task["outputs"]} >= {"video"}
        other = (await key_row(db_url, "other")).id

        async def ids(query: str) -> list[str]:
            status, page = await _admin(session, "GET", f"{base}?{query}")
            assert status == 200, page
            return [t["id"] for t in page["data"]]

        assert await ids("") == [done, veo, slow]  # newest first
        assert await ids("status=succeeded") == [done]
        assert sorted(await ids("status=queued,running")) == sorted([veo, slow])
        assert await ids(f"model={VEO_MODEL}") == [veo]
        assert await ids("channel=kling-main") == [done, slow]
        assert await ids(f"key_id={other}") == [veo]
        assert await ids("from=2999-01-01") == [] and await ids("to=2999-01-01") == [done, veo, slow]
        pages, after = [], ""
        while True:
            _, page = await _admin(session, "GET", f"{base}?limit=1{after}")
            pages += [t["id"] for t in page["data"]]
            if page["next_after"] is None:
                break
            after = f"&after={page['next_after']}"
        assert pages == [done, veo, slow]

        status, summary = await _admin(session, "GET", f"{base}/summary")
        assert status == 200 and summary["total"] == 3 and summary["live"] == 2
        assert summary["counts"]["succeeded"] == 1 and summary["counts"]["failed"] == 0
        assert summary["counts"]["queued"] + summary["counts"]["running"] == 2
        _, mine = await _admin(session, "GET", f"{base}/summary?key_id={other}")
        assert mine["total"] == 1
        status, usage = await _admin(session, "GET", f"{running.url}/admin/usage?by=model")
        assert status == 200 and sum(usage["tasks"].values()) == 3 and usage["tasks"]["succeeded"] == 1
        _, mine = await _admin(session, "GET", f"{running.url}/admin/usage?by=key&key_id={other}")
        assert sum(mine["tasks"].values()) == 1

        status, error = await _admin(session, "GET", f"{base}?status=bogus")
        assert status == 400 and error["error"]["param"] == "status"
        status, error = await _admin(session, "GET", f"{base}/task_nope")
        assert status == 404 and error["error"]["code"] == "task_not_found"
        status, error = await call(session, "GET", base)  # a client key is not the admin key
        assert status == 401


async def test_force_poll_and_cancel_refund(mock: MockUpstream, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'gw.db'}"
    async with (
        task_gateway(mock, tmp_path, poll_first=600, poll_max=600) as running,
        aiohttp.ClientSession() as session,
    ):
        base = f"{running.url}/admin/tasks"
        mock.script({"pending_polls": 10_000}, times=2)
        first, second = await _kling(session, running.url), await _kling(session, running.url)
        key = await key_row(db_url, "tester")
        reserved = key.reserved_nano
        assert reserved > 0 and len(await open_reservations(db_url)) == 2
        _, task = await _admin(session, "GET", f"{base}/{first}")
        assert task["poll_attempts"] == 0  # the first poll is 10 minutes away

        status, polled = await _admin(session, "POST", f"{base}/{first}/poll")
        assert status == 202 and polled["next_poll_at"] <= polled["updated_at"] + 1

        async def was_polled() -> Any:
            _, task = await _admin(session, "GET", f"{base}/{first}")
            return task if task["poll_attempts"] >= 1 else None

        task = await until(was_polled)
        assert task["status"] in ("queued", "running") and task["next_poll_at"] > task["updated_at"] + 60
        polls = [r for r in mock.requests if r.method == "GET" and "/v1/videos/text2video/" in r.path]
        assert len(polls) == 1  # only the forced one: the other task was left alone

        status, cancelled = await _admin(session, "POST", f"{base}/{first}/cancel")
        assert status == 200 and cancelled["status"] == "cancelled" and cancelled["cost_usd"] == 0
        assert cancelled["failure_code"] == "cancelled"
        key = await key_row(db_url, "tester")
        assert 0 < key.reserved_nano < reserved and key.used_nano == 0
        status, error = await _admin(session, "POST", f"{base}/{first}/cancel")
        assert status == 409 and error["error"]["code"] == "task_finished"
        status, error = await _admin(session, "POST", f"{base}/{first}/poll")
        assert status == 409
        _, gone = await call(session, "GET", f"{running.url}/kling/v1/videos/text2video/{first}")
        assert gone["data"]["task_status"] == "failed" and gone["data"]["task_status_msg"] == "cancelled"

        status, _ = await _admin(session, "POST", f"{base}/{second}/cancel")
        assert status == 200
    key, rows = await assert_books_balance(db_url, "tester")  # nothing reserved, used == the ledger's sum
    assert key.used_nano == 0 and len(rows) == 2 and all(row.cost_nano == 0 for row in rows)
    assert len(await ledger(db_url)) == 2


async def test_the_summary_counts_tasks_overdue_for_their_poll(mock: MockUpstream, tmp_path: Path) -> None:
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        poller = running.app.gateway.task_poller
        await poller.stop()  # a poller falling behind: nothing polls
        base = f"{running.url}/admin/tasks/summary"
        task_id = await _kling(session, running.url)

        async def overdue(query: str = "overdue_after=0") -> Any:
            status, summary = await _admin(session, "GET", f"{base}?{query}")
            assert status == 200, summary
            return summary if summary["overdue"] else None

        late = await until(overdue)  # its first poll (0.05 s after the submit) has passed, and nobody polled
        assert (late["overdue"], late["overdue_after"], late["live"]) == (1, 0, 1) and late["most_overdue_seconds"] > 0
        _, patient = await _admin(session, "GET", base)  # by default a poll is overdue a minute after it was due
        assert (patient["overdue"], patient["overdue_after"], patient["most_overdue_seconds"]) == (0, 60, None)
        _, other = await _admin(session, "GET", f"{base}?overdue_after=0&channel=veo-main")
        assert other["overdue"] == 0  # the filters apply
        status, error = await _admin(session, "GET", f"{base}?overdue_after=-1")
        assert status == 400 and error["error"]["param"] == "overdue_after"

        await poller.start()  # the poller catches up: the task finishes and is no longer overdue

        async def caught_up() -> Any:
            _, summary = await _admin(session, "GET", f"{base}?overdue_after=0")
            return summary if summary["counts"]["succeeded"] == 1 else None

        done = await until(caught_up)
        assert (done["overdue"], done["live"], done["most_overdue_seconds"]) == (0, 0, None)
        _, task = await _admin(session, "GET", f"{running.url}/admin/tasks/{task_id}")
        assert task["status"] == "succeeded"
