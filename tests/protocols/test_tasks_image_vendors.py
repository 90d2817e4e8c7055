"""The image task codecs of Kling (Omni-Image and image generation) and Tencent's Hunyuan world panorama
(MPS), pure: request bodies, what each refuses (a 400 naming the field), every status parsed, outputs,
errors inside 200 bodies, and the signatures checked independently (PyJWT; Tencent's own SDK)."""

from __future__ import annotations

import base64
import json
import types
from typing import Any

import jwt
import orjson
import pytest
from tencentcloud.common import abstract_client, credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.hunyuan_panorama import HUNYUAN_PANORAMA, MPS_URL
from omnirouter.protocols.tasks.kling_images import KLING_IMAGES, kling_image_endpoint
from omnirouter.protocols.tasks.signing import tc3_authorization
from omnirouter.providers import PROVIDERS, Capability, ProviderKind

NOW = 1_750_000_000
SECRET = "s" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _kling(model: str = "kling-v3-omni", **options: str) -> TaskTarget:
    return TaskTarget(model, options, "ak|" + SECRET, "https://api.klingai.com", "omni-ext-1", float(NOW))


def _mps(model: str = "Hunyuan", base: str = "https://vclm.tencentcloudapi.com", **options: str) -> TaskTarget:
    return TaskTarget(model, options, "AKIDexample|tc-secret", base, "omni-ext-2", float(NOW))


def _body(call: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call.body)
    return parsed


def _answer(obj: Any, status: int = 200) -> Answer:
    return Answer(status, {}, orjson.dumps(obj))


def _bad(param: str, submit: Any, request: TaskRequest, target: TaskTarget) -> None:
    with pytest.raises(GatewayError) as caught:
        submit(request, target)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and caught.value.param == param, caught.value.message


def test_both_are_registered_as_image_tasks_next_to_their_video() -> None:
    kling, tencent = PROVIDERS[ProviderKind.KLING].tasks, PROVIDERS[ProviderKind.TENCENT].tasks
    assert kling[Capability.IMAGE_TASK] is KLING_IMAGES and Capability.VIDEO_TASK in kling
    assert tencent[Capability.IMAGE_TASK] is HUNYUAN_PANORAMA and Capability.VIDEO_TASK in tencent
    for codec in (KLING_IMAGES, HUNYUAN_PANORAMA):
        assert codec.kind is TaskKind.IMAGE
        assert codec.seconds_for(TaskRequest(model="m", prompt="p"), "m", {}) is None


# ---------------------------------------------------------------- Kling


@pytest.mark.parametrize(
    ("model", "options", "endpoint"),
    [
        ("kling-v3-omni", {}, "omni-image"),
        ("kling-image-o1", {}, "omni-image"),
        ("kling-v2-1", {}, "generations"),
        ("kling-v1-5", {"endpoint": "omni-image"}, "omni-image"),
        ("kling-v3-omni", {"endpoint": "generations"}, "generations"),
    ],
)
def test_kling_endpoint_follows_the_model_or_the_channel_option(
    model: str, options: dict[str, str], endpoint: str
) -> None:
    assert kling_image_endpoint(model, options) == endpoint


def test_kling_omni_body_jwt_and_paths() -> None:
    request = TaskRequest(
        kind=TaskKind.IMAGE, model="Kling:3.0-omni", prompt="一只小猫坐在窗边", n=3, aspect_ratio="16:9",
        resolution="4K", images=[ImageInput(url="https://a/1.png"), ImageInput(file=MediaFile(PNG, "x", "image/png"))],
        extra={"watermark_info": {"enabled": False}},
    )  # fmt: skip
    call = KLING_IMAGES.submit(request, _kling()._replace(callback_url="https://gw/cb/1"))
    assert call.path == "/v1/images/omni-image" and call.method == "POST" and call.auth is False
    assert _body(call) == {
        "model_name": "kling-v3-omni", "prompt": "一只小猫坐在窗边", "n": 3, "aspect_ratio": "16:9", "resolution": "4k",
        "image_list": [{"image": "https://a/1.png"}, {"image": base64.b64encode(PNG).decode()}],
        "watermark_info": {"enabled": False}, "external_task_id": "omni-ext-1", "callback_url": "https://gw/cb/1",
    }  # fmt: skip
    token = call.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims == {"iss": "ak", "exp": NOW + 1800, "nbf": NOW - 5}
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert SECRET not in call.headers["Authorization"]
    assert KLING_IMAGES.poll("omni-image/8675", _kling()).path == "/v1/images/omni-image/8675"
    found = KLING_IMAGES.find(_kling())
    assert found is not None and found.path == "/v1/images/omni-image/omni-ext-1" and found.method == "GET"


