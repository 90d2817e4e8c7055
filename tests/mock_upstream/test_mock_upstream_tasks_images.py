"""The image task vendors end to end against the mock upstream over real HTTP: the codecs' own calls with the
vendors' auth (Kling's JWT, Tencent's TC3 signature) reach the mock's Kling image APIs and MPS, polls follow
the scripted timeline to a terminal state, and the result images decode with Pillow in the shape asked."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from PIL import Image

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from omnirouter.protocols.media.base import Answer, UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget, TaskVendor
from omnirouter.protocols.tasks.tencent_cloud import tc3_call
from omnirouter.providers import PROVIDERS, Capability, ProviderKind

KLING_KEY = f"akimg|{mock_secret('akimg')}"
TENCENT_KEY = "AKIDpano|AKIDpano-secret"


@pytest.fixture
async def mock(mock_upstream: MockUpstream) -> AsyncIterator[MockUpstream]:
    mock_upstream.clear_script()
    yield mock_upstream
    mock_upstream.clear_script()


def _codec(kind: ProviderKind) -> TaskVendor:
    return PROVIDERS[kind].tasks[Capability.IMAGE_TASK]


def _target(mock: MockUpstream, kind: ProviderKind, model: str, **options: str) -> TaskTarget:
    key = KLING_KEY if kind is ProviderKind.KLING else TENCENT_KEY
    return TaskTarget(model, options, key, mock.url, f"ext-img-{time.time_ns()}", time.time())


async def _send(session: aiohttp.ClientSession, call: UpstreamCall, target: TaskTarget) -> Answer:
    url = call.path if call.path.startswith("http") else target.base_url + call.path
    headers = ({"content-type": call.content_type} if call.body else {}) | dict(call.headers)
    if call.auth:  # the channel's auth headers: none for these signing providers (both sign every call)
        assert PROVIDERS[ProviderKind.TENCENT].auth_headers(target.upstream_key) == {}
    async with session.request(call.method, url, data=call.body or None, headers=headers) as response:
        return Answer(response.status, {}, await response.read())


async def _run(
    kind: ProviderKind, target: TaskTarget, request: TaskRequest, polls: int = 10
) -> tuple[TaskState, list[Any]]:
    """Submit, then poll until terminal: the final state and what each poll gave (a status or an error)."""
    codec, seen = _codec(kind), []
    async with aiohttp.ClientSession() as session:
        answer = await _send(session, codec.submit(request, target), target)
        if answer.status >= 300:
            raise codec.decode_error(answer.status, answer.body)
        submitted = codec.parse_submit(answer, request, target)
        for _ in range(polls):
            answer = await _send(session, codec.poll(submitted.upstream_id, target._replace(now=time.time())), target)
            try:
                if answer.status >= 300:
                    raise codec.decode_error(answer.status, answer.body)
                state = codec.parse_poll(answer, target, None)
            except GatewayError as exc:
                seen.append(exc)
                continue
            assert isinstance(state, TaskState)
            seen.append(state.status)
            if state.status.terminal:
                return state, seen
    raise AssertionError(f"not terminal after {polls} polls: {seen}")


async def _image(url: str) -> tuple[int, Image.Image | None, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        data = await response.read()
        if response.status != 200:
            return response.status, None, response.content_type
        image = Image.open(io.BytesIO(data))
        image.load()
        return response.status, image, response.content_type


def _image_request(prompt: str | None = "一只小猫坐在窗边", **fields: Any) -> TaskRequest:
    return TaskRequest(kind=TaskKind.IMAGE, model="Kling:3.0-omni", prompt=prompt, **fields)


async def test_kling_omni_makes_n_images_that_decode_in_the_ratio_asked(mock: MockUpstream) -> None:
    target = _target(mock, ProviderKind.KLING, "kling-v3-omni")
    request = _image_request(n=3, aspect_ratio="16:9", resolution="4K", images=[ImageInput(url="https://a/ref.png")])
    state, seen = await _run(ProviderKind.KLING, target, request)
    assert seen == [TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED]
    assert state.credits == 3.0 and len(state.outputs) == 3
    pixels = set()
    for output in state.outputs:
        status, image, content_type = await _image(output.url)
        assert status == 200 and image is not None and content_type == "image/png" == output.mime
        assert image.format == "PNG" and image.width > image.height and round(image.width / image.height, 1) == 1.8
        pixels.add(image.getpixel((0, 0)))
    assert len(pixels) == 3  # three different images, not one served thrice
    sent = next(r for r in reversed(mock.requests) if r.method == "POST" and r.path == "/v1/images/omni-image")
    assert (
        sent.body["n"] == 3 and sent.body["resolution"] == "4k" and sent.body["external_task_id"] == target.external_id
    )
    assert sent.body["image_list"] == [{"image": "https://a/ref.png"}]


async def test_kling_generations_share_the_openai_path_told_apart_by_the_jwt(mock: MockUpstream) -> None:
    target = _target(mock, ProviderKind.KLING, "kling-v2-1")
    state, _ = await _run(ProviderKind.KLING, target, _image_request(negative_prompt="blur", aspect_ratio="1:1"))
    assert state.status is TaskStatus.SUCCEEDED and len(state.outputs) == 1
    status, image, _ = await _image(state.outputs[0].url)
    assert status == 200 and image is not None and image.size[0] == image.size[1]
    async with aiohttp.ClientSession() as session:
        openai = await session.post(
            mock.url + "/v1/images/generations",
            json={"model": "dall-e-2", "prompt": "a fox", "response_format": "url"},
            headers={"Authorization": "Bearer sk-plain-openai-key"},
        )
        assert openai.status == 200 and isinstance((await openai.json())["data"], list)


async def test_kling_finds_a_task_by_its_external_id_and_not_across_apis(mock: MockUpstream) -> None:
    codec = _codec(ProviderKind.KLING)
    target = _target(mock, ProviderKind.KLING, "kling-v3-omni")
    request = _image_request()
    async with aiohttp.ClientSession() as session:
        submitted = codec.parse_submit(await _send(session, codec.submit(request, target), target), request, target)
        find = codec.find(target, request)
        assert find is not None
        assert codec.parse_find(await _send(session, find, target), target, request) == submitted.upstream_id
        other = target._replace(upstream_model="kling-v2-1")  # the generations API has no such task
        other_find = codec.find(other, request)
        assert other_find is not None
        assert codec.parse_find(await _send(session, other_find, other), other, request) is None
        unknown = target._replace(external_id="never-submitted")
        unknown_find = codec.find(unknown, request)
        assert unknown_find is not None
        assert codec.parse_find(await _send(session, unknown_find, unknown), unknown, request) is None


async def test_kling_failure_faults_and_unknown_statuses(mock: MockUpstream) -> None:
    target = _target(mock, ProviderKind.KLING, "kling-v3-omni")
    mock.script({"poll_faults": [429, "unknown", 500], "pending_polls": 1})
    state, seen = await _run(ProviderKind.KLING, target, _image_request())
    assert isinstance(seen[0], GatewayError) and seen[0].kind is ErrorKind.RATE_LIMIT
    assert seen[1] is TaskStatus.RUNNING  # a status Kling does not document is running, never a failure
    assert isinstance(seen[2], GatewayError)
    assert state.status is TaskStatus.SUCCEEDED
    mock.script({"body_error": True, "message": "the prompt failed the risk check", "pending_polls": 1})
    failed, _ = await _run(ProviderKind.KLING, target._replace(external_id="ext-fail"), _image_request())
    assert failed.status is TaskStatus.FAILED and failed.failure == "the prompt failed the risk check"
    assert failed.outputs == []


async def test_kling_refuses_a_wrong_secret_and_what_its_api_cannot_make(mock: MockUpstream) -> None:
    with pytest.raises(GatewayError) as auth:
        await _run(ProviderKind.KLING, _target(mock, ProviderKind.KLING, "kling-v3-omni")._replace(
            upstream_key=f"akimg|{'x' * 35}"), _image_request())  # fmt: skip
    assert auth.value.kind is ErrorKind.AUTHENTICATION and auth.value.code == "1002"
    target = _target(mock, ProviderKind.KLING, "kling-v2-1")
    codec = _codec(ProviderKind.KLING)
    call = codec.submit(_image_request(), target)  # a well-signed call with a body Kling refuses
    bad = call._replace(body=orjson.dumps(orjson.loads(call.body) | {"resolution": "4k", "n": 12}))
    async with aiohttp.ClientSession() as session:
        answer = await _send(session, bad, target)
    error = codec.decode_error(answer.status, answer.body)
    assert answer.status == 400 and error.kind is ErrorKind.INVALID_REQUEST and error.code == "1201"


async def test_a_kling_image_link_dies_after_its_fetches(mock: MockUpstream) -> None:
    mock.script({"media_fetches": 1, "pending_polls": 0})
    state, _ = await _run(ProviderKind.KLING, _target(mock, ProviderKind.KLING, "kling-v3-omni"), _image_request(n=2))
    first, second = state.outputs
    assert (await _image(first.url))[0] == 200 and (await _image(first.url))[0] == 404
    assert (await _image(second.url))[0] == 200  # each file counts its own fetches


# ---------------------------------------------------------------- Hunyuan panorama (MPS)


@pytest.mark.parametrize(
    "request_",
    [
        TaskRequest(kind=TaskKind.IMAGE, model="Hunyuan-3d-2.0", prompt="一个雪山湖泊的360度全景图,真实摄影风格"),
        TaskRequest(kind=TaskKind.IMAGE, model="Hunyuan-3d-2.0", images=[ImageInput(url="https://a/room.jpg")]),
    ],
)
async def test_the_panorama_runs_to_a_2_to_1_jpeg(mock: MockUpstream, request_: TaskRequest) -> None:
    target = _target(mock, ProviderKind.TENCENT, "Hunyuan:3.0")
    state, seen = await _run(ProviderKind.TENCENT, target, request_)
    assert seen == [TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED]
    (output,) = state.outputs
    status, image, content_type = await _image(output.url)
    assert status == 200 and image is not None and image.format == "JPEG" and content_type == "image/jpeg"
    assert image.width == 2 * image.height
    sent = next(r for r in reversed(mock.requests) if r.provider == "tencent-mps" and "SceneType" in r.body)
    assert sent.body["SceneType"] == "3d_panorama" and sent.body["ModelName"] == "Hunyuan"
    assert sent.body["ModelVersion"] == "3.0"


async def test_the_panorama_fails_with_the_vendors_message_and_refuses_a_wrong_secret(mock: MockUpstream) -> None:
    target = _target(mock, ProviderKind.TENCENT, "Hunyuan")
    mock.script({"body_error": True, "message": "the prompt failed the moderation check", "pending_polls": 0})
    state, _ = await _run(ProviderKind.TENCENT, target, TaskRequest(model="m", prompt="p"))
    assert state.status is TaskStatus.FAILED and state.failure == "the prompt failed the moderation check"
    with pytest.raises(GatewayError) as auth:
        await _run(
            ProviderKind.TENCENT, target._replace(upstream_key="AKIDpano|wrong"), TaskRequest(model="m", prompt="p")
        )
    assert auth.value.kind is ErrorKind.AUTHENTICATION and auth.value.code == "AuthFailure.SignatureFailure"


async def test_mps_refuses_a_panorama_from_prompt_and_image_and_unknown_tasks(mock: MockUpstream) -> None:
    target = _target(mock, ProviderKind.TENCENT, "Hunyuan")
    codec = _codec(ProviderKind.TENCENT)
    both = {
        "ModelName": "Hunyuan",
        "SceneType": "3d_panorama",
        "Prompt": "p",
        "ImageInfos": [{"ImageUrl": "https://a/1.png"}],
    }
    kling_pano = {"ModelName": "Kling", "SceneType": "3d_panorama", "Prompt": "p"}
    async with aiohttp.ClientSession() as session:
        for body, code in [(both, "InvalidParameterValue"), (kling_pano, "InvalidParameterValue.SceneType")]:
            call = tc3_call("CreateAigcImageTask", body, target, version="2019-06-12", service="mps")
            with pytest.raises(GatewayError) as caught:
                codec.parse_submit(await _send(session, call, target), TaskRequest(model="m"), target)
            assert caught.value.code == code and caught.value.kind is ErrorKind.INVALID_REQUEST
        answer = await _send(session, codec.poll("4-AigcImage-999999999999", target), target)
        with pytest.raises(GatewayError) as missing:
            codec.parse_poll(answer, target, None)
        assert missing.value.code == "ResourceNotFound.TaskNotExist"
