"""Kling's and Veo's native task routes through the gateway against the mock's Kling and Veo: create,
fetch until done in the vendor's own shapes, output URLs signed on the gateway, bad input in each
dialect's shape with nothing sent upstream, another key's task a 404, idempotent create."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from google.genai import types as genai_types
from PIL import Image

from omnirouter.http.signed_urls import verify
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.tasks.veo_native import parse_file_name
from omnirouter.storage.signing_secret import url_signing_secret
from tests.helpers.gateway_harness import RunningGateway
from tests.helpers.task_gateway import (
    KLING_MODEL,
    OTHER_KEY,
    VEO_MODEL,
    call,
    task_gateway,
    until,
)


def _vendor_posts(mock: MockUpstream, path_part: str) -> list[Any]:
    return [r for r in mock.requests if r.method == "POST" and path_part in r.path]


async def _signed(running: RunningGateway, url: str, task_id: str, variant: str) -> None:
    """``url`` is a gateway URL of the task's content, signed for ``variant`` with the gateway's secret."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == running.url
    assert parts.path == f"/v1/videos/{task_id}/content"
    assert parse_qs(parts.query)["variant"] == [variant]
    secret = await url_signing_secret(running.app.gateway.db)
    assert verify(parts.path, parts.query, 0, secret)
    assert not verify(parts.path, parts.query.replace(f"variant={variant}", "variant=other"), 0, secret)


async def test_kling_text2video_runs_to_succeed_in_klings_envelope(mock: MockUpstream, tmp_path: Path) -> None:
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        base = f"{running.url}/kling/v1/videos/text2video"
        body = {"model_name": KLING_MODEL, "prompt": "a cat playing piano", "duration": "5",
                "external_task_id": "my-job-1", "cfg_scale": 0.5}  # fmt: skip
        status, created = await call(session, "POST", base, body=body)
        assert status == 200, created
        assert (created["code"], created["message"]) == (0, "SUCCEED")
        data = created["data"]
        task_id = data["task_id"]
        assert task_id.startswith("task_") and created["request_id"] == task_id
        assert data["task_status"] in ("submitted", "processing")
        assert data["task_info"] == {"external_task_id": "my-job-1"}
        assert isinstance(data["created_at"], int) and data["created_at"] > 10**12  # milliseconds
        sent = _vendor_posts(mock, "/v1/videos/text2video")
        assert len(sent) == 1
        assert sent[0].body["external_task_id"] == f"omni-{task_id}"  # ours upstream, the client's kept here
        assert sent[0].body["model_name"] == KLING_MODEL and sent[0].body["cfg_scale"] == 0.5

        async def done() -> Any:
            _, got = await call(session, "GET", f"{base}/{task_id}")
            return got if got["data"]["task_status"] == "succeed" else None

        final = (await until(done))["data"]
        assert final["task_id"] == task_id and final["task_status_msg"] == ""
        [video] = final["task_result"]["videos"]
        assert video["id"] == task_id and video["duration"] == "5"
        await _signed(running, video["url"], task_id, "video")
        assert final["updated_at"] >= final["created_at"]
        assert "kling" not in video["url"] and mock.url not in video["url"]


async def test_kling_image2video_and_its_errors_in_klings_shape(mock: MockUpstream, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "PNG")
    image = base64.b64encode(buffer.getvalue()).decode()
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        t2v, i2v = f"{running.url}/kling/v1/videos/text2video", f"{running.url}/kling/v1/videos/image2video"
        cases = [
            (t2v, {"prompt": "no model"}, "model_name"),
            (t2v, {"model_name": KLING_MODEL}, "prompt"),
            (t2v, {"model_name": KLING_MODEL, "prompt": "x", "image": image}, "image"),
            (i2v, {"model_name": KLING_MODEL, "prompt": "x"}, "image"),
            (t2v, {"model_name": KLING_MODEL, "prompt": "x", "cfg_scale": 3}, "cfg_scale"),
        ]
        for url, body, field in cases:
            status, error = await call(session, "POST", url, body=body)
            assert status == 400, (body, error)
            assert error["code"] == 1201 and field in error["message"], error
        status, error = await call(session, "POST", t2v, body={"model_name": "no-such", "prompt": "x"})
        assert (status, error["code"]) == (404, 1203) and "no-such" in error["message"]
        status, error = await call(session, "POST", t2v, key="wrong", body={"model_name": KLING_MODEL, "prompt": "x"})
        assert (status, error["code"]) == (401, 1000)
        assert not _vendor_posts(mock, "/v1/videos/")  # nothing was sent upstream

        status, created = await call(session, "POST", i2v, body={"model_name": KLING_MODEL, "image": image})
        assert status == 200, created
        task_id = created["data"]["task_id"]
        [sent] = _vendor_posts(mock, "/v1/videos/image2video")
        assert sent.body["image"] == image
        for key in (OTHER_KEY, None):
            status, error = await call(session, "GET", f"{i2v}/{task_id}", key=key)
            assert status == (404 if key else 401) and error["code"] == (1203 if key else 1000)
        status, error = await call(session, "GET", f"{i2v}/task_nope")
        assert (status, error["code"]) == (404, 1203)


