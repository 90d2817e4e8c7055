"""The money of every media endpoint through the ledger, end to end: one gateway, quota keys, prices that
mix token and unit fields.  Each usage row's ``cost_nano`` is computed here by hand from the row's own
units and the configured prices (integer nano-USD, docs/accounts.md), the units are checked against what
the mock answered, the key's spent quota is the rows' sum with nothing left reserved, and
``/admin/usage`` adds the units up.  Failed calls cost nothing and release their reservation; a key that
cannot cover a request's bound is refused before anything reaches the upstream.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import numpy as np
import openai
import orjson
import pytest
import soundfile as sf
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.billing import assert_books_balance, key_row, ledger, open_reservations
from tests.helpers.gateway_harness import RunningGateway
from tests.helpers.media_gateway import channel, media_gateway

PAYER, FAILER, POOR = "sk-media-ledger-payer-01", "sk-media-ledger-failer-02", "sk-media-ledger-poor-03"
POOR_QUOTA_USD = 0.00005  # 50,000 nano-USD: three tts-1 characters fit, a thousand do not

# USD per 1M tokens (× 1000 = nano-USD a token) and USD per unit.
PRICES: dict[str, dict[str, Any]] = {
    "text-embedding-3-small": {"input": 0.02},
    "rerank-v3.5": {"per_call": 0.002},
    "omni-moderation-latest": {"input": 1.0, "per_call": 0.0005},
    "tts-1": {"per_1k_characters": 0.015},
    "speech-02-hd": {"per_1k_characters": 0.1},
    "gpt-4o-mini-tts": {"input": 0.6, "output": 10.0, "audio_output": 12.0},
    "whisper-1": {"per_second": 0.0001},
    "gpt-4o-transcribe": {"input": 2.5, "output": 10.0, "audio_input": 6.0},
    "gpt-image-1": {
        "input": 5.0,
        "output": 10.0,
        "image_input": 10.0,
        "image_output": 40.0,
        "per_image": 0.01,
        "per_image_tiers": {"1024x1024/high": 0.02, "low": 0.005},
    },
    "gemini-2.5-flash-image": {"input": 0.3, "output": 2.5, "image_output": 30.0},
    "imagen-4.0-generate-001": {"per_image": 0.03},
}
UNITS = ("images", "seconds", "characters", "calls")
MODAL = ("image_input_tokens", "image_output_tokens", "audio_input_tokens", "audio_output_tokens")


def nano(usd: float) -> int:
    """A price written in the config (USD) as whole nano-USD (every price here is exact in nano)."""
    value = round(usd * 1e9)
    assert abs(value - usd * 1e9) < 1e-3
    return value


def per_token(model: str, field: str) -> int:
    """Nano-USD a token at ``field``'s price of ``model`` (USD per 1M tokens × 1000)."""
    return nano(PRICES[model].get(field, 0.0) / 1e6)


def tier(model: str, size: str, quality: str) -> int:
    """The per-image price an image of ``size``/``quality`` gets: size/quality, size, quality, else per_image."""
    tiers = PRICES[model].get("per_image_tiers", {})
    for key in (f"{size}/{quality}", size, quality):
        if key in tiers:
            return nano(tiers[key])
    return nano(PRICES[model].get("per_image", 0.0))


def expected_cost(row: Any) -> int:
    """``cost_nano`` of a ledger row by hand: text tokens, modality tokens at their own prices, units."""
    model = row.model
    price = PRICES[model]
    image_in = row.image_input_tokens if "image_input" in price else 0
    audio_in = row.audio_input_tokens if "audio_input" in price else 0
    image_out = row.image_output_tokens if "image_output" in price else 0
    audio_out = row.audio_output_tokens if "audio_output" in price else 0
    assert row.cached_tokens == row.cache_write_tokens == row.reasoning_tokens == 0
    cost = (
        (row.input_tokens - image_in - audio_in) * per_token(model, "input")
        + image_in * per_token(model, "image_input")
        + audio_in * per_token(model, "audio_input")
        + (row.output_tokens - image_out - audio_out) * per_token(model, "output")
        + image_out * per_token(model, "image_output")
        + audio_out * per_token(model, "audio_output")
    )
    cost += row.images * tier(model, row.image_size, row.image_quality)
    cost += round(row.seconds * nano(price.get("per_second", 0.0)))
    cost += row.characters * nano(price.get("per_1k_characters", 0.0) / 1000)
    cost += row.calls * nano(price.get("per_call", 0.0))
    return cost