def test_kling_generations_body_with_negative_prompt_and_one_image() -> None:
    target = _kling("kling-v2-1")
    text_only = TaskRequest(model="m", prompt="a fox", negative_prompt="blur", size="1024x1024", resolution="2k")
    call = KLING_IMAGES.submit(text_only, target)
    assert call.path == "/v1/images/generations"
    assert _body(call) == {
        "model_name": "kling-v2-1", "prompt": "a fox", "negative_prompt": "blur", "resolution": "2k",
        "aspect_ratio": "1:1", "external_task_id": "omni-ext-1",
    }  # fmt: skip
    with_image = KLING_IMAGES.submit(
        TaskRequest(model="m", prompt="a fox", images=[ImageInput(url="https://a/x.jpg")]), target
    )
    assert _body(with_image)["image"] == "https://a/x.jpg" and "image_list" not in _body(with_image)


@pytest.mark.parametrize(
    ("param", "request_", "model"),
    [
        ("prompt", TaskRequest(model="m"), "kling-v3-omni"),
        ("prompt", TaskRequest(model="m", prompt="x" * 2501), "kling-v3-omni"),
        ("n", TaskRequest(model="m", prompt="p", n=10), "kling-v3-omni"),
        ("n", TaskRequest(model="m", prompt="p", n=0), "kling-v2-1"),
        ("resolution", TaskRequest(model="m", prompt="p", resolution="4K"), "kling-image-o1"),
        ("resolution", TaskRequest(model="m", prompt="p", resolution="4k"), "kling-v2-1"),
        ("resolution", TaskRequest(model="m", prompt="p", resolution="8K"), "kling-v3-omni"),
        ("aspect_ratio", TaskRequest(model="m", prompt="p", aspect_ratio="5:4"), "kling-v3-omni"),
        ("aspect_ratio", TaskRequest(model="m", prompt="p", aspect_ratio="auto"), "kling-v2-1"),
        ("size", TaskRequest(model="m", prompt="p", size="1000x700"), "kling-v3-omni"),
        ("aspect_ratio", TaskRequest(model="m", prompt="p", size="1024x1024", aspect_ratio="16:9"), "kling-v3-omni"),
        ("images", TaskRequest(model="m", prompt="p", images=[ImageInput(url="https://a/1.png")] * 2), "kling-v2-1"),
        (
            "images",
            TaskRequest(model="m", prompt="p", images=[ImageInput(url="https://a/1.png")] * 11),
            "kling-v3-omni",
        ),
        ("negative_prompt", TaskRequest(model="m", prompt="p", negative_prompt="n"), "kling-v3-omni"),
        (
            "negative_prompt",
            TaskRequest(model="m", prompt="p", negative_prompt="n", images=[ImageInput(url="https://a/1.png")]),
            "kling-v2-1",
        ),
        ("seed", TaskRequest(model="m", prompt="p", seed=7), "kling-v3-omni"),
        ("seconds", TaskRequest(model="m", prompt="p", seconds=5), "kling-v3-omni"),
        ("n", TaskRequest(model="m", prompt="p", extra={"n": 4}), "kling-v3-omni"),
        (
            "image_roles",
            TaskRequest(model="m", prompt="p", images=[ImageInput(url="https://a/1.png")], image_roles=["first_frame"]),
            "kling-v3-omni",
        ),
    ],
)
def test_kling_refuses_what_it_cannot_make(param: str, request_: TaskRequest, model: str) -> None:
    _bad(param, KLING_IMAGES.submit, request_, _kling(model))


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("submitted", TaskStatus.QUEUED),
        ("processing", TaskStatus.RUNNING),
        ("succeed", TaskStatus.SUCCEEDED),
        ("failed", TaskStatus.FAILED),
        ("paused-for-review", TaskStatus.RUNNING),
    ],
)
def test_kling_statuses(raw: str, status: TaskStatus) -> None:
    data: dict[str, Any] = {"task_id": "1", "task_status": raw, "task_status_msg": "risk control"}
    if raw == "succeed":
        data["task_result"] = {"images": [{"index": 0, "url": "https://cdn.kling/a.png"}]}
    state = KLING_IMAGES.parse_poll(_answer({"code": 0, "data": data}), _kling(), None)
    assert isinstance(state, TaskState) and state.status is status and state.vendor_status == raw
    assert (state.failure == "risk control") is (status is TaskStatus.FAILED)


