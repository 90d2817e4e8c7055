"""google-genai 2.x against every vendor through the gateway's Veo route: ``models.generate_videos``,
``operations.get`` until done and ``files.download``, one subprocess (2.x beside the venv's 3.x) making
a video on each of the ten vendor channels.  The bytes are each mock vendor's MP4; one usage row per
task, billed what was made, and the ledger balances."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY
from tests.helpers.usage_rows import usage_rows
from tests.helpers.video_gateway import (
    FIXED_SHAPE,
    PER_CALL_NANO,
    PER_SECOND_NANO,
    VENDORS,
    made,
    mock_task,
    video_gateway,
)

GENAI2 = Path(sys.prefix) / "google-genai-2"
"""google-genai 2.x beside the venv's 3.x, installed there by ``make test`` (the Makefile's ``GENAI2``)."""
_SECONDS = {
    "kling-v2": 5,
    "hailuo-02": 6,
    "wan-2.6": 5,
    "vidu-q1": 5,
    "jimeng-3": 5,
    "hunyuan-video": 5,
    "pixverse-4.5": 5,
}
"""A duration each vendor makes as asked (8 s, Veo's own, for the others)."""


async def test_google_genai_2_makes_a_video_on_every_vendor(mock: MockUpstream, tmp_path: Path) -> None:
    assert (GENAI2 / "google" / "genai" / "__init__.py").exists(), f"google-genai 2.x is not in {GENAI2}: run make test"
    jobs = [
        {
            "model": model,
            "prompt": f"google-genai to {model}: a kite over the dunes",
            "seconds": _SECONDS.get(model, 8),
            "aspect_ratio": None if model in FIXED_SHAPE else "16:9",
        }
        for model in VENDORS
    ]
    async with video_gateway(mock, tmp_path) as gw:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).with_name("genai2_every_vendor_client.py")),
            gw.url,
            CLIENT_KEY,
            orjson.dumps(jobs).decode(),
            str(tmp_path),
            env={**os.environ, "PYTHONPATH": str(GENAI2)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()[-3000:]
    results = orjson.loads(stdout)
    assert [result["model"] for result in results] == list(VENDORS)
    tasks = {}
    for index, (job, result) in enumerate(zip(jobs, results, strict=True)):
        assert result["done"] is True and result["error"] is None, result
        assert result["uri"].startswith(f"{gw.url}/v1beta/files/"), result  # a gateway URI, never the vendor's
        task = tasks[job["model"]] = mock_task(mock, str(job["prompt"]))
        assert (tmp_path / f"{index}.mp4").read_bytes() == made(task), job["model"]
    rows = [row for row in await usage_rows(tmp_path / "gw.db") if row["request_id"].startswith("task_")]
    assert sorted(row["model"] for row in rows) == sorted(VENDORS)  # one row per task
    for row in rows:
        made_seconds = tasks[row["model"]].seconds
        assert row["status_code"] == 200 and row["seconds"] == made_seconds and row["calls"] == 1, row
        assert row["cost_nano"] == int(made_seconds * PER_SECOND_NANO) + PER_CALL_NANO, row
    _, ledger = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert sum(entry.cost_nano for entry in ledger) == sum(row["cost_nano"] for row in rows)
