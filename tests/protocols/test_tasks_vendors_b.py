"""The video task codecs of Sora, Veo, DashScope Wan, Tencent Hunyuan and PixVerse, pure: what each sends,
what it refuses (a 400 naming the field, nothing sent), durations to the nearest, statuses mapped."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from omnirouter.http.multipart import parse_form
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskRequest, TaskStatus
from omnirouter.protocols.media.base import Answer
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.hunyuan import HUNYUAN_VIDEO
from omnirouter.protocols.tasks.pixverse import PIXVERSE_VIDEO
from omnirouter.protocols.tasks.signing import tc3_authorization
from omnirouter.protocols.tasks.sora import SORA_VIDEO
from omnirouter.protocols.tasks.veo import VEO_VIDEO
from omnirouter.protocols.tasks.video_common import nearest
from omnirouter.protocols.tasks.wan import WAN_VIDEO

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def target(model: str, base: str = "https://api.example", key: str = "k", **options: str) -> TaskTarget:
    return TaskTarget(model, options, key, base, "ext-1", 1_700_000_000.0)


def body(call: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call.body)
    return parsed


def answer(obj: Any, status: int = 200) -> Answer:
    return Answer(status, {}, orjson.dumps(obj))


def bad(field: str, fn: Any, *args: Any) -> None:
    with pytest.raises(GatewayError) as caught:
        fn(*args)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and caught.value.param == field, caught.value.message


@pytest.mark.parametrize(
    ("seconds", "choices", "expected"),
    [(1, (4, 8, 12), 4), (6, (4, 8, 12), 4), (7, (4, 8, 12), 8), (100, (5, 10), 10)],
)
def test_nearest_duration_ties_go_to_the_shorter(seconds: float, choices: tuple[int, ...], expected: int) -> None:
    assert nearest(seconds, choices) == expected


# ---------------------------------------------------------------- Sora


def test_sora_json_body_maps_seconds_and_sizes() -> None:
    call = SORA_VIDEO.submit(TaskRequest(model="x", prompt="p", seconds=10, aspect_ratio="9:16"), target("sora-2"))
    assert call.path == "/videos" and body(call) == {
        "model": "sora-2",
        "prompt": "p",
        "seconds": "8",
        "size": "720x1280",
    }
    pro = SORA_VIDEO.submit(TaskRequest(model="x", prompt="p", size="1792x1024"), target("sora-2-pro"))
    assert body(pro)["size"] == "1792x1024"
    bare = SORA_VIDEO.submit(TaskRequest(model="x", prompt="p"), target("sora-2"))
    assert body(bare) == {"model": "sora-2", "prompt": "p"}  # no invented seconds or size


def test_sora_refuses_what_it_cannot_make() -> None:
    bad("size", SORA_VIDEO.submit, TaskRequest(model="x", prompt="p", size="1792x1024"), target("sora-2"))
    bad("aspect_ratio", SORA_VIDEO.submit, TaskRequest(model="x", prompt="p", aspect_ratio="1:1"), target("sora-2"))
    bad("negative_prompt", SORA_VIDEO.submit, TaskRequest(model="x", prompt="p", negative_prompt="n"), target("sora-2"))
    two = [ImageInput(url="https://a/1.png"), ImageInput(url="https://a/2.png")]
    bad("images", SORA_VIDEO.submit, TaskRequest(model="x", prompt="p", images=two), target("sora-2"))


def test_sora_uploaded_reference_goes_multipart_and_a_url_as_json() -> None:
    upload = ImageInput(file=MediaFile(PNG, "ref.png", "image/png"))
    call = SORA_VIDEO.submit(TaskRequest(model="x", prompt="p", images=[upload], seconds=4), target("sora-2"))
    form = parse_form(call.body, call.content_type)
    assert form.text("prompt") == "p" and form.text("seconds") == "4" and form.text("model") == "sora-2"
    assert form.files[0].field == "input_reference" and form.files[0].data == PNG
    url = SORA_VIDEO.submit(
        TaskRequest(model="x", prompt="p", images=[ImageInput(url="https://a/1.png")]), target("sora-2")
    )
    assert body(url)["input_reference"] == {"image_url": "https://a/1.png"}


def test_sora_remix_goes_to_the_originals_upstream_id() -> None:
    call = SORA_VIDEO.submit(TaskRequest(model="x", prompt="again", remix_of="video_abc"), target("sora-2"))
    assert call.path == "/videos/video_abc/remix" and body(call) == {"prompt": "again"}


def test_sora_statuses_and_outputs() -> None:
    t = target("sora-2", base="https://api.openai.com/v1")
    obj = {"id": "video_1", "status": "in_progress", "progress": 40, "seconds": "8"}
    state = SORA_VIDEO.parse_poll(answer(obj), t, None)
    assert state.status is TaskStatus.RUNNING and state.progress == 40
    assert SORA_VIDEO.parse_poll(answer({**obj, "status": "processing"}), t, None).status is TaskStatus.RUNNING
    done = SORA_VIDEO.parse_poll(answer({**obj, "status": "completed"}), t, None)
    assert done.status is TaskStatus.SUCCEEDED and done.seconds == 8.0
    assert [(o.kind, o.auth) for o in done.outputs] == [("video", True), ("thumbnail", True), ("spritesheet", True)]
    assert done.outputs[0].url == "https://api.openai.com/v1/videos/video_1/content?variant=video"
    failed = SORA_VIDEO.parse_poll(
        answer({**obj, "status": "failed", "error": {"code": "moderation_blocked", "message": "no"}}), t, None
    )
    assert failed.status is TaskStatus.FAILED and failed.failure == "no" and failed.failure_code == "moderation_blocked"
    assert SORA_VIDEO.find(t) is None and SORA_VIDEO.cancel("video_1", t) is None


# ---------------------------------------------------------------- Veo


def test_veo_body_images_and_durations() -> None:
    data = "data:image/png;base64," + base64.b64encode(PNG).decode()
    request = TaskRequest(
        model="x", prompt="p", seconds=5, size="1920x1080", images=[ImageInput(url=data), ImageInput(url=data)],
        negative_prompt="blur", extra={"personGeneration": "allow_adult", "model": "evil"},
    )  # fmt: skip
    call = VEO_VIDEO.submit(request, target("veo-3.1-generate-preview"))
    assert call.path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    sent = body(call)
    image = {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"}
    assert sent["instances"] == [{"prompt": "p", "image": image, "lastFrame": image}]
    assert sent["parameters"] == {
        "aspectRatio": "16:9", "resolution": "1080p", "durationSeconds": 4, "negativePrompt": "blur",
        "personGeneration": "allow_adult",
    }  # fmt: skip
    assert body(VEO_VIDEO.submit(TaskRequest(model="x", prompt="p", seconds=7), target("veo-2.0-generate-001")))[
        "parameters"
    ] == {"durationSeconds": 7}


def test_veo_refusals() -> None:
    t = target("veo-3.0-generate-001")
    bad("resolution", VEO_VIDEO.submit, TaskRequest(model="x", prompt="p", resolution="4k"), t)
    bad("aspect_ratio", VEO_VIDEO.submit, TaskRequest(model="x", prompt="p", aspect_ratio="1:1"), t)
    bad("seed", VEO_VIDEO.submit, TaskRequest(model="x", prompt="p", seed=1), t)
    bad(
        "images[0]", VEO_VIDEO.submit, TaskRequest(model="x", prompt="p", images=[ImageInput(url="https://a/b.png")]), t
    )


def test_veo_operation_states() -> None:
    t = target("veo-3.0-generate-001")
    name = "models/veo-3.0-generate-001/operations/abc"
    assert VEO_VIDEO.parse_submit(answer({"name": name}), TaskRequest(model="x"), t).upstream_id == name
    assert VEO_VIDEO.poll(name, t).path == "/v1beta/" + name
    assert VEO_VIDEO.parse_poll(answer({"name": name}), t, None).status is TaskStatus.RUNNING
    uri = "https://generativelanguage.googleapis.com/v1beta/files/f1:download?alt=media"
    done = {
        "name": name,
        "done": True,
        "response": {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]}},
    }
    state = VEO_VIDEO.parse_poll(answer(done), t, None)
    assert state.status is TaskStatus.SUCCEEDED and state.outputs[0].url == uri and state.outputs[0].auth
    filtered = {"name": name, "done": True, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": ["celebrity"]}}}  # fmt: skip
    failed = VEO_VIDEO.parse_poll(answer(filtered), t, None)
    assert failed.status is TaskStatus.FAILED and failed.failure == "celebrity"
    errored = VEO_VIDEO.parse_poll(answer({"name": name, "done": True, "error": {"code": 13, "message": "x"}}), t, None)
    assert errored.status is TaskStatus.FAILED and errored.failure_code == "13"


# ---------------------------------------------------------------- DashScope Wan


def test_wan_t2v_i2v_kf2v_bodies() -> None:
    t2v = WAN_VIDEO.submit(
        TaskRequest(model="x", prompt="p", seconds=12, size="1280x720", seed=3), target("wan2.6-t2v")
    )
    assert t2v.headers["X-DashScope-Async"] == "enable"
    assert body(t2v) == {"model": "wan2.6-t2v", "input": {"prompt": "p"},
                         "parameters": {"size": "1280*720", "duration": 10, "seed": 3}}  # fmt: skip
    i2v = WAN_VIDEO.submit(
        TaskRequest(model="x", prompt="p", resolution="720p", images=[ImageInput(url="https://a/1.png")],
                    extra={"parameters": {"prompt_extend": False}}),
        target("wan2.5-i2v-preview"),
    )  # fmt: skip
    assert body(i2v)["input"]["img_url"] == "https://a/1.png"
    assert body(i2v)["parameters"] == {"resolution": "720P", "prompt_extend": False}
    two = [ImageInput(url="https://a/1.png"), ImageInput(url="https://a/2.png")]
    kf = WAN_VIDEO.submit(TaskRequest(model="x", prompt="p", images=two), target("wan2.1-kf2v-plus"))
    assert body(kf)["input"] == {
        "prompt": "p",
        "first_frame_url": "https://a/1.png",
        "last_frame_url": "https://a/2.png",
    }
    bad("size", WAN_VIDEO.submit, TaskRequest(model="x", prompt="p", size="1000x1000"), target("wan2.6-t2v"))
    bad("images", WAN_VIDEO.submit, TaskRequest(model="x", prompt="p", images=two[:1]), target("wan2.6-t2v"))


def test_wan_statuses_usage_and_cancel() -> None:
    t = target("wan2.6-t2v")
    states = {raw: WAN_VIDEO.parse_poll(answer({"output": {"task_status": raw}}), t, None).status
              for raw in ("PENDING", "RUNNING", "CANCELED", "UNKNOWN", "SUSPENDED")}  # fmt: skip
    assert states == {"PENDING": TaskStatus.QUEUED, "RUNNING": TaskStatus.RUNNING, "CANCELED": TaskStatus.CANCELLED,
                      "UNKNOWN": TaskStatus.RUNNING, "SUSPENDED": TaskStatus.RUNNING}  # fmt: skip
    ok = {"output": {"task_status": "SUCCEEDED", "video_url": "https://oss/x.mp4"}, "usage": {"video_duration": 10}}
    state = WAN_VIDEO.parse_poll(answer(ok), t, None)
    assert state.seconds == 10.0 and state.outputs[0].url == "https://oss/x.mp4" and not state.outputs[0].auth
    failed = WAN_VIDEO.parse_poll(answer({"output": {"task_status": "FAILED", "code": "DataInspectionFailed",
                                                     "message": "bad"}}), t, None)  # fmt: skip
    assert failed.failure == "bad" and failed.failure_code == "DataInspectionFailed"
    with pytest.raises(GatewayError):
        WAN_VIDEO.parse_submit(answer({"code": "InvalidParameter", "message": "m"}), TaskRequest(model="x"), t)
    cancel = WAN_VIDEO.cancel("t1", t)
    assert cancel is not None and cancel.path == "/api/v1/tasks/t1/cancel" and cancel.method == "POST"
    error = WAN_VIDEO.decode_error(401, orjson.dumps({"code": "InvalidApiKey", "message": "Invalid API-key provided."}))
    assert error.kind is ErrorKind.AUTHENTICATION and error.code == "InvalidApiKey"


# ---------------------------------------------------------------- Tencent Hunyuan


def test_tc3_authorization_names_the_scope_and_signs_the_body_with_the_secret() -> None:
    def sign(secret: str, payload: bytes) -> str:
        return tc3_authorization(
            "AKIDexample", secret, service="vclm", host="vclm.tencentcloudapi.com", path="/",
            payload=payload, now=1551113065,
        )  # fmt: skip

    header = sign("s1", b"{}")
    assert header.startswith(
        "TC3-HMAC-SHA256 Credential=AKIDexample/2019-02-25/vclm/tc3_request, "
        "SignedHeaders=content-type;host, Signature="
    )
    assert "s1" not in header and header == sign("s1", b"{}")
    assert len({header, sign("s2", b"{}"), sign("s1", b"{ }")}) == 3  # (the mock verifies it end to end)


def test_hunyuan_submit_poll_and_errors() -> None:
    t = target("hunyuan", base="https://vclm.tencentcloudapi.com", key="AKID|secret")
    call = HUNYUAN_VIDEO.submit(TaskRequest(model="x", prompt="p", images=[ImageInput(url="https://a/1.png")]), t)
    assert call.path == "/" and call.headers["X-TC-Action"] == "SubmitHunyuanToVideoJob"
    assert call.headers["X-TC-Region"] == "ap-guangzhou" and call.headers["X-TC-Timestamp"] == "1700000000"
    assert body(call) == {"Prompt": "p", "Image": {"Url": "https://a/1.png"}}
    assert "secret" not in call.headers["Authorization"]
    bad("size", HUNYUAN_VIDEO.submit, TaskRequest(model="x", prompt="p", size="1280x720"), t)
    bad("prompt", HUNYUAN_VIDEO.submit, TaskRequest(model="x", prompt="p" * 201), t)
    poll = HUNYUAN_VIDEO.poll("123", t)
    assert body(poll) == {"JobId": "123"} and poll.headers["X-TC-Action"] == "DescribeHunyuanToVideoJob"
    done = {"Response": {"Status": "DONE", "ResultVideoUrl": "https://cos/x.mp4", "RequestId": "r"}}
    assert HUNYUAN_VIDEO.parse_poll(answer(done), t, None).outputs[0].url == "https://cos/x.mp4"
    fail = {"Response": {"Status": "FAIL", "ErrorCode": "FailedOperation.ModerationFailed", "ErrorMessage": "m"}}
    assert HUNYUAN_VIDEO.parse_poll(answer(fail), t, None).failure_code == "FailedOperation.ModerationFailed"
    assert HUNYUAN_VIDEO.parse_poll(answer({"Response": {"Status": "WAIT"}}), t, None).status is TaskStatus.QUEUED
    with pytest.raises(GatewayError) as caught:
        HUNYUAN_VIDEO.parse_poll(
            answer({"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "m"}}}), t, None
        )
    assert caught.value.kind is ErrorKind.RATE_LIMIT
    with pytest.raises(GatewayError) as unpaired:
        HUNYUAN_VIDEO.submit(TaskRequest(model="x", prompt="p"), t._replace(upstream_key="only-one"))
    assert unpaired.value.kind is ErrorKind.AUTHENTICATION and "only-one" not in unpaired.value.message


# ---------------------------------------------------------------- PixVerse


def test_pixverse_body_defaults_trace_ids_and_statuses() -> None:
    t = target("v4.5", base="https://app-api.pixverse.ai")
    call = PIXVERSE_VIDEO.submit(TaskRequest(model="x", prompt="p", seconds=7, size="1280x720"), t)
    assert call.path == "/openapi/v2/video/text/generate"
    assert body(call) == {"model": "v4.5", "prompt": "p", "duration": 8, "quality": "720p", "aspect_ratio": "16:9"}
    again = PIXVERSE_VIDEO.submit(TaskRequest(model="x", prompt="p"), t)
    assert again.headers["Ai-trace-id"] == call.headers["Ai-trace-id"]  # a retried submit is the same video
    assert PIXVERSE_VIDEO.poll("1", t).headers["Ai-trace-id"] != call.headers["Ai-trace-id"]
    assert (
        body(PIXVERSE_VIDEO.submit(TaskRequest(model="x", prompt="p", seconds=8, resolution="1080p"), t))["duration"]
        == 5
    )
    bad("images", PIXVERSE_VIDEO.submit, TaskRequest(model="x", prompt="p", images=[ImageInput(url="https://a")]), t)
    img = PIXVERSE_VIDEO.submit(TaskRequest(model="x", prompt="p", extra={"img_id": 42}), t)
    assert img.path == "/openapi/v2/video/img/generate"
    ok = answer({"ErrCode": 0, "Resp": {"video_id": 77}})
    assert PIXVERSE_VIDEO.parse_submit(ok, TaskRequest(model="x"), t).upstream_id == "77"

    def status(code: int) -> TaskStatus:
        resp = {"status": code, "url": "https://m/v.mp4"}
        return PIXVERSE_VIDEO.parse_poll(answer({"ErrCode": 0, "Resp": resp}), t, None).status

    assert [status(code) for code in (1, 5, 7, 8, 9)] == [
        TaskStatus.SUCCEEDED, TaskStatus.RUNNING, TaskStatus.FAILED, TaskStatus.FAILED, TaskStatus.RUNNING,
    ]  # fmt: skip
    with pytest.raises(GatewayError):
        PIXVERSE_VIDEO.parse_poll(answer({"ErrCode": 400018, "ErrMsg": "video not found"}), t, None)
