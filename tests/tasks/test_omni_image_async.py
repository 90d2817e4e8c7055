"""Omni-Image asynchronous image tasks through the gateway over real HTTP (httpx for the task routes, the
official ``openai`` SDK for the synchronous route), against the mock's image vendors, on SQLite and
PostgreSQL: ``POST /v1/images/generations?async=true`` answers a task at once and
``GET /v1/images/generations/{id}`` shows it completed with signed gateway URLs of real PNG/JPEG files
(or ``b64_json``), for each vendor (OpenAI, Gemini, Ark run in the background; FLUX and wanx polled by the
poller); ``n`` images; a vendor failure refunded; another key's task not found; bad input refused in
OpenAI's shape with nothing charged; ``input_region`` routing; a synchronous call to a task-only channel
waiting on the engine, and its deadline.  Every charge is checked against the ledger."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import tasks_table
from tests.helpers.billing import KeySpend, assert_books_balance, execute, ledger, query
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.image_tasks import charged, create_image_task, finished_image_task, image_gateway, image_http
from tests.helpers.media_gateway import channel
from tests.helpers.task_gateway import OTHER_KEY, task_config, until

PER_IMAGE = 0.04
PER_IMAGE_NANO = 40_000_000
FAST = {"poll_interval": "0.01"}
MODELS = ("gpt-image-1", "gemini-2.5-flash-image", "seedream", "flux-kontext-pro", "wanx")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """A gateway with a channel of each image vendor on the mock (a per-image price each), a FLUX channel
    served synchronously through the engine, two regional OpenAI channels; and its database URL.  Shared by
    the module's tests: each awaits the end of the tasks it makes, and asserts money per task or as a delta."""
    url = mock_upstream.url
    raw: dict[str, Any] = task_config(url, tmp_path_factory.mktemp("omni-image"))
    raw["channels"] += [
        channel(url, "oa", "openai", ["gpt-image-1"]),
        channel(url, "ge", "gemini", ["gemini-2.5-flash-image"]),
        channel(url, "ark", "ark", ["seedream"], model_map={"seedream": "doubao-seedream-4-0-250828"}),
        channel(url, "bfl", "bfl", ["flux-kontext-pro"], options=FAST),
        channel(url, "ds", "dashscope", ["wanx"], model_map={"wanx": "wanx2.1-t2i-turbo"}, options=FAST),
        channel(url, "bfl-wait", "bfl", ["flux-wait"], model_map={"flux-wait": "flux-kontext-pro"},
                options={"image_via_task": "true"}),
        channel(url, "oa-cn", "openai", ["regional"], model_map={"regional": "gpt-image-1"},
                options={"input_regions": "Mainland"}, priority=1),
        channel(url, "oa-us", "openai", ["regional"], model_map={"regional": "gpt-image-1"},
                options={"input_regions": "Oversea,OverseaUSWest"}),
    ]  # fmt: skip
    raw["prices"] |= {name: {"per_image": PER_IMAGE} for name in (*MODELS, "flux-wait", "regional")}
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


async def _task_channel(url: str, task_id: str) -> str:
    [row] = await query(url, sa.select(tasks_table.c.channel).where(tasks_table.c.id == task_id))
    return str(row.channel)


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format in ("PNG", "JPEG")
    return image


@pytest.mark.parametrize("model", MODELS)
async def test_each_vendor_completes_with_stored_images_and_one_exact_charge(
    served: tuple[RunningGateway, str],
    spend: KeySpend,
    http: httpx.AsyncClient,
    mock_upstream: MockUpstream,
    model: str,
) -> None:
    running, url = served
    body = {"model": model, "prompt": "a lighthouse at dusk", "aspect_ratio": "16:9", "resolution": "1K"}
    task = await create_image_task(http, body)
    final = await finished_image_task(http, task["id"])
    assert final["status"] == "completed", final
    assert final["progress"] == 100 and final["completed_at"] >= final["created_at"]
    [item] = final["data"]
    assert item["url"].startswith(running.url + f"/v1/videos/{task['id']}/content?")
    assert mock_upstream.url not in item["url"]
    async with httpx.AsyncClient() as anonymous:  # a signed URL works without the key
        got = await anonymous.get(item["url"])
    assert got.status_code == 200
    width, height = _image(got.content).size
    assert width > height  # 16:9 reached the vendor
    assert final["usage"]["images"] == 1
    assert await charged(url, task["id"]) == [PER_IMAGE_NANO]
    assert await spend.spent() == PER_IMAGE_NANO
    await assert_books_balance(url, "tester")


