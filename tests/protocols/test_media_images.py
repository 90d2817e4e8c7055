"""The image codecs without a network: size and ratio mappings, vendor errors inside 2xx answers, the
multipart decoder and the OpenAI answer's shape."""

from __future__ import annotations

import base64
import io
from typing import Any

import orjson
import pytest
from PIL import Image

from omnirouter.http.multipart import FilePart, build_form
from omnirouter.ir import GatewayError, Usage
from omnirouter.ir.media import GeneratedImage, ImageRequest, ImageResult
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall
from omnirouter.protocols.media.gemini_images import GEMINI_IMAGES_UP, gemini_image_config
from omnirouter.protocols.media.openai_images import OPENAI_IMAGES_UP, openai_size
from omnirouter.protocols.media.openai_images_in import (
    INPUT_TOKENS_PER_IMAGE,
    OPENAI_IMAGE_EDITS_IN,
    OPENAI_IMAGE_GENERATIONS_IN,
    OUTPUT_TOKENS_PER_IMAGE,
    UNASKED_IMAGES,
)
from omnirouter.protocols.media.vendor_images import (
    ARK_IMAGES_UP,
    BFL_IMAGES_UP,
    DASHSCOPE_IMAGES_UP,
    _same_site,
)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    return out.getvalue()


def request(**fields: Any) -> ImageRequest:
    return ImageRequest(model=fields.pop("model", "m"), prompt=fields.pop("prompt", "p"), **fields)


def answer(body: dict[str, Any]) -> Answer:
    return Answer(200, {}, orjson.dumps(body))


TARGET = Target("up-model", {}, "key", "https://api.bfl.ai")


@pytest.mark.parametrize(
    ("fields", "config"),
    [
        ({}, {}),
        ({"size": "1792x1024"}, {"aspectRatio": "16:9", "imageSize": "2K"}),
        ({"size": "1024x1024"}, {"aspectRatio": "1:1"}),
        ({"size": "1024x1536", "quality": "hd"}, {"aspectRatio": "2:3", "imageSize": "2K"}),
        ({"size": "9:16"}, {"aspectRatio": "9:16"}),
        ({"aspect_ratio": "21:9", "resolution": "4K"}, {"aspectRatio": "21:9", "imageSize": "4K"}),
        ({"quality": "low"}, {}),
    ],
)
def test_gemini_image_config_from_openai_and_omni_fields(fields: dict[str, Any], config: dict[str, str]) -> None:
    assert gemini_image_config(request(**fields)) == config


@pytest.mark.parametrize(
    ("model", "fields", "size"),
    [
        ("gpt-image-1", {}, None),
        ("gpt-image-1", {"size": "auto"}, "auto"),
        ("gpt-image-1", {"aspect_ratio": "16:9", "resolution": "4K"}, "1536x1024"),
        ("gpt-image-1", {"aspect_ratio": "9:16"}, "1024x1536"),
        ("gpt-image-2", {"aspect_ratio": "16:9", "resolution": "4K"}, "3840x2160"),
        ("gpt-image-2", {"aspect_ratio": "1:1", "resolution": "2K"}, "2048x2048"),
    ],
)
def test_openai_size_from_ratio_and_resolution(model: str, fields: dict[str, Any], size: str | None) -> None:
    assert openai_size(request(**fields), model) == size


def test_openai_error_inside_a_200_is_an_upstream_error() -> None:
    with pytest.raises(GatewayError, match="quota"):
        OPENAI_IMAGES_UP.parse(answer({"error": {"message": "quota"}}), request(), TARGET, None)


def test_openai_url_answer_is_downloaded_when_base64_was_asked() -> None:
    asked = request(response_format="b64_json")
    step = OPENAI_IMAGES_UP.parse(answer({"data": [{"url": "https://cdn.example/x.png"}]}), asked, TARGET, None)
    assert isinstance(step, Followup) and step.call.path == "https://cdn.example/x.png" and not step.call.auth
    done = OPENAI_IMAGES_UP.parse(Answer(200, {"content-type": "image/png"}, png()), asked, TARGET, step)
    assert isinstance(done, ImageResult) and done.images[0].b64 == base64.b64encode(png()).decode()


def test_seedream_keeps_a_partial_set_and_fails_an_empty_one() -> None:
    b64 = base64.b64encode(png()).decode()
    bad = {"error": {"code": "OutputImageSensitiveContentDetected", "message": "sensitive"}}
    partial = {"data": [{"b64_json": b64, "size": "8x8"}, bad], "usage": {"generated_images": 1}}
    result = ARK_IMAGES_UP.parse(answer(partial), request(n=2), TARGET, None)
    assert isinstance(result, ImageResult) and len(result.images) == 1 and result.usage.images == 1
    assert result.images[0].mime == "image/png" and result.usage.image_size == "8x8"
    with pytest.raises(GatewayError, match="sensitive"):
        ARK_IMAGES_UP.parse(answer({"data": [bad], "usage": {"generated_images": 0}}), request(), TARGET, None)


def test_dashscope_code_inside_200_and_failed_task_are_errors() -> None:
    with pytest.raises(GatewayError, match="Arrearage"):
        DASHSCOPE_IMAGES_UP.parse(answer({"code": "Arrearage", "message": "no"}), request(), TARGET, None)
    poll = Followup(UpstreamCall("/api/v1/tasks/t", method="GET"), "poll")
    failed = {"output": {"task_status": "FAILED", "message": "bad prompt"}}
    with pytest.raises(GatewayError, match="FAILED: bad prompt"):
        DASHSCOPE_IMAGES_UP.parse(answer(failed), request(), TARGET, poll)


