"""``/v1/images/generations`` and ``/v1/images/edits`` through the gateway with the openai SDK, against each
image vendor on the mock: OpenAI (GPT image, dall-e), Gemini image models, Imagen, Ark Seedream, BFL FLUX
and DashScope wanx.  What the upstream received is read from the mock's request log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

UPLOAD_LIMIT = 400_000
FAST = {"poll_interval": "0.01"}
PER_IMAGE = 0.04


def png(width: int = 32, height: int = 32, color: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def opened(b64: str | None) -> Image.Image:
    assert b64 is not None
    return Image.open(io.BytesIO(base64.b64decode(b64)))


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningGateway, Path]]:
    """One channel of each image vendor on the mock, and a pair (Ark first, then OpenAI) for failover."""
    url = mock_upstream.url
    db_dir = tmp_path_factory.mktemp("images")
    channels = [
        channel(url, "oa", "openai", ["gpt-image-1", "dall-e-2", "dall-e-3"]),
        channel(url, "ge", "gemini", ["gemini-2.5-flash-image", "imagen-4.0-generate-001"]),
        channel(url, "ark", "ark", ["seedream"], model_map={"seedream": "doubao-seedream-4-0-250828"}),
        channel(url, "bfl", "bfl", ["flux-kontext-pro"], options=FAST),
        channel(url, "ds", "dashscope", ["wanx"], model_map={"wanx": "wanx2.1-t2i-turbo"}, options=FAST),
        channel(url, "fo-ark", "ark", ["fo-image"], model_map={"fo-image": "doubao-seedream-4-0-250828"}, priority=1),
        channel(url, "fo-oa", "openai", ["fo-image"], model_map={"fo-image": "gpt-image-1"}),
    ]
    prices = {name: {"per_image": PER_IMAGE} for name in ("seedream", "flux-kontext-pro", "imagen-4.0-generate-001")}
    async with media_gateway(db_dir, channels, max_upload_bytes=UPLOAD_LIMIT, prices=prices) as running:
        yield running, db_dir / "gw.db"


@pytest.fixture
async def client(served: tuple[RunningGateway, Path], mock_upstream: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    mock_upstream.requests.clear()
    mock_upstream.clear_script()
    async with openai.AsyncOpenAI(base_url=served[0].url + "/v1", api_key=CLIENT_KEY, max_retries=0) as c:
        yield c


async def usage_row(db_path: Path, request_id: str) -> dict[str, Any]:
    """The usage row of ``request_id`` once the gateway has flushed it."""
    for _ in range(100):
        rows = [row for row in await usage_rows(db_path) if row["request_id"] == request_id]
        if rows:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no usage row for {request_id}")


def generation_requests(mock: MockUpstream) -> list[Any]:
    return [r for r in mock.requests if not r.path.startswith("/media/")]


# ---------------------------------------------------------------- OpenAI


async def test_gpt_image_b64_png_at_the_size_asked_and_nothing_invented(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, served: tuple[RunningGateway, Path]
) -> None:
    raw = await client.images.with_raw_response.generate(model="gpt-image-1", prompt="a red fox", size="1024x1536")
    answer = raw.parse()
    assert opened(answer.data[0].b64_json).size == (1024, 1536)
    assert mock_upstream.requests[-1].path == "/v1/images/generations"
    assert mock_upstream.requests[-1].body == {"model": "gpt-image-1", "prompt": "a red fox", "size": "1024x1536"}
    assert answer.usage is not None and answer.usage.output_tokens > 0
    assert answer.usage.output_tokens_details is not None
    assert answer.usage.output_tokens_details.image_tokens == answer.usage.output_tokens
    assert answer.size == "1024x1536" and answer.output_format == "png"
    row = await usage_row(served[1], raw.headers["x-request-id"])
    assert (row["input_tokens"], row["output_tokens"]) == (answer.usage.input_tokens, answer.usage.output_tokens)
    assert row["image_output_tokens"] == answer.usage.output_tokens_details.image_tokens
    assert row["image_input_tokens"] == answer.usage.input_tokens_details.image_tokens == 0  # a prompt only
    assert (row["images"], row["image_size"], row["image_quality"]) == (1, answer.size, answer.quality)


async def test_url_from_a_base64_only_model_is_a_data_url(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    answer = await client.images.generate(model="gpt-image-1", prompt="a cat", response_format="url")
    assert "response_format" not in mock_upstream.requests[-1].body  # GPT image models refuse it
    url = answer.data[0].url
    assert url is not None and url.startswith("data:image/png;base64,")
    assert opened(url.partition(",")[2]).format == "PNG"


async def test_dalle_url_is_relayed_and_b64_is_asked_of_the_upstream(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    linked = await client.images.generate(model="dall-e-3", prompt="a boat", response_format="url")
    assert linked.data[0].url is not None and linked.data[0].url.startswith(mock_upstream.url + "/media/")
    assert linked.data[0].revised_prompt
    inline = await client.images.generate(model="dall-e-2", prompt="a boat", response_format="b64_json", n=2)
    assert mock_upstream.requests[-1].body["response_format"] == "b64_json"
    assert [opened(d.b64_json).size for d in inline.data] == [(1024, 1024)] * 2


async def test_edit_one_image_with_a_mask_sends_real_file_parts(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, served: tuple[RunningGateway, Path]
) -> None:
    image, mask = png(64, 64), png(64, 64, (0, 0, 0))
    raw = await client.images.with_raw_response.edit(
        model="gpt-image-1",
        prompt="add a hat",
        image=("cat.png", image, "image/png"),
        mask=("m.png", mask, "image/png"),
    )
    answer = raw.parse()
    assert opened(answer.data[0].b64_json).format == "PNG"
    sent = mock_upstream.requests[-1]
    assert sent.path == "/v1/images/edits" and sent.body["multipart"] is True
    assert sent.body["fields"] == {"model": "gpt-image-1", "prompt": "add a hat"}
    assert [(f["field"], f["filename"], f["content_type"], f["size"], f["sha256"]) for f in sent.body["files"]] == [
        ("image", "cat.png", "image/png", len(image), hashlib.sha256(image).hexdigest()),
        ("mask", "m.png", "image/png", len(mask), hashlib.sha256(mask).hexdigest()),
    ]
    assert answer.usage is not None and answer.usage.input_tokens_details.image_tokens > 0
    row = await usage_row(served[1], raw.headers["x-request-id"])
    assert row["image_input_tokens"] == answer.usage.input_tokens_details.image_tokens
    assert row["input_tokens"] == answer.usage.input_tokens > row["image_input_tokens"]  # the prompt's text too
    assert row["image_output_tokens"] == row["output_tokens"] == answer.usage.output_tokens and row["images"] == 1


async def test_edit_several_images(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    first, second = png(40, 40), png(48, 48, (1, 2, 3))
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "JPEG")
    third = out.getvalue()
    await client.images.edit(
        model="gpt-image-1",
        prompt="merge",
        image=[("a.png", first, "image/png"), ("b.png", second, "image/png"), ("c.jpg", third, "image/jpeg")],
        size="1024x1024",
        quality="low",
    )
    sent = mock_upstream.requests[-1].body
    assert sent["fields"] == {"model": "gpt-image-1", "prompt": "merge", "size": "1024x1024", "quality": "low"}
    assert [(f["field"], f["filename"], f["content_type"], f["size"]) for f in sent["files"]] == [
        ("image[]", "a.png", "image/png", len(first)),
        ("image[]", "b.png", "image/png", len(second)),
        ("image[]", "c.jpg", "image/jpeg", len(third)),
    ]


async def test_edit_json_form_is_passed_on(served: tuple[RunningGateway, Path], mock_upstream: MockUpstream) -> None:
    mock_upstream.requests.clear()
    ref = "data:image/png;base64," + base64.b64encode(png()).decode()
    body = {"model": "gpt-image-1", "prompt": "edit", "images": [{"image_url": ref}], "input_fidelity": "high"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            served[0].url + "/v1/images/edits", json=body, headers={"Authorization": f"Bearer {CLIENT_KEY}"}
        ) as response,
    ):
        answer = await response.json()
    assert response.status == 200, answer
    assert opened(answer["data"][0]["b64_json"]).format == "PNG"
    assert mock_upstream.requests[-1].body == {**body, "model": "gpt-image-1"}


# ---------------------------------------------------------------- Omni-Image body, async


async def post(served: tuple[RunningGateway, Path], path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {CLIENT_KEY}", **kwargs.pop("headers", {})}
        async with session.post(served[0].url + path, headers=headers, **kwargs) as response:
            return response.status, await response.json()


async def test_omni_image_body_on_gemini_and_on_gpt_image(
    served: tuple[RunningGateway, Path], mock_upstream: MockUpstream
) -> None:
    mock_upstream.requests.clear()
    ref = "data:image/png;base64," + base64.b64encode(png()).decode()
    omni = {"model": "gemini-2.5-flash-image", "prompt": "a girl at the sea", "resolution": "2K",
            "aspect_ratio": "16:9", "images": [ref], "input_region": "Oversea"}  # fmt: skip
    status, answer = await post(served, "/v1/images/generations", json=omni)
    assert status == 200, answer
    assert opened(answer["data"][0]["b64_json"]).size == (2048, 1152)
    sent = mock_upstream.requests[-1].body
    assert sent["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
    }
    parts = sent["contents"][0]["parts"]
    assert parts[0] == {"text": "a girl at the sea"} and parts[1]["inlineData"]["mimeType"] == "image/png"
    assert "input_region" not in str(sent)
    gpt = {**omni, "model": "gpt-image-1", "quality": "low", "images": ["https://example.com/a.png"]}
    status, answer = await post(served, "/v1/images/generations", json=gpt)
    # the mock does not fetch https references; the gateway sent them as OpenAI's JSON edit form
    sent = mock_upstream.requests[-1]
    assert sent.path == "/v1/images/edits"
    assert sent.body == {"model": "gpt-image-1", "prompt": "a girl at the sea", "size": "1536x1024",
                         "quality": "low", "images": [{"image_url": "https://example.com/a.png"}]}  # fmt: skip
    assert status == 200, answer


async def test_async_answers_a_task_object(served: tuple[RunningGateway, Path]) -> None:
    # Omni-Image's asynchronous tasks: tests/tasks/test_omni_image_async.py follows them to the end.
    status, answer = await post(
        served, "/v1/images/generations?async=true", json={"model": "gpt-image-1", "prompt": "x"}
    )
    assert status == 200 and answer["object"] == "image.generation.task" and answer["id"] == answer["task_id"]
    assert answer["status"] in ("queued", "in_progress")
    for _ in range(200):  # its background call ends before the next test reads the mock's log
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
            async with session.get(f"{served[0].url}/v1/images/generations/{answer['id']}", headers=headers) as got:
                if (await got.json())["status"] == "completed":
                    return
        await asyncio.sleep(0.05)
    raise AssertionError("the image task never completed")


# ---------------------------------------------------------------- Gemini, Imagen


async def test_gemini_image_model(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    answer = await client.images.generate(model="gemini-2.5-flash-image", prompt="a kite", size="1792x1024", n=2)
    assert [opened(d.b64_json).size for d in answer.data] == [(2048, 1152)] * 2  # 1792 px: 2K
    calls = generation_requests(mock_upstream)
    assert [c.path for c in calls] == ["/v1beta/models/gemini-2.5-flash-image:generateContent"] * 2
    assert calls[0].body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert answer.usage is not None and answer.usage.output_tokens_details is not None
    assert answer.usage.output_tokens_details.image_tokens == 2 * 1290


async def test_gemini_refuses_image_urls_it_would_have_to_fetch(
    served: tuple[RunningGateway, Path], mock_upstream: MockUpstream
) -> None:
    mock_upstream.requests.clear()
    body = {"model": "gemini-2.5-flash-image", "prompt": "x", "images": ["https://example.com/a.png"]}
    status, answer = await post(served, "/v1/images/generations", json=body)
    assert status == 400 and answer["error"]["param"] == "images[0]"
    assert mock_upstream.requests == []


async def test_imagen_per_image(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, served: tuple[RunningGateway, Path]
) -> None:
    raw = await client.images.with_raw_response.generate(
        model="imagen-4.0-generate-001", prompt="a lighthouse", size="1024x1792", n=2
    )
    answer = raw.parse()
    assert [opened(d.b64_json).size for d in answer.data] == [(1152, 2048)] * 2  # 1792 px: 2K
    assert mock_upstream.requests[-1].body == {
        "instances": [{"prompt": "a lighthouse"}],
        "parameters": {"sampleCount": 2, "aspectRatio": "9:16", "sampleImageSize": "2K"},
    }
    row = await usage_row(served[1], raw.headers["x-request-id"])
    assert (row["images"], row["image_size"], row["image_quality"]) == (2, "1024x1792", "")  # size as asked
    assert row["cost_nano"] == round(row["images"] * PER_IMAGE * 1e9)


# ---------------------------------------------------------------- Ark, BFL, DashScope


async def test_seedream_set_of_images_billed_per_image(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, served: tuple[RunningGateway, Path]
) -> None:
    raw = await client.images.with_raw_response.generate(model="seedream", prompt="cats", n=3, size="1024x1024")
    answer = raw.parse()
    assert [opened(d.b64_json).size for d in answer.data] == [(1024, 1024)] * 3
    sent = mock_upstream.requests[-1]
    assert sent.path == "/api/v3/images/generations"
    assert sent.body == {
        "model": "doubao-seedream-4-0-250828",
        "prompt": "cats",
        "size": "1024x1024",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": 3},
        "response_format": "b64_json",
    }
    row = await usage_row(served[1], raw.headers["x-request-id"])
    assert (row["images"], row["image_size"]) == (3, "1024x1024")
    assert row["cost_nano"] == round(row["images"] * PER_IMAGE * 1e9) and row["channel"] == "ark"


async def test_seedream_edit_takes_uploads_as_data_urls(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    image = png(16, 16)
    await client.images.edit(model="seedream", prompt="make it blue", image=("a.png", image, "image/png"))
    sent = mock_upstream.requests[-1].body
    assert sent["image"] == "data:image/png;base64," + base64.b64encode(image).decode()


async def test_flux_polls_then_downloads_without_the_key(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, served: tuple[RunningGateway, Path]
) -> None:
    mock_upstream.script({"pending_polls": 3})
    raw = await client.images.with_raw_response.generate(model="flux-kontext-pro", prompt="a tower", size="1536x1024")
    answer = raw.parse()
    assert opened(answer.data[0].b64_json).format == "PNG"
    calls = mock_upstream.requests
    assert [c.path for c in calls] == ["/v1/flux-kontext-pro"] + ["/v1/get_result"] * 4 + [calls[-1].path]
    assert calls[0].body == {"prompt": "a tower", "aspect_ratio": "3:2"}
    assert all(c.headers.get("x-key") == UPSTREAM_KEY for c in calls[:5])
    assert calls[-1].path.startswith("/media/") and "x-key" not in calls[-1].headers
    row = await usage_row(served[1], raw.headers["x-request-id"])
    assert row["images"] == 1 and row["cost_nano"] == round(row["images"] * PER_IMAGE * 1e9)


async def test_flux_moderated_task_is_an_error(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    mock_upstream.script({"body_error": True, "pending_polls": 0})
    with pytest.raises(openai.APIStatusError) as caught:
        await client.images.generate(model="flux-kontext-pro", prompt="forbidden")
    assert caught.value.status_code == 502 and "Content Moderated" in caught.value.message


async def test_wanx_async_task(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    answer = await client.images.generate(model="wanx", prompt="mountains", n=2, size="1024x768")
    assert [opened(d.b64_json).size for d in answer.data] == [(1024, 768)] * 2
    submit = mock_upstream.requests[0]
    assert submit.headers["x-dashscope-async"] == "enable"
    assert submit.body["parameters"] == {"n": 2, "size": "1024*768"}


async def test_vendor_error_inside_200_fails_over(client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    mock_upstream.script({"body_error": True})
    raw = await client.images.with_raw_response.generate(model="fo-image", prompt="a dog")
    assert opened(raw.parse().data[0].b64_json).format == "PNG"
    assert [c.path for c in generation_requests(mock_upstream)] == [
        "/api/v3/images/generations",
        "/v1/images/generations",
    ]
    assert raw.headers["x-omnirouter-attempts"] == "2"


# ---------------------------------------------------------------- bad input


def _form(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields:
        form.add_field(name, value)
    for name, filename, data in files:
        form.add_field(name, data, filename=filename, content_type="image/png")
    return form


BAD_JSON = [
    ({"model": "gpt-image-1"}, "prompt"),
    ({"model": "gpt-image-1", "prompt": "x", "n": 0}, "n"),
    ({"model": "gpt-image-1", "prompt": "x", "n": 11}, "n"),
    ({"model": "gpt-image-1", "prompt": "x", "size": "huge"}, "size"),
    ({"model": "gpt-image-1", "prompt": "x", "response_format": "png"}, "response_format"),
    ({"model": "gpt-image-1", "prompt": "x", "stream": True}, "stream"),
    ({"model": "gpt-image-1", "prompt": "x", "images": ["file:///etc/passwd"]}, "images[0]"),
    ({"model": "imagen-4.0-generate-001", "prompt": "x", "n": 5}, "n"),
]


@pytest.mark.parametrize(("body", "param"), BAD_JSON)
async def test_bad_generation_is_a_400_naming_the_field(
    served: tuple[RunningGateway, Path], mock_upstream: MockUpstream, body: dict[str, Any], param: str
) -> None:
    mock_upstream.requests.clear()
    status, answer = await post(served, "/v1/images/generations", json=body)
    assert status == 400 and answer["error"]["param"] == param, answer
    assert mock_upstream.requests == []


BAD_FORMS = [
    ([("model", "gpt-image-1"), ("prompt", "x"), ("image[]", "https://example.com/a.png")], [], "image"),
    ([("model", "gpt-image-1"), ("prompt", "x")], [], "image"),
    ([("model", "gpt-image-1")], [("image", "a.png", png())], "prompt"),
    ([("model", "gpt-image-1"), ("prompt", "x"), ("n", "0")], [("image", "a.png", png())], "n"),
    ([("model", "gpt-image-1"), ("prompt", "x")], [("image", "a.png", b"not an image")], "image[0]"),
    ([("model", "gemini-2.5-flash-image"), ("prompt", "x")], [("image", "a.png", png()), ("mask", "m.png", png())],
     "mask"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "files", "param"), BAD_FORMS)
async def test_bad_edit_is_a_400_naming_the_field(
    served: tuple[RunningGateway, Path],
    mock_upstream: MockUpstream,
    fields: list[tuple[str, str]],
    files: list[tuple[str, str, bytes]],
    param: str,
) -> None:
    mock_upstream.requests.clear()
    status, answer = await post(served, "/v1/images/edits", data=_form(fields, files))
    assert status == 400 and answer["error"]["param"] == param, answer
    assert mock_upstream.requests == []


async def test_malformed_and_oversized_uploads(
    served: tuple[RunningGateway, Path], mock_upstream: MockUpstream
) -> None:
    mock_upstream.requests.clear()
    broken = b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--b'  # no closing boundary
    status, answer = await post(
        served, "/v1/images/edits", data=broken, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert status == 400 and "multipart" in answer["error"]["message"]
    big = _form([("model", "gpt-image-1"), ("prompt", "x")], [("image", "a.png", png() + b"\0" * UPLOAD_LIMIT)])
    status, answer = await post(served, "/v1/images/edits", data=big)
    assert status == 413, answer
    assert mock_upstream.requests == []
