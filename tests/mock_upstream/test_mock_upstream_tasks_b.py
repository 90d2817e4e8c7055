"""Video task vendors B end to end against the mock, through their codecs with real HTTP calls: submit,
poll until terminal, download each output with or without the key as the output says; the MP4 decodes.
The official SDKs pointed straight at the mock's Sora and Veo routes prove the mock is faithful."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import av
import orjson
import pytest
from PIL import Image

from omnirouter.ir import GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskRequest, TaskState, TaskStatus
from omnirouter.mock_upstream import MockUpstream, media_bytes
from omnirouter.protocols.media.base import Answer, UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget, TaskVendor
from omnirouter.providers import PROVIDERS, Capability, ProviderKind

KEYS = {
    ProviderKind.OPENAI: "sk-sora",
    ProviderKind.GEMINI: "gm-veo",
    ProviderKind.DASHSCOPE: "sk-wan",
    ProviderKind.TENCENT: "AKIDmock|AKIDmock-secret",
    ProviderKind.PIXVERSE: "pv-key",
}
MODELS = {
    ProviderKind.OPENAI: "sora-2",
    ProviderKind.GEMINI: "veo-3.0-generate-001",
    ProviderKind.DASHSCOPE: "wan2.6-t2v",
    ProviderKind.TENCENT: "hunyuan-video",
    ProviderKind.PIXVERSE: "v4.5",
}


def _target(mock: MockUpstream, kind: ProviderKind, **options: str) -> TaskTarget:
    base = mock.url + ("/v1" if kind is ProviderKind.OPENAI else "")
    return TaskTarget(MODELS[kind], options, KEYS[kind], base, f"ext-{kind}-{time.time_ns()}", time.time())


async def _send(session: aiohttp.ClientSession, kind: ProviderKind, call: UpstreamCall, base: str) -> Answer:
    spec = PROVIDERS[kind]
    headers = {"content-type": call.content_type}
    if call.auth:
        headers.update(spec.auth_headers(KEYS[kind]))
    headers.update(call.headers)
    url = call.path if call.path.startswith("http") else base + call.path
    async with session.request(call.method, url, data=call.body or None, headers=headers) as response:
        return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read())


async def _run(
    mock: MockUpstream, kind: ProviderKind, request: TaskRequest, **options: str
) -> tuple[TaskState, list[Answer], list[int]]:
    """Submit, poll until terminal (non-2xx polls are transient: counted), return the state, the
    downloads of its outputs and the statuses of failed polls."""
    vendor: TaskVendor = PROVIDERS[kind].tasks[Capability.VIDEO_TASK]
    target = _target(mock, kind, **options)
    transient: list[int] = []
    async with aiohttp.ClientSession() as session:
        answer = await _send(session, kind, vendor.submit(request, target), target.base_url)
        assert answer.status == 200, answer.body[:300]
        submitted = vendor.parse_submit(answer, request, target)
        state = submitted.state or TaskState(status=TaskStatus.PENDING)
        for _ in range(20):
            if state.status.terminal:
                break
            target = target._replace(now=time.time())
            answer = await _send(session, kind, vendor.poll(submitted.upstream_id, target), target.base_url)
            if answer.status != 200:
                transient.append(answer.status)
                vendor.decode_error(answer.status, answer.body)  # never raises, always an error
                continue
            try:
                state = vendor.parse_poll(answer, target, None)
            except GatewayError:
                transient.append(answer.status)
        downloads = []
        for output in state.outputs:
            headers = PROVIDERS[kind].auth_headers(KEYS[kind]) if output.auth else {}
            async with session.get(output.url, headers=headers) as response:
                downloads.append(Answer(response.status, dict(response.headers), await response.read()))
    return state, downloads, transient


def _decode_mp4(data: bytes) -> tuple[int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, (container.duration or 0) / 1_000_000


CASES = [
    (ProviderKind.OPENAI, TaskRequest(model="m", prompt="a cat playing piano", seconds=7, size="1280x720"), 8.0),
    (ProviderKind.GEMINI, TaskRequest(model="m", prompt="a red fox", seconds=5, aspect_ratio="9:16"), 4.0),
    (ProviderKind.DASHSCOPE, TaskRequest(model="m", prompt="waves", seconds=9, size="1280x720"), 10.0),
    (ProviderKind.TENCENT, TaskRequest(model="m", prompt="一只狗在跳舞"), 5.0),
    (ProviderKind.PIXVERSE, TaskRequest(model="m", prompt="a rocket", seconds=7, resolution="540p"), 8.0),
]


@pytest.mark.parametrize(("kind", "request_", "seconds"), CASES, ids=[str(c[0]) for c in CASES])
async def test_each_vendor_runs_to_success_and_its_video_decodes(
    mock_upstream: MockUpstream, kind: ProviderKind, request_: TaskRequest, seconds: float
) -> None:
    state, downloads, transient = await _run(mock_upstream, kind, request_)
    assert state.status is TaskStatus.SUCCEEDED and transient == []
    assert downloads and all(d.status == 200 for d in downloads)
    frames, duration = _decode_mp4(downloads[0].body)
    assert frames > 0 and duration == pytest.approx(seconds, abs=0.2)
    if kind is ProviderKind.DASHSCOPE:
        assert state.seconds == seconds  # usage.video_duration
    if kind is ProviderKind.OPENAI:
        assert state.seconds == 8.0 and [o.kind for o in state.outputs] == ["video", "thumbnail", "spritesheet"]
        assert Image.open(io.BytesIO(downloads[1].body)).format == "WEBP"
        assert Image.open(io.BytesIO(downloads[2].body)).format == "JPEG"
    auth = {ProviderKind.OPENAI: True, ProviderKind.GEMINI: True}.get(kind, False)
    assert all(o.auth is auth for o in state.outputs)


@pytest.mark.parametrize("kind", [ProviderKind.OPENAI, ProviderKind.GEMINI])
async def test_keyed_outputs_refuse_a_fetch_without_the_key(mock_upstream: MockUpstream, kind: ProviderKind) -> None:
    state, _, _ = await _run(mock_upstream, kind, TaskRequest(model="m", prompt="keyed"))
    async with aiohttp.ClientSession() as session, session.get(state.outputs[0].url) as response:
        assert response.status in (401, 403)


@pytest.mark.parametrize("kind", list(KEYS))
async def test_terminal_failure_carries_the_vendors_reason(mock_upstream: MockUpstream, kind: ProviderKind) -> None:
    mock_upstream.script({"body_error": True, "message": "moderation: blocked by policy", "pending_polls": 1})
    state, downloads, _ = await _run(mock_upstream, kind, TaskRequest(model="m", prompt="bad idea"))
    assert state.status is TaskStatus.FAILED and downloads == []
    assert state.failure is not None
    if kind is not ProviderKind.PIXVERSE:  # PixVerse reports only a status code (7: moderation)
        assert "blocked by policy" in state.failure
    else:
        assert state.failure_code == "7"


@pytest.mark.parametrize("kind", list(KEYS))
async def test_transient_poll_faults_then_success(mock_upstream: MockUpstream, kind: ProviderKind) -> None:
    mock_upstream.script({"poll_faults": ["not_found", 500, 429, "unknown"], "pending_polls": 1})
    state, downloads, transient = await _run(mock_upstream, kind, TaskRequest(model="m", prompt="flaky"))
    assert state.status is TaskStatus.SUCCEEDED
    assert downloads[0].status == 200
    assert len(transient) >= 2  # the HTML 500 and the 429 (Tencent answers its rate limit inside a 200)


async def test_results_that_expire_answer_404_on_a_second_fetch(mock_upstream: MockUpstream) -> None:
    mock_upstream.script({"media_fetches": 1})
    state, downloads, _ = await _run(mock_upstream, ProviderKind.DASHSCOPE, TaskRequest(model="m", prompt="once"))
    assert downloads[0].status == 200
    async with aiohttp.ClientSession() as session, session.get(state.outputs[0].url) as response:
        assert response.status == 404


@pytest.mark.parametrize("kind", [ProviderKind.OPENAI, ProviderKind.GEMINI])
async def test_keyed_results_expire_on_the_same_directive(mock_upstream: MockUpstream, kind: ProviderKind) -> None:
    mock_upstream.script({"media_fetches": 1, "pending_polls": 0})
    state, downloads, _ = await _run(mock_upstream, kind, TaskRequest(model="m", prompt="once"))
    assert downloads[0].status == 200 and _decode_mp4(downloads[0].body)[0] > 0
    headers = PROVIDERS[kind].auth_headers(KEYS[kind])
    async with aiohttp.ClientSession() as session, session.get(state.outputs[0].url, headers=headers) as response:
        assert response.status == 404


async def test_dashscope_cancels_a_pending_task(mock_upstream: MockUpstream) -> None:
    kind = ProviderKind.DASHSCOPE
    vendor = PROVIDERS[kind].tasks[Capability.VIDEO_TASK]
    target = _target(mock_upstream, kind)
    request = TaskRequest(model="m", prompt="cancel me")
    async with aiohttp.ClientSession() as session:
        submitted = vendor.parse_submit(await _send(session, kind, vendor.submit(request, target), target.base_url),
                                        request, target)  # fmt: skip
        cancel = vendor.cancel(submitted.upstream_id, target)
        assert cancel is not None
        assert (await _send(session, kind, cancel, target.base_url)).status == 200
        state = vendor.parse_poll(
            await _send(session, kind, vendor.poll(submitted.upstream_id, target), target.base_url), target, None
        )
    assert state.status is TaskStatus.CANCELLED


async def test_tencent_refuses_a_wrong_secret_and_pixverse_a_repeated_trace_id_is_one_video(
    mock_upstream: MockUpstream,
) -> None:
    request = TaskRequest(model="m", prompt="signed")
    vendor = PROVIDERS[ProviderKind.TENCENT].tasks[Capability.VIDEO_TASK]
    target = _target(mock_upstream, ProviderKind.TENCENT)._replace(upstream_key="AKIDmock|wrong")
    async with aiohttp.ClientSession() as session:
        answer = await _send(session, ProviderKind.TENCENT, vendor.submit(request, target), target.base_url)
        with pytest.raises(GatewayError) as caught:
            vendor.parse_submit(answer, request, target)
        assert caught.value.code == "AuthFailure.SignatureFailure"
        assert caught.value.status == 401
        pix = PROVIDERS[ProviderKind.PIXVERSE].tasks[Capability.VIDEO_TASK]
        ptarget = _target(mock_upstream, ProviderKind.PIXVERSE)
        first = await _send(session, ProviderKind.PIXVERSE, pix.submit(request, ptarget), ptarget.base_url)
        again = await _send(session, ProviderKind.PIXVERSE, pix.submit(request, ptarget), ptarget.base_url)
        assert pix.parse_submit(first, request, ptarget) == pix.parse_submit(again, request, ptarget)


async def test_sora_multipart_reference_reaches_the_mock_as_a_file(mock_upstream: MockUpstream) -> None:
    png = media_bytes.image("png", 64, 36)
    image = ImageInput(file=MediaFile(png, "ref.png", "image/png"))
    request = TaskRequest(model="m", prompt="from a picture", images=[image])
    state, downloads, _ = await _run(mock_upstream, ProviderKind.OPENAI, request)
    assert downloads[0].status == 200
    assert state.status is TaskStatus.SUCCEEDED
    create = next(r for r in mock_upstream.requests if r.method == "POST" and r.path == "/v1/videos"
                  and isinstance(r.body, dict) and r.body.get("multipart"))  # fmt: skip
    assert create.body["files"][0]["field"] == "input_reference" and create.body["files"][0]["size"] == len(png)


async def test_openai_sdk_create_and_poll_and_download_content(mock_upstream: MockUpstream) -> None:
    import openai

    async with openai.AsyncOpenAI(api_key="sk-sdk", base_url=mock_upstream.url + "/v1") as client:
        video, content, thumbnail = await _sdk_video(client)
    assert video.status == "completed" and video.seconds == "8" and video.size == "1280x720"
    frames, duration = _decode_mp4(content)
    assert frames > 0 and duration == pytest.approx(8.0, abs=0.2)
    assert Image.open(io.BytesIO(thumbnail)).format == "WEBP"


async def _sdk_video(client: Any) -> tuple[Any, bytes, bytes]:
    with warnings.catch_warnings():  # every Videos call is marked deprecated (Sora shuts down 2026-09-24)
        warnings.simplefilter("ignore", DeprecationWarning)
        video = await client.videos.create_and_poll(
            prompt="a calico cat", model="sora-2", seconds="8", size="1280x720", poll_interval_ms=5
        )
        content = await client.videos.download_content(video.id, variant="video")
        thumbnail = await client.videos.download_content(video.id, variant="thumbnail")
    return video, content.read(), thumbnail.read()


GENAI2 = Path(sys.prefix) / "google-genai-2"
"""google-genai 2.x beside the venv's 3.x (which no longer sends ``generate_videos`` to the Gemini API),
installed there by ``make test`` (the Makefile's ``GENAI2``)."""


def _genai2() -> Path:
    assert (GENAI2 / "google" / "genai" / "__init__.py").exists(), f"google-genai 2.x is not in {GENAI2}: run make test"
    return GENAI2


async def test_google_genai_2_generate_videos_and_operations_get(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    out = tmp_path / "veo.mp4"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("veo_genai2_client.py")),
        mock_upstream.url,
        str(out),
        env={**os.environ, "PYTHONPATH": str(_genai2())},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-2000:]
    result = orjson.loads(stdout)
    assert result["done"] is True and result["version"].startswith("2.")
    frames, duration = _decode_mp4(out.read_bytes())
    assert frames > 0 and duration == pytest.approx(6.0, abs=0.2)
    paths = [r.path for r in mock_upstream.requests if r.headers.get("x-goog-api-key") == "gm-sdk"]
    assert paths[0] == "/v1beta/models/veo-3.0-generate-001:predictLongRunning"
    assert any(p.endswith(":download") for p in paths)
