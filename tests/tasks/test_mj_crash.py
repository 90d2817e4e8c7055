"""A Midjourney chain across a gateway killed in its middle (``tasks/crashpoints.py``) and restarted, on
SQLite and PostgreSQL, the real ``omnirouter serve`` as a child process: an imagine made before the crash
keeps its buttons in its row, so the chain goes on after the restart; a U1 whose process died after its
outputs were stored is finished by the restarted poller and billed once; one whose process died before its
vendor id was recorded is refunded (the proxy cannot look a task up by our id) and the same button pressed
again works.  The books sum exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.task_gateway import CLIENT_KEY, task_config
from tests.helpers.task_processes import FAST_LEASES, GatewayProcess, books, task_rows, wait_until

PRICES = {"mj_imagine": 0.04, "mj_upscale": 0.02, "mj_low_variation": 0.03}
QUOTA_NANO = 10 * 10**9


def _config(mock: MockUpstream, folder: Path, database_url: str) -> Path:
    raw: dict[str, Any] = task_config(mock.url, folder, **FAST_LEASES)
    raw["database_url"] = database_url
    raw["log_level"] = "warning"
    raw["channels"].append({"name": "mj", "provider": "midjourney", "base_url": mock.url, "api_keys": ["mj-secret"],
                            "models": ["mj_*"]})  # fmt: skip
    raw["prices"] |= {model: {"per_call": price} for model, price in PRICES.items()}
    path = folder / "omnirouter.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def _submit(http: httpx.AsyncClient, base: str, action: str, body: Any) -> str | None:
    """The new task's id (None: the process died under the submit)."""
    try:
        response = await http.post(f"{base}/mj/submit/{action}", json=body, headers={"mj-api-secret": CLIENT_KEY})
    except httpx.TransportError:
        return None
    answer = response.json()
    assert response.status_code == 200 and answer["code"] == 1, answer
    task_id: str = answer["result"]
    return task_id


async def _finished(http: httpx.AsyncClient, base: str, task_id: str) -> dict[str, Any]:
    async def done() -> Any:
        response = await http.get(f"{base}/mj/task/{task_id}/fetch", headers={"mj-api-secret": CLIENT_KEY})
        task = response.json()
        return task if task and task["status"] in ("SUCCESS", "FAILURE") else None

    found: dict[str, Any] = await wait_until(done, within=60)
    return found


@pytest.mark.parametrize("point", ["outputs_stored", "submit_accepted"])
async def test_a_chain_survives_a_gateway_killed_in_its_middle(
    mock: MockUpstream, tmp_path: Path, database_url: str, point: str
) -> None:
    gateway = GatewayProcess(_config(mock, tmp_path, database_url))
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await gateway.start()
            imagine = await _submit(http, gateway.url, "imagine", {"prompt": f"a crash {point}"})
            assert imagine is not None
            grid = await _finished(http, gateway.url, imagine)
            u1 = next(b["customId"] for b in grid["buttons"] if b["label"] == "U1")
            await gateway.stop()

            await gateway.start(crash_at=point)
            first = await _submit(http, gateway.url, "action", {"taskId": imagine, "customId": u1})
            assert await gateway.died() == 137, gateway.output
            assert (first is None) == (point == "submit_accepted")

            await gateway.start()  # the same config, without the crash point
            rows = await task_rows(database_url)
            upscale = first or next(row.id for row in rows if row.id != imagine)
            ended = await _finished(http, gateway.url, upscale)
            if point == "submit_accepted":
                assert ended["status"] == "FAILURE"  # never confirmed: refunded
                again = await _submit(http, gateway.url, "action", {"taskId": imagine, "customId": u1})
                assert again is not None
                ended = await _finished(http, gateway.url, again)
                upscale = again
            assert ended["status"] == "SUCCESS" and ended["action"] == "UPSCALE"
            vary = next(b["customId"] for b in ended["buttons"] if "low_variation" in b["customId"])
            varied = await _submit(http, gateway.url, "action", {"taskId": upscale, "customId": vary})
            assert varied is not None and (await _finished(http, gateway.url, varied))["status"] == "SUCCESS"
    finally:
        await gateway.stop()
    assert "Traceback" not in gateway.output, gateway.output
    key = await books(database_url, "tester")
    costs = {entry.request_id: entry.cost_nano for entry in key.ledger}
    assert len(key.ledger) == len(costs)  # one terminal row a task
    expected = {imagine: 40_000_000, upscale: 20_000_000, varied: 30_000_000}
    if point == "submit_accepted":
        refunded = next(row.id for row in await task_rows(database_url) if row.id not in expected)
        expected[refunded] = 0
    assert costs == expected
    assert key.balance_nano == QUOTA_NANO - sum(expected.values())
    assert key.reserved_nano == 0 and key.reservations == []