def wav(seconds: float, rate: int = 16000) -> bytes:
    samples = (np.sin(2 * np.pi * 330 * np.arange(int(seconds * rate)) / rate) * 0.3).astype("float32")
    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 48), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """One gateway for every media endpoint; quota keys ``payer``, ``failer`` and ``poor``."""
    url = mock_upstream.url
    db_dir = tmp_path_factory.mktemp("media-ledger")
    gemini_models = ["gemini-2.5-flash-image", "imagen-4.0-generate-001"]
    openai_models = [m for m in PRICES if m not in ("rerank-v3.5", "speech-02-hd", *gemini_models)]
    channels = [
        channel(url, "oa", "openai", openai_models),
        channel(url, "co", "cohere", ["rerank-v3.5"]),
        channel(url, "mm", "minimax", ["speech-02-hd"]),
        channel(url, "ge", "gemini", gemini_models),
    ]
    keys = [
        {"name": "payer", "key": PAYER, "quota_usd": 10.0},
        {"name": "failer", "key": FAILER, "quota_usd": 10.0},
        {"name": "poor", "key": POOR, "quota_usd": POOR_QUOTA_USD},
    ]
    async with media_gateway(db_dir, channels, keys=keys, prices=PRICES, admin_key=ADMIN_KEY) as running:
        yield running, f"sqlite:///{db_dir / 'gw.db'}"


@pytest.fixture
def gateway(served: tuple[RunningGateway, str], mock_upstream: MockUpstream) -> RunningGateway:
    mock_upstream.clear_script()
    mock_upstream.clear_requests()
    return served[0]


def sdk(gateway: RunningGateway, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)


async def settled(gateway: RunningGateway) -> None:
    """Every finished request's row written (and its reservation released)."""
    await gateway.app.gateway.recorder.flush()


async def test_every_media_endpoint_is_charged_exactly_from_its_own_units(
    gateway: RunningGateway, served: tuple[RunningGateway, str]
) -> None:
    db_url = served[1]
    cjk = "你好，世界！这是一段计费测试。"
    upload = wav(1.5)
    seen: dict[str, Any] = {}
    async with sdk(gateway, PAYER) as client, httpx.AsyncClient(timeout=30) as http:
        emb = await client.embeddings.create(model="text-embedding-3-small", input=["one text", "and another"])
        seen["embeddings"] = emb.usage.prompt_tokens
        reranked = await http.post(
            f"{gateway.url}/v2/rerank",
            json={"model": "rerank-v3.5", "query": "capital", "documents": [f"doc {i}" for i in range(150)]},
            headers={"authorization": f"Bearer {PAYER}"},
        )
        assert reranked.status_code == 200, reranked.text
        seen["search_units"] = reranked.json()["meta"]["billed_units"]["search_units"]
        await client.moderations.create(model="omni-moderation-latest", input="is this fine")
        spoken = await client.audio.speech.create(model="tts-1", input=cjk, voice="alloy", response_format="mp3")
        assert spoken.content
        streamed = await http.post(
            f"{gateway.url}/v1/audio/speech",
            json={"model": "gpt-4o-mini-tts", "input": "Billed by tokens.", "voice": "ash", "stream_format": "sse"},
            headers={"authorization": f"Bearer {PAYER}"},
        )
        seen["tts_usage"] = orjson.loads(streamed.text.strip().split("\n")[-1].removeprefix("data: "))["usage"]
        whisper = await client.audio.transcriptions.create(model="whisper-1", file=("a.wav", upload, "audio/wav"))
        seen["whisper_seconds"] = whisper.model_dump()["usage"]["seconds"]
        tokens = await client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("b.wav", upload, "audio/wav")
        )
        seen["transcribe_usage"] = tokens.model_dump()["usage"]
        made = await client.images.generate(model="gpt-image-1", prompt="a fox", size="1024x1024", quality="high")
        seen["generated"] = made
        edited = await client.images.edit(
            model="gpt-image-1", prompt="add a hat", image=("a.png", png(), "image/png"), quality="low"
        )
        seen["edited"] = edited
        unasked = await client.images.generate(model="imagen-4.0-generate-001", prompt="a fox")  # no n: Imagen makes 4
        seen["imagen"] = len(unasked.data)
        chat = await client.chat.completions.create(
            model="gemini-2.5-flash-image", messages=[{"role": "user", "content": "draw a fox"}], max_tokens=4000
        )
        seen["chat"] = chat.usage
    await settled(gateway)

    key, rows = await assert_books_balance(db_url, "payer")
    by_model = {row.model: row for row in rows}
    assert len(rows) == len(by_model) + 1 == 11 and all(row.status_code == 200 for row in rows)
    # reserve >= settle: never capped at the reservation, so each charge is the hand-computed price
    assert [(row.model, row.cost_nano) for row in rows] == [(row.model, expected_cost(row)) for row in rows]
    assert all(row.cost_nano > 0 for row in rows)

    # the units are what the upstream (the mock) reported, or what the gateway counted and marked so
    assert by_model["text-embedding-3-small"].input_tokens == seen["embeddings"]
    assert by_model["rerank-v3.5"].calls == seen["search_units"] == 2  # 150 documents
    assert by_model["omni-moderation-latest"].calls == 1 and by_model["omni-moderation-latest"].usage_estimated
    assert by_model["tts-1"].characters == len(cjk) < len(cjk.encode())
    mini = by_model["gpt-4o-mini-tts"]
    assert (mini.input_tokens, mini.output_tokens) == (seen["tts_usage"]["input_tokens"],
                                                       seen["tts_usage"]["output_tokens"])  # fmt: skip
    assert mini.audio_output_tokens == mini.output_tokens > 0 and mini.stream
    assert by_model["whisper-1"].seconds == seen["whisper_seconds"] == 2  # 1.5 s, billed as 2 whole seconds
    transcribe, usage = by_model["gpt-4o-transcribe"], seen["transcribe_usage"]
    assert transcribe.audio_input_tokens == usage["input_token_details"]["audio_tokens"] > 0
    assert (transcribe.input_tokens, transcribe.output_tokens) == (usage["input_tokens"], usage["output_tokens"])
    images = [row for row in rows if row.model == "gpt-image-1"]
    generated, edited = seen["generated"], seen["edited"]
    assert [(r.images, r.image_size, r.image_quality) for r in images] == [
        (1, "1024x1024", "high"),
        (1, edited.size, "low"),
    ]
    assert images[0].image_output_tokens == generated.usage.output_tokens_details.image_tokens == 4160
    assert images[1].image_input_tokens == edited.usage.input_tokens_details.image_tokens > 0
    assert images[1].input_tokens == edited.usage.input_tokens
    assert by_model["imagen-4.0-generate-001"].images == seen["imagen"] == 4  # all four charged, not one
    gem = by_model["gemini-2.5-flash-image"]
    assert gem.image_output_tokens == seen["chat"].completion_tokens_details.image_tokens == 1290
    assert (gem.input_tokens, gem.output_tokens) == (seen["chat"].prompt_tokens, seen["chat"].completion_tokens)
    assert gem.output_tokens > gem.image_output_tokens  # the text part at the text price

    # /admin/usage adds the same rows up
    async with aiohttp.ClientSession() as session:
        status, report = await Http(session, gateway.url).admin("GET", f"/admin/usage?by=model&key_id={key.id}")
    assert status == 200, report
    totals = report["totals"]
    assert totals["requests"] == len(rows) and totals["errors"] == 0
    for column in ("input_tokens", "output_tokens", *MODAL, "images", "characters", "calls"):
        assert totals[column] == sum(getattr(row, column) for row in rows), column
    assert totals["seconds"] == pytest.approx(sum(row.seconds for row in rows))
    assert totals["cost_usd"] == pytest.approx(key.used_nano / 1e9, abs=1e-9)
    grouped = {group["group"]: group for group in report["data"]}
    assert totals["images"] == 2 + 4 and grouped["gpt-image-1"]["images"] == 2
    assert grouped["tts-1"]["characters"] == len(cjk)
    assert grouped["gpt-image-1"]["cost_usd"] == pytest.approx(sum(r.cost_nano for r in images) / 1e9, abs=1e-9)


