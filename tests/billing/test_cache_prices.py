"""Cache prices as the vendors charge them: Anthropic's 5-minute and 1-hour cache writes (``cache_write`` /
``cache_write_1h``), OpenAI's and Gemini's cached-input discount (``cached_input``); the usage fields
that carry them in every protocol and in the ledger."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import openai

from omnirouter.billing import cost_nano
from omnirouter.billing.prices import Price
from omnirouter.config import PriceConfig
from omnirouter.ir import Usage
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.anthropic.usage import UsageCounter, usage_from_anthropic, usage_to_anthropic
from omnirouter.protocols.openai_chat.usage import usage_from_openai, usage_to_openai
from omnirouter.protocols.openai_responses.usage import usage_from_responses, usage_to_responses
from tests.helpers.billing import RICH, assert_books_balance, billing_config, post
from tests.helpers.gateway_harness import UPSTREAM_KEY, running_gateway

# new-api's worked examples (claude-sonnet-4-5: cache reads 0.1x, 5-minute writes 1.25x, 1-hour writes 2x).
CLAUDE = {"input": 3.0, "output": 15.0, "cached_input": 0.3, "cache_write": 3.75, "cache_write_1h": 6.0}
GPT5 = {"input": 1.25, "output": 10.0, "cached_input": 0.125}
GEMINI = {"input": 0.3, "output": 2.5, "cached_input": 0.075}
# Anthropic semantics: 2,000 uncached + 50,000 cache reads + 4,000 5-minute + 6,000 1-hour writes.
CLAUDE_USAGE = Usage(
    input_tokens=62_000,
    cached_tokens=50_000,
    cache_write_tokens=10_000,
    cache_write_1h_tokens=6_000,
    output_tokens=1_000,
)


def price(**fields: Any) -> Price:
    return Price.of(msgspec.convert(fields, type=PriceConfig))


def test_anthropic_cache_writes_at_their_ttl_rates() -> None:
    p = price(**CLAUDE)
    # 2,000 x 3,000 + 50,000 x 300 + 4,000 x 3,750 + 6,000 x 6,000 + 1,000 x 15,000 nano = $0.087
    assert cost_nano(CLAUDE_USAGE, p) == 87_000_000
    assert cost_nano(CLAUDE_USAGE, p, Decimal("0.8")) == 69_600_000  # the Decimal path agrees
    # No 1-hour price: 1-hour writes cost cache_write (4,000 + 6,000 at 3,750), and no cache_write: input.
    no_1h = {k: v for k, v in CLAUDE.items() if k != "cache_write_1h"}
    assert cost_nano(CLAUDE_USAGE, price(**no_1h)) == 6_000_000 + 15_000_000 + 37_500_000 + 15_000_000
    assert cost_nano(CLAUDE_USAGE, price(input=3.0, output=15.0)) == 62_000 * 3_000 + 15_000_000
    # A 1-hour count past the writes is clamped to them: never a token charged twice.
    odd = msgspec.structs.replace(CLAUDE_USAGE, cache_write_1h_tokens=99_000)
    assert cost_nano(odd, p) == 6_000_000 + 15_000_000 + 10_000 * 6_000 + 15_000_000


def test_long_context_tier_scales_the_cache_prices_too() -> None:
    p = price(
        **CLAUDE,
        above_tokens=200_000,
        above={"input": 6, "output": 22.5, "cached_input": 0.6, "cache_write": 7.5, "cache_write_1h": 12},
    )
    usage = Usage(
        input_tokens=202_000,  # 150,000 uncached + 40,000 reads + 8,000 5-minute + 4,000 1-hour writes
        cached_tokens=40_000,
        cache_write_tokens=12_000,
        cache_write_1h_tokens=4_000,
        output_tokens=1_000,
    )
    assert cost_nano(usage, p) == 900_000_000 + 24_000_000 + 60_000_000 + 48_000_000 + 22_500_000


def test_openai_and_gemini_cached_input_discounts() -> None:
    # gpt-5: 100,000 prompt tokens of which 80,000 cached, 2,000 output: $0.055 (new-api's example).
    usage = Usage(input_tokens=100_000, cached_tokens=80_000, output_tokens=2_000, reasoning_tokens=1_500)
    assert cost_nano(usage, price(**GPT5)) == 25_000_000 + 10_000_000 + 20_000_000
    assert cost_nano(Usage(input_tokens=10_000, cached_tokens=4_000), price(**GEMINI)) == 1_800_000 + 300_000


def test_anthropic_usage_carries_the_ttl_split() -> None:
    wire = {
        "input_tokens": 2_000,
        "cache_read_input_tokens": 50_000,
        "cache_creation_input_tokens": 10_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 4_000, "ephemeral_1h_input_tokens": 6_000},
        "output_tokens": 1_000,
    }
    assert usage_from_anthropic(wire) == CLAUDE_USAGE
    assert usage_to_anthropic(CLAUDE_USAGE) == wire
    # Only the split given (a relay that drops the total): the writes are its sum.
    assert usage_from_anthropic({k: v for k, v in wire.items() if k != "cache_creation_input_tokens"}) == CLAUDE_USAGE
    # Streams: message_start carries the split, message_delta the final output.
    counter = UsageCounter()
    counter.update({**wire, "output_tokens": 1})
    counter.update({"output_tokens": 1_000})
    assert counter.usage() == CLAUDE_USAGE
    # Without a split every write is a 5-minute one; no writes, no cache_creation written.
    assert usage_from_anthropic({"cache_creation_input_tokens": 7}).cache_write_1h_tokens == 0
    assert "cache_creation" not in usage_to_anthropic(Usage(input_tokens=5, output_tokens=1))


def test_openai_usage_detail_fields() -> None:
    body = usage_to_openai(CLAUDE_USAGE)
    assert body["prompt_tokens"] == 62_000 and body["prompt_tokens_details"]["cached_tokens"] == 50_000
    assert (body["claude_cache_creation_5_m_tokens"], body["claude_cache_creation_1_h_tokens"]) == (4_000, 6_000)
    assert usage_from_openai(body) == CLAUDE_USAGE
    # new-api's own answer shape read back: cached_creation_tokens plus the split.
    new_api = {
        "prompt_tokens": 62_000,
        "completion_tokens": 1_000,
        "prompt_tokens_details": {"cached_tokens": 50_000, "cached_creation_tokens": 10_000},
        "claude_cache_creation_5_m_tokens": 4_000,
        "claude_cache_creation_1_h_tokens": 6_000,
    }
    assert usage_from_openai(new_api) == CLAUDE_USAGE
    # Modality split reported: text_tokens beside it; not reported: no invented text/image/audio fields.
    split = usage_to_openai(Usage(input_tokens=100, image_input_tokens=60, output_tokens=30, audio_output_tokens=20))
    assert split["prompt_tokens_details"] == {"cached_tokens": 0, "text_tokens": 40, "image_tokens": 60}
    assert split["completion_tokens_details"] == {"reasoning_tokens": 0, "text_tokens": 10, "audio_tokens": 20}
    plain = usage_to_openai(Usage(input_tokens=100, output_tokens=30, reasoning_tokens=12))
    assert plain["prompt_tokens_details"] == {"cached_tokens": 0}
    assert plain["completion_tokens_details"] == {"reasoning_tokens": 12}
    assert "claude_cache_creation_5_m_tokens" not in plain


# ------------------------------------------------------------------------------------------ gateway


def _chat(model: str, usage: dict[str, int], **extra: Any) -> dict[str, Any]:
    directive = msgspec.json.encode({"usage": usage}).decode()
    return {"model": model, "messages": [{"role": "user", "content": f"[[mock {directive}]] hi"}], **extra}


async def test_gateway_bills_and_shows_cache_reads_and_writes(mock: MockUpstream, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cache.db"
    channels = [
        {"name": "oa", "provider": "openai", "base_url": f"{mock.url}/v1", "api_keys": [UPSTREAM_KEY]},
        {"name": "an", "provider": "anthropic", "base_url": mock.url, "api_keys": [UPSTREAM_KEY]},
        {"name": "ge", "provider": "gemini", "base_url": mock.url, "api_keys": [UPSTREAM_KEY]},
    ]
    channels[0]["models"], channels[1]["models"], channels[2]["models"] = ["gpt-5"], ["claude-sonnet-4-5"], ["g25"]
    prices = {"gpt-5": GPT5, "claude-sonnet-4-5": CLAUDE, "g25": GEMINI}
    config = billing_config(mock, url, channels=channels, prices=prices)
    claude = {"input": 62_000, "cached": 50_000, "cache_write": 10_000, "cache_write_1h": 6_000, "output": 1_000}
    async with running_gateway(config) as gw, aiohttp.ClientSession() as session:
        # An OpenAI client of a Claude upstream sees new-api's fields; an Anthropic client the TTL split.
        status, answer = await post(session, gw.url, RICH, _chat("claude-sonnet-4-5", claude))
        assert status == 200, answer
        usage = answer["usage"]
        assert (usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"]) == (62_000, 50_000)
        assert (usage["claude_cache_creation_5_m_tokens"], usage["claude_cache_creation_1_h_tokens"]) == (4_000, 6_000)
        status, answer = await post(
            session, gw.url, RICH, _chat("claude-sonnet-4-5", claude, max_tokens=64), path="/v1/messages"
        )
        assert status == 200, answer
        assert answer["usage"]["cache_creation"] == {
            "ephemeral_5m_input_tokens": 4_000,
            "ephemeral_1h_input_tokens": 6_000,
        }
        assert answer["usage"]["input_tokens"] == 2_000
        # The include_usage chunk of a stream carries the same fields.
        status, streamed = await post(
            session,
            gw.url,
            RICH,
            _chat("claude-sonnet-4-5", claude, stream=True, stream_options={"include_usage": True}),
        )
        assert status == 200
        last = [line for line in streamed["stream"].splitlines() if line.startswith("data: {")][-1]
        assert msgspec.json.decode(last[6:])["usage"]["claude_cache_creation_1_h_tokens"] == 6_000
        for model, tokens in (
            ("gpt-5", {"input": 100_000, "cached": 80_000, "output": 2_000, "reasoning": 1_500}),
            ("g25", {"input": 10_000, "cached": 4_000, "output": 10}),
        ):
            status, answer = await post(session, gw.url, RICH, _chat(model, tokens))
            assert status == 200, answer
            assert answer["usage"]["prompt_tokens_details"]["cached_tokens"] == tokens["cached"]
            assert answer["usage"]["completion_tokens_details"]["reasoning_tokens"] == tokens.get("reasoning", 0)
        assert answer["usage"]["completion_tokens"] == 10
    _, rows = await assert_books_balance(url, "rich")
    assert [
        (row.model, row.cached_tokens, row.cache_write_tokens, row.cache_write_1h_tokens, row.cost_nano) for row in rows
    ] == [
        ("claude-sonnet-4-5", 50_000, 10_000, 6_000, 87_000_000),
        ("claude-sonnet-4-5", 50_000, 10_000, 6_000, 87_000_000),
        ("claude-sonnet-4-5", 50_000, 10_000, 6_000, 87_000_000),
        ("gpt-5", 80_000, 0, 0, 55_000_000),
        ("g25", 4_000, 0, 0, 1_800_000 + 300_000 + 10 * 2_500),
    ]


def test_responses_usage_carries_the_ttl_split() -> None:
    body = usage_to_responses(CLAUDE_USAGE)
    assert body["input_tokens_details"] == {"cached_tokens": 50_000, "cache_write_tokens": 10_000}
    assert (body["claude_cache_creation_5_m_tokens"], body["claude_cache_creation_1_h_tokens"]) == (4_000, 6_000)
    assert usage_from_responses(body) == CLAUDE_USAGE
    # An aggregator's answer with only the split (no cache_write_tokens): the writes are its sum.
    split_only = {**body, "input_tokens_details": {"cached_tokens": 50_000}}
    assert usage_from_responses(split_only) == CLAUDE_USAGE
    assert "claude_cache_creation_5_m_tokens" not in usage_to_responses(Usage(input_tokens=5, output_tokens=1))


async def test_responses_answers_of_a_claude_upstream_show_the_ttl_split(mock: MockUpstream, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/responses.db"
    channel = {"name": "an", "provider": "anthropic", "base_url": mock.url, "api_keys": [UPSTREAM_KEY]}
    channel["models"] = ["claude-sonnet-4-5"]
    config = billing_config(mock, url, channels=[channel], prices={"claude-sonnet-4-5": CLAUDE})
    claude = {"input": 62_000, "cached": 50_000, "cache_write": 10_000, "cache_write_1h": 6_000, "output": 1_000}
    ask = f"[[mock {msgspec.json.encode({'usage': claude}).decode()}]] hi"
    async with (
        running_gateway(config) as gw,
        openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=RICH, max_retries=0) as client,
    ):
        answer = await client.responses.create(model="claude-sonnet-4-5", input=ask, max_output_tokens=64)
        streamed = await client.responses.create(
            model="claude-sonnet-4-5", input=ask, max_output_tokens=64, stream=True
        )
        completed = [event.response async for event in streamed if event.type == "response.completed"]
    for usage in (answer.usage, completed[0].usage):
        assert usage is not None
        assert (usage.input_tokens, usage.output_tokens) == (62_000, 1_000)
        assert usage.input_tokens_details.cached_tokens == 50_000
        extra = usage.model_extra or {}
        assert (extra["claude_cache_creation_5_m_tokens"], extra["claude_cache_creation_1_h_tokens"]) == (4_000, 6_000)
    _, rows = await assert_books_balance(url, "rich")
    assert [(row.cache_write_tokens, row.cache_write_1h_tokens, row.cost_nano) for row in rows] == [
        (10_000, 6_000, 87_000_000),
        (10_000, 6_000, 87_000_000),
    ]