def test_kling_outputs_in_index_order_credits_and_errors_in_200() -> None:
    images = [{"index": 2, "url": "https://cdn/c.jpg?x=1"}, {"index": 0, "url": "https://cdn/a.png"},
              {"index": 1, "url": "https://cdn/b.webp"}]  # fmt: skip
    data = {"task_id": "1", "task_status": "succeed", "final_unit_deduction": "3", "task_result": {"images": images}}
    state = KLING_IMAGES.parse_poll(_answer({"code": 0, "data": data}), _kling(), None)
    assert isinstance(state, TaskState)
    assert [(o.kind, o.url, o.mime) for o in state.outputs] == [
        ("image", "https://cdn/a.png", "image/png"),
        ("image", "https://cdn/b.webp", "image/webp"),
        ("image", "https://cdn/c.jpg?x=1", "image/jpeg"),
    ]
    assert state.credits == 3.0
    with pytest.raises(GatewayError) as empty:
        KLING_IMAGES.parse_poll(
            _answer({"code": 0, "data": {"task_status": "succeed", "task_result": {}}}), _kling(), None
        )
    assert empty.value.kind is ErrorKind.UPSTREAM
    with pytest.raises(GatewayError) as limited:
        KLING_IMAGES.parse_poll(
            _answer({"code": 1303, "message": "parallel task over resource pack limit"}), _kling(), None
        )
    assert limited.value.kind is ErrorKind.RATE_LIMIT and limited.value.code == "1303"
    with pytest.raises(GatewayError) as auth:
        KLING_IMAGES.parse_submit(_answer({"code": 1002, "message": "bad token"}), TaskRequest(model="m"), _kling())
    assert auth.value.kind is ErrorKind.AUTHENTICATION


def test_kling_submit_and_find_answers() -> None:
    submitted = {"code": 0, "data": {"task_id": "8675", "task_status": "submitted",
                                     "task_info": {"external_task_id": "omni-ext-1"}}}  # fmt: skip
    got = KLING_IMAGES.parse_submit(_answer(submitted), TaskRequest(model="m", prompt="p"), _kling())
    assert got.upstream_id == "omni-image/8675" and got.state is not None and got.state.status is TaskStatus.QUEUED
    older = KLING_IMAGES.parse_submit(_answer(submitted), TaskRequest(model="m", prompt="p"), _kling("kling-v2"))
    assert older.upstream_id == "generations/8675"
    assert KLING_IMAGES.parse_find(_answer(submitted), _kling()) == "omni-image/8675"
    assert KLING_IMAGES.parse_find(_answer({"code": 1203, "message": "not found"}, 404), _kling()) is None
    other = {"code": 0, "data": {"task_id": "1", "task_info": {"external_task_id": "someone-else"}}}
    assert KLING_IMAGES.parse_find(_answer(other), _kling()) is None
    with pytest.raises(GatewayError):
        KLING_IMAGES.parse_find(_answer({"code": 5000, "message": "oops"}, 500), _kling())
    assert KLING_IMAGES.cancel("omni-image/1", _kling()) is None
    with pytest.raises(GatewayError) as unpaired:
        KLING_IMAGES.submit(TaskRequest(model="m", prompt="p"), _kling()._replace(upstream_key="no-pair"))
    assert "no-pair" not in unpaired.value.message


