"""PixVerse's upload step as a pure codec (``UploadsFirst``): which image goes how, what is refused before
anything is uploaded, and how the upload's answer becomes the submit's ``img_id``."""

from __future__ import annotations

import base64

import orjson
import pytest

from omnirouter.http.multipart import parse_form
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskRequest
from omnirouter.protocols.media.base import Answer, Followup
from omnirouter.protocols.tasks.base import TaskTarget, UploadsFirst
from omnirouter.protocols.tasks.pixverse import PIXVERSE_VIDEO

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
T = TaskTarget("v4.5", {}, "pv-key", "https://app-api.pixverse.ai", "omni-task_1", 1_700_000_000.0)


def _request(*images: ImageInput, **fields: object) -> TaskRequest:
    return TaskRequest(model="pixverse", prompt="p", images=list(images), **fields)  # type: ignore[arg-type]


def _upload(request: TaskRequest) -> Followup:
    step = PIXVERSE_VIDEO.upload(request, T)
    assert step is not None
    return step


def _answer(obj: object) -> Answer:
    return Answer(200, {}, orjson.dumps(obj))


def test_pixverse_uploads_first_and_a_text_task_uploads_nothing() -> None:
    assert isinstance(PIXVERSE_VIDEO, UploadsFirst)
    assert PIXVERSE_VIDEO.upload(_request(), T) is None


@pytest.mark.parametrize(
    "image",
    [
        ImageInput(file=MediaFile(data=PNG, filename="first.png", content_type="image/png")),
        ImageInput(url="data:image/png;base64," + base64.b64encode(PNG).decode()),
    ],
    ids=["file", "data-url"],
)
def test_inline_images_go_as_the_multipart_file_image(image: ImageInput) -> None:
    call = _upload(_request(image)).call
    assert (call.path, call.method, call.auth) == ("/openapi/v2/image/upload", "POST", True)
    form = parse_form(call.body, call.content_type)
    [part] = form.files
    assert (part.field, part.content_type, part.data) == ("image", "image/png", PNG)
    assert part.filename.endswith(".png") and not form.pairs
    again = _upload(_request(image)).call
    assert again.headers["Ai-trace-id"] == call.headers["Ai-trace-id"]  # a retried upload is the same upload
    assert call.headers["Ai-trace-id"] != PIXVERSE_VIDEO.submit(_request(extra={"img_id": 1}), T).headers["Ai-trace-id"]


def test_a_url_goes_as_image_url() -> None:
    call = _upload(_request(ImageInput(url="https://cdn.example.com/a.png"))).call
    form = parse_form(call.body, call.content_type)
    assert form.pairs == (("image_url", "https://cdn.example.com/a.png"),) and not form.files


@pytest.mark.parametrize(
    ("request_", "param"),
    [
        (_request(ImageInput(url="https://a/1.png"), ImageInput(url="https://a/2.png")), "images"),
        (_request(ImageInput(file_id="file-abc")), "images[0]"),
        (_request(ImageInput(url="https://a/1.png"), extra={"img_id": 5}), "images"),
        (_request(ImageInput(url="https://a/1.png"), size="1000x1000"), "size"),
        (_request(ImageInput(url="https://a/1.png"), n=2), "n"),
        (TaskRequest(model="pixverse", images=[ImageInput(url="https://a/1.png")]), "prompt"),
    ],
    ids=["two-images", "file-id", "image-and-img_id", "size", "samples", "no-prompt"],
)
def test_what_pixverse_cannot_make_is_refused_before_any_upload(request_: TaskRequest, param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        PIXVERSE_VIDEO.upload(request_, T)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and caught.value.param == param, caught.value.message


def test_the_uploads_img_id_replaces_the_image_in_the_submit() -> None:
    request = _request(ImageInput(url="https://a/1.png"), seconds=8, extra={"style": "anime"})
    step = _upload(request)
    ready = PIXVERSE_VIDEO.parse_upload(_answer({"ErrCode": 0, "Resp": {"img_id": 1234, "img_url": "u"}}), request,
                                        T, step)  # fmt: skip
    assert isinstance(ready, TaskRequest) and ready.images == [] and ready.extra == {"style": "anime", "img_id": 1234}
    call = PIXVERSE_VIDEO.submit(ready, T)
    assert call.path == "/openapi/v2/video/img/generate"
    assert orjson.loads(call.body) == {"model": "v4.5", "prompt": "p", "duration": 8, "quality": "540p",
                                       "aspect_ratio": "16:9", "style": "anime", "img_id": 1234}  # fmt: skip
    assert request.images and "img_id" not in request.extra  # the task's own request is untouched


def test_upload_errors() -> None:
    request = _request(ImageInput(url="https://a/1.png"))
    step = _upload(request)
    with pytest.raises(GatewayError) as refused:
        PIXVERSE_VIDEO.parse_upload(_answer({"ErrCode": 400017, "ErrMsg": "Invalid parameter: image"}), request, T,
                                    step)  # fmt: skip
    assert refused.value.kind is ErrorKind.INVALID_REQUEST and refused.value.param == "images[0]"
    assert "Invalid parameter: image" in refused.value.message
    for body in ({"ErrCode": 500000, "ErrMsg": "busy"}, {"ErrCode": 0, "Resp": {}}, {"ErrCode": 0, "Resp": None}):
        with pytest.raises(GatewayError) as failed:
            PIXVERSE_VIDEO.parse_upload(_answer(body), request, T, step)
        assert failed.value.kind is ErrorKind.UPSTREAM, body
