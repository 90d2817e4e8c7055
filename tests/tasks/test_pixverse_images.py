"""PixVerse image to video through the gateway: PixVerse takes an image only as its own upload
(``POST /openapi/v2/image/upload`` → ``img_id``), so the engine uploads the client's image first and
submits ``img_id``.  Driven with the official ``openai`` SDK (``input_reference``) and new-api's unified
route (``image`` as a ``data:`` URL, bare base64 or a URL); the mock checks the upload decodes and that
``img_id`` names it; the video, the usage row and the books are checked."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import openai
import pytest
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows
from tests.helpers.video_gateway import PER_CALL_NANO, PER_SECOND_NANO, made, mock_task, video_gateway
from tests.tasks.test_video_routes_api import call

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
MODEL = "pixverse-4.5"


def picture(fmt: str = "PNG", colour: tuple[int, int, int] = (20, 120, 220)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), colour).save(out, fmt)
    return out.getvalue()


def _pixverse(mock: MockUpstream, path: str) -> list[Any]:
    return [r for r in mock.requests if r.method == "POST" and r.path == path]


async def _money(tmp_path: Path, task_ids: list[str]) -> None:
    rows = [row for row in await usage_rows(tmp_path / "gw.db") if row["request_id"].startswith("task_")]
    assert sorted(row["request_id"] for row in rows) == sorted(task_ids)  # one row per task
    for row in rows:
        assert row["status_code"] == 200 and row["cost_nano"] == int(row["seconds"] * PER_SECOND_NANO) + PER_CALL_NANO
    await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")


async def test_the_openai_sdks_input_reference_is_uploaded_to_pixverse(mock: MockUpstream, tmp_path: Path) -> None:
    image = picture()
    prompt = "the blue square drifts to the right"
    async with (
        video_gateway(mock, tmp_path) as gw,
        openai.AsyncOpenAI(api_key=CLIENT_KEY, base_url=f"{gw.url}/v1", max_retries=0) as client,
    ):
        video = await client.videos.create_and_poll(
            model=MODEL, prompt=prompt, seconds="5", size="1280x720", poll_interval_ms=50,  # type: ignore[arg-type]
            input_reference=("ref.png", image, "image/png"),
        )  # fmt: skip
        assert video.status == "completed", video.error
        data = (await client.videos.download_content(video.id)).read()
    [upload] = _pixverse(mock, "/openapi/v2/image/upload")
    assert upload.headers["api-key"] == UPSTREAM_KEY
    assert upload.headers["ai-trace-id"] and upload.headers["content-type"].startswith("multipart/form-data")
    assert upload.body["files"] == [{"field": "image", "filename": "ref.png", "content_type": "image/png",
                                     "size": len(image), "sha256": hashlib.sha256(image).hexdigest()}]  # fmt: skip
    [generate] = _pixverse(mock, "/openapi/v2/video/img/generate")
    task = mock_task(mock, prompt)
    assert generate.body["img_id"] in mock.state.tasks["pixverse-images"]
    assert task.info["image"]["sha256"] == hashlib.sha256(image).hexdigest()  # made from the client's image
    assert not _pixverse(mock, "/openapi/v2/video/text/generate")
    assert data == made(task)
    await _money(tmp_path, [video.id])


async def _unified(gw: RunningGateway, body: dict[str, Any]) -> dict[str, Any]:
    status, created = await call(gw, "POST", "/v1/video/generations", json=body)
    assert status == 200, created
    for _ in range(200):
        status, got = await call(gw, "GET", f"/v1/video/generations/{created['id']}")
        assert status == 200, got
        if got["data"]["status"] in ("SUCCESS", "FAILURE"):
            return dict(got["data"])
        await asyncio.sleep(0.05)
    raise AssertionError("the task did not finish")


async def test_the_unified_routes_image_in_every_form_is_uploaded(mock: MockUpstream, tmp_path: Path) -> None:
    jpeg, png = picture("JPEG", (200, 40, 40)), picture("PNG", (40, 200, 40))
    forms = {
        "a data URL": (f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}", jpeg),
        "bare base64": (base64.b64encode(png).decode(), png),
        "a URL": ("https://images.example.com/first-frame.png", None),
    }
    async with video_gateway(mock, tmp_path) as gw:
        done = await asyncio.gather(*(
            _unified(gw, {"model": MODEL, "prompt": f"pixverse from {form}", "image": image, "duration": 8,
                          "size": "1280x720"})
            for form, (image, _) in forms.items()
        ))  # fmt: skip
    assert [d["status"] for d in done] == ["SUCCESS"] * 3, done
    uploads = _pixverse(mock, "/openapi/v2/image/upload")
    assert len(uploads) == 3
    images = mock.state.tasks["pixverse-images"]
    for form, (image, raw) in forms.items():
        task = mock_task(mock, f"pixverse from {form}")
        assert task.seconds == 8
        if raw is None:
            assert task.info["image"] == {"url": image}  # a URL goes as PixVerse's image_url
        else:
            assert task.info["image"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert len(images) >= 3
    await _money(tmp_path, [d["task_id"] for d in done])


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"images": [f"data:image/png;base64,{base64.b64encode(picture()).decode()}"] * 2}, "images"),
        ({"image": "https://images.example.com/a.png", "metadata": {"img_id": 7}}, "images"),
        ({"image": "https://images.example.com/a.png", "size": "1000x1000"}, "size"),
    ],
)
async def test_what_pixverse_cannot_take_is_a_400_and_nothing_is_uploaded(
    extra: dict[str, Any], param: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        status, answer = await call(gw, "POST", "/v1/video/generations",
                                    json={"model": MODEL, "prompt": "a kite", **extra})  # fmt: skip
    assert status == 400 and answer["error"]["param"] == param, answer
    assert not _pixverse(mock, "/openapi/v2/image/upload")
    await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")


async def test_an_image_pixverse_refuses_is_a_400_and_the_task_is_refunded(mock: MockUpstream, tmp_path: Path) -> None:
    not_an_image = base64.b64encode(b"GIF89a but not really a picture").decode()
    async with video_gateway(mock, tmp_path) as gw:
        body = {"model": MODEL, "prompt": "a broken frame", "image": not_an_image}
        status, answer = await call(gw, "POST", "/v1/video/generations", json=body)
    assert status == 400 and answer["error"]["param"] == "images[0]", answer
    assert "not a valid image" in answer["error"]["message"] and UPSTREAM_KEY not in str(answer)
    assert len(_pixverse(mock, "/openapi/v2/image/upload")) == 1
    assert not _pixverse(mock, "/openapi/v2/video/img/generate")
    _, ledger = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert sum(entry.cost_nano for entry in ledger) == 0


async def test_an_upload_refused_by_one_channel_moves_to_the_next(mock: MockUpstream, tmp_path: Path) -> None:
    """Nothing runs at the vendor before the submit, so a failed upload (here: the first channel's key is
    refused) is tried on the next channel like a refused submit; the video is made there, billed once."""
    channels = [
        channel(mock.url, "pixverse-refused", "pixverse", [MODEL], api_keys=["bad-pixverse-key"], priority=2,
                model_map={MODEL: "v4.5"}),
        channel(mock.url, "pixverse-good", "pixverse", [MODEL], priority=1, model_map={MODEL: "v4.5"}),
    ]  # fmt: skip
    prices = {MODEL: {"per_second": 0.1, "per_call": 0.05}}
    tasks = {"poll_first": 0.05, "poll_max": 0.1}
    fetch = {"allow_private": True}  # result copies reach the mock on 127.0.0.1
    async with media_gateway(
        tmp_path, channels, prices=prices, tasks=tasks, admin_key=ADMIN_KEY, image_fetch=fetch
    ) as gw:
        image = f"data:image/png;base64,{base64.b64encode(picture()).decode()}"
        done = await _unified(gw, {"model": MODEL, "prompt": "a kite over two channels", "image": image})
        status, admin = await call(gw, "GET", f"/admin/tasks/{done['task_id']}", key=ADMIN_KEY)
    assert done["status"] == "SUCCESS", done
    assert status == 200 and admin["channel"] == "pixverse-good", admin
    uploads = _pixverse(mock, "/openapi/v2/image/upload")
    assert [r.headers["api-key"] for r in uploads] == ["bad-pixverse-key", UPSTREAM_KEY]
    assert len(_pixverse(mock, "/openapi/v2/video/img/generate")) == 1
    assert mock_task(mock, "a kite over two channels").info["image"]["size"] == (64, 36)
    await _money(tmp_path, [done["task_id"]])


async def _until(gw: RunningGateway, path: str, done: Any) -> dict[str, Any]:
    for _ in range(200):
        status, got = await call(gw, "GET", path)
        assert status == 200, got
        if done(got):
            return dict(got)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not finish")


async def test_klings_and_veos_routes_send_their_images_to_pixverse_too(mock: MockUpstream, tmp_path: Path) -> None:
    png = picture("PNG", (250, 200, 10))
    b64 = base64.b64encode(png).decode()
    async with video_gateway(mock, tmp_path) as gw:
        kling_body = {"model_name": MODEL, "prompt": "pixverse via kling", "image": b64, "duration": "5"}
        status, kling = await call(gw, "POST", "/kling/v1/videos/image2video", json=kling_body)
        assert status == 200 and kling["code"] == 0, kling
        veo_body = {"instances": [{"prompt": "pixverse via veo", "image": {"bytesBase64Encoded": b64,
                                                                           "mimeType": "image/png"}}],
                    "parameters": {"durationSeconds": 5, "aspectRatio": "16:9"}}  # fmt: skip
        status, veo = await call(gw, "POST", f"/v1beta/models/{MODEL}:predictLongRunning", json=veo_body)
        assert status == 200, veo
        kling_done = await _until(gw, f"/kling/v1/videos/image2video/{kling['data']['task_id']}",
                                  lambda got: got["data"]["task_status"] in ("succeed", "failed"))  # fmt: skip
        veo_done = await _until(gw, f"/v1beta/{veo['name']}", lambda got: got.get("done"))
    assert kling_done["data"]["task_status"] == "succeed", kling_done
    assert "error" not in veo_done and veo_done["response"], veo_done
    for prompt in ("pixverse via kling", "pixverse via veo"):
        assert mock_task(mock, prompt).info["image"]["sha256"] == hashlib.sha256(png).hexdigest(), prompt
    assert len(_pixverse(mock, "/openapi/v2/image/upload")) == 2
    await _money(tmp_path, [kling["data"]["task_id"], veo["name"].rsplit("/", 1)[-1]])