# ---------------------------------------------------------------- Hunyuan panorama (MPS)


def test_panorama_body_headers_and_host() -> None:
    call = HUNYUAN_PANORAMA.submit(TaskRequest(model="Hunyuan-3d-2.0", prompt="一个雪山湖泊的360度全景图"), _mps())
    assert call.path == MPS_URL + "/"  # the provider's default (VCLM) host is not where panoramas live
    assert call.headers["X-TC-Action"] == "CreateAigcImageTask" and call.headers["X-TC-Version"] == "2019-06-12"
    assert call.headers["X-TC-Region"] == "ap-guangzhou" and call.headers["X-TC-Timestamp"] == str(NOW)
    assert _body(call) == {"ModelName": "Hunyuan", "SceneType": "3d_panorama", "Prompt": "一个雪山湖泊的360度全景图"}
    expected = tc3_authorization(
        "AKIDexample", "tc-secret", service="mps", host="mps.tencentcloudapi.com", path="/", payload=call.body, now=NOW
    )
    assert call.headers["Authorization"] == expected and "tc-secret" not in expected
    own = _mps("Hunyuan:3.0", base="http://127.0.0.1:9999", region="ap-singapore")
    from_image = HUNYUAN_PANORAMA.submit(
        TaskRequest(model="m", images=[ImageInput(url="https://a/room.jpg")], resolution="2k", negative_prompt="fog"),
        own,
    )
    assert from_image.path == "/" and from_image.headers["X-TC-Region"] == "ap-singapore"
    assert _body(from_image) == {
        "ModelName": "Hunyuan", "ModelVersion": "3.0", "SceneType": "3d_panorama", "NegativePrompt": "fog",
        "ImageInfos": [{"ImageUrl": "https://a/room.jpg"}], "ExtraParameters": {"Resolution": "2K"},
    }  # fmt: skip
    versioned = HUNYUAN_PANORAMA.submit(TaskRequest(model="m", prompt="p"), _mps(model_version="2.0", service="vclm"))
    assert _body(versioned)["ModelVersion"] == "2.0"
    assert "/mps/tc3_request" in versioned.headers["Authorization"]  # the video channel's service option is not MPS's
    poll = HUNYUAN_PANORAMA.poll("4-AigcImage-1", _mps())
    assert _body(poll) == {"TaskId": "4-AigcImage-1"} and poll.headers["X-TC-Action"] == "DescribeAigcImageTask"
    assert HUNYUAN_PANORAMA.find(_mps()) is None and HUNYUAN_PANORAMA.cancel("x", _mps()) is None


def _sdk_signature(monkeypatch: pytest.MonkeyPatch, action: str, body: bytes) -> str:
    """What Tencent's SDK signs for ``body`` on MPS at ``NOW``."""
    monkeypatch.setattr(abstract_client, "time", types.SimpleNamespace(time=lambda: NOW))
    monkeypatch.setattr(abstract_client, "json", types.SimpleNamespace(dumps=lambda _: body.decode()))
    profile = ClientProfile(httpProfile=HttpProfile(endpoint="mps.tencentcloudapi.com"))
    client = CommonClient(
        "mps", "2019-06-12", credential.Credential("AKIDexample", "tc-secret"), "ap-guangzhou", profile
    )
    request = RequestInternal("mps.tencentcloudapi.com", "POST", "/")
    client._build_req_with_tc3_signature(action, json.loads(body), request)
    return str(request.header["Authorization"])


def test_panorama_calls_carry_the_sdks_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    call = HUNYUAN_PANORAMA.submit(TaskRequest(model="m", prompt="雪山 lake, 360°"), _mps())
    assert call.headers["Authorization"] == _sdk_signature(monkeypatch, "CreateAigcImageTask", call.body)
    poll = HUNYUAN_PANORAMA.poll("4-AigcImage-0000001", _mps())
    assert poll.headers["Authorization"] == _sdk_signature(monkeypatch, "DescribeAigcImageTask", poll.body)