async def test_n_images_and_b64_json(served: tuple[RunningGateway, str], http: httpx.AsyncClient) -> None:
    _, url = served
    body = {"model": "gpt-image-1", "prompt": "three cats", "n": 3, "quality": "low", "response_format": "b64_json"}
    task = await create_image_task(http, body, path="/images/generations")  # also without /v1
    final = await finished_image_task(http, task["id"], prefix="")
    assert final["status"] == "completed"
    images = [_image(base64.b64decode(item["b64_json"])) for item in final["data"]]
    assert len(images) == 3 and all(image.format == "PNG" for image in images)
    usage = final["usage"]
    assert usage["images"] == 3 and usage["output_tokens"] > 0  # GPT image reports its tokens
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert await charged(url, task["id"]) == [3 * PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")


async def test_the_task_is_answered_before_a_synchronous_vendor_answers(
    served: tuple[RunningGateway, str], http: httpx.AsyncClient, mock_upstream: MockUpstream
) -> None:
    _, url = served
    mock_upstream.script({"delay": 1.5})
    started = time.monotonic()
    task = await create_image_task(http, {"model": "gpt-image-1", "prompt": "a slow fox"})
    assert time.monotonic() - started < 1.0
    response = await http.get(f"/v1/images/generations/{task['id']}")
    assert response.json()["status"] in ("queued", "in_progress") and "data" not in response.json()
    final = await finished_image_task(http, task["id"])
    assert final["status"] == "completed" and len(final["data"]) == 1
    assert await charged(url, task["id"]) == [PER_IMAGE_NANO]


async def test_an_idempotency_key_gives_the_same_task_and_one_charge(
    served: tuple[RunningGateway, str], http: httpx.AsyncClient, mock_upstream: MockUpstream
) -> None:
    _, url = served
    body = {"model": "seedream", "prompt": "one harbour", "n": 2}
    headers = {"idempotency-key": "harbour-1"}
    first = await http.post("/v1/images/generations?async=true", json=body, headers=headers)
    again = await http.post("/v1/images/generations?async=true", json=body, headers=headers)
    assert first.status_code == again.status_code == 200 and first.json()["id"] == again.json()["id"]
    other = await http.post("/v1/images/generations?async=true", json={**body, "n": 1}, headers=headers)
    assert other.status_code == 409 and other.json()["error"]["param"] == "Idempotency-Key"
    final = await finished_image_task(http, first.json()["id"])
    assert final["status"] == "completed" and len(final["data"]) == 2
    assert len([r for r in mock_upstream.requests if r.path == "/api/v3/images/generations"]) == 1
    assert await charged(url, first.json()["id"]) == [2 * PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")


async def test_a_run_cut_off_mid_call_is_refunded_by_the_reconciler(
    served: tuple[RunningGateway, str], spend: KeySpend, http: httpx.AsyncClient, mock_upstream: MockUpstream
) -> None:
    running, url = served
    mock_upstream.script({"delay": 5})
    task = await create_image_task(http, {"model": "seedream", "prompt": "never answered"})
    await asyncio.sleep(0.3)  # the vendor call is under way
    await running.app.gateway.image_runs.close()  # as a crash would: the run is gone, the row stays
    [row] = await query(url, sa.select(tasks_table).where(tasks_table.c.id == task["id"]))
    assert row.status in ("pending", "running") and row.upstream_id is None and row.reserved_nano > 0
    assert await spend.spent() == 0
    lapsed = time.time() - 1  # its lease lapses: the reconciler finds no task at the vendor
    await execute(url, sa.update(tasks_table).where(tasks_table.c.id == task["id"])
                  .values(lease_until=lapsed, next_poll_at=lapsed))  # fmt: skip
    final = await finished_image_task(http, task["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "submit_unconfirmed"
    assert await charged(url, task["id"]) == [0]
    assert await spend.spent() == 0
    await assert_books_balance(url, "tester")


@pytest.mark.parametrize("model", ["seedream", "flux-kontext-pro", "wanx"])
async def test_a_vendor_failure_is_refunded(
    served: tuple[RunningGateway, str],
    spend: KeySpend,
    http: httpx.AsyncClient,
    mock_upstream: MockUpstream,
    model: str,
) -> None:
    _, url = served
    mock_upstream.script({"body_error": True, "message": "flagged", "pending_polls": 1})
    task = await create_image_task(http, {"model": model, "prompt": "something forbidden"})
    final = await finished_image_task(http, task["id"])
    assert final["status"] == "failed" and "data" not in final
    assert final["error"]["message"] and final["error"]["code"]
    assert await charged(url, task["id"]) == [0]
    assert await spend.spent() == 0
    await assert_books_balance(url, "tester")


async def test_another_keys_task_and_an_unknown_id_are_not_found(
    served: tuple[RunningGateway, str], http: httpx.AsyncClient
) -> None:
    task = await create_image_task(http, {"model": "wanx", "prompt": "a hill"})
    for key, task_id in ((OTHER_KEY, task["id"]), (CLIENT_KEY, "task_000000000000000000000000")):
        response = await http.get(f"/v1/images/generations/{task_id}", headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 404
        error = response.json()["error"]
        assert task_id in error["message"] and error["code"] == "task_not_found"
    response = await http.get(f"/v1/images/generations/{task['id']}", headers={"authorization": "Bearer sk-nope"})
    assert response.status_code == 401 and "error" in response.json()
    assert (await finished_image_task(http, task["id"]))["status"] == "completed"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "gpt-image-1"}, 400, "prompt"),
        ({"model": "gpt-image-1", "prompt": "x", "n": 0}, 400, "n"),
        ({"model": "gpt-image-1", "prompt": "x", "input_region": "Mars"}, 400, "input_region"),
        ({"model": "gpt-image-1", "prompt": "x", "images": ["ftp://a/b.png"]}, 400, "images[0]"),
        ({"model": "flux-kontext-pro", "prompt": "x", "n": 2}, 400, "n"),
        ({"model": "wanx", "prompt": "x", "images": ["https://example.com/a.png"]}, 400, "image"),
        ({"model": "gemini-2.5-flash-image", "prompt": "x", "images": ["https://example.com/a.png"]}, 400, "images[0]"),
        ({"model": "no-such-model", "prompt": "x"}, 404, "model"),
        ({"prompt": "x"}, 400, "model"),
    ],
)
async def test_bad_input_is_refused_in_openais_shape_and_costs_nothing(
    served: tuple[RunningGateway, str],
    spend: KeySpend,
    http: httpx.AsyncClient,
    mock_upstream: MockUpstream,
    body: Any,
    status: int,
    param: str,
) -> None:
    _, url = served
    response = await http.post("/v1/images/generations", params={"async": "true"}, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    response = await http.post("/v1/images/generations?async=true", content=b"{not json")
    assert response.status_code == 400 and "error" in response.json()
    assert [r for r in mock_upstream.requests if not r.path.startswith("/media/")] == []
    assert await spend.spent() == 0
    await assert_books_balance(url, "tester")


@pytest.mark.parametrize(("region", "expected"), [("Mainland", "oa-cn"), ("OverseaUSWest", "oa-us"), (None, "oa-cn")])
async def test_input_region_picks_the_channels_that_declare_it(
    served: tuple[RunningGateway, str], http: httpx.AsyncClient, region: str | None, expected: str
) -> None:
    running, url = served
    body: dict[str, Any] = {"model": "regional", "prompt": "a bridge"}
    if region is not None:
        body["input_region"] = region
    task = await create_image_task(http, body)
    assert (await finished_image_task(http, task["id"]))["status"] == "completed"
    assert await _task_channel(url, task["id"]) == expected
    # The synchronous route honours it too (the usage row names the channel).
    async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        raw = await client.images.with_raw_response.generate(
            model="regional", prompt="a bridge", extra_body={"input_region": region} if region else None
        )
    request_id = raw.headers["x-request-id"]

    async def row() -> Any:
        rows = [one for one in await ledger(url) if one.request_id == request_id]
        return rows or None

    [sync_row] = await until(row)
    assert sync_row.channel == expected


async def test_a_synchronous_call_to_a_task_only_channel_waits_on_the_engine(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = served
    mock_upstream.requests.clear()
    async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        raw = await client.images.with_raw_response.generate(model="flux-wait", prompt="a tower", size="1536x1024")
        answer = raw.parse()
        assert answer.data is not None and _image(base64.b64decode(answer.data[0].b64_json or "")).size[0] > 0
        task_id = raw.headers["x-omnirouter-task-id"]
        linked = await client.images.generate(model="flux-wait", prompt="a tower", response_format="url")
        assert linked.data is not None and (linked.data[0].url or "").startswith(running.url + "/v1/videos/")
    # The poller, not one held call, followed the FLUX task: one submit, polls, one copy.
    submits = [r for r in mock_upstream.requests if r.path == "/v1/flux-kontext-pro"]
    assert len(submits) == 2
    assert await charged(url, task_id) == [PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")


async def test_the_synchronous_wait_ends_at_its_deadline_naming_the_task(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = served
    tasks_config = running.app.gateway.config.tasks
    with _waiting(tasks_config, 0.3):
        mock_upstream.script({"pending_polls": 40})
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
        async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=30) as http:
            response = await http.post("/v1/images/generations", json={"model": "flux-wait", "prompt": "slow"})
            assert response.status_code == 504 and response.headers["x-should-retry"] == "false"
            error = response.json()["error"]
            task_id = response.headers["x-omnirouter-task-id"]
            assert error["code"] == "task_still_running" and f"/v1/images/generations/{task_id}" in error["message"]
            final = await finished_image_task(http, task_id)
    assert final["status"] == "completed"  # it went on, and is billed once
    assert await charged(url, task_id) == [PER_IMAGE_NANO]
    await assert_books_balance(url, "tester")


@contextlib.contextmanager
def _waiting(tasks_config: Any, seconds: float) -> Any:
    before = tasks_config.image_sync_wait
    tasks_config.image_sync_wait = seconds
    try:
        yield
    finally:
        tasks_config.image_sync_wait = before
