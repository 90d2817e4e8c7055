"""A gateway serving video tasks from several vendors on the session's mock upstream, with a fast poll
schedule and two client keys (one with a quota), and readers of what the mock made."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from omnirouter.mock_upstream import MockUpstream, media_video
from omnirouter.mock_upstream.tasks_video import VideoTask
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway

__all__ = [
    "FIXED_SHAPE",
    "OTHER_KEY",
    "PER_CALL",
    "PER_SECOND",
    "VENDORS",
    "every_vendor_to_success",
    "made",
    "made_still",
    "mock_task",
    "video_gateway",
]

OTHER_KEY = "sk-test-client-other-02"
PER_SECOND, PER_CALL = 0.1, 0.05  # USD: every video model's price
PER_SECOND_NANO, PER_CALL_NANO = 100_000_000, 50_000_000
VENDORS: dict[str, tuple[str, str]] = {
    # public model → (provider, upstream model)
    "sora-2": ("openai", "sora-2"),
    "kling-v2": ("kling", "kling-v2-master"),
    "seedance-pro": ("ark", "doubao-seedance-1-0-pro-250528"),
    "veo-3": ("gemini", "veo-3.0-generate-001"),
    "wan-2.6": ("dashscope", "wan2.6-t2v"),
    "hailuo-02": ("minimax", "MiniMax-Hailuo-02"),
    "vidu-q1": ("vidu", "viduq1"),
    "jimeng-3": ("jimeng", "jimeng_t2v_v30"),
    "hunyuan-video": ("tencent", "hunyuan-video"),
    "pixverse-4.5": ("pixverse", "v4.5"),
}
FIXED_SHAPE = frozenset({"hunyuan-video"})
"""Models whose vendor takes no size or aspect ratio (Tencent's Hunyuan job makes its model's own 720p):
a client naming one gets a 400, so tests send these models none."""
_KEYS = {
    # the pairs each mock verifies: Kling's JWT and Jimeng's Volcengine V4 signature with
    # ``mock_secret(access)``, Tencent's TC3 signature with ``access + "-secret"``
    "kling": f"ak-test-access-0001|{mock_secret('ak-test-access-0001')}",
    "jimeng": f"ak-test-access-0002|{mock_secret('ak-test-access-0002')}",
    "tencent": "AKIDtest0003|AKIDtest0003-secret",
}


def _channels(mock_url: str) -> list[dict[str, Any]]:
    channels = []
    for model, (provider, upstream) in VENDORS.items():
        extra: dict[str, Any] = {"model_map": {model: upstream}}
        if provider in _KEYS:
            extra["api_keys"] = [_KEYS[provider]]
        channels.append(channel(mock_url, f"video-{provider}", provider, [model], **extra))
    return channels


@contextlib.asynccontextmanager
async def video_gateway(mock: MockUpstream, db_dir: Path, **extra: Any) -> AsyncIterator[RunningGateway]:
    """The gateway, its database at ``db_dir / 'gw.db'``, results under ``db_dir``; ``extra`` is more config
    (its ``tasks`` merged into the fast poll schedule)."""
    prices = {model: {"per_second": PER_SECOND, "per_call": PER_CALL} for model in VENDORS}
    keys = [{"name": "tester", "key": CLIENT_KEY, "quota_usd": 100.0}, {"name": "other", "key": OTHER_KEY}]
    tasks = {"poll_first": 0.05, "poll_max": 0.1, **extra.pop("tasks", {})}
    extra.setdefault("image_fetch", {"allow_private": True})  # result copies reach the mock on 127.0.0.1
    async with media_gateway(db_dir, _channels(mock.url), prices=prices, tasks=tasks, keys=keys, **extra) as running:
        yield running


def mock_task(mock: MockUpstream, prompt: str) -> VideoTask:
    """The mock vendor's task made for ``prompt`` (prompts are unique per test)."""
    found = list(
        {id(t): t for t in mock.state.tasks.values() if isinstance(t, VideoTask) and t.prompt == prompt}.values()
    )
    assert len(found) == 1, f"{len(found)} mock tasks for {prompt!r}"
    return found[0]


def made(task: VideoTask) -> bytes:
    """The MP4 the mock serves for ``task``."""
    return media_video.mp4(task.seconds, task.width, task.height, task.seed)


def made_still(task: VideoTask, fmt: str) -> bytes:
    """The still (cover, thumbnail, last frame) in ``fmt`` (``jpeg`` or ``webp``) the mock serves for ``task``."""
    return media_video.still(fmt, task.width, task.height, task.seed)


async def every_vendor_to_success(
    http: aiohttp.ClientSession,
    create_url: str,
    fetch_url: str,
    label: str,
    per_vendor: int,
    *,
    each_round: Callable[[], Awaitable[None]] | None = None,
) -> list[str]:
    """Create ``per_vendor`` tasks of every model of ``VENDORS`` on new-api's unified route at
    ``create_url``, then fetch them at ``fetch_url`` (another replica's, say) until all succeeded (none may
    fail; ``each_round`` runs before each round of fetches); their ids.  The caller bounds the time."""

    async def create(model: str, n: int) -> str:
        shape = {} if model in FIXED_SHAPE else {"size": "1280x720"}
        body = {"model": model, "prompt": f"{label} {model} {n}", **shape}
        async with http.post(f"{create_url}/v1/video/generations", json=body) as answer:
            created: dict[str, Any] = await answer.json()
            assert answer.status == 200, created
            return str(created["id"])

    async def status(task_id: str) -> str:
        async with http.get(f"{fetch_url}/v1/video/generations/{task_id}") as answer:
            return str((await answer.json())["data"]["status"])

    ids = await asyncio.gather(*(create(model, n) for model in VENDORS for n in range(per_vendor)))
    while True:
        if each_round is not None:
            await each_round()
        statuses = await asyncio.gather(*(status(task_id) for task_id in ids))
        assert "FAILURE" not in statuses
        if all(s == "SUCCESS" for s in statuses):
            return list(ids)
        await asyncio.sleep(0.1)
