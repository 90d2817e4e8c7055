"""The JSON skeleton scanner (``json_skeleton.py``) and the verdicts of an OpenAI ImagesResponse passing
through (``openai_images.ImagesScan``), fed in every chunking."""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
import pytest

from omnirouter.ir import GatewayError
from omnirouter.ir.media import ImageRequest
from omnirouter.protocols.media.base import Answer, Target
from omnirouter.protocols.media.json_skeleton import KEEP, MAX_SKELETON, JsonSkeleton
from omnirouter.protocols.media.openai_images import OPENAI_IMAGES_UP, ImagesScan

B64 = base64.b64encode(os.urandom(300_000)).decode()
ANSWER: dict[str, Any] = {
    "created": 1_700_000_000,
    "background": "opaque",
    "data": [{"b64_json": B64, "revised_prompt": 'a "quoted" \\ prompt \u00e9'}, {"b64_json": B64}],
    "output_format": "png",
    "quality": "high",
    "size": "1024x1536",
    "usage": {
        "input_tokens": 50,
        "output_tokens": 8320,
        "total_tokens": 8370,
        "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
        "output_tokens_details": {"image_tokens": 8320, "text_tokens": 0},
    },
}


def fed(body: bytes, step: int, scan: JsonSkeleton | ImagesScan) -> None:
    for start in range(0, len(body), step):
        scan.feed(body[start : start + step])


@pytest.mark.parametrize("step", [1, 3, 4096, 65536, 10**9])
def test_the_skeleton_is_the_answer_with_long_strings_emptied(step: int) -> None:
    body = orjson.dumps(ANSWER, option=orjson.OPT_INDENT_2)
    skeleton = JsonSkeleton("data", ("b64_json", "url"))
    fed(body if step > 1 else body.replace(B64.encode(), B64[:5000].encode()), step, skeleton)
    assert skeleton.complete and skeleton.kinds == ["b64_json", "b64_json"]
    assert skeleton.top_keys == list(ANSWER)
    parsed = orjson.loads(skeleton.skeleton)
    expected = {
        **ANSWER,
        "data": [{"b64_json": "", "revised_prompt": ANSWER["data"][0]["revised_prompt"]}, {"b64_json": ""}],
    }
    assert parsed == expected
    assert len(skeleton.skeleton) < 1024


def test_strings_up_to_keep_bytes_stay_whole() -> None:
    body = orjson.dumps({"data": [{"url": "u" * KEEP}], "note": "n" * (KEEP + 1)})
    skeleton = JsonSkeleton("data", ("b64_json", "url"))
    fed(body, 1000, skeleton)
    assert orjson.loads(skeleton.skeleton) == {"data": [{"url": "u" * KEEP}], "note": ""}


def test_structure_past_the_bound_is_an_upstream_error() -> None:
    skeleton = JsonSkeleton("data", ("b64_json",))
    with pytest.raises(GatewayError, match="more structure"):
        fed(b'{"data":[' + b"1," * MAX_SKELETON, 65536, skeleton)


def request(response_format: str | None = None) -> ImageRequest:
    return ImageRequest(model="gpt-image-1", prompt="p", response_format=response_format)


def verdict_after(body: bytes, scan: ImagesScan, head: int = 4096) -> bool | None:
    scan.feed(body[:head])
    return scan.verdict()


@pytest.mark.parametrize(("asked", "verdict"), [(None, True), ("b64_json", True), ("url", False)])
def test_base64_passes_through_when_asked_or_unasked(asked: str | None, verdict: bool) -> None:
    assert verdict_after(orjson.dumps(ANSWER), ImagesScan(request(asked))) is verdict


@pytest.mark.parametrize(("asked", "verdict"), [(None, True), ("url", True), ("b64_json", False)])
def test_urls_pass_through_unless_base64_was_asked(asked: str | None, verdict: bool) -> None:
    body = orjson.dumps({"created": 1, "data": [{"url": "https://x/" + "a" * 8000}]})
    assert verdict_after(body, ImagesScan(request(asked))) is verdict


def test_no_verdict_before_the_first_image_and_none_for_answers_read_whole() -> None:
    body = orjson.dumps(ANSWER)
    scan = ImagesScan(request())
    assert verdict_after(body, scan, head=20) is None
    whole = ImagesScan(request())
    assert verdict_after(orjson.dumps({"created": 1, "data": [{"b64_json": "aGk="}]}), whole) is False  # complete
    named = ImagesScan(request())  # a model name to rewrite: the whole path does it
    assert verdict_after(orjson.dumps({"model": "up-model", **ANSWER}), named) is False
    error = ImagesScan(request())
    assert verdict_after(orjson.dumps({"error": {"message": "no"}, "data": [{"b64_json": B64}]}), error) is False


def test_the_usage_is_the_whole_answers() -> None:
    body = orjson.dumps(ANSWER)
    scan = ImagesScan(request())
    fed(body, 65536, scan)
    target = Target("gpt-image-1", {}, "k")
    whole = OPENAI_IMAGES_UP.parse(Answer(200, {}, body), request(), target, None)
    assert scan.finish() == getattr(whole, "usage")  # noqa: B009
    assert scan.finish().images == 2 and scan.finish().image_size == "1024x1536"


def test_a_cut_answer_and_a_form_changing_midway_are_upstream_errors() -> None:
    body = orjson.dumps(ANSWER)
    cut = ImagesScan(request())
    fed(body[: len(body) // 2], 65536, cut)
    with pytest.raises(GatewayError, match="ended before its end"):
        cut.finish()
    mixed = ImagesScan(request("b64_json"))
    fed(orjson.dumps({"data": [{"b64_json": B64}, {"url": "https://x"}]}), 65536, mixed)
    with pytest.raises(GatewayError, match="another form"):
        mixed.finish()
