"""The task engine runs image tasks on the registry's image codecs (Kling images, the Hunyuan panorama)
against the mock upstream, on SQLite and PostgreSQL: the codec is the provider's ``IMAGE_TASK`` one, each
image the vendor made is copied to the result store and decodes, and the money is settled (or refunded)
exactly once, the ledger summing to what the key was charged."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from omnirouter.config.schema import ChannelConfig
from omnirouter.ir import Budget
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from omnirouter.routing import Channel
from omnirouter.tasks.engine import registry_vendor
from tests.helpers.task_bench import FIRST, KEY, MODEL, MOST, PER_CALL_NANO, Bench, task_bench

CHANNELS = {
    "kling": ("kling-v3-omni", f"akeng|{mock_secret('akeng')}", "PNG"),
    "tencent": ("Hunyuan:3.0", "AKIDeng|AKIDeng-secret", "JPEG"),
}


def _channel(mock: MockUpstream, provider: str) -> Channel:
    upstream, key, _ = CHANNELS[provider]
    config = ChannelConfig(
        name=f"img-{provider}",
        provider=provider,  # type: ignore[arg-type]
        base_url=mock.url,
        api_keys=[key],
        models=[MODEL],
        model_map={MODEL: upstream},
        options={"task_poll_first": str(FIRST), "task_poll_max": str(MOST), "task_deadline": "100"},
        total_timeout=5.0,
    )
    return Channel(config)


def _image_request(prompt: str, n: int | None) -> TaskRequest:
    return TaskRequest(kind=TaskKind.IMAGE, model=MODEL, prompt=prompt, n=n)


async def _drive(bench: Bench, task_id: str) -> None:
    for _ in range(20):
        record = await bench.engine.load(task_id)
        assert record is not None
        if record.status.terminal:
            return
        bench.clock.advance(MOST + 0.5)  # a few seconds ahead of the vendors' clocks: within what they allow
        await bench.poller.run_once()


@pytest.mark.parametrize(("provider", "n"), [("kling", 3), ("tencent", None)])
async def test_an_image_task_keeps_every_image_and_is_charged_once(
    database_url: str, mock: MockUpstream, tmp_path: Path, provider: str, n: int | None
) -> None:
    async with task_bench(
        database_url, mock, tmp_path, channels=[_channel(mock, provider)], vendor_for=registry_vendor
    ) as bench:
        bench.clock.now = time.time()
        budget = Budget(input_bytes=0, calls=1)
        record = await bench.engine.create(KEY, "test", _image_request("一个雪山湖泊的全景", n), budget)
        assert record.status is TaskStatus.QUEUED and record.upstream_id is not None
        await _drive(bench, record.id)
        done = await bench.engine.load(record.id)
        assert done is not None and done.status is TaskStatus.SUCCEEDED
        stored = [o for o in done.summary.stored if o.kind == "image"]
        assert len(stored) == (n or 1)
        shapes = set()
        for output in stored:
            image = Image.open(io.BytesIO(await bench.stored(output.name)))
            assert image.format == CHANNELS[provider][2]
            shapes.add(image.size)
        if provider == "tencent":
            assert {w / h for w, h in shapes} == {2.0}
        money = await bench.money()
        assert (money["used"], money["reserved"], money["reservations"]) == (done.cost_nano, 0, 0)
        assert money["ledger"] == money["used"] == money["task_costs"] == PER_CALL_NANO
        assert [row.request_id for row in money["rows"]] == [done.id]


async def test_a_failed_image_task_is_refunded_exactly_once(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(
        database_url, mock, tmp_path, channels=[_channel(mock, "kling")], vendor_for=registry_vendor
    ) as bench:
        bench.clock.now = time.time()
        mock.script({"body_error": True, "message": "risk control", "pending_polls": 1})
        record = await bench.engine.create(KEY, "test", _image_request("a cat", 2), Budget(input_bytes=0, calls=1))
        await _drive(bench, record.id)
        done = await bench.engine.load(record.id)
        assert done is not None and done.status is TaskStatus.FAILED and done.summary.stored == []
        assert done.summary.failure == "risk control"
        money = await bench.money()
        assert (money["used"], money["reserved"], money["reservations"], money["ledger"]) == (0, 0, 0, 0)
