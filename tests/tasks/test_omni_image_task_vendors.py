"""Omni-Image through the asynchronous-only image vendors, over real HTTP against the mock, on SQLite and
PostgreSQL: a ``kling`` channel serving ``Kling:3.0-omni`` (Kling's Omni-Image API, ``kling-v3-omni``) and a
``tencent`` channel serving ``Hunyuan-3d-2.0`` (MPS's 3D panorama).  The seed's own bodies work as pasted
(``?async=true`` with httpx), three stored PNGs / one 2:1 panorama, billed ``per_image`` exactly once; a
vendor failure is refunded; the synchronous route (the official ``openai`` SDK) waits on the engine and
answers 3 / 1 images, or at its deadline a 504 naming the task, which goes on and is billed once."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from omnirouter.api import images_async
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from tests.helpers.billing import KeySpend, assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, running_gateway
from tests.helpers.image_tasks import charged, create_image_task, finished_image_task, image_gateway, image_http
from tests.helpers.task_gateway import task_config

KLING = "Kling:3.0-omni"
KLING_O1 = "Kling:o1"
HUNYUAN = "Hunyuan-3d-2.0"
PER_IMAGE = 0.04
PER_IMAGE_NANO = 40_000_000
SEED_KLING = {"model": KLING, "resolution": "4K", "prompt": "一只小猫坐在窗边", "aspect_ratio": "16:9", "n": 3}
SEED_HUNYUAN = {"model": HUNYUAN, "prompt": "一个雪山湖泊的360度全景图,真实摄影风格"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """A gateway with a Kling image channel and a Tencent (MPS) panorama channel on the mock, each priced
    per image; and its database URL.  Shared by the module's tests: each awaits the end of the tasks it
    makes, and asserts money per task or as a delta."""
    url = mock_upstream.url
    raw: dict[str, Any] = task_config(url, tmp_path_factory.mktemp("omni-image-vendors"))
    raw["channels"] += [
        {"name": "kling-img", "provider": "kling", "base_url": url, "api_keys": [f"akimg|{mock_secret('akimg')}"],
         "models": [KLING, KLING_O1], "model_map": {KLING: "kling-v3-omni", KLING_O1: "kling-image-o1"}},
        {"name": "hy-pano", "provider": "tencent", "base_url": url, "api_keys": ["AKIDimg|AKIDimg-secret"],
         "models": [HUNYUAN]},
    ]  # fmt: skip
    raw["prices"] |= {name: {"per_image": PER_IMAGE} for name in (KLING, KLING_O1, HUNYUAN)}
    async with image_gateway(raw, request.param, gateway_postgres_url) as served:
        yield served


@pytest.fixture
async def http(served: tuple[RunningGateway, str], mock_upstream: MockUpstream) -> AsyncIterator[httpx.AsyncClient]:
    async with image_http(served[0], mock_upstream) as client:
        yield client


@pytest.fixture
async def spend(served: tuple[RunningGateway, str]) -> KeySpend:
    """The test key's spending from here on."""
    return await KeySpend(served[1]).begin()


async def _download(urls: list[str]) -> list[Image.Image]:
    images = []
    async with httpx.AsyncClient() as anonymous:  # signed URLs: no key needed
        for url in urls:
            got = await anonymous.get(url)
            assert got.status_code == 200, got.text
            images.append(Image.open(io.BytesIO(got.content)))
    return images


def _submits(mock: MockUpstream, path: str, action: str | None = None) -> list[Any]:
    found = [r for r in mock.requests if r.method == "POST" and r.path == path]
    if action is not None:
        found = [r for r in found if r.headers.get("x-tc-action") == action]
    return found


