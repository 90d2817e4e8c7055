"""The video task codecs of Kling, Vidu, MiniMax Hailuo, Ark Seedance and Jimeng, pure: request mapping
(durations to the nearest the vendor makes, sizes, images, vendor fields), statuses (unknown ones are
running), outputs and usage, errors inside 200 bodies, and the signatures checked independently."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

import jwt
import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup
from omnirouter.protocols.tasks.base import BatchPoll, TaskTarget
from omnirouter.protocols.tasks.hailuo import HAILUO_VIDEO
from omnirouter.protocols.tasks.jimeng import JIMENG_VIDEO
from omnirouter.protocols.tasks.kling import KLING_VIDEO
from omnirouter.protocols.tasks.seedance import SEEDANCE_VIDEO
from omnirouter.protocols.tasks.vidu import VIDU_VIDEO

NOW = 1_750_000_000.0
SECRET = "s" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _target(model: str, key: str = "key", base: str = "https://vendor.example") -> TaskTarget:
    return TaskTarget(model, {}, key, base, "task_ext_1", NOW)


def _body(call: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call.body)
    return parsed


def _answer(obj: Any, status: int = 200) -> Answer:
    return Answer(status, {}, orjson.dumps(obj))


@pytest.mark.parametrize(
    ("codec", "model", "seconds", "field", "sent"),
    [
        (KLING_VIDEO, "kling-v2-1", 3, "duration", "5"),
        (KLING_VIDEO, "kling-v2-1", 7.5, "duration", "5"),  # a tie goes to the shorter
        (KLING_VIDEO, "kling-v2-1", 8, "duration", "10"),
        (KLING_VIDEO, "kling-v2-1", 30, "duration", "10"),
        (VIDU_VIDEO, "viduq1", 8, "duration", 5),
        (VIDU_VIDEO, "vidu2.0", 6.5, "duration", 8),
        (VIDU_VIDEO, "viduq2-pro", 12, "duration", 10),
        (VIDU_VIDEO, "vidu-next", 6.4, "duration", 6),
        (HAILUO_VIDEO, "MiniMax-Hailuo-02", 9, "duration", 10),
        (HAILUO_VIDEO, "T2V-01", 10, "duration", 6),
        (SEEDANCE_VIDEO, "doubao-seedance-1-0-pro-250528", 1, "duration", 2),
        (SEEDANCE_VIDEO, "doubao-seedance-1-5-pro-251215", 20, "duration", 12),
        (SEEDANCE_VIDEO, "doubao-seedance-2-0-260128", 15, "duration", 15),
        (JIMENG_VIDEO, "jimeng_t2v_v30", 4, "frames", 121),
        (JIMENG_VIDEO, "jimeng_t2v_v30", 8, "frames", 241),
    ],
)
def test_durations_map_to_the_nearest_the_vendor_makes(
    codec: Any, model: str, seconds: float, field: str, sent: object
) -> None:
    key = "ak|" + SECRET
    call = codec.submit(TaskRequest(model="m", prompt="p", seconds=seconds), _target(model, key))
    assert _body(call)[field] == sent


def test_hailuo_makes_only_six_seconds_at_1080p() -> None:
    request = TaskRequest(model="m", prompt="p", seconds=10, resolution="1080p")
    assert _body(HAILUO_VIDEO.submit(request, _target("MiniMax-Hailuo-02")))["duration"] == 6


def test_no_duration_sends_none_and_the_vendors_default_applies() -> None:
    for codec, model in [(VIDU_VIDEO, "viduq1"), (HAILUO_VIDEO, "MiniMax-Hailuo-02"), (SEEDANCE_VIDEO, "x")]:
        assert "duration" not in _body(codec.submit(TaskRequest(model="m", prompt="p"), _target(model)))


def test_kling_body_jwt_and_paths() -> None:
    image = ImageInput(file=MediaFile(PNG, "a.png", "image/png"))
    request = TaskRequest(
        model="m", prompt="p", images=[image, ImageInput(url="https://x/b.png")], size="1920x1080",
        audio=True, extra={"cfg_scale": 0.5, "model": "evil", "external_task_id": "evil"},
    )  # fmt: skip
    call = KLING_VIDEO.submit(request, _target("kling-v2-1", "ak|" + SECRET))
    body = _body(call)
    assert call.path == "/v1/videos/image2video" and call.auth is False
    assert body["image"] == base64.b64encode(PNG).decode()  # bare base64, no data: prefix
    assert body["image_tail"] == "https://x/b.png" and body["mode"] == "pro" and body["sound"] == "on"
    assert "aspect_ratio" not in body  # with an image the ratio follows the image
    assert body["cfg_scale"] == 0.5 and "model" not in body and body["external_task_id"] == "task_ext_1"
    token = call.headers["Authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims == {"iss": "ak", "exp": int(NOW) + 1800, "nbf": int(NOW) - 5}
    assert "ak|" not in repr(call)
    assert KLING_VIDEO.poll("image2video/123", _target("k", "ak|" + SECRET)).path == "/v1/videos/image2video/123"


def test_kling_text_ratio_and_a_key_that_is_not_a_pair() -> None:
    body = _body(
        KLING_VIDEO.submit(TaskRequest(model="m", prompt="p", aspect_ratio="9:16"), _target("k", "a|" + SECRET))
    )
    assert body["aspect_ratio"] == "9:16" and "mode" not in body
    with pytest.raises(GatewayError) as caught:
        KLING_VIDEO.submit(TaskRequest(model="m", prompt="p"), _target("k", "no-pair-here"))
    assert "no-pair-here" not in caught.value.message


@pytest.mark.parametrize(
    ("codec", "model", "request_", "param"),
    [
        (KLING_VIDEO, "k", TaskRequest(model="m", prompt="p", size="1024x1024"), "size"),
        (KLING_VIDEO, "k", TaskRequest(model="m", prompt="p", aspect_ratio="4:3"), "aspect_ratio"),
        (KLING_VIDEO, "k", TaskRequest(model="m", prompt="p", resolution="480p"), "resolution"),
        (KLING_VIDEO, "k", TaskRequest(model="m", prompt="p", images=[ImageInput(url="https://x")] * 3), "images"),
        (KLING_VIDEO, "k", TaskRequest(model="m", prompt="p", n=2), "n"),
        (VIDU_VIDEO, "viduq1", TaskRequest(model="m", prompt="p", resolution="4k"), "resolution"),
        (HAILUO_VIDEO, "MiniMax-Hailuo-02", TaskRequest(model="m", prompt="p", aspect_ratio="9:16"), "aspect_ratio"),
        (SEEDANCE_VIDEO, "s", TaskRequest(model="m", prompt="p", size="1000x1000"), "size"),
        (JIMENG_VIDEO, "jimeng_t2v_v30", TaskRequest(model="m", prompt="p", resolution="1080p"), "resolution"),
    ],
)
def test_what_a_vendor_cannot_make_is_a_400_naming_the_field(
    codec: Any, model: str, request_: TaskRequest, param: str
) -> None:
    with pytest.raises(GatewayError) as caught:
        codec.submit(request_, _target(model, "ak|" + SECRET))
    assert caught.value.status == 400 and caught.value.param == param


def test_vidu_modes_and_seedance_roles() -> None:
    frames = [ImageInput(url="https://x/1.png"), ImageInput(url="https://x/2.png")]
    assert VIDU_VIDEO.submit(TaskRequest(model="m", images=frames[:1]), _target("viduq1")).path == "/ent/v2/img2video"
    assert VIDU_VIDEO.submit(TaskRequest(model="m", images=frames), _target("viduq1")).path == "/ent/v2/start-end2video"
    refs = TaskRequest(model="m", prompt="p", images=frames, image_roles=["reference", "reference"], aspect_ratio="1:1")
    call = VIDU_VIDEO.submit(refs, _target("viduq2"))
    assert call.path == "/ent/v2/reference2video" and _body(call)["aspect_ratio"] == "1:1"
    body = _body(SEEDANCE_VIDEO.submit(refs, _target("doubao-seedance-1-0-lite-i2v")))
    assert body["content"][0] == {"type": "text", "text": "p"}
    assert [item["role"] for item in body["content"][1:]] == ["reference_image", "reference_image"]
    assert body["ratio"] == "1:1" and body["return_last_frame"] is True
    size = _body(SEEDANCE_VIDEO.submit(TaskRequest(model="m", prompt="p", size="1280x720"), _target("s")))
    assert (size["ratio"], size["resolution"]) == ("16:9", "720p")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("submitted", TaskStatus.QUEUED),
        ("processing", TaskStatus.RUNNING),
        ("failed", TaskStatus.FAILED),
        ("brand_new_state", TaskStatus.RUNNING),
    ],
)
def test_kling_statuses(raw: str, status: TaskStatus) -> None:
    answer = _answer({"code": 0, "data": {"task_id": "1", "task_status": raw, "task_status_msg": "risk"}})
    state = KLING_VIDEO.parse_poll(answer, _target("k", "a|" + SECRET), None)
    assert isinstance(state, TaskState) and state.status is status and state.vendor_status == raw
    assert state.failure == ("risk" if status is TaskStatus.FAILED else None)


def test_kling_success_outputs_seconds_and_credits_and_errors_in_200() -> None:
    video = {"id": "v", "url": "https://cdn/v.mp4", "duration": "5.042"}
    data = {"task_id": "1", "task_status": "succeed", "task_result": {"videos": [video]}, "final_unit_deduction": "2"}
    state = KLING_VIDEO.parse_poll(_answer({"code": 0, "data": data}), _target("k", "a|" + SECRET), None)
    assert isinstance(state, TaskState) and state.status is TaskStatus.SUCCEEDED
    assert state.outputs[0].url == "https://cdn/v.mp4" and state.seconds == 5.042 and state.credits == 2.0
    with pytest.raises(GatewayError) as caught:
        KLING_VIDEO.parse_submit(_answer({"code": 1302, "message": "too fast"}), TaskRequest(model="m"), _target("k"))
    assert caught.value.kind is ErrorKind.RATE_LIMIT and caught.value.code == "1302"


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        ({"state": "queueing"}, TaskStatus.QUEUED),
        ({"state": "whatever"}, TaskStatus.RUNNING),
        ({"state": "failed", "err_code": "AuditFailed"}, TaskStatus.FAILED),
    ],
)
def test_vidu_statuses(obj: dict[str, Any], status: TaskStatus) -> None:
    state = VIDU_VIDEO.parse_poll(_answer(obj), _target("v"), None)
    assert isinstance(state, TaskState) and state.status is status


def test_hailuo_success_needs_the_file_lookup() -> None:
    target = _target("MiniMax-Hailuo-02")
    ok = {"status_code": 0, "status_msg": "success"}
    step = HAILUO_VIDEO.parse_poll(_answer({"status": "Success", "file_id": 77, "base_resp": ok}), target, None)
    assert isinstance(step, Followup) and step.call.path == "/v1/files/retrieve?file_id=77"
    state = HAILUO_VIDEO.parse_poll(
        _answer({"file": {"download_url": "https://f/v.mp4"}, "base_resp": ok}), target, step
    )
    assert isinstance(state, TaskState) and state.status is TaskStatus.SUCCEEDED
    assert state.outputs[0].url == "https://f/v.mp4"
    fail = {"status": "Fail", "base_resp": {"status_code": 1026, "status_msg": "sensitive"}}
    failed = HAILUO_VIDEO.parse_poll(_answer(fail), target, None)
    assert isinstance(failed, TaskState) and failed.status is TaskStatus.FAILED and failed.failure == "sensitive"
    with pytest.raises(GatewayError) as caught:
        HAILUO_VIDEO.parse_submit(
            _answer({"base_resp": {"status_code": 1008, "status_msg": "no"}}), TaskRequest(model="m"), target
        )
    assert caught.value.kind is ErrorKind.INSUFFICIENT_QUOTA


def test_seedance_statuses_usage_and_cancel() -> None:
    target = _target("s")
    obj = {"status": "succeeded", "content": {"video_url": "https://v", "last_frame_url": "https://l"}}
    obj |= {"usage": {"completion_tokens": 108900, "total_tokens": 108900}, "duration": 5}
    state = SEEDANCE_VIDEO.parse_poll(_answer(obj), target, None)
    assert isinstance(state, TaskState) and state.usage is not None and state.usage.output_tokens == 108900
    assert [o.kind for o in state.outputs] == ["video", "last_frame"] and state.seconds == 5.0
    for raw, status in [
        ("expired", TaskStatus.FAILED),
        ("cancelled", TaskStatus.CANCELLED),
        ("??", TaskStatus.RUNNING),
    ]:
        got = SEEDANCE_VIDEO.parse_poll(_answer({"status": raw}), target, None)
        assert isinstance(got, TaskState) and got.status is status
    cancel = SEEDANCE_VIDEO.cancel("cgt-1", target)
    assert cancel is not None and cancel.method == "DELETE" and cancel.path.endswith("/tasks/cgt-1")
    assert KLING_VIDEO.cancel("x", target) is None and VIDU_VIDEO.find(target) is None


def test_seedance_batch_poll_lists_the_ids_and_parses_each_item_as_a_poll() -> None:
    target = _target("s")
    assert isinstance(SEEDANCE_VIDEO, BatchPoll) and not isinstance(KLING_VIDEO, BatchPoll)
    call = SEEDANCE_VIDEO.poll_many(["cgt-1", "cgt-2"], target)
    assert call is not None and call.method == "GET"
    path, query = call.path.split("?")
    assert path == "/api/v3/contents/generations/tasks"
    assert parse_qs(query) == {"page_num": ["1"], "page_size": ["2"], "filter.task_ids": ["cgt-1", "cgt-2"]}
    assert SEEDANCE_VIDEO.poll_many([], target) is None
    assert SEEDANCE_VIDEO.poll_many([f"cgt-{i}" for i in range(101)], target) is None  # over the limit
    done = {"id": "cgt-1", "status": "succeeded", "content": {"video_url": "https://v"}, "duration": 5}
    done |= {"usage": {"completion_tokens": 100, "total_tokens": 100}}
    items = [done, {"id": "cgt-2", "status": "running"}, {"status": "queued"}, "junk"]
    states = SEEDANCE_VIDEO.parse_poll_many(_answer({"items": items, "total": 4}), target)
    assert set(states) == {"cgt-1", "cgt-2"}  # an item without an id is nobody's
    assert states["cgt-1"] == SEEDANCE_VIDEO.parse_poll(_answer(done), target, None)
    assert states["cgt-2"].status is TaskStatus.RUNNING
    assert SEEDANCE_VIDEO.parse_poll_many(_answer({"items": [], "total": 0}), target) == {}
    for bad in ({"error": {"code": "InternalServiceError", "message": "busy"}}, {"total": 0}, [1]):
        with pytest.raises(GatewayError):
            SEEDANCE_VIDEO.parse_poll_many(_answer(bad), target)


def _reference_signature(secret: str, stamp: str, canonical: str) -> str:
    """Volcengine V4 as documented, written out independently of the codec."""
    day = stamp[:8]
    key = secret.encode()
    for part in (day, "cn-north-1", "cv", "request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    to_sign = f"HMAC-SHA256\n{stamp}\n{day}/cn-north-1/cv/request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_jimeng_signature_matches_a_reference_computation() -> None:
    target = _target("jimeng_t2v_v30", "AKID|" + SECRET, "https://visual.volcengineapi.com")
    call = JIMENG_VIDEO.submit(TaskRequest(model="m", prompt="p", aspect_ratio="9:16", seed=3), target)
    assert call.path == "/?Action=CVSync2AsyncSubmitTask&Version=2022-08-31" and call.auth is False
    assert _body(call) == {"req_key": "jimeng_t2v_v30", "prompt": "p", "seed": 3, "aspect_ratio": "9:16"}
    h = call.headers
    assert h["X-Date"] == "20250615T150640Z"  # NOW in UTC
    payload = hashlib.sha256(call.body).hexdigest()
    assert h["X-Content-Sha256"] == payload
    canonical = (
        "POST\n/\nAction=CVSync2AsyncSubmitTask&Version=2022-08-31\n"
        f"content-type:application/json\nhost:visual.volcengineapi.com\nx-content-sha256:{payload}\n"
        f"x-date:{h['X-Date']}\n\ncontent-type;host;x-content-sha256;x-date\n{payload}"
    )
    expected = _reference_signature(SECRET, h["X-Date"], canonical)
    assert h["Authorization"] == (
        "HMAC-SHA256 Credential=AKID/20250615/cn-north-1/cv/request, "
        f"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={expected}"
    )


def test_jimeng_statuses_and_review_failures() -> None:
    target = _target("jimeng_t2v_v30", "a|" + SECRET)
    for raw, status in [
        ("in_queue", TaskStatus.QUEUED),
        ("not_found", TaskStatus.RUNNING),
        ("odd", TaskStatus.RUNNING),
    ]:
        got = JIMENG_VIDEO.parse_poll(_answer({"code": 10000, "data": {"status": raw}}), target, None)
        assert isinstance(got, TaskState) and got.status is status
    done = JIMENG_VIDEO.parse_poll(
        _answer({"code": 10000, "data": {"status": "done", "video_url": "https://v"}}), target, None
    )
    assert isinstance(done, TaskState) and done.outputs[0].url == "https://v"
    review = JIMENG_VIDEO.parse_poll(_answer({"code": 50511, "message": "Post Img Risk Not Pass"}), target, None)
    assert isinstance(review, TaskState) and review.status is TaskStatus.FAILED
    with pytest.raises(GatewayError) as caught:
        JIMENG_VIDEO.parse_poll(_answer({"code": 50429, "message": "qps"}), target, None)
    assert caught.value.kind is ErrorKind.RATE_LIMIT
    poll = JIMENG_VIDEO.poll("t1", target)
    assert _body(poll) == {"req_key": "jimeng_t2v_v30", "task_id": "t1"}


def test_non_2xx_answers_keep_the_vendors_status_and_message() -> None:
    error = SEEDANCE_VIDEO.decode_error(404, orjson.dumps({"error": {"code": "NotFound", "message": "gone"}}))
    assert error.status == 404 and error.code == "NotFound" and "gone" in error.message
    html = KLING_VIDEO.decode_error(500, b"<html>oops</html>")
    assert html.status == 500 and html.kind is ErrorKind.UPSTREAM