@pytest.mark.parametrize(
    ("model", "directive"),
    [("whisper-1", {"fail": 500}), ("speech-02-hd", {"body_error": True, "message": "voice quota exhausted"})],
)
async def test_a_failed_media_call_costs_nothing_and_releases_its_reservation(
    gateway: RunningGateway, served: tuple[RunningGateway, str], mock_upstream: MockUpstream,
    model: str, directive: dict[str, Any],
) -> None:  # fmt: skip
    db_url = served[1]
    before = await key_row(db_url, "failer")
    mock_upstream.script(directive, times=5)
    async with sdk(gateway, FAILER) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            if model == "whisper-1":
                await client.audio.transcriptions.create(model=model, file=("f.wav", wav(1.0), "audio/wav"))
            else:
                await client.audio.speech.create(model=model, input="no charge for this", voice="alloy")
    mock_upstream.clear_script()
    assert caught.value.status_code >= 500
    assert mock_upstream.requests  # it did reach the upstream, which failed
    await settled(gateway)
    key, rows = await assert_books_balance(db_url, "failer")
    assert key.used_nano == before.used_nano and key.reserved_nano == 0
    row = [r for r in rows if r.model == model][-1]
    assert row.status_code == caught.value.status_code and row.cost_nano == 0
    assert await open_reservations(db_url) == []


async def test_a_key_below_the_reserved_bound_is_refused_before_the_upstream(
    gateway: RunningGateway, served: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    """1,000 characters of tts-1 reserve 15,000,000 nano-USD; the key has 50,000 left."""
    db_url = served[1]
    async with sdk(gateway, POOR) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.audio.speech.create(model="tts-1", input="x" * 1000, voice="alloy")
        assert caught.value.status_code == 429
        assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "insufficient_quota"
        assert mock_upstream.requests == []
        # the refusal is the bound: three characters (45,000 nano-USD) fit and are charged exactly that
        await client.audio.speech.create(model="tts-1", input="abc", voice="alloy")
    await settled(gateway)
    key, rows = await assert_books_balance(db_url, "poor")
    assert [(r.status_code, r.characters, r.cost_nano) for r in rows] == [(429, 0, 0), (200, 3, 45_000)]
    assert key.used_nano == 45_000 <= key.quota_nano == nano(POOR_QUOTA_USD)
    assert len(mock_upstream.requests) == 1
    assert await ledger(db_url, key.id) == rows
