"""The midjourney-proxy codec's "plus" API calls: edits, video (new and extended), face swap, the
synchronous upload and the image seed — bodies, the 400 naming each bad field, and the answers parsed
(a video's ``videoUrls``, the plus API's ``imageUrls``, ``seed``), against recorded-shape answers."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.midjourney import MIDJOURNEY, UPLOAD, parse_image_seed, parse_uploaded

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
        ({"action": UPLOAD, "images": [ImageInput(url=PNG)]}, "action"),
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