async def test_the_kling_seed_body_makes_three_stored_images_billed_per_image_once(
    served: tuple[RunningGateway, str], spend: KeySpend, http: httpx.AsyncClient, mock_upstream: MockUpstream
) -> None:
    running, url = served
    task = await create_image_task(http, SEED_KLING)
    final = await finished_image_task(http, task["id"])
    assert final["status"] == "completed", final
    assert len(final["data"]) == 3
    urls = [item["url"] for item in final["data"]]
    assert all(u.startswith(running.url + f"/v1/videos/{task['id']}/content?") for u in urls)
    assert len(set(urls)) == 3 and mock_upstream.url not in " ".join(urls)
    images = await _download(urls)
    assert all(image.format == "PNG" and image.size[0] > image.size[1] for image in images)  # 16:9
    [submit] = _submits(mock_upstream, "/v1/images/omni-image")
    sent = submit.body
    assert (sent["model_name"], sent["n"], sent["resolution"], sent["aspect_ratio"]) == ("kling-v3-omni", 3, "4k",
                                                                                          "16:9")  # fmt: skip
    assert "image" not in sent and "extra" not in sent  # the carried request is not leaked into Kling's body
    assert final["usage"]["images"] == 3
    assert await charged(url, task["id"]) == [3 * PER_IMAGE_NANO]
    assert await spend.spent() == 3 * PER_IMAGE_NANO
    await assert_books_balance(url, "tester")


