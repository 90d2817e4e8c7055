"""docs/media.md's generated tables are the code's: the voice map equals ``VOICE_TABLE`` and every row of
the size examples is what the image codecs send for that request."""

from __future__ import annotations

from pathlib import Path

import orjson

from omnirouter.ir.media import ImageRequest
from omnirouter.protocols.media.base import Target
from omnirouter.protocols.media.gemini_images import IMAGEN_RATIOS, gemini_image_config
from omnirouter.protocols.media.images import closest_ratio, ratio_of
from omnirouter.protocols.media.openai_images import openai_size
from omnirouter.protocols.media.vendor_images import BFL_RATIOS, ArkImagesUpstream, DashScopeImagesUpstream
from omnirouter.protocols.media.voices import OPENAI_VOICES, VOICE_TABLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "media.md"
NONE = "—"


def _table(marker: str) -> list[list[str]]:
    """The rows (cells stripped of backticks) of the table between ``<!-- marker`` and ``<!-- /marker -->``."""
    text = DOC.read_text()
    start = text.index(f"<!-- {marker}")
    body = text[start : text.index(f"<!-- /{marker} -->", start)]
    rows = [line for line in body.splitlines() if line.startswith("|")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_the_voice_map_is_the_code_table() -> None:
    header, rule, *rows = _table("voice-map")
    assert set(rule) == {"---"}
    assert header[0] == "OpenAI"
    vendors = header[1:]
    assert vendors == list(VOICE_TABLE)
    assert [row[0] for row in rows] == list(OPENAI_VOICES)
    documented = {vendor: {row[0]: row[1 + i] for row in rows} for i, vendor in enumerate(vendors)}
    assert documented == VOICE_TABLE


def _request(asked: str) -> ImageRequest:
    """``size=16:9 resolution=4K`` as an image request."""
    fields = dict(item.split("=", 1) for item in asked.split())
    return ImageRequest(model="m", prompt="a cat", **fields)  # type: ignore[arg-type]


def _sent(call_body: bytes, *path: str) -> str:
    value = orjson.loads(call_body)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return NONE if value is None else str(value)


def _columns(request: ImageRequest) -> list[str]:
    config = gemini_image_config(request)
    gemini = ", ".join(config[key] for key in ("aspectRatio", "imageSize") if key in config) or NONE
    ratio = ratio_of(request)
    imagen = closest_ratio(ratio, IMAGEN_RATIOS) if ratio else NONE
    flux = closest_ratio(ratio, BFL_RATIOS) if ratio else NONE
    gpt1, gpt2 = openai_size(request, "gpt-image-1"), openai_size(request, "gpt-image-2")
    assert openai_size(request, "dall-e-3") == gpt1  # one column for both
    target = Target("m", {}, "k")
    seedream = _sent(ArkImagesUpstream().build(request, target).body, "size")
    wanx = _sent(DashScopeImagesUpstream().build(request, target).body, "parameters", "size")
    return [gemini, imagen, gpt1 or NONE, gpt2 or NONE, seedream, wanx, flux]


def test_the_size_examples_are_what_the_codecs_send() -> None:
    header, _, *rows = _table("size-map")
    assert len(header) == 8 and len(rows) >= 10
    for row in rows:
        assert row[1:] == _columns(_request(row[0])), row[0]