@pytest.mark.parametrize(
    ("param", "request_"),
    [
        ("prompt", TaskRequest(model="m")),
        ("n", TaskRequest(model="m", prompt="p", n=2)),
        ("aspect_ratio", TaskRequest(model="m", prompt="p", aspect_ratio="16:9")),
        ("size", TaskRequest(model="m", prompt="p", size="2048x1024")),
        ("seed", TaskRequest(model="m", prompt="p", seed=1)),
        ("resolution", TaskRequest(model="m", prompt="p", resolution="8K")),
        ("images", TaskRequest(model="m", prompt="p", images=[ImageInput(url="https://a/1.png")])),
        ("images", TaskRequest(model="m", images=[ImageInput(url="https://a/1.png")] * 2)),
        ("images[0]", TaskRequest(model="m", images=[ImageInput(file=MediaFile(PNG, "x", "image/png"))])),
    ],
)
def test_panorama_refuses_what_it_cannot_make(param: str, request_: TaskRequest) -> None:
    _bad(param, HUNYUAN_PANORAMA.submit, request_, _mps())


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("WAIT", TaskStatus.QUEUED),
        ("RUN", TaskStatus.RUNNING),
        ("DONE", TaskStatus.SUCCEEDED),
        ("FAIL", TaskStatus.FAILED),
        ("PAUSED", TaskStatus.RUNNING),
    ],
)
def test_panorama_statuses(raw: str, status: TaskStatus) -> None:
    response: dict[str, Any] = {"Status": raw, "Message": "moderation", "ImageUrls": [], "RequestId": "r"}
    if raw == "DONE":
        response["ImageUrls"] = ["https://cos.ap-guangzhou.myqcloud.com/4_2147.png?sign=1"]
    state = HUNYUAN_PANORAMA.parse_poll(_answer({"Response": response}), _mps(), None)
    assert state.status is status and state.vendor_status == raw
    assert (state.failure == "moderation") is (status is TaskStatus.FAILED)
    if status is TaskStatus.SUCCEEDED:
        assert [(o.kind, o.mime) for o in state.outputs] == [("image", "image/png")]


def test_panorama_answers_and_errors() -> None:
    got = HUNYUAN_PANORAMA.parse_submit(
        _answer({"Response": {"TaskId": "4-AigcImage-c3b1", "RequestId": "r"}}), TaskRequest(model="m"), _mps()
    )
    assert got.upstream_id == "4-AigcImage-c3b1" and got.state is None
    with pytest.raises(GatewayError) as empty:
        HUNYUAN_PANORAMA.parse_poll(_answer({"Response": {"Status": "DONE", "ImageUrls": []}}), _mps(), None)
    assert empty.value.kind is ErrorKind.UPSTREAM
    for code, kind in [
        ("AuthFailure.SignatureFailure", ErrorKind.AUTHENTICATION),
        ("RequestLimitExceeded", ErrorKind.RATE_LIMIT),
        ("InvalidParameterValue.SceneType", ErrorKind.INVALID_REQUEST),
        ("FailedOperation", ErrorKind.UPSTREAM),
    ]:
        with pytest.raises(GatewayError) as caught:
            HUNYUAN_PANORAMA.parse_submit(
                _answer({"Response": {"Error": {"Code": code, "Message": "m"}}}), TaskRequest(model="m"), _mps()
            )
        assert caught.value.kind is kind and caught.value.code == code
    assert HUNYUAN_PANORAMA.decode_error(502, b"<html>").kind is ErrorKind.UPSTREAM
    with pytest.raises(GatewayError) as unpaired:
        HUNYUAN_PANORAMA.submit(TaskRequest(model="m", prompt="p"), _mps()._replace(upstream_key="lonely"))
    assert unpaired.value.kind is ErrorKind.AUTHENTICATION and "lonely" not in unpaired.value.message