def test_flux_polls_with_the_key_only_on_the_vendors_site() -> None:
    submitted = {"id": "t1", "polling_url": "https://api.eu1.bfl.ai/v1/get_result?id=t1"}
    step = BFL_IMAGES_UP.parse(answer(submitted), request(), TARGET, None)
    assert isinstance(step, Followup) and step.call.auth and step.call.method == "GET"
    elsewhere = {"id": "t1", "polling_url": "https://evil.example/poll"}
    step = BFL_IMAGES_UP.parse(answer(elsewhere), request(), TARGET, None)
    assert isinstance(step, Followup) and not step.call.auth
    assert not _same_site("http://127.0.0.2/x", "http://127.0.0.1")


def test_gemini_without_an_image_names_the_reason() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}}
    with pytest.raises(GatewayError, match="SAFETY"):
        GEMINI_IMAGES_UP.parse(answer(blocked), request(), Target("gemini-2.5-flash-image", {}, "k"), None)


def test_multipart_edit_accepts_indexed_images_and_refuses_text_images() -> None:
    files = [FilePart("image[0]", "a.png", "image/png", png()), FilePart("image[1]", "b", "", png())]
    body, content_type = build_form([("model", "m"), ("prompt", "p"), ("n", "2")], files)
    decoded = OPENAI_IMAGE_EDITS_IN.decode(body, content_type, None)
    assert [(i.file.filename, i.file.content_type) for i in decoded.images if i.file] == [
        ("a.png", "image/png"),
        ("b", "image/png"),  # an untyped upload gets the type its bytes show
    ]
    assert decoded.n == 2 and decoded.edit and decoded.size is None and decoded.quality is None
    body, content_type = build_form([("model", "m"), ("prompt", "p"), ("image", "data:image/png;base64,xx")], [])
    with pytest.raises(GatewayError) as caught:
        OPENAI_IMAGE_EDITS_IN.decode(body, content_type, None)
    assert caught.value.param == "image"


def test_omni_body_keeps_its_fields_and_the_answer_names_only_openai_keys() -> None:
    omni = {"model": "Nano", "prompt": "p", "resolution": "4K", "aspect_ratio": "16:9", "input_region": "Mainland",
            "images": ["https://example.com/1.png"], "n": 3}  # fmt: skip
    decoded = OPENAI_IMAGE_GENERATIONS_IN.decode(orjson.dumps(omni), "application/json", None)
    assert (decoded.resolution, decoded.aspect_ratio, decoded.input_region, decoded.n) == ("4K", "16:9", "Mainland", 3)
    assert [i.url for i in decoded.images] == ["https://example.com/1.png"] and decoded.extra == {}
    budget = OPENAI_IMAGE_GENERATIONS_IN.budget(decoded, 100)
    assert (budget.images, budget.choices, budget.max_output) == (3, 3, OUTPUT_TOKENS_PER_IMAGE)
    assert budget.input_tokens == INPUT_TOKENS_PER_IMAGE  # one reference image
    result = ImageResult(images=[GeneratedImage(b64="AAAA")], usage=Usage(images=1))
    body, _ = OPENAI_IMAGE_GENERATIONS_IN.encode(result, decoded, "Nano")
    assert set(orjson.loads(body)) == {"created", "data"} and orjson.loads(body)["data"] == [{"b64_json": "AAAA"}]


def test_budget_without_n_covers_what_imagen_makes_unasked() -> None:
    """Imagen makes four images when ``sampleCount`` is not sent; the reservation must cover them."""
    decoded = OPENAI_IMAGE_GENERATIONS_IN.decode(orjson.dumps({"model": "m", "prompt": "p"}), "application/json", None)
    answer = {"predictions": [{"bytesBase64Encoded": "AAAA", "mimeType": "image/png"}] * 4}
    target = Target("imagen-4.0-generate-001", {}, "k", "http://x")
    result = GEMINI_IMAGES_UP.parse(Answer(200, {}, orjson.dumps(answer)), decoded, target, None)
    assert isinstance(result, ImageResult) and result.usage.images == 4
    budget = OPENAI_IMAGE_GENERATIONS_IN.budget(decoded, 50)
    assert budget.images == UNASKED_IMAGES >= result.usage.images
    assert budget.input_tokens == 0 and budget.max_output == OUTPUT_TOKENS_PER_IMAGE


def test_budget_covers_gpt_image_tokens() -> None:
    """GPT image's largest image (high quality, 1536x1024) is 6,240 output tokens: within the bound."""
    body = {"model": "m", "prompt": "p", "n": 2, "quality": "high", "size": "1536x1024"}
    decoded = OPENAI_IMAGE_GENERATIONS_IN.decode(orjson.dumps(body), "application/json", None)
    usage = {"input_tokens": 5, "output_tokens": 12480, "output_tokens_details": {"image_tokens": 12480}}
    answer = {"data": [{"b64_json": "AAAA"}] * 2, "usage": usage, "size": "1536x1024", "quality": "high"}
    target = Target("gpt-image-1", {}, "k", "http://x")
    result = OPENAI_IMAGES_UP.parse(Answer(200, {}, orjson.dumps(answer)), decoded, target, None)
    assert isinstance(result, ImageResult) and result.usage.image_output_tokens == 12480
    budget = OPENAI_IMAGE_GENERATIONS_IN.budget(decoded, 80)
    assert budget.max_output is not None and budget.max_output * budget.choices >= result.usage.output_tokens
