"""The mock midjourney-proxy's "plus" API over real HTTP (httpx): edits, video (new, extended, by button),
face swap, the synchronous upload, image-seed, the mode prefixes, queue codes, the plus API's auth
refusal, and media a decoder opens (PNG with Pillow, MP4 with PyAV)."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from omnirouter.mock_upstream import MockUpstream, media_bytes
from omnirouter.mock_upstream.tasks_midjourney import GRID_SIZE
from omnirouter.mock_upstream.tasks_midjourney_plus import VIDEO_SECONDS

SECRET = {"mj-api-secret": "mj-secret"}
CDN = {"mj-api-secret": "cdn-secret"}  # a proxy with EnableFillOfficialCdn
PNG = "data:image/png;base64," + base64.b64encode(media_bytes.image("png", 64, 64, 1)).decode()
PNG2 = "data:image/png;base64," + base64.b64encode(media_bytes.image("png", 64, 64, 2)).decode()


@pytest.fixture
async def client(mock_upstream: MockUpstream) -> AsyncIterator[httpx.AsyncClient]:
    mock_upstream.clear_script()
    async with httpx.AsyncClient(base_url=mock_upstream.url, timeout=30) as c:
        yield c


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str] = SECRET) -> Any:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _finish(client: httpx.AsyncClient, task_id: str, headers: dict[str, str] = SECRET) -> dict[str, Any]:
    seen = []
    for _ in range(10):
        r = await client.get(f"/mj/task/{task_id}/fetch", headers=headers)
        assert r.status_code == 200
        task: dict[str, Any] = r.json()
        seen.append(task["status"])
        if task["status"] in ("SUCCESS", "FAILURE"):
            return task
    raise AssertionError(seen)


def _mp4(data: bytes) -> tuple[int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, (container.duration or 0) / 1_000_000


async def test_wrong_or_missing_secret_gets_the_plus_apis_401(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"mj-api-secret": "bad-secret"}, {"mj-api-secret": "invalid"}):
        r = await client.post("/mj/submit/video", json={"prompt": "x", "image": PNG}, headers=headers)
        assert r.status_code == 401 and r.text == "Authorization header missing."
    r = await client.get("/mj/task/1/image-seed", headers={"mj-api-secret": "bad"})
    assert r.status_code == 401


async def test_edits_makes_a_grid_with_buttons(client: httpx.AsyncClient) -> None:
    submitted = await _post(client, "/mj/submit/edits", {"prompt": "make it blue", "image": PNG})
    assert submitted["code"] == 1 and submitted["result"]
    task = await _finish(client, submitted["result"])
    assert task["action"] == "EDIT" and task["status"] == "SUCCESS" and task["description"] == "/edit make it blue"
    assert [b["label"] for b in task["buttons"]][:4] == ["U1", "U2", "U3", "U4"]
    assert "imageUrls" not in task  # a proxy without EnableFillOfficialCdn
    r = await client.get(task["imageUrl"])
    assert Image.open(io.BytesIO(r.content)).size == (2 * GRID_SIZE, 2 * GRID_SIZE)
    alias = await _post(client, "/mj/submit/edit", {"prompt": "x", "image": "https://example.com/a.png"})
    assert alias["code"] == 1
    for body in ({"prompt": "x"}, {"image": PNG}, {"prompt": "x", "image": "not base64!"}):
        assert (await _post(client, "/mj/submit/edits", body))["code"] == 4
    banned = await _post(client, "/mj/submit/edits", {"prompt": 'x [[mock {"code": "24"}]]', "image": PNG})
    assert banned["code"] == 24 and banned["result"] is None and banned["properties"]["bannedWord"]


async def test_cdn_proxy_fills_image_urls_with_single_pngs(client: httpx.AsyncClient) -> None:
    task = await _finish(client, (await _post(client, "/mj/submit/imagine", {"prompt": "a cat"}, CDN))["result"], CDN)
    urls = [item["url"] for item in task["imageUrls"]]
    assert len(urls) == 4 and task["imageUrl"] not in urls
    tiles = [Image.open(io.BytesIO((await client.get(url)).content)) for url in urls]
    assert {tile.size for tile in tiles} == {(GRID_SIZE, GRID_SIZE)} and {tile.format for tile in tiles} == {"PNG"}
    assert (await client.get(task["imageUrl"] + "/4")).status_code == 404


async def test_video_clips_decode_and_extend_by_index(client: httpx.AsyncClient) -> None:
    body = {"prompt": "the cat walks", "image": PNG, "endImage": PNG2, "motion": "high", "batchSize": 2}
    submitted = await _post(client, "/mj/submit/video", body, CDN)
    assert submitted["code"] == 1
    task = await _finish(client, submitted["result"], CDN)
    assert task["action"] == "VIDEO" and task["progress"] == "100%"
    clips = [item["url"] for item in task["videoUrls"]]
    assert len(clips) == 2 and task["videoUrl"] == clips[0] == task["imageUrl"]
    assert [item["url"] for item in task["imageUrls"]] == clips
    r = await client.get(clips[1])
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    frames, seconds = _mp4(r.content)
    assert frames >= 8 and seconds == pytest.approx(VIDEO_SECONDS, abs=0.3)
    thumb = await client.get(task["videoUrls"][0]["thumbnail"])
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"
    assert (await client.get(clips[0].replace("/0.mp4", "/2.mp4"))).status_code == 404
    assert [b["customId"].split("::")[2] for b in task["buttons"]] == ["video_virtual_upscale"] * 2 + ["reroll"]
    extend = {"prompt": "further", "action": "extend", "taskId": task["id"], "index": 1, "batchSize": 1}
    extended = await _finish(client, (await _post(client, "/mj/submit/video", extend))["result"])
    assert extended["action"] == "VIDEO" and "videoUrls" not in extended  # a proxy without the CDN fill
    assert extended["imageUrl"].endswith(f"/mj/video/{extended['id']}/0.mp4")
    assert [b["label"] for b in extended["buttons"]] == ["Extend (High motion)", "Extend (Low motion)"]
    assert _mp4((await client.get(extended["imageUrl"])).content)[0] >= 8


async def test_video_refusals(client: httpx.AsyncClient) -> None:
    grid = await _finish(client, (await _post(client, "/mj/submit/imagine", {"prompt": "a dog"}))["result"])
    cases = [
        ({"image": PNG}, 4),
        ({"prompt": "x"}, 4),
        ({"prompt": "x", "image": PNG, "videoType": "vid_9"}, 4),
        ({"prompt": "x", "image": PNG, "motion": "wild"}, 4),
        ({"prompt": "x", "taskId": grid["id"], "index": 0}, 4),  # a taskId without action "extend"
        ({"prompt": "x", "action": "extend", "taskId": grid["id"], "index": 0}, 4),  # not a video
        ({"prompt": 'x [[mock {"code": "23"}]]', "image": PNG}, 23),
        ({"prompt": 'x [[mock {"code": "24"}]]', "image": PNG}, 24),
    ]
    for body, code in cases:
        assert (await _post(client, "/mj/submit/video", body))["code"] == code, body
    r = await client.post(
        "/mj/submit/video", json={"prompt": "x", "action": "extend", "taskId": "nope"}, headers=SECRET
    )
    assert r.status_code == 404 and r.json()["code"] == 3
    queued = await _post(client, "/mj/submit/video", {"prompt": 'x [[mock {"code": "22"}]]', "image": PNG})
    assert queued["code"] == 22 and queued["properties"]["numberOfQueues"] == 1
    failed = await _post(client, "/mj/submit/video", {"prompt": 'x [[mock {"body_error": true}]]', "image": PNG})
    done = await _finish(client, failed["result"])
    assert done["status"] == "FAILURE" and done["failReason"] and done["imageUrl"] is None


async def test_animate_buttons_of_an_upscale_make_videos(client: httpx.AsyncClient) -> None:
    grid = await _finish(client, (await _post(client, "/mj/submit/imagine", {"prompt": "a hill"}))["result"])
    up = await _post(client, "/mj/submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    single = await _finish(client, up["result"])
    animate = next(b["customId"] for b in single["buttons"] if b["customId"].startswith("MJ::JOB::animate_low::1::"))
    assert animate.endswith("::SOLO")
    video = await _finish(
        client, (await _post(client, "/mj/submit/action", {"taskId": single["id"], "customId": animate}))["result"]
    )
    assert video["action"] == "VIDEO" and video["imageUrl"].endswith(".mp4")
    upscale = video["buttons"][0]["customId"]
    assert upscale.startswith("MJ::JOB::video_virtual_upscale::1::")
    one = await _finish(
        client, (await _post(client, "/mj/submit/action", {"taskId": video["id"], "customId": upscale}))["result"]
    )
    assert one["action"] == "VIDEO" and one["buttons"][0]["customId"].startswith("MJ::JOB::animate_high_extend::1::")


async def test_face_swap_and_its_refusals(client: httpx.AsyncClient) -> None:
    submitted = await _post(client, "/mj/insight-face/swap", {"sourceBase64": PNG, "targetUrl": "https://x/t.png"})
    task = await _finish(client, submitted["result"])
    assert task["action"] == "SWAP_FACE" and task["buttons"] == []
    assert Image.open(io.BytesIO((await client.get(task["imageUrl"])).content)).size == (GRID_SIZE, GRID_SIZE)
    for body in ({"targetBase64": PNG}, {"sourceBase64": PNG}, {"sourceBase64": PNG, "targetBase64": PNG}):
        assert (await _post(client, "/mj/insight-face/swap", body))["code"] == 4
    relax = await _post(client, "/mj-relax/mj/insight-face/swap", {"sourceBase64": PNG, "targetBase64": PNG2})
    assert relax["code"] == 1


async def test_upload_answers_urls_serving_the_images(client: httpx.AsyncClient) -> None:
    jpeg = "data:image/jpeg;base64," + base64.b64encode(media_bytes.image("jpeg", 32, 32, 3)).decode()
    answer = await _post(client, "/mj/submit/upload-discord-images", {"base64Array": [PNG, jpeg]})
    assert answer["code"] == 1 and answer["description"] == "提交成功" and len(answer["result"]) == 2
    first, second = [await client.get(url) for url in answer["result"]]
    assert first.content == base64.b64decode(PNG.split(",", 1)[1]) and first.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(second.content)).format == "JPEG"
    assert (await client.get(answer["result"][0] + "x")).status_code == 404
    for body in ({"base64Array": []}, {}, {"base64Array": ["data:image/png;base64,@@"]}):
        assert (await _post(client, "/mj/submit/upload-discord-images", body))["code"] == 4
    fast = await _post(client, "/mj-fast/mj/submit/upload-discord-images", {"base64Array": [PNG]})
    assert fast["code"] == 1


async def test_image_seed(client: httpx.AsyncClient) -> None:
    task_id = (await _post(client, "/mj/submit/imagine", {"prompt": "a seed"}))["result"]
    r = await client.get(f"/mj/task/{task_id}/image-seed", headers=SECRET)
    assert r.status_code == 400 and r.json()["code"] == 4
    task = await _finish(client, task_id)
    assert task["seed"] is None
    r = await client.get(f"/mj/task/{task_id}/image-seed", headers=SECRET)
    seed = r.json()
    assert r.status_code == 200 and seed["code"] == 1 and seed["description"] == "成功" and seed["result"].isdigit()
    assert (await _finish(client, task_id))["seed"] == seed["result"]
    again = await client.get(f"/mj-turbo/mj/task/{task_id}/image-seed", headers=SECRET)
    assert again.json()["result"] == seed["result"]
    r = await client.get("/mj/task/nope/image-seed", headers=SECRET)
    assert r.status_code == 404 and r.json()["code"] == 3


async def test_mode_prefixes_reach_the_same_tasks(client: httpx.AsyncClient) -> None:
    submitted = await _post(client, "/mj-fast/mj/submit/imagine", {"prompt": "fast"})
    r = await client.post("/mj-relax/mj/task/list-by-condition", json={"ids": [submitted["result"]]}, headers=SECRET)
    assert [t["id"] for t in r.json()] == [submitted["result"]]
    assert (await client.get(f"/mj-turbo/mj/task/{submitted['result']}/fetch", headers=SECRET)).json()["id"]
    full = await _post(client, "/mj/submit/imagine", {"prompt": 'x [[mock {"code": "23"}]]'})
    assert full["code"] == 23 and full["result"] is None
