"""A serving worker freezes its start-up heap and spaces out young collections once it has started."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from omnirouter.api.factory import CONFIG_ENV, create_app
from omnirouter.api.gc_tuning import YOUNG_THRESHOLD
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, make_config, running_gateway


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Give the test process its collector settings back (the tuning is meant for serving processes)."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
async def test_started_worker_freezes_its_heap_and_still_serves(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with running_gateway(make_config(mock_upstream.url, tmp_path / "gw.db"), tune_gc=True) as gateway:
        assert gc.get_freeze_count() > 10_000  # the app, its config, SQLAlchemy, aiohttp ...
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            reply = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": '[[mock {"text": "after freeze"}]]'}]
            )
        assert reply.choices[0].message.content == "after freeze"


async def test_in_process_apps_leave_the_collector_alone(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    threshold = gc.get_threshold()
    async with running_gateway(make_config(mock_upstream.url, tmp_path / "gw.db")):
        assert gc.get_threshold() == threshold


def test_the_served_app_tunes_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, "")
    assert create_app()._tune_gc is True
