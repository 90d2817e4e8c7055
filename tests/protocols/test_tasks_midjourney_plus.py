"""The midjourney-proxy codec's "plus" API calls: edits, video (new and extended), face swap, the
synchronous upload and the image seed — bodies, the 400 naming each bad field, and the answers parsed
(a video's ``videoUrls``, the plus API's ``imageUrls``, ``seed``), against recorded-shape answers and
then end to end over real HTTP against the mock proxy."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import av
import orjson
import pytest
from PIL import Image

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.mock_upstream import MockUpstream, media_bytes
from omnirouter.protocols.media.base import Answer, UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.midjourney import MIDJOURNEY, UPLOAD, parse_image_seed, parse_uploaded
from omnirouter.providers import PROVIDERS, ProviderKind

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nmock").decode()
JPG = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xffmock").decode()
URL = "https://example.com/face.png"
TARGET = TaskTarget("midjourney", {}, "mj-secret", "http://proxy", "ext-1", 0.0)


def _ok(obj: Any, status: int = 200) -> Answer:
    return Answer(status, {"content-type": "application/json"}, orjson.dumps(obj))


def _req(**fields: Any) -> TaskRequest:
    return TaskRequest(kind=TaskKind.MIDJOURNEY, model="midjourney", **fields)


def _sent(call: UpstreamCall) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(call.body)
    return body


def test_edits_video_and_face_swap_bodies() -> None:
    edits = MIDJOURNEY.submit(_req(action="edits", prompt="make it blue", images=[ImageInput(url=URL)]), TARGET)
    assert edits == UpstreamCall("/mj/submit/edits", edits.body) and edits.method == "POST"
    assert _sent(edits) == {"prompt": "make it blue", "image": URL}
    video = MIDJOURNEY.submit(
        _req(
            action="video",
            prompt="the cat walks",
            images=[ImageInput(url=PNG), ImageInput(url=JPG)],
            n=2,
            resolution="720p",
            extra={"motion": "high", "loop": True},
        ),
        TARGET,
    )
    assert video.path == "/mj/submit/video"
    assert _sent(video) == {
        "prompt": "the cat walks",
        "image": PNG,
        "endImage": JPG,
        "batchSize": 2,
        "videoType": "vid_1.1_i2v_720",
        "motion": "high",
        "loop": True,
    }
    extend = MIDJOURNEY.submit(_req(action="video", prompt="further", parent_task_id="1750", index=0), TARGET)
    assert _sent(extend) == {"prompt": "further", "action": "extend", "taskId": "1750", "index": 0}
    native = MIDJOURNEY.submit(
        _req(action="video", prompt="x", images=[ImageInput(url=PNG)], extra={"videoType": "vid_1.1_i2v_480"}), TARGET
    )
    assert _sent(native)["videoType"] == "vid_1.1_i2v_480"
    swap = MIDJOURNEY.submit(_req(action="swap_face", images=[ImageInput(url=PNG), ImageInput(url=URL)]), TARGET)
    assert swap.path == "/mj/insight-face/swap" and swap.method == "POST"
    assert _sent(swap) == {"sourceBase64": PNG, "targetUrl": URL}
    both_inline = MIDJOURNEY.submit(
        _req(action="swap_face", images=[ImageInput(url=PNG), ImageInput(url=JPG)]),
        TARGET._replace(options={"mode": "relax"}),
    )
    assert both_inline.path == "/mj-relax/mj/insight-face/swap"
    assert _sent(both_inline) == {"sourceBase64": PNG, "targetBase64": JPG}
    fast_video = MIDJOURNEY.submit(
        _req(action="video", prompt="x", images=[ImageInput(url=PNG)]), TARGET._replace(options={"mode": "fast"})
    )
    assert fast_video.path == "/mj-fast/mj/submit/video"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"action": "edits", "images": [ImageInput(url=PNG)]}, "prompt"),
        ({"action": "edits", "prompt": "x"}, "images"),
        ({"action": "edits", "prompt": "x", "images": [ImageInput(url=PNG)] * 2}, "images"),
        ({"action": "edits", "prompt": "x", "images": [ImageInput(file_id="file-1")]}, "images[0]"),
        ({"action": "video", "images": [ImageInput(url=PNG)]}, "prompt"),
        ({"action": "video", "prompt": "x"}, "images"),
        ({"action": "video", "prompt": "x", "images": [ImageInput(url=PNG)] * 3}, "images"),
        ({"action": "video", "prompt": "x", "parent_task_id": "1"}, "index"),
        ({"action": "video", "prompt": "x", "parent_task_id": "1", "index": 4}, "index"),
        ({"action": "video", "prompt": "x", "images": [ImageInput(url=PNG)], "n": 3}, "n"),
        ({"action": "video", "prompt": "x", "images": [ImageInput(url=PNG)], "resolution": "1080p"}, "resolution"),
        ({"action": "video", "prompt": "x", "images": [ImageInput(url=PNG)], "extra": {"motion": "fast"}}, "motion"),
        ({"action": "video", "prompt": "x", "images": [ImageInput(url=PNG)], "extra": {"loop": "yes"}}, "loop"),
        (
            {"action": "video", "prompt": "x", "images": [ImageInput(url=PNG)], "extra": {"videoType": "hd"}},
            "videoType",
        ),
        ({"action": "swap_face", "images": [ImageInput(url=PNG)]}, "images"),
        ({"action": "swap_face", "images": [ImageInput(url=PNG)] * 2}, "images"),
        ({"action": UPLOAD}, "images"),
        ({"action": UPLOAD, "images": [ImageInput(url=PNG)] * 6}, "images"),
    ],
)
def test_bad_requests_are_400s_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        MIDJOURNEY.submit(_req(**fields), TARGET)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and caught.value.param == param


def test_upload_is_synchronous_and_answers_urls() -> None:
    call = MIDJOURNEY.upload_images(_req(action=UPLOAD, images=[ImageInput(url=PNG), ImageInput(url=JPG)]), TARGET)
    assert call.path == "/mj/submit/upload-discord-images" and _sent(call) == {"base64Array": [PNG, JPG]}
    for images, param in [([], "images"), ([ImageInput(url=PNG)] * 6, "images"), ([ImageInput(url=URL)], "images[0]")]:
        with pytest.raises(GatewayError) as caught:
            MIDJOURNEY.upload_images(_req(action=UPLOAD, images=images), TARGET)
        assert caught.value.status == 400 and caught.value.param == param
    urls = ["https://cdn.discordapp.com/attachments/1/2/a.png", "https://cdn.discordapp.com/attachments/1/3/b.png"]
    assert parse_uploaded(_ok({"code": 1, "description": "提交成功", "result": urls, "properties": {}})) == urls
    request = _req(action=UPLOAD, images=[ImageInput(url=PNG)])
    assert MIDJOURNEY.submit(request, TARGET) == MIDJOURNEY.upload_images(request, TARGET)
    done = MIDJOURNEY.parse_submit(_ok({"code": 1, "result": urls}), request, TARGET)
    assert done.state is not None and done.state.status is TaskStatus.SUCCEEDED and not done.state.outputs
    assert done.state.details == {"uploaded": urls} and done.upstream_id == f"upload-{TARGET.external_id}"
    assert done.state.result_in_details  # whole without files: the engine settles it at once
    with pytest.raises(GatewayError) as refused:
        parse_uploaded(_ok({"code": 4, "description": "禁止上传", "result": None, "properties": {}}))
    assert refused.value.status == 400 and "禁止上传" in refused.value.message
    with pytest.raises(GatewayError) as empty:
        parse_uploaded(_ok({"code": 1, "description": "提交成功", "result": []}))
    assert empty.value.kind is ErrorKind.UPSTREAM


def test_image_seed_call_and_answers() -> None:
    assert MIDJOURNEY.image_seed("17/5", TARGET) == UpstreamCall("/mj/task/17%2F5/image-seed", method="GET")
    assert (
        MIDJOURNEY.image_seed("9", TARGET._replace(options={"mode": "turbo"})).path == "/mj-turbo/mj/task/9/image-seed"
    )
    assert (
        parse_image_seed(_ok({"code": 1, "description": "成功", "result": "3012745968", "properties": {}}))
        == "3012745968"
    )
    with pytest.raises(GatewayError) as failed:
        parse_image_seed(_ok({"code": 9, "description": "seed not found", "result": None}))
    assert failed.value.kind is ErrorKind.UPSTREAM and failed.value.code == "9"
    with pytest.raises(GatewayError):
        parse_image_seed(_ok({"code": 1, "description": "成功", "result": None}))
    unknown = MIDJOURNEY.decode_error(404, orjson.dumps({"code": 3, "description": "关联任务不存在或已失效"}))
    assert unknown.status == 404 and "关联任务不存在或已失效" in unknown.message
    unfinished = MIDJOURNEY.decode_error(400, orjson.dumps({"code": 4, "description": "关联任务状态错误"}))
    assert unfinished.kind is ErrorKind.INVALID_REQUEST


def test_submits_answer_task_ids_and_auth_refusals_decode() -> None:
    request = _req(action="swap_face", images=[ImageInput(url=PNG), ImageInput(url=JPG)])
    swap = MIDJOURNEY.parse_submit(_ok({"code": 1, "description": "提交成功", "result": "1751"}), request, TARGET)
    assert swap.upstream_id == "1751" and swap.state is not None and swap.state.status is TaskStatus.QUEUED
    plus = MIDJOURNEY.decode_error(401, b"Authorization header missing.")
    assert plus.kind is ErrorKind.AUTHENTICATION and "Authorization header missing." in plus.message
    original = MIDJOURNEY.decode_error(403, b"")
    assert original.status == 403 and "mj-secret" not in original.message


VIDEO_DONE = {
    "id": "1750000000001",
    "action": "VIDEO",
    "status": "SUCCESS",
    "progress": "100%",
    "prompt": "the cat walks",
    "imageUrl": "https://cdn.midjourney.com/video/abc/0_0.mp4",
    "videoUrl": "https://cdn.midjourney.com/video/abc/0_0.mp4",
    "videoUrls": [
        {
            "url": "https://cdn.midjourney.com/video/abc/0_0.mp4",
            "thumbnail": "https://cdn.midjourney.com/abc/0_0_640_N.webp",
        },
        {
            "url": "https://cdn.midjourney.com/video/abc/0_1.mp4",
            "thumbnail": "https://cdn.midjourney.com/abc/0_1_640_N.webp",
        },
    ],
    "imageUrls": [
        {
            "url": "https://cdn.midjourney.com/video/abc/0_0.mp4",
            "thumbnail": "https://cdn.midjourney.com/abc/0_0_640_N.webp",
        },
        {
            "url": "https://cdn.midjourney.com/video/abc/0_1.mp4",
            "thumbnail": "https://cdn.midjourney.com/abc/0_1_640_N.webp",
        },
    ],
    "seed": "1234567",
    "buttons": [
        {"customId": "MJ::JOB::video_virtual_upscale::1::abc", "label": "U1", "emoji": "", "style": 2, "type": 2}
    ],
}


def test_video_outputs_are_the_videos_once_each() -> None:
    state = MIDJOURNEY.parse_poll(_ok(VIDEO_DONE), TARGET, None)
    assert isinstance(state, TaskState) and state.status is TaskStatus.SUCCEEDED
    assert [(o.kind, o.url.rsplit("/", 1)[-1], o.mime) for o in state.outputs] == [
        ("video", "0_0.mp4", "video/mp4"),
        ("video", "0_1.mp4", "video/mp4"),
    ]
    assert state.details["output_roles"] == ["videoUrls", "videoUrls"] and state.details["seed"] == "1234567"
    assert state.details["action"] == "VIDEO"
    poster = VIDEO_DONE | {"imageUrl": "https://proxy/poster.webp", "videoUrls": None}
    single = MIDJOURNEY.parse_poll(_ok(poster), TARGET, None)
    assert isinstance(single, TaskState)
    assert [(o.kind, o.mime) for o in single.outputs] == [("video", "video/mp4"), ("thumbnail", "image/webp")]
    assert single.details["output_roles"] == ["videoUrls", "imageUrl"]
    bare = {"id": "3", "status": "SUCCESS", "action": "VIDEO", "imageUrl": "https://proxy/mj/video/3/0.mp4"}
    plain = MIDJOURNEY.parse_poll(_ok(bare), TARGET, None)
    assert isinstance(plain, TaskState) and [(o.kind, o.mime) for o in plain.outputs] == [("video", "video/mp4")]


def test_image_outputs_are_the_grid_then_the_plus_singles() -> None:
    grid = "https://cdn.midjourney.com/abc/grid_0.png"
    singles = [{"url": f"https://cdn.midjourney.com/abc/0_{i}.png", "thumbnail": "t"} for i in range(4)]
    done = {"id": "1", "status": "SUCCESS", "action": "IMAGINE", "imageUrl": grid, "imageUrls": singles, "seed": 42}
    state = MIDJOURNEY.parse_poll(_ok(done), TARGET, None)
    assert isinstance(state, TaskState) and [o.url for o in state.outputs] == [grid] + [s["url"] for s in singles]
    assert {o.kind for o in state.outputs} == {"image"}
    assert state.details["output_roles"] == ["imageUrl"] + ["imageUrls"] * 4 and state.details["seed"] == "42"
    running = MIDJOURNEY.parse_poll(_ok(done | {"status": "IN_PROGRESS", "progress": "40%"}), TARGET, None)
    assert isinstance(running, TaskState) and running.outputs == [] and "output_roles" not in running.details
    swapped = MIDJOURNEY.parse_poll(
        _ok({"id": "2", "status": "SUCCESS", "action": "SWAP_FACE", "imageUrl": grid}), TARGET, None
    )
    assert isinstance(swapped, TaskState) and [o.url for o in swapped.outputs] == [grid]


# ---------------------------------------------------------------- against the live mock


@pytest.fixture
async def live(mock_upstream: MockUpstream) -> AsyncIterator[tuple[aiohttp.ClientSession, TaskTarget]]:
    mock_upstream.clear_script()
    target = TaskTarget("midjourney", {}, "cdn-secret", mock_upstream.url, "ext", time.time())
    async with aiohttp.ClientSession() as session:
        yield session, target


async def _send(session: aiohttp.ClientSession, call: UpstreamCall, target: TaskTarget) -> Answer:
    headers = {"content-type": call.content_type} | PROVIDERS[ProviderKind.MIDJOURNEY].auth_headers(target.upstream_key)
    async with session.request(call.method, target.base_url + call.path, data=call.body or None, headers=headers) as r:
        return Answer(r.status, dict(r.headers), await r.read())


async def _run(session: aiohttp.ClientSession, target: TaskTarget, request: TaskRequest) -> tuple[str, TaskState]:
    submitted = MIDJOURNEY.parse_submit(
        await _send(session, MIDJOURNEY.submit(request, target), target), request, target
    )
    for _ in range(10):
        answer = await _send(session, MIDJOURNEY.poll(submitted.upstream_id, target), target)
        state = MIDJOURNEY.parse_poll(answer, target, None)
        assert isinstance(state, TaskState)
        if state.status.terminal:
            return submitted.upstream_id, state
    raise AssertionError("not terminal")


LIVE_PNG = "data:image/png;base64," + base64.b64encode(media_bytes.image("png", 64, 64, 5)).decode()
LIVE_PNG2 = "data:image/png;base64," + base64.b64encode(media_bytes.image("png", 64, 64, 6)).decode()


async def test_video_then_extend_against_the_mock(live: tuple[aiohttp.ClientSession, TaskTarget]) -> None:
    session, target = live
    request = _req(action="video", prompt="waves", images=[ImageInput(url=LIVE_PNG)], n=2, extra={"motion": "high"})
    video_id, video = await _run(session, target, request)
    assert video.status is TaskStatus.SUCCEEDED and [o.kind for o in video.outputs] == ["video", "video"]
    async with session.get(video.outputs[1].url) as response:
        with av.open(io.BytesIO(await response.read())) as container:
            assert sum(1 for _ in container.decode(container.streams.video[0])) >= 8
    extend = _req(action="video", prompt="more waves", parent_task_id=video_id, index=1, n=1)
    _, extended = await _run(session, target, extend)
    assert extended.status is TaskStatus.SUCCEEDED and [o.kind for o in extended.outputs] == ["video"]
    plain_target = target._replace(upstream_key="mj-secret")  # a proxy that fills no video URLs
    _, plain = await _run(session, plain_target, _req(action="video", prompt="x", images=[ImageInput(url=LIVE_PNG)]))
    assert [(o.kind, o.mime) for o in plain.outputs] == [("video", "video/mp4")]


async def test_edits_swap_upload_and_seed_against_the_mock(live: tuple[aiohttp.ClientSession, TaskTarget]) -> None:
    session, target = live
    edit_id, edited = await _run(
        session, target, _req(action="edits", prompt="blue", images=[ImageInput(url=LIVE_PNG)])
    )
    assert edited.details["action"] == "EDIT" and edited.details["output_roles"] == ["imageUrl"] + ["imageUrls"] * 4
    async with session.get(edited.outputs[1].url) as response:
        assert Image.open(io.BytesIO(await response.read())).format == "PNG"
    seed = parse_image_seed(await _send(session, MIDJOURNEY.image_seed(edit_id, target), target))
    assert seed.isdigit()
    _, again = await _run(
        session,
        target,
        _req(action="action", parent_task_id=edit_id, custom_id=edited.details["buttons"][0]["customId"]),
    )
    assert again.details["action"] == "UPSCALE"
    missing = await _send(session, MIDJOURNEY.image_seed("nope", target), target)
    assert missing.status == 404 and MIDJOURNEY.decode_error(missing.status, missing.body).status == 404
    swap = _req(action="swap_face", images=[ImageInput(url=LIVE_PNG), ImageInput(url=LIVE_PNG2)])
    _, swapped = await _run(session, target, swap)
    assert swapped.details["action"] == "SWAP_FACE" and [o.kind for o in swapped.outputs] == ["image"]
    upload = _req(action=UPLOAD, images=[ImageInput(url=LIVE_PNG), ImageInput(url=LIVE_PNG2)])
    urls = parse_uploaded(await _send(session, MIDJOURNEY.upload_images(upload, target), target))
    async with session.get(urls[1]) as response:
        assert await response.read() == base64.b64decode(LIVE_PNG2.split(",", 1)[1])
    with pytest.raises(GatewayError) as banned:
        request = _req(action="edits", prompt='x [[mock {"code": "24"}]]', images=[ImageInput(url=LIVE_PNG)])
        MIDJOURNEY.parse_submit(await _send(session, MIDJOURNEY.submit(request, target), target), request, target)
    assert banned.value.status == 400 and banned.value.param == "prompt"
    with pytest.raises(GatewayError) as full:
        request = _req(action="video", prompt='x [[mock {"code": "23"}]]', images=[ImageInput(url=LIVE_PNG)])
        MIDJOURNEY.parse_submit(await _send(session, MIDJOURNEY.submit(request, target), target), request, target)
    assert full.value.kind is ErrorKind.RATE_LIMIT
    denied = await _send(session, MIDJOURNEY.submit(swap, target), target._replace(upstream_key="bad-key"))
    error = MIDJOURNEY.decode_error(denied.status, denied.body)
    assert error.kind is ErrorKind.AUTHENTICATION and "bad-key" not in error.message