async def test_the_hunyuan_seed_body_makes_one_two_to_one_panorama(
    served: tuple[RunningGateway, str], http: httpx.AsyncClient, mock_upstream: MockUpstream
) -> None:
    _, url = served
    task = await create_image_task(http, SEED_HUNYUAN)
    final = await finished_image_task(http, task["id"])
    assert final["status"] == "completed", final
    [panorama] = await _download([item["url"] for item in final["data"]])
    assert panorama.format == "JPEG" and panorama.size[0] == 2 * panorama.size[1]
    [submit] = _submits(mock_upstream, "/", "CreateAigcImageTask")
    assert submit.body["SceneType"] == "3d_panorama" and submit.body["Prompt"] == SEED_HUNYUAN["prompt"]
    assert final["usage"]["images"] == 1
    assert await charged(url, task["id"]) == [PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")


@pytest.mark.parametrize("model", [KLING, HUNYUAN])
async def test_a_vendor_failure_is_refunded(
    served: tuple[RunningGateway, str],
    spend: KeySpend,
    http: httpx.AsyncClient,
    mock_upstream: MockUpstream,
    model: str,
) -> None:
    _, url = served
    mock_upstream.script({"body_error": True, "message": "risk control", "pending_polls": 1})
    task = await create_image_task(http, {"model": model, "prompt": "something forbidden"})
    final = await finished_image_task(http, task["id"])
    assert final["status"] == "failed" and "data" not in final
    assert "risk control" in final["error"]["message"] and final["error"]["code"]
    assert await charged(url, task["id"]) == [0]
    assert await spend.spent() == 0
    await assert_books_balance(url, "tester")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**SEED_KLING, "n": 10}, "n"),
        ({**SEED_KLING, "aspect_ratio": "5:4"}, "aspect_ratio"),
        ({**SEED_KLING, "resolution": "8K"}, "resolution"),
        ({**SEED_KLING, "model": KLING_O1}, "resolution"),  # kling-image-o1 makes 1k/2k: 4K is not mapped down
        ({**SEED_HUNYUAN, "n": 2}, "n"),
        ({**SEED_HUNYUAN, "aspect_ratio": "16:9"}, "aspect_ratio"),
    ],
)
async def test_what_the_vendor_cannot_make_is_a_400_naming_the_field(
    served: tuple[RunningGateway, str],
    spend: KeySpend,
    http: httpx.AsyncClient,
    mock_upstream: MockUpstream,
    body: Any,
    param: str,
) -> None:
    _, url = served
    response = await http.post("/v1/images/generations", params={"async": "true"}, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert [r for r in mock_upstream.requests if not r.path.startswith("/media/")] == []
    assert await spend.spent() == 0
    await assert_books_balance(url, "tester")


@pytest.mark.parametrize(("model", "n", "fmt", "wide"), [(KLING, 3, "PNG", 16 / 9), (HUNYUAN, None, "JPEG", 2.0)])
async def test_the_synchronous_call_waits_on_the_engine_and_answers_every_image(
    served: tuple[RunningGateway, str],
    spend: KeySpend,
    mock_upstream: MockUpstream,
    model: str,
    n: int | None,
    fmt: str,
    wide: float,
) -> None:
    running, url = served
    mock_upstream.requests.clear()
    extra = {"aspect_ratio": "16:9", "resolution": "4K"} if model == KLING else None
    async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        raw = await client.images.with_raw_response.generate(
            model=model, prompt="a snowy lake at dawn", n=n, extra_body=extra
        )
        answer = raw.parse()
    task_id = raw.headers["x-omnirouter-task-id"]
    assert answer.data is not None and len(answer.data) == (n or 1)
    images = [Image.open(io.BytesIO(base64.b64decode(item.b64_json or ""))) for item in answer.data]
    assert all(image.format == fmt and abs(image.size[0] / image.size[1] - wide) < 0.1 for image in images)
    assert len({image.tobytes() for image in images}) == len(images)  # distinct images, not one repeated
    assert await charged(url, task_id) == [(n or 1) * PER_IMAGE_NANO]
    assert await spend.spent() == (n or 1) * PER_IMAGE_NANO
    await assert_books_balance(url, "tester")


@pytest.mark.parametrize("model", [KLING, HUNYUAN])
async def test_the_synchronous_wait_ends_at_its_deadline_naming_the_task_which_is_billed_once(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream, model: str
) -> None:
    running, url = served
    tasks_config = running.app.gateway.config.tasks
    before = tasks_config.image_sync_wait
    tasks_config.image_sync_wait = 0.3
    try:
        mock_upstream.script({"pending_polls": 40})
        async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
            with pytest.raises(openai.APIStatusError) as raised:
                await client.images.generate(model=model, prompt="a slow panorama", n=1)
    finally:
        tasks_config.image_sync_wait = before
    error = raised.value
    assert error.status_code == 504 and error.response.headers["x-should-retry"] == "false"
    task_id = error.response.headers["x-omnirouter-task-id"]
    body = error.response.json()["error"]
    assert body["code"] == "task_still_running" and f"/v1/images/generations/{task_id}" in body["message"]
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=30) as http:
        final = await finished_image_task(http, task_id)
    assert final["status"] == "completed" and len(final["data"]) == 1  # it went on
    assert await charged(url, task_id) == [PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")


async def test_the_synchronous_wait_wakes_when_this_process_ends_the_task(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the row re-read put 30 s apart, only the engine's own wake-up can answer within seconds."""
    running, url = served
    monkeypatch.setattr(images_async, "_WAIT_STEP", 30.0)
    monkeypatch.setattr(images_async, "_WAIT_MAX", 30.0)
    ends = running.app.gateway.tasks.ends
    started = time.monotonic()
    async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        raw = await client.images.with_raw_response.generate(model=KLING, prompt="a quick cat", n=2, timeout=20)
    assert time.monotonic() - started < 10
    answer = raw.parse()
    assert answer.data is not None and len(answer.data) == 2
    assert ends.watched() == 0  # the waiter was forgotten
    assert await charged(url, raw.headers["x-omnirouter-task-id"]) == [2 * PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")


async def test_the_synchronous_wait_sees_an_end_made_by_another_replica_by_rereading_the_row(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    """The replica holding the call has its poller stopped: another replica on the same database polls the
    task and ends it, and the waiting call sees that on its own re-read of the row."""
    running, url = served
    mock_upstream.requests.clear()
    poller = running.app.gateway.task_poller
    await poller.stop()
    try:
        async with running_gateway(running.app.gateway.config) as other:
            other.app.gateway.task_poller.interval = 0.02
            async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
                raw = await client.images.with_raw_response.generate(model=HUNYUAN, prompt="a far lake", timeout=20)
            answer = raw.parse()
    finally:
        await poller.start()  # the module's later tests have it back
    assert answer.data is not None and len(answer.data) == 1
    task_id = raw.headers["x-omnirouter-task-id"]
    polls = _submits(mock_upstream, "/", "DescribeAigcImageTask")
    assert polls and len(_submits(mock_upstream, "/", "CreateAigcImageTask")) == 1  # polled by the other replica
    assert await charged(url, task_id) == [PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")