async def test_kling_idempotency_key_gives_the_same_task(mock: MockUpstream, tmp_path: Path) -> None:
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        url = f"{running.url}/kling/v1/videos/text2video"
        body = {"model_name": KLING_MODEL, "prompt": "a fox", "duration": "5"}
        headers = {"idempotency-key": "k-1"}
        _, first = await call(session, "POST", url, body=body, headers=headers)
        _, again = await call(session, "POST", url, body={"duration": "5", "prompt": "a fox",
                                                         "model_name": KLING_MODEL}, headers=headers)  # fmt: skip
        assert first["data"]["task_id"] == again["data"]["task_id"]
        assert len(_vendor_posts(mock, "/v1/videos/text2video")) == 1
        status, error = await call(session, "POST", url, body={**body, "prompt": "a dog"}, headers=headers)
        assert status == 409 and "Idempotency-Key" in error["message"]


async def test_veo_predict_long_running_to_done_with_gateway_file_uris(mock: MockUpstream, tmp_path: Path) -> None:
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        url = f"{running.url}/v1beta/models/{VEO_MODEL}:predictLongRunning"
        body = {"instances": [{"prompt": "a red fox in snow"}], "parameters": {"durationSeconds": 5,
                "aspectRatio": "9:16", "sampleCount": 1}}  # fmt: skip
        status, operation = await call(session, "POST", url, key=None, body=body,
                                       headers={"x-goog-api-key": "sk-test-client-0001"})  # fmt: skip
        assert status == 200, operation
        name = operation["name"]
        assert name.startswith(f"models/{VEO_MODEL}/operations/task_") and operation["done"] is False
        task_id = name.rsplit("/", 1)[1]
        [sent] = _vendor_posts(mock, ":predictLongRunning")
        assert sent.body["parameters"]["durationSeconds"] in (4, 6)  # mapped to one Veo makes

        async def done() -> Any:
            _, got = await call(session, "GET", f"{running.url}/v1beta/{name}?key=sk-test-client-0001", key=None)
            return got if got.get("done") else None

        final = await until(done)
        assert final["name"] == name and "error" not in final
        parsed = genai_types.GenerateVideosOperation.from_api_response(final, is_vertex_ai=False)
        assert parsed.done and parsed.response is not None and parsed.response.generated_videos
        uri = parsed.response.generated_videos[0].video.uri  # type: ignore[union-attr]
        assert (
            uri is not None and uri.startswith(f"{running.url}/v1beta/files/") and uri.endswith(":download?alt=media")
        )
        file = uri.split("/v1beta/files/", 1)[1].split(":", 1)[0]
        assert parse_file_name(file) == (task_id, 0)
        status, short = await call(session, "GET", f"{running.url}/v1beta/operations/{task_id}")
        assert status == 200, short
        assert short["name"] == name and short["done"] is True


async def test_veo_errors_in_geminis_shape(mock: MockUpstream, tmp_path: Path) -> None:
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        url = f"{running.url}/v1beta/models/{VEO_MODEL}:predictLongRunning"
        for body, field in (
            ({"instances": []}, "instances"),
            ({"instances": [{"prompt": "x"}], "parameters": {"sampleCount": 9}}, "sampleCount"),
            ({"instances": [{"image": {"bytesBase64Encoded": "bm90IGFuIGltYWdl"}}]}, "image"),
        ):
            status, error = await call(session, "POST", url, body=body)
            assert status == 400, error
            assert error["error"]["status"] == "INVALID_ARGUMENT" and field in error["error"]["message"]
        status, error = await call(session, "POST", url, key=None, body={"instances": [{"prompt": "x"}]})
        assert status in (400, 401) and error["error"]["code"] == status  # Gemini answers a bad key 400
        assert "key" in error["error"]["message"].lower()
        assert not _vendor_posts(mock, ":predictLongRunning")
        status, operation = await call(session, "POST", url, body={"instances": [{"prompt": "x"}]})
        assert status == 200
        status, error = await call(session, "GET", f"{running.url}/v1beta/{operation['name']}", key=OTHER_KEY)
        assert status == 404 and error["error"]["status"] == "NOT_FOUND"
        status, error = await call(session, "GET", f"{running.url}/v1beta/models/{VEO_MODEL}/operations/")
        assert status == 404
