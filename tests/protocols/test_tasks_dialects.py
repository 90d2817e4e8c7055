"""The client dialects of video tasks: bodies decoded, tasks rendered, errors in each dialect's shape, and
the official SDKs (openai ``videos.*``, google-genai's operation parsing and file download) reading them."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import httpx2
import openai
import orjson
import pytest
from google import genai
from google.genai import types as genai_types
from google.genai._transformers import t_file_name
from openai.types import Video, VideoDeleteResponse

from omnirouter.http.multipart import FilePart, build_form
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskStatus
from omnirouter.protocols.tasks.base import TaskView, ViewOutput
from omnirouter.protocols.tasks.fields import UNASKED_SECONDS
from omnirouter.protocols.tasks.kling_native import KLING_IMAGE2VIDEO, KLING_TEXT2VIDEO
from omnirouter.protocols.tasks.openai_videos import OPENAI_VIDEOS, decode_list_query
from omnirouter.protocols.tasks.unified_video import UNIFIED_VIDEO
from omnirouter.protocols.tasks.veo_native import VEO, file_name, parse_file_name, task_id_of

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
GW = "https://gw.example"
ALL = list(TaskStatus)


def view(status: TaskStatus, **fields: Any) -> TaskView:
    base: dict[str, Any] = {
        "id": "video_abc123",
        "kind": TaskKind.VIDEO,
        "model": "sora-2",
        "created_at": 1_700_000_000,
    }
    if status is TaskStatus.SUCCEEDED:
        base |= {
            "completed_at": 1_700_000_090,
            "outputs": [ViewOutput(kind="video", url=f"{GW}/v1/videos/video_abc123/content?sig=x", mime="video/mp4")],
        }
    return TaskView(status=status, **(base | fields))


def body_of(answer: tuple[int, bytes, bytes]) -> Any:
    status, body, content_type = answer
    assert (status, content_type) == (200, b"application/json")
    return orjson.loads(body)


def error_of(
    dialect: Any, body: bytes, content_type: str = "application/json", model: str | None = None
) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        dialect.decode_create(body, content_type, model)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    return caught.value


# ---------------------------------------------------------------- OpenAI videos


def test_openai_json_create_reads_every_field() -> None:
    body = {"model": "sora-2", "prompt": "a cat", "seconds": "8", "size": "1280x720"}
    body["input_reference"] = {"image_url": "https://img.example/a.png"}
    request = OPENAI_VIDEOS.decode_create(orjson.dumps(body), "application/json", None)
    assert (request.model, request.prompt, request.seconds, request.size) == ("sora-2", "a cat", 8.0, "1280x720")
    assert [image.url for image in request.images] == ["https://img.example/a.png"]
    assert OPENAI_VIDEOS.budget(request).seconds == 8.0 and OPENAI_VIDEOS.budget(request).calls == 1


def test_openai_seconds_as_number_and_default_budget() -> None:
    request = OPENAI_VIDEOS.decode_create(b'{"model":"kling-v2","prompt":"p","seconds":5}', "application/json", None)
    assert request.seconds == 5.0
    bare = OPENAI_VIDEOS.decode_create(b'{"model":"m","prompt":"p"}', "application/json", None)
    assert bare.seconds is None and bare.size is None  # no default invented ...
    assert OPENAI_VIDEOS.budget(bare).seconds == UNASKED_SECONDS  # ... but the reservation covers any vendor's


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "p"}, "model"),
        ({"model": "m"}, "prompt"),
        ({"model": "m", "prompt": " "}, "prompt"),
        ({"model": "m", "prompt": "p", "seconds": "four"}, "seconds"),
        ({"model": "m", "prompt": "p", "seconds": True}, "seconds"),
        ({"model": "m", "prompt": "p", "seconds": 600}, "seconds"),
        ({"model": "m", "prompt": "p", "size": 1280}, "size"),
        ({"model": "m", "prompt": "p", "size": "big"}, "size"),
        ({"model": "m", "prompt": "p", "input_reference": {"image_url": "x", "file_id": "f"}}, "input_reference"),
        ({"model": "m", "prompt": "p", "input_reference": {"image_url": "ftp://x"}}, "input_reference.image_url"),
    ],
)
def test_openai_bad_fields_are_named(body: dict[str, Any], param: str) -> None:
    error = error_of(OPENAI_VIDEOS, orjson.dumps(body))
    assert error.param == param
    status, encoded = OPENAI_VIDEOS.encode_error(error)
    assert status == 400
    assert orjson.loads(encoded)["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "param": param,
        "code": None,
    }


def test_openai_multipart_and_malformed_multipart() -> None:
    form, content_type = build_form(
        [("model", "sora-2"), ("prompt", "a dog"), ("seconds", "4")],
        [FilePart("input_reference", "ref.png", "image/png", PNG)],
    )
    request = OPENAI_VIDEOS.decode_create(form, content_type, None)
    assert request.seconds == 4.0 and request.images[0].file is not None
    assert request.images[0].file.data == PNG
    text, content_type = build_form(
        [("model", "m"), ("prompt", "p")], [FilePart("input_reference", "a.txt", "text/plain", b"hello")]
    )
    assert error_of(OPENAI_VIDEOS, text, content_type).param == "input_reference"
    broken = error_of(OPENAI_VIDEOS, b"--xx\r\nnot a part", "multipart/form-data; boundary=xx")
    assert OPENAI_VIDEOS.encode_error(broken)[0] == 400


def captured_openai(answers: list[bytes]) -> tuple[openai.OpenAI, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, content=answers.pop(0), headers={"content-type": "application/json"})

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(api_key="k", base_url=f"{GW}/v1", http_client=http, max_retries=0), seen


def test_openai_sdk_create_and_poll_stops_on_every_terminal_status_we_emit() -> None:
    """create_and_poll: the SDK's own multipart body decodes; it polls through pending/queued/running."""
    for final in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        steps = [TaskStatus.PENDING, TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RUNNING, final]
        answers = [OPENAI_VIDEOS.encode_task(view(step, seconds=4, size="720x1280"))[1] for step in steps]
        client, seen = captured_openai(answers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the Videos API is marked deprecated
            video = client.videos.create_and_poll(
                model="sora-2", prompt="a cat", seconds="4", input_reference=("r.png", PNG, "image/png"),
                poll_interval_ms=0,
            )  # fmt: skip
        assert len(seen) == len(steps)  # polled until the terminal answer, not earlier
        assert video.status == ("completed" if final is TaskStatus.SUCCEEDED else "failed")
        request = OPENAI_VIDEOS.decode_create(seen[0].content, seen[0].headers["content-type"], None)
        assert (request.prompt, request.seconds, request.images[0].file.data) == ("a cat", 4.0, PNG)  # type: ignore[union-attr]


@pytest.mark.parametrize("status", ALL)
def test_openai_video_object_is_the_spec_shape(status: TaskStatus) -> None:
    task = view(status, seconds=8, size="1280x720", prompt="a cat", progress=40, error_message="nsfw")
    obj = body_of(OPENAI_VIDEOS.encode_task(task))
    video = Video.model_validate(obj)  # strict: every required key, right types
    assert video.status in ("queued", "in_progress", "completed", "failed")
    assert set(obj) == {
        "id", "object", "model", "status", "progress", "created_at", "completed_at", "expires_at", "prompt",
        "size", "seconds", "remixed_from_video_id", "error",
    }  # fmt: skip
    expected = {"pending": "queued", "queued": "queued", "running": "in_progress", "succeeded": "completed"}
    assert video.status == expected.get(status.value, "failed")
    assert (video.seconds, video.size) == ("8", "1280x720")
    assert (video.error is not None) == (status in (TaskStatus.FAILED, TaskStatus.CANCELLED))
    assert video.progress == (100 if status is TaskStatus.SUCCEEDED else 40)


def test_openai_cancelled_error_code_and_unknown_seconds() -> None:
    video = body_of(OPENAI_VIDEOS.encode_task(view(TaskStatus.CANCELLED)))
    assert video["error"]["code"] == "cancelled" and video["seconds"] is None and video["size"] is None


def test_openai_list_delete_remix_and_query() -> None:
    views = [view(TaskStatus.QUEUED, id="video_1"), view(TaskStatus.SUCCEEDED, id="video_2", seconds=4)]
    page = body_of(OPENAI_VIDEOS.encode_list(views, has_more=True))
    assert (page["object"], page["first_id"], page["last_id"], page["has_more"]) == ("list", "video_1", "video_2", True)
    assert [item["id"] for item in page["data"]] == ["video_1", "video_2"]
    empty = body_of(OPENAI_VIDEOS.encode_list([], has_more=False))
    assert (empty["first_id"], empty["last_id"], empty["data"]) == (None, None, [])
    deleted = VideoDeleteResponse.model_validate(body_of(OPENAI_VIDEOS.encode_deleted("video_1")))
    assert deleted.deleted and deleted.id == "video_1"
    source = view(TaskStatus.SUCCEEDED, seconds=8, size="720x1280")
    remix = OPENAI_VIDEOS.decode_remix(b'{"prompt":"now at night"}', "application/json", source)
    assert (remix.model, remix.prompt, remix.remix_of, remix.seconds) == ("sora-2", "now at night", "video_abc123", 8)
    with pytest.raises(GatewayError) as caught:
        OPENAI_VIDEOS.decode_remix(b"{}", "application/json", source)
    assert caught.value.param == "prompt"
    assert decode_list_query({"limit": "5", "order": "asc", "after": "video_1"}) == ("video_1", 5, "asc")
    with pytest.raises(GatewayError) as caught:
        decode_list_query({"limit": "0"})
    assert caught.value.param == "limit"


# ---------------------------------------------------------------- new-api unified video


def test_unified_json_create_with_metadata_and_omni_create_fields() -> None:
    body = {
        "model": "Kling-3.0-omni", "prompt": "a girl smiles", "duration": "5", "resolution": "1080p",
        "aspect_ratio": "16:9", "images": ["https://img.example/1.png", PNG_B64], "input_region": "Mainland",
        "metadata": json.dumps({"cfg_scale": 0.5, "model": "cheap-model"}), "generate_audio": True,
    }  # fmt: skip
    request = UNIFIED_VIDEO.decode_create(orjson.dumps(body), "application/json", None)
    assert (request.model, request.seconds, request.resolution, request.aspect_ratio, request.audio) == (
        "Kling-3.0-omni", 5.0, "1080p", "16:9", True,
    )  # fmt: skip
    assert request.images[0].url == "https://img.example/1.png"
    assert request.images[1].file is not None and request.images[1].file.data == PNG
    assert request.extra == {"input_region": "Mainland", "cfg_scale": 0.5}  # metadata's model cannot re-route


def test_unified_image_and_seconds_rules() -> None:
    one = UNIFIED_VIDEO.decode_create(b'{"model":"m","prompt":"p","image":"https://a/b.png","seconds":"8"}', "", None)
    assert [image.url for image in one.images] == ["https://a/b.png"] and one.seconds == 8.0
    assert error_of(UNIFIED_VIDEO, b'{"model":"m","prompt":"p","duration":5,"seconds":"8"}').param == "seconds"
    assert error_of(UNIFIED_VIDEO, b'{"model":"m","prompt":"p","duration":"x"}').param == "duration"
    many = orjson.dumps({"model": "m", "prompt": "p", "images": ["https://a/b.png"] * 10})
    assert error_of(UNIFIED_VIDEO, many).param == "images"
    assert error_of(UNIFIED_VIDEO, b'{"model":"m","prompt":"p","images":["nope!"]}').param == "images[0]"
    assert error_of(UNIFIED_VIDEO, b'{"model":"m","prompt":"p","metadata":"{"}').param == "metadata"
    assert error_of(UNIFIED_VIDEO, b'{"prompt":"p"}').param == "model"
    assert error_of(UNIFIED_VIDEO, b'{"model":"m"}').param == "prompt"


def test_unified_multipart_create() -> None:
    form, content_type = build_form(
        [("model", "wan2.6-i2v"), ("prompt", "p"), ("duration", "10"), ("watermark", "false"), ("fps", "24")],
        [FilePart("image", "a.png", "image/png", PNG)],
    )
    request = UNIFIED_VIDEO.decode_create(form, content_type, None)
    assert request.seconds == 10.0 and request.images[0].file is not None
    assert request.extra == {"watermark": "false", "fps": 24}  # numbers read as numbers, as new-api does


@pytest.mark.parametrize("status", ALL)
def test_unified_fetch_is_the_new_api_envelope_without_private_fields(status: TaskStatus) -> None:
    task = view(status, progress=30, started_at=1_700_000_010, updated_at=1_700_000_020, error_message="bad")
    answer = body_of(UNIFIED_VIDEO.encode_task(task))
    assert (answer["code"], answer["message"]) == ("success", "")
    data = answer["data"]
    expected = {
        "pending": "NOT_START", "queued": "QUEUED", "running": "IN_PROGRESS", "succeeded": "SUCCESS",
        "failed": "FAILURE", "cancelled": "FAILURE",
    }  # fmt: skip
    assert data["status"] == expected[status.value]
    assert data["task_id"] == "video_abc123" and data["submit_time"] == 1_700_000_000
    assert data["progress"] == ("100%" if status is TaskStatus.SUCCEEDED else "30%")
    assert (data["fail_reason"] == "bad") == (status in (TaskStatus.FAILED, TaskStatus.CANCELLED))
    assert data["result_url"] == (
        f"{GW}/v1/videos/video_abc123/content?sig=x" if status is TaskStatus.SUCCEEDED else ""
    )
    assert not {"id", "channel_id", "quota", "platform", "user_id", "group", "properties", "data"} & set(data)


def test_unified_create_answers_a_video_object_with_task_id() -> None:
    created = body_of(UNIFIED_VIDEO.encode_created(view(TaskStatus.QUEUED, seconds=5)))
    assert created["id"] == created["task_id"] == "video_abc123"
    assert (created["object"], created["status"], created["progress"]) == ("video", "queued", 0)


# ---------------------------------------------------------------- Kling native


def test_kling_text2video_and_image2video() -> None:
    body = {
        "model_name": "kling-v2-1", "prompt": "a fox", "negative_prompt": "blur", "cfg_scale": 0.5, "mode": "pro",
        "duration": "10", "aspect_ratio": "9:16", "camera_control": {"type": "simple"},
        "callback_url": "https://cb.example/k", "external_task_id": "mine-1",
    }  # fmt: skip
    request = KLING_TEXT2VIDEO.decode_create(orjson.dumps(body), "application/json", None)
    assert (request.model, request.seconds, request.mode, request.aspect_ratio) == ("kling-v2-1", 10.0, "pro", "9:16")
    assert (request.client_ref, request.callback_url, request.negative_prompt) == (
        "mine-1",
        "https://cb.example/k",
        "blur",
    )
    assert request.extra == {"cfg_scale": 0.5, "camera_control": {"type": "simple"}}
    i2v = KLING_IMAGE2VIDEO.decode_create(
        orjson.dumps({"model_name": "kling-v1", "image": PNG_B64, "image_tail": "https://a/t.png"}), "", None
    )
    assert i2v.prompt is None and i2v.image_roles == ["first_frame", "last_frame"]
    assert i2v.images[0].file is not None and i2v.images[1].url == "https://a/t.png"


@pytest.mark.parametrize(
    ("dialect", "body", "param"),
    [
        (KLING_TEXT2VIDEO, {"prompt": "p"}, "model_name"),
        (KLING_TEXT2VIDEO, {"model_name": "kling-v1"}, "prompt"),
        (KLING_TEXT2VIDEO, {"model_name": "kling-v1", "prompt": "p", "duration": "long"}, "duration"),
        (KLING_TEXT2VIDEO, {"model_name": "kling-v1", "prompt": "p", "cfg_scale": 2}, "cfg_scale"),
        (KLING_TEXT2VIDEO, {"model_name": "kling-v1", "prompt": "p", "image": "https://a/b.png"}, "image"),
        (KLING_IMAGE2VIDEO, {"model_name": "kling-v1", "prompt": "p"}, "image"),
        (KLING_IMAGE2VIDEO, {"model_name": "kling-v1", "image": "%%%"}, "image"),
    ],
)
def test_kling_errors_in_klings_shape(dialect: Any, body: dict[str, Any], param: str) -> None:
    error = error_of(dialect, orjson.dumps(body))
    assert error.param == param
    status, encoded = dialect.encode_error(error)
    answer = orjson.loads(encoded)
    assert (status, answer["code"]) == (400, 1201) and f"'{param}'" in answer["message"]
    assert set(answer) == {"code", "message", "request_id"}


def test_kling_error_codes_by_kind() -> None:
    expected = {
        ErrorKind.AUTHENTICATION: (401, 1000),
        ErrorKind.NOT_FOUND: (404, 1203),
        ErrorKind.RATE_LIMIT: (429, 1302),
    }
    for kind, (status, code) in expected.items():
        got_status, body = KLING_TEXT2VIDEO.encode_error(GatewayError(kind, "x"))
        assert (got_status, orjson.loads(body)["code"]) == (status, code)


@pytest.mark.parametrize("status", ALL)
def test_kling_envelope(status: TaskStatus) -> None:
    task = view(
        status, model="kling-v2-1", seconds=5.042, updated_at=1_700_000_050, client_ref="mine-1", error_message="x"
    )
    answer = body_of(KLING_TEXT2VIDEO.encode_task(task))
    assert (answer["code"], answer["message"], answer["request_id"]) == (0, "SUCCEED", "video_abc123")
    data = answer["data"]
    expected = {"pending": "submitted", "queued": "submitted", "running": "processing", "succeeded": "succeed"}
    assert data["task_status"] == expected.get(status.value, "failed")
    assert (data["created_at"], data["updated_at"]) == (1_700_000_000_000, 1_700_000_050_000)
    assert data["task_info"] == {"external_task_id": "mine-1"}
    if status is TaskStatus.SUCCEEDED:
        video = data["task_result"]["videos"][0]
        assert video == {"id": "video_abc123", "url": f"{GW}/v1/videos/video_abc123/content?sig=x", "duration": "5.042"}
    else:
        assert "task_result" not in data
    assert (data["task_status_msg"] == "x") == (status in (TaskStatus.FAILED, TaskStatus.CANCELLED))


# ---------------------------------------------------------------- Veo native


def veo_body(**parameters: Any) -> bytes:
    instance = {
        "prompt": "a neon cat",
        "image": {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"},
        "lastFrame": {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"},
        "referenceImages": [
            {"image": {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"}, "referenceType": "asset"}
        ],
    }
    return orjson.dumps({"instances": [instance], "parameters": parameters})


def test_veo_create_as_google_genai_2_writes_it() -> None:
    """The body google-genai 2.x's ``_GenerateVideosParameters_to_mldev`` writes (read from its 2.34 source)."""
    body = veo_body(
        sampleCount=2, durationSeconds=8, aspectRatio="16:9", resolution="1080p", negativePrompt="blur",
        personGeneration="allow_adult", enhancePrompt=True,
    )  # fmt: skip
    request = VEO.decode_create(body, "application/json", "veo-3.0-generate-001")
    assert (request.model, request.prompt, request.seconds, request.n) == ("veo-3.0-generate-001", "a neon cat", 8.0, 2)
    assert request.image_roles == ["first_frame", "last_frame", "reference"]
    assert all(image.file is not None and image.file.data == PNG for image in request.images)
    assert request.extra == {"personGeneration": "allow_adult", "enhancePrompt": True}
    assert VEO.budget(request).seconds == 16.0  # two samples of 8 s
    assert VEO.budget(VEO.decode_create(b'{"instances":[{"prompt":"p"}]}', "", "veo")).seconds == UNASKED_SECONDS


@pytest.mark.parametrize(
    ("body", "model", "param"),
    [
        ({"instances": [{"prompt": "p"}]}, None, "model"),
        ({"instances": []}, "veo", "instances"),
        ({"instances": [{}]}, "veo", "instances[0].prompt"),
        ({"instances": [{"prompt": "p", "video": {"uri": "x"}}]}, "veo", "instances[0].video"),
        (
            {"instances": [{"prompt": "p", "image": {"bytesBase64Encoded": "aGVsbG8="}}]},
            "veo",
            "instances[0].image.bytesBase64Encoded",
        ),
        ({"instances": [{"prompt": "p", "referenceImages": [{}] * 4}]}, "veo", "instances[0].referenceImages"),
        ({"instances": [{"prompt": "p"}], "parameters": {"durationSeconds": "x"}}, "veo", "parameters.durationSeconds"),
        ({"instances": [{"prompt": "p"}], "parameters": {"sampleCount": 9}}, "veo", "parameters.sampleCount"),
    ],
)
def test_veo_errors_in_geminis_shape(body: dict[str, Any], model: str | None, param: str) -> None:
    error = error_of(VEO, orjson.dumps(body), model=model)
    assert error.param == param
    status, encoded = VEO.encode_error(error)
    assert status == 400
    assert (
        orjson.loads(encoded)["error"]["status"] == "INVALID_ARGUMENT"
        and f"'{param}'" in orjson.loads(encoded)["error"]["message"]
    )


@pytest.mark.parametrize("status", ALL)
def test_veo_operation_parsed_by_google_genai(status: TaskStatus) -> None:
    task = view(status, model="veo-3.0-generate-001", error_message="filtered")
    answer = body_of(VEO.encode_task(task))
    operation = genai_types.GenerateVideosOperation.from_api_response(answer, is_vertex_ai=False)
    assert operation.name == "models/veo-3.0-generate-001/operations/video_abc123"
    assert task_id_of(operation.name) == "video_abc123"
    assert bool(operation.done) == status.terminal
    if status is TaskStatus.SUCCEEDED:
        assert operation.result is not None and operation.result.generated_videos
        video = operation.result.generated_videos[0].video
        assert video is not None and video.uri is not None and video.uri.startswith(f"{GW}/v1beta/files/")
        assert parse_file_name(t_file_name(video)) == ("video_abc123", 0)  # what files.download asks for
    elif status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        assert operation.error == {"code": 1 if status is TaskStatus.CANCELLED else 13, "message": "filtered"}
    else:
        assert operation.result is None and operation.error is None


def test_veo_sdk_operations_get_and_download_reach_the_gateway_routes() -> None:
    done = VEO.encode_task(view(TaskStatus.SUCCEEDED, model="veo-3.0-generate-001"))[1]
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.path)
        if request.url.path.endswith(":download"):
            return httpx2.Response(200, content=b"mp4 bytes", headers={"content-type": "video/mp4"})
        return httpx2.Response(200, content=done, headers={"content-type": "application/json"})

    options = genai_types.HttpOptions(
        base_url=GW, api_version="v1beta", httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    client = genai.Client(api_key="key", http_options=options)
    pending = genai_types.GenerateVideosOperation(name="models/veo-3.0-generate-001/operations/video_abc123")
    operation = client.operations.get(pending)
    assert operation.done and operation.result is not None and operation.result.generated_videos
    data = client.files.download(file=operation.result.generated_videos[0])
    assert data == b"mp4 bytes"
    assert seen == [
        "/v1beta/models/veo-3.0-generate-001/operations/video_abc123",
        f"/v1beta/files/{file_name('video_abc123', 0)}:download",
    ]


def test_veo_names_round_trip_and_refuse_others() -> None:
    assert parse_file_name(file_name("task_Ünï-1", 3)) == ("task_Ünï-1", 3)
    assert task_id_of("operations/abc") == "abc"
    for bad in ("models/x/operations", "files/abc", ""):
        with pytest.raises(GatewayError) as caught:
            task_id_of(bad)
        assert caught.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(GatewayError):
        parse_file_name("zz")
