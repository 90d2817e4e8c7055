"""The video task routes beyond the happy path: multipart references, list / delete / remix, the unified
API, idempotency, scoping, bad input, vendor failures, signed URLs and the Veo file download."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.tasks.veo_native import file_name
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.usage_rows import usage_rows
from tests.helpers.video_gateway import OTHER_KEY, made, mock_task, video_gateway

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def call(gw: RunningGateway, method: str, path: str, key: str | None = CLIENT_KEY, **kw: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kw.pop("headers", {}))
    async with aiohttp.ClientSession() as http, http.request(method, gw.url + path, headers=headers, **kw) as r:
        raw = await r.read()
        try:
            return r.status, await r.json(content_type=None)
        except ValueError:
            return r.status, raw


async def wait_done(gw: RunningGateway, video_id: str) -> dict[str, Any]:
    for _ in range(200):
        status, body = await call(gw, "GET", f"/v1/videos/{video_id}")
        assert status == 200, body
        if body["status"] in ("completed", "failed"):
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError("the video did not finish")


def sora_posts(mock: MockUpstream) -> list[Any]:
    return [r for r in mock.requests if r.method == "POST" and r.path.startswith("/v1/videos")]


async def test_multipart_input_reference_reaches_sora_as_the_image(mock: MockUpstream, tmp_path: Path) -> None:
    image = png()
    async with video_gateway(mock, tmp_path) as gw, openai.AsyncOpenAI(api_key=CLIENT_KEY, base_url=f"{gw.url}/v1",
                                                                       max_retries=0) as client:  # fmt: skip
        video = await client.videos.create_and_poll(model="sora-2", prompt="a red square moves", seconds="4",
                                                    size="1280x720", input_reference=("ref.png", image, "image/png"),
                                                    poll_interval_ms=50)  # fmt: skip
        assert video.status == "completed"
    sent = sora_posts(mock)[0]
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert sent.body["files"] == [{"field": "input_reference", "filename": "ref.png", "content_type": "image/png",
                                   "size": len(image), "sha256": hashlib.sha256(image).hexdigest()}]  # fmt: skip


async def test_list_delete_and_remix_on_sora(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        boat = {"model": "sora-2", "prompt": "a boat", "seconds": "4", "size": "1280x720"}
        status, first = await call(gw, "POST", "/v1/videos", json=boat)
        assert status == 200, first
        done = await wait_done(gw, first["id"])
        assert done["status"] == "completed"
        status, remix = await call(gw, "POST", f"/v1/videos/{first['id']}/remix", json={"prompt": "a boat at night"})
        assert status == 200, remix
        assert remix["remixed_from_video_id"] == first["id"] and remix["id"] != first["id"]
        source_upstream = mock_task(mock, "a boat").id
        remix_call = [r for r in sora_posts(mock) if r.path.endswith("/remix")]
        assert [r.path for r in remix_call] == [f"/v1/videos/{source_upstream}/remix"]  # the vendor's own id
        assert (await wait_done(gw, remix["id"]))["status"] == "completed"
        assert source_upstream not in str(remix)  # the upstream id never reaches the client
        status, page = await call(gw, "GET", "/v1/videos?limit=1")
        assert status == 200 and [v["id"] for v in page["data"]] == [remix["id"]] and page["has_more"] is True
        status, page2 = await call(gw, "GET", f"/v1/videos?limit=1&after={remix['id']}")
        assert [v["id"] for v in page2["data"]] == [first["id"]] and page2["has_more"] is False
        status, deleted = await call(gw, "DELETE", f"/v1/videos/{first['id']}")
        assert (status, deleted) == (200, {"object": "video.deleted", "deleted": True, "id": first["id"]})
        status, gone = await call(gw, "GET", f"/v1/videos/{first['id']}/content")
        assert status == 404 and gone["error"]["param"] == "video_id"  # the video itself is gone for the key


async def test_unified_create_and_get_in_new_api_shapes(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        status, created = await call(gw, "POST", "/v1/video/generations",
                                     json={"model": "kling-v2", "prompt": "a fox runs", "duration": 5})  # fmt: skip
        assert status == 200 and created["task_id"] == created["id"] and created["object"] == "video"
        for _ in range(200):
            status, got = await call(gw, "GET", f"/v1/video/generations/{created['id']}")
            assert status == 200 and got["code"] == "success"
            if got["data"]["status"] in ("SUCCESS", "FAILURE"):
                break
            await asyncio.sleep(0.05)
        data = got["data"]
        assert data["status"] == "SUCCESS" and data["progress"] == "100%" and data["task_id"] == created["id"]
        async with aiohttp.ClientSession() as http, http.get(data["result_url"]) as r:  # signed: no key
            assert r.status == 200
            assert await r.read() == made(mock_task(mock, "a fox runs"))


async def test_idempotency_key_same_body_same_task_other_body_409(mock: MockUpstream, tmp_path: Path) -> None:
    body = {"model": "sora-2", "prompt": "a kite", "seconds": "4", "size": "1280x720"}
    same = {"size": "1280x720", "seconds": "4", "prompt": "a kite", "model": "sora-2"}  # other key order
    async with video_gateway(mock, tmp_path) as gw:
        headers = {"Idempotency-Key": "idem-1"}
        s1, a = await call(gw, "POST", "/v1/videos", json=body, headers=headers)
        s2, b = await call(gw, "POST", "/v1/videos", json=same, headers=headers)
        s3, c = await call(gw, "POST", "/v1/videos", json={**body, "prompt": "a kite 2"}, headers=headers)
        assert (s1, s2) == (200, 200) and a["id"] == b["id"]
        assert s3 == 409 and c["error"]["param"] == "Idempotency-Key"
        assert len(sora_posts(mock)) == 1


async def test_another_keys_video_is_404_on_get_and_content(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        _, video = await call(gw, "POST", "/v1/videos", json={"model": "sora-2", "prompt": "a cat", "seconds": "4",
                                                              "size": "1280x720"})  # fmt: skip
        await wait_done(gw, video["id"])
        for path in (f"/v1/videos/{video['id']}", f"/v1/videos/{video['id']}/content",
                     f"/v1/video/generations/{video['id']}"):  # fmt: skip
            status, body = await call(gw, "GET", path, key=OTHER_KEY)
            assert status == 404 and body["error"]["type"] == "not_found_error", (path, body)
            status, body = await call(gw, "GET", path.replace(video["id"], "task_doesnotexist"), key=OTHER_KEY)
            assert status == 404
        status, _ = await call(gw, "DELETE", f"/v1/videos/{video['id']}", key=OTHER_KEY)
        assert status == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x", "seconds": "4"}, "model"),
        ({"model": "sora-2", "seconds": "4"}, "prompt"),
        ({"model": "sora-2", "prompt": "x", "size": "big"}, "size"),
        ({"model": "sora-2", "prompt": "x", "seconds": "soon"}, "seconds"),
        ({"model": "no-such-model", "prompt": "x"}, "model"),
    ],
)
async def test_bad_input_is_400_naming_the_field_and_nothing_is_sent(
    body: dict[str, Any], param: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        status, answer = await call(gw, "POST", "/v1/videos", json=body)
    assert status in (400, 404) and answer["error"]["param"] == param, answer
    assert sora_posts(mock) == []


async def test_a_vendor_failure_fails_the_task_with_its_reason_and_refunds(mock: MockUpstream, tmp_path: Path) -> None:
    prompt = 'a storm [[mock {"body_error": true, "message": "the prompt was moderated"}]]'
    async with video_gateway(mock, tmp_path) as gw:
        _, video = await call(gw, "POST", "/v1/videos", json={"model": "sora-2", "prompt": prompt, "seconds": "4",
                                                              "size": "1280x720"})  # fmt: skip
        done = await wait_done(gw, video["id"])
    assert done["status"] == "failed" and "moderated" in done["error"]["message"]
    rows = [row for row in await usage_rows(tmp_path / "gw.db") if row["request_id"] == video["id"]]
    assert len(rows) == 1 and rows[0]["cost_nano"] == 0
    key, _ = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert key.used_nano == 0


async def test_signed_content_url_works_without_a_key_and_fails_tampered_or_expired(
    mock: MockUpstream, tmp_path: Path
) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        dog = {"model": "sora-2", "prompt": "a dog", "seconds": "4", "size": "1280x720"}
        _, video = await call(gw, "POST", "/v1/video/generations", json=dog)
        await wait_done(gw, video["id"])
        _, got = await call(gw, "GET", f"/v1/video/generations/{video['id']}")
        url: str = got["data"]["result_url"]
        assert url.startswith(gw.url + f"/v1/videos/{video['id']}/content?")
        expected = made(mock_task(mock, "a dog"))
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as r:
                assert r.status == 200 and await r.read() == expected
            async with http.get(url, headers={"Range": "bytes=0-9"}) as r:
                assert r.status == 206 and await r.read() == expected[:10]
            tampered = url.replace("variant=video", "variant=thumbnail")
            async with http.get(tampered) as r:
                assert r.status == 401
            past = int(time.time()) - 10
            expired = gw.url + signed_path(gw, video["id"], past)
            async with http.get(expired) as r:
                assert r.status == 401


def signed_path(gw: RunningGateway, video_id: str, expires: int) -> str:
    from omnirouter.http.signed_urls import signed_url

    secret = gw.app.gateway.url_secret
    return signed_url(f"/v1/videos/{video_id}/content", expires, secret, {"variant": "video"})


async def test_veo_file_uri_serves_the_bytes_to_the_client_key(mock: MockUpstream, tmp_path: Path) -> None:
    async with video_gateway(mock, tmp_path) as gw:
        _, video = await call(gw, "POST", "/v1/videos", json={"model": "veo-3", "prompt": "a waterfall",
                                                              "seconds": "8", "size": "1280x720"})  # fmt: skip
        await wait_done(gw, video["id"])
        path = f"/v1beta/files/{file_name(video['id'], 0)}:download?alt=media"
        expected = made(mock_task(mock, "a waterfall"))
        for key_where in ({"headers": {"x-goog-api-key": CLIENT_KEY}}, {"params": {"key": CLIENT_KEY}}):
            status, body = await call(gw, "GET", path, key=None, **key_where)
            assert status == 200 and body == expected
        status, body = await call(gw, "GET", path, key=CLIENT_KEY)
        assert status == 200 and body == expected
        status, body = await call(gw, "GET", path, key=OTHER_KEY)
        assert status == 404 and body["error"]["status"] == "NOT_FOUND"
