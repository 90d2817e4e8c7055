"""The video task routes end to end: the official ``openai`` SDK (``videos.create_and_poll`` and
``download_content``) against a real gateway whose real poller drives tasks at the mock vendors, the bytes
kept in the result store, the money settled once."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import av
import openai
import pytest

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
    made_still,
    mock_task,
    video_gateway,
)

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


def sdk(url: str, key: str = CLIENT_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=f"{url}/v1", max_retries=0)


def decoded_seconds(data: bytes) -> float:
    """The duration of an MP4 as PyAV decodes it (every frame read)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert frames > 0
        return float(container.duration or 0) / av.time_base


_NATIVE = {"sora-2": 8, "kling-v2": 10, "seedance-pro": 8, "veo-3": 8, "wan-2.6": 10, "hailuo-02": 6, "vidu-q1": 5,
           "jimeng-3": 10, "hunyuan-video": 5, "pixverse-4.5": 8}  # fmt: skip
"""A duration each vendor makes as asked."""
_CASES = [pytest.param(model, _NATIVE[model]) for model in VENDORS] + [
    pytest.param(model, 8, id=f"{model}-mapped")  # Kling makes 10 s, MiniMax 6 s: reserved, shown, billed
    for model in ("kling-v2", "hailuo-02")
]


_COVERS = {"sora-2": "webp", "vidu-q1": "jpeg"}
"""The vendors that make a thumbnail beside the video, and its format."""


@pytest.mark.parametrize(("model", "seconds"), _CASES)
async def test_the_openai_sdk_makes_and_downloads_a_video_on_each_vendor(
    model: str, seconds: int, mock: MockUpstream, tmp_path: Path
) -> None:
    prompt = f"a lighthouse at dusk for {model} in {seconds} s"
    shape: dict[str, Any] = {} if model in FIXED_SHAPE else {"size": "1280x720"}
    async with video_gateway(mock, tmp_path) as gw, sdk(gw.url) as client:
        video = await client.videos.create_and_poll(
            model=model,
            prompt=prompt,
            seconds=str(seconds),
            poll_interval_ms=50,
            **shape,  # type: ignore[arg-type]
        )
        assert video.status == "completed", video.error
        assert video.progress == 100 and video.model == model and video.id.startswith("task_")
        content = await client.videos.download_content(video.id)
        data = content.read()
        task = mock_task(mock, prompt)
        if model in _COVERS:
            cover = await client.videos.download_content(video.id, variant="thumbnail")
            assert cover.read() == made_still(task, _COVERS[model])
        else:
            with pytest.raises(openai.NotFoundError):
                await client.videos.download_content(video.id, variant="thumbnail")
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(made(task)).hexdigest()
    assert decoded_seconds(data) > 0
    assert float(video.seconds) == task.seconds  # what was made (the nearest duration the vendor makes)
    assert video.size == (None if model in FIXED_SHAPE else "1280x720")
    rows = [row for row in await usage_rows(tmp_path / "gw.db") if row["request_id"] == video.id]
    assert len(rows) == 1 and rows[0]["status_code"] == 200
    assert rows[0]["cost_nano"] == int(task.seconds * PER_SECOND_NANO) + PER_CALL_NANO
    assert rows[0]["seconds"] == task.seconds and rows[0]["calls"] == 1
    await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
