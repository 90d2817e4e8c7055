"""Thinking across the vendors (providers/vendors.py, docs/vendors.md), through the gateway with the official
SDKs against the mock's vendor dialects: model-name aliases (``…-thinking`` / ``…-nothinking``), thinking
defaults on the ``protocol: anthropic`` path, reasoning sent back in history the way each vendor wants it,
and sampling ranges."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import msgspec
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream, directive
from omnirouter.mock_upstream.plan import DEFAULT_REASONING
from omnirouter.providers import ProviderKind
from tests.helpers.billing import KeySpend
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.vendor_gateway import (
    anthropic_sdk,
    ledger_row,
    openai_sdk,
    sent,
    vendor_anthropic_base,
    vendor_base,
)

# USD per 1M tokens.  Alias names are priced under their own names (exact, or by a pattern covering them);
# the base models at other prices, so a charge at the base's price would show.
PRICES = {
    "deepseek-v4-flash": {"input": 1.0, "output": 2.0},
    "deepseek-v4-flash-nothinking": {"input": 0.5, "output": 1.5},
    "glm-4.7": {"input": 7.0, "output": 9.0},
    "glm-4.7*": {"input": 3.0, "output": 4.0},
    "deepseek-v4-pro*": {"input": 2.0, "output": 8.0},
    "kimi-k2*": {"input": 0.5, "output": 2.5},
    "minimax-m3": {"input": 0.25, "output": 1.25},
    "MiniMax-M3": {"input": 0.25, "output": 1.25},
}


def config(mock_url: str, db: str) -> GatewayConfig:
    def chat(kind: ProviderKind, models: list[str], **more: Any) -> dict[str, Any]:
        return {
            "name": f"{kind.value}-chat",
            "provider": kind.value,
            "base_url": vendor_base(mock_url, kind),
            "api_keys": [UPSTREAM_KEY],
            "models": models,
            **more,
        }

    def messages(kind: ProviderKind, models: list[str]) -> dict[str, Any]:
        return {
            "name": f"{kind.value}-messages",
            "provider": kind.value,
            "protocol": "anthropic",
            "base_url": vendor_anthropic_base(mock_url, kind),
            "api_keys": [UPSTREAM_KEY],
            "models": models,
        }

    channels = [
        chat(
            ProviderKind.DEEPSEEK,
            ["deepseek-v4-flash", "fast-nothink"],
            model_map={"fast-nothink": "deepseek-v4-flash-nothinking"},
        ),
        chat(ProviderKind.DASHSCOPE, ["qwen3-8b", "qwen3-next-80b-a3b-thinking"]),
        chat(ProviderKind.ZHIPU, ["glm-4.7"]),
        chat(ProviderKind.MINIMAX, ["MiniMax-M2", "minimax-m3"]),
        chat(ProviderKind.MOONSHOT, ["kimi-k2.6", "kimi-k2-0905"]),
        messages(ProviderKind.DEEPSEEK, ["deepseek-v4-pro"]),
        messages(ProviderKind.ZHIPU, ["glm-5"]),
        messages(ProviderKind.DASHSCOPE, ["qwen3.6-plus"]),
        messages(ProviderKind.MINIMAX, ["MiniMax-M3"]),
        messages(ProviderKind.MOONSHOT, ["kimi-k2.5"]),
    ]
    raw = {
        "database_url": db,
        "usage_flush_interval": 0.05,
        "channels": channels,
        "prices": PRICES,
        "keys": [{"name": "tester", "key": CLIENT_KEY}],
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(scope="module")
async def gateway(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    db = f"sqlite:///{tmp_path_factory.mktemp('vt') / 'gw.db'}"
    async with running_gateway(config(mock_upstream.url, db)) as running:
        yield running


@pytest.fixture
async def oai(gateway: RunningGateway, mock_upstream: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai_sdk(gateway, mock_upstream) as client:
        yield client


@pytest.fixture
async def claude(gateway: RunningGateway, mock_upstream: MockUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic_sdk(gateway, mock_upstream) as client:
        yield client


def reasoning_of(message: Any) -> Any:
    return (message.model_extra or {}).get("reasoning_content")


# --- 1. thinking aliases in model names ---------------------------------------------------------------


async def test_nothinking_alias_reaches_deepseek_as_the_base_model_with_thinking_off(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    hi = [{"role": "user", "content": "hi"}]
    answer = await oai.chat.completions.create(
        model="deepseek-v4-flash-nothinking",
        messages=hi,
        reasoning_effort="high",  # type: ignore[arg-type]
    )
    body = sent(mock_upstream)
    assert body["model"] == "deepseek-v4-flash" and body["thinking"] == {"type": "disabled"}
    assert answer.model == "deepseek-v4-flash-nothinking" and reasoning_of(answer.choices[0].message) is None
    assert answer.choices[0].message.content == "Echo: hi"
    answer = await oai.chat.completions.create(model="deepseek-v4-flash-thinking", messages=hi)  # type: ignore[arg-type]
    body = sent(mock_upstream)
    assert body["model"] == "deepseek-v4-flash" and body["thinking"] == {"type": "enabled"}
    assert reasoning_of(answer.choices[0].message) == DEFAULT_REASONING
    await oai.chat.completions.create(model="deepseek-v4-flash-max", messages=hi)  # type: ignore[arg-type]
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "max"
    # The plain name is untouched: DeepSeek thinks by default, a silent client gets the off switch.
    await oai.chat.completions.create(model="deepseek-v4-flash", messages=hi)  # type: ignore[arg-type]
    assert sent(mock_upstream)["model"] == "deepseek-v4-flash"


async def test_an_alias_name_the_operator_maps_to_is_switched_too(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await oai.chat.completions.create(
        model="fast-nothink", messages=[{"role": "user", "content": "x"}], reasoning_effort="medium"
    )
    body = sent(mock_upstream)
    assert body["model"] == "deepseek-v4-flash" and body["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in body


async def test_qwen_aliases_switch_enable_thinking_and_keep_the_client_budget(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    message = await claude.messages.create(
        model="qwen3-8b-thinking",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 3000},
        messages=[{"role": "user", "content": "x"}],
    )
    body = sent(mock_upstream)
    assert body["model"] == "qwen3-8b" and body["enable_thinking"] is True and body["thinking_budget"] == 3000
    assert message.model == "qwen3-8b-thinking" and message.content[0].type == "thinking"
    message = await claude.messages.create(
        model="qwen3-8b-nothinking",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 3000},  # the name wins: it was chosen for no thinking
        messages=[{"role": "user", "content": "x"}],
    )
    body = sent(mock_upstream)
    assert body["model"] == "qwen3-8b" and body["enable_thinking"] is False and "thinking_budget" not in body
    assert [block.type for block in message.content] == ["text"]


async def test_real_models_whose_names_end_in_thinking_are_not_aliases(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await oai.chat.completions.create(model="qwen3-next-80b-a3b-thinking", messages=[{"role": "user", "content": "x"}])
    body = sent(mock_upstream)
    assert body["model"] == "qwen3-next-80b-a3b-thinking" and "enable_thinking" not in body
    # An alias of a model no channel serves, or a suffix the vendor does not sell, is an unknown model.
    for model in ("glm-4-plus-thinking", "kimi-k2-nothinking", "qwen3-8b-max"):
        with pytest.raises(openai.NotFoundError):
            await oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])


async def test_glm_and_kimi_aliases_stream_with_the_switch_set(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    for model, base in (("glm-4.7-nothinking", "glm-4.7"), ("kimi-k2.6-thinking", "kimi-k2.6")):
        stream = await oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], stream=True
        )
        reasoning = ""
        async for chunk in stream:
            assert chunk.model == model
            for choice in chunk.choices:
                reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
        body = sent(mock_upstream)
        thinking = model.endswith("-thinking")
        assert body["model"] == base and body["thinking"] == {"type": "enabled" if thinking else "disabled"}
        assert reasoning == (DEFAULT_REASONING if thinking else "")


async def test_an_alias_over_a_vendor_anthropic_endpoint_sends_the_base_model_and_the_switch(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    message = await claude.messages.create(
        model="deepseek-v4-pro-nothinking",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "x"}],
    )
    body = sent(mock_upstream)
    assert mock_upstream.requests[-1].path == "/deepseek/anthropic/v1/messages"
    assert body["model"] == "deepseek-v4-pro" and body["thinking"] == {"type": "disabled"}
    assert message.model == "deepseek-v4-pro-nothinking" and [b.type for b in message.content] == ["text"]
    async with claude.messages.stream(
        model="glm-5-thinking", max_tokens=4000, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = await stream.get_final_message()
    body = sent(mock_upstream)
    assert body["model"] == "glm-5" and body["thinking"]["type"] in ("enabled", "adaptive")
    assert final.content[0].type == "thinking" and final.content[0].thinking == DEFAULT_REASONING


async def test_a_gemini_client_asks_an_alias_and_gets_thought_parts(
    gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    mock_upstream.clear_requests()
    client = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=gateway.url))
    try:
        response = await client.aio.models.generate_content(
            model="qwen3-8b-thinking",
            contents=directive(text="Done.", reasoning="Think first."),
            config=gtypes.GenerateContentConfig(thinking_config=gtypes.ThinkingConfig(include_thoughts=True)),
        )
        quiet = await client.aio.models.generate_content(
            model="qwen3-8b-nothinking",
            contents="x",
            config=gtypes.GenerateContentConfig(thinking_config=gtypes.ThinkingConfig(thinking_budget=4096)),
        )
    finally:
        await client.aio.aclose()
    parts = response.candidates[0].content.parts if response.candidates and response.candidates[0].content else None
    assert parts is not None
    assert [(part.thought is True, part.text) for part in parts] == [(True, "Think first."), (False, "Done.")]
    body = sent(mock_upstream)
    assert body["model"] == "qwen3-8b" and body["enable_thinking"] is False and "thinking_budget" not in body
    assert quiet.text == "Echo: x"
    first = mock_upstream.requests[-2].body
    assert first["model"] == "qwen3-8b" and first["enable_thinking"] is True


def nano(model_price: str, usage: dict[str, int]) -> int:
    """What ``usage`` costs at ``PRICES[model_price]`` in nano-USD (USD per 1M tokens = 1000 nano-USD a token)."""
    price = PRICES[model_price]
    return int(usage["input"] * price["input"] * 1000 + usage["output"] * price["output"] * 1000)


async def test_aliases_are_charged_at_the_price_of_their_own_name(
    oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    spend = await KeySpend(gateway.app.gateway.config.database_url).begin(gateway.app.gateway.recorder)
    usage = {"input": 1000, "output": 40}
    ask = [{"role": "user", "content": "priced " + directive(usage=usage)}]
    expected: list[tuple[str, str, int]] = []  # (public model, upstream model, cost)
    ids: list[str] = []
    for model, priced_as, upstream in (
        ("deepseek-v4-flash-nothinking", "deepseek-v4-flash-nothinking", "deepseek-v4-flash"),  # exact price
        ("deepseek-v4-flash", "deepseek-v4-flash", "deepseek-v4-flash"),  # the base: its own price
        ("glm-4.7", "glm-4.7", "glm-4.7"),  # exact beats the pattern
    ):
        raw = await oai.chat.completions.with_raw_response.create(model=model, messages=ask)  # type: ignore[arg-type]
        assert raw.parse().model == model
        ids.append(raw.headers["x-request-id"])
        expected.append((model, upstream, nano(priced_as, usage)))
    # Streamed, the pattern glm-4.7* covers the alias.
    raw_stream = await oai.chat.completions.with_raw_response.create(
        model="glm-4.7-nothinking",
        messages=ask,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    shown = [chunk.usage async for chunk in raw_stream.parse() if chunk.usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in shown] == [(1000, 40)]
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"}
    ids.append(raw_stream.headers["x-request-id"])
    expected.append(("glm-4.7-nothinking", "glm-4.7", nano("glm-4.7*", usage)))
    # An Anthropic client on the protocol: anthropic channel, the alias priced by the pattern deepseek-v4-pro*.
    raw_message = await claude.messages.with_raw_response.create(
        model="deepseek-v4-pro-nothinking",
        max_tokens=500,
        messages=ask,  # type: ignore[arg-type]
    )
    assert (await raw_message.parse()).model == "deepseek-v4-pro-nothinking"
    ids.append(raw_message.headers["x-request-id"])
    expected.append(("deepseek-v4-pro-nothinking", "deepseek-v4-pro", nano("deepseek-v4-pro*", usage)))
    # An alias with no price of its own is not charged its base's price: it has none (unknown_price: free).
    raw = await oai.chat.completions.with_raw_response.create(model="deepseek-v4-flash-thinking", messages=ask)  # type: ignore[arg-type]
    ids.append(raw.headers["x-request-id"])
    expected.append(("deepseek-v4-flash-thinking", "deepseek-v4-flash", 0))

    rows = [await ledger_row(gateway, request_id) for request_id in ids]
    assert [(row.model, row.upstream_model, row.cost_nano) for row in rows] == expected
    assert all((row.input_tokens, row.output_tokens) == (1000, 40) for row in rows)
    assert await spend.spent() == sum(cost for _, _, cost in expected) == 14_480_000


async def test_models_lists_the_names_channels_list_not_the_aliases(oai: openai.AsyncOpenAI) -> None:
    listed = {model.id async for model in oai.models.list()}
    assert {"deepseek-v4-flash", "glm-4.7", "qwen3-8b", "fast-nothink"} <= listed
    assert not {name for name in listed if name.endswith(("-thinking", "-nothinking", "-max", "-none"))} - {
        "qwen3-next-80b-a3b-thinking"  # a real model of that name, listed by its channel
    }


# --- 2. thinking defaults over the vendors' Anthropic-compatible endpoints ---------------------------------


async def test_vendors_that_think_by_default_get_the_off_switch_on_their_anthropic_endpoint(
    claude: anthropic.AsyncAnthropic, oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    # An Anthropic client that asked for no thinking (pass-through): the body as sent, plus the off switch.
    history: Any = [
        {"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}]}
    ]
    message = await claude.messages.create(model="deepseek-v4-pro", max_tokens=300, messages=history)
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "disabled"} and body["messages"] == history
    assert [block.type for block in message.content] == ["text"]
    # An OpenAI client (translated), silent and then asking for thinking.
    answer = await oai.chat.completions.create(model="glm-5", messages=[{"role": "user", "content": "x"}])
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"}
    assert reasoning_of(answer.choices[0].message) is None
    answer = await oai.chat.completions.create(
        model="glm-5", messages=[{"role": "user", "content": "x"}], reasoning_effort="low"
    )
    assert sent(mock_upstream)["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert reasoning_of(answer.choices[0].message) == DEFAULT_REASONING
    # Without the switch the mock, like the vendor, thinks: the gateway's default is what kept it quiet.
    async with claude.messages.stream(
        model="deepseek-v4-pro", max_tokens=300, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = await stream.get_final_message()
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"} and final.content[0].type == "text"


async def test_vendors_that_do_not_think_by_default_are_left_alone_and_get_the_client_budget(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    for model in ("qwen3.6-plus", "MiniMax-M3"):
        await claude.messages.create(model=model, max_tokens=300, messages=[{"role": "user", "content": "x"}])
        assert "thinking" not in sent(mock_upstream)
    message = await claude.messages.create(
        model="qwen3.6-plus",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 3000},
        messages=[{"role": "user", "content": "x"}],
    )
    assert sent(mock_upstream)["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert message.content[0].type == "thinking"


async def test_deepseek_anthropic_endpoint_gets_the_effort_it_reads_instead_of_a_budget(
    claude: anthropic.AsyncAnthropic, oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    x: Any = [{"role": "user", "content": "x"}]
    await oai.chat.completions.create(model="deepseek-v4-pro", messages=x, reasoning_effort="medium")
    body = sent(mock_upstream)
    assert body["thinking"]["type"] == "enabled" and body["output_config"] == {"effort": "high"}  # DeepSeek's levels
    await claude.messages.create(
        model="deepseek-v4-pro", max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2048}, messages=x
    )
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048} and body["output_config"] == {"effort": "low"}
    await claude.messages.create(
        model="deepseek-v4-pro",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=x,
        extra_body={"output_config": {"effort": "max"}},
    )
    assert sent(mock_upstream)["output_config"] == {"effort": "max"}  # the client's own, kept
    await claude.messages.create(
        model="glm-5", max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2048}, messages=x
    )
    assert "output_config" not in sent(mock_upstream)  # GLM reads the switch only


# --- 3. DeepSeek: the reasoning of a turn that called tools goes back with it -----------------------------

WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
CALL = {"name": "get_weather", "arguments": {"city": "Paris"}}


async def first_tool_turn(oai: openai.AsyncOpenAI, model: str) -> tuple[list[Any], str]:
    """A thinking turn that calls a tool; the history an OpenAI client sends next (without the reasoning),
    and the reasoning it was given."""
    prompt = "Weather? " + directive(reasoning="I need the weather tool.", tool_calls=[CALL])
    history: list[Any] = [{"role": "user", "content": prompt}]
    answer = await oai.chat.completions.create(model=model, messages=history, tools=[WEATHER], reasoning_effort="high")
    message = answer.choices[0].message
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    history += [
        {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    return history, reasoning_of(message)


async def test_deepseek_gets_reasoning_content_back_on_tool_call_turns(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    history, reasoning = await first_tool_turn(oai, "deepseek-v4-flash")
    assert reasoning == "I need the weather tool."
    # The client kept the reasoning: it goes back as DeepSeek's reasoning_content.
    kept = [history[0], {**history[1], "reasoning_content": reasoning}, history[2]]
    answer = await oai.chat.completions.create(
        model="deepseek-v4-flash", messages=kept, tools=[WEATHER], reasoning_effort="high"
    )
    assert sent(mock_upstream)["messages"][1]["reasoning_content"] == "I need the weather tool."
    assert answer.choices[0].message.content
    # The client dropped it (most OpenAI clients do): an empty one keeps DeepSeek from refusing the turn.
    await oai.chat.completions.create(
        model="deepseek-v4-flash", messages=history, tools=[WEATHER], reasoning_effort="high"
    )
    assert sent(mock_upstream)["messages"][1]["reasoning_content"] == ""
    # Not thinking: nothing is added.
    await oai.chat.completions.create(model="deepseek-v4-flash", messages=history, tools=[WEATHER])
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "disabled"} and "reasoning_content" not in body["messages"][1]


async def test_deepseek_anthropic_endpoint_gets_a_thinking_block_on_translated_tool_turns(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    history, reasoning = await first_tool_turn(oai, "deepseek-v4-pro")
    assert reasoning == "I need the weather tool."
    kept = [history[0], {**history[1], "reasoning_content": reasoning}, history[2]]
    answer = await oai.chat.completions.create(
        model="deepseek-v4-pro", messages=kept, tools=[WEATHER], reasoning_effort="high"
    )
    body = sent(mock_upstream)
    assert body["thinking"]["type"] == "enabled"  # kept: the tool turn starts with a thinking block
    turn = body["messages"][1]["content"]
    assert turn[0] == {"type": "thinking", "thinking": "I need the weather tool.", "signature": ""}
    assert turn[1]["type"] == "tool_use"
    assert reasoning_of(answer.choices[0].message) == DEFAULT_REASONING
    stream = await oai.chat.completions.create(
        model="deepseek-v4-pro", messages=history, tools=[WEATHER], reasoning_effort="high", stream=True
    )
    async for _ in stream:
        pass
    turn = sent(mock_upstream)["messages"][1]["content"]
    assert turn[0] == {"type": "thinking", "thinking": "", "signature": ""} and turn[1]["type"] == "tool_use"


async def test_an_anthropic_client_history_without_thinking_on_a_tool_turn_gets_an_empty_block(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    tool = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    history: Any = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
    ]
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    message = await claude.messages.create(
        model="deepseek-v4-pro", max_tokens=4096, thinking=thinking, tools=[tool], messages=history
    )
    body = sent(mock_upstream)
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "", "signature": ""}
    assert body["messages"][1]["content"][1] == history[1]["content"][0] and body["thinking"] == thinking
    assert message.content[0].type == "thinking"


# --- 4. reasoning sent back in the vendor's own form ---------------------------------------------------


async def test_minimax_gets_past_reasoning_back_as_think_tags_in_the_content(
    oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    history: list[Any] = [{"role": "user", "content": "hi " + directive(reasoning="Greet back.", text="Hello!")}]
    first = await oai.chat.completions.create(model="MiniMax-M2", messages=history)
    message = first.choices[0].message
    assert reasoning_of(message) == "Greet back." and message.content == "Hello!"  # <think> split off
    history += [
        {"role": "assistant", "content": message.content, "reasoning_content": reasoning_of(message)},
        {"role": "user", "content": "and?"},
    ]
    await oai.chat.completions.create(model="MiniMax-M2", messages=history)
    turn = sent(mock_upstream)["messages"][1]
    assert turn == {"role": "assistant", "content": "<think>Greet back.</think>\n\nHello!"}
    # An Anthropic client's thinking block (translated) goes back the same way.
    await claude.messages.create(
        model="MiniMax-M2",
        max_tokens=500,
        messages=[
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Greet back.", "signature": ""},
                    {"type": "text", "text": "Hello!"},
                ],
            },
            {"role": "user", "content": "and?"},
        ],
    )
    turn = sent(mock_upstream)["messages"][1]
    assert turn["content"] == "<think>Greet back.</think>\n\nHello!" and "reasoning_content" not in turn


async def test_minimax_split_reasoning_goes_back_as_reasoning_details(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    history: Any = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!", "reasoning_content": "Greet back."},
        {"role": "user", "content": "and?"},
    ]
    answer = await oai.chat.completions.create(
        model="MiniMax-M2", messages=history, extra_body={"reasoning_split": True}
    )
    turn = sent(mock_upstream)["messages"][1]
    assert turn["content"] == "Hello!" and turn["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Greet back."}
    ]
    assert reasoning_of(answer.choices[0].message) == DEFAULT_REASONING


async def test_glm_keeps_the_reasoning_of_the_history_when_thinking(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    history: Any = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!", "reasoning_content": "Greet back."},
        {"role": "user", "content": "and?"},
    ]
    await oai.chat.completions.create(model="glm-4.7", messages=history, reasoning_effort="high")
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "enabled", "clear_thinking": False}
    assert body["messages"][1]["reasoning_content"] == "Greet back."
    # Nothing to preserve, or not thinking: GLM's default stands.
    await oai.chat.completions.create(
        model="glm-4.7", messages=[{"role": "user", "content": "x"}], reasoning_effort="high"
    )
    assert sent(mock_upstream)["thinking"] == {"type": "enabled"}
    await oai.chat.completions.create(model="glm-4.7", messages=history)
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"}
    # A client that set clear_thinking itself keeps its choice.
    await oai.chat.completions.create(
        model="glm-4.7", messages=history, extra_body={"thinking": {"type": "enabled", "clear_thinking": True}}
    )
    assert sent(mock_upstream)["thinking"] == {"type": "enabled", "clear_thinking": True}


# --- 5. sampling ranges ---------------------------------------------------------------------------------


async def test_sampling_values_outside_a_vendor_range_are_moved_into_it(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    x = [{"role": "user", "content": "x"}]
    cases = [
        ("MiniMax-M2", {"temperature": 0}, {"temperature": 0.01}),  # MiniMax: (0, 1]
        ("MiniMax-M2", {"temperature": 1.5}, {"temperature": 1.0}),
        ("glm-4.7", {"temperature": 1.2, "top_p": 0}, {"temperature": 1.0, "top_p": 0.01}),
        ("kimi-k2-0905", {"temperature": 2}, {"temperature": 1.0}),  # K2.5+ fix their own (section 6)
        ("qwen3-8b", {"temperature": 2, "top_p": 0.5}, {"temperature": 1.99, "top_p": 0.5}),
        ("glm-4.7", {"temperature": 0.3, "top_p": 0.9}, {"temperature": 0.3, "top_p": 0.9}),  # inside: as sent
        ("deepseek-v4-flash", {"temperature": 1.5}, {"temperature": 1.5}),  # DeepSeek takes 0-2
    ]
    for model, sampling, expected in cases:
        answer = await oai.chat.completions.create(model=model, messages=x, **sampling)  # type: ignore[call-overload]
        assert answer.choices[0].message.content
        body = sent(mock_upstream)
        assert {field: body[field] for field in expected} == expected, (model, sampling)


async def test_sampling_ranges_hold_on_the_anthropic_endpoints_too(
    claude: anthropic.AsyncAnthropic, oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    history: Any = [{"role": "user", "content": "x"}]
    await claude.messages.create(model="MiniMax-M3", max_tokens=100, messages=history, extra_body={"temperature": 0})
    body = sent(mock_upstream)
    assert body["temperature"] == 0.01 and body["messages"] == history  # pass-through, one field moved
    await oai.chat.completions.create(model="glm-5", messages=history, temperature=1.8)
    assert sent(mock_upstream)["temperature"] == 1.0


# --- 6. model-level rules (ModelRule: Kimi K2.5+ sampling, Kimi's n near temperature 0, MiniMax M3 thinking) --

USAGE = {"input": 1000, "output": 40}


async def billed(gateway: RunningGateway, request_ids: list[str], model_price: str, spend: KeySpend) -> None:
    """Each request's ledger row charged exactly at ``PRICES[model_price]``, and the key's balance moved by
    their sum."""
    rows = [await ledger_row(gateway, request_id) for request_id in request_ids]
    assert [row.cost_nano for row in rows] == [nano(model_price, USAGE)] * len(rows)
    assert await spend.spent() == nano(model_price, USAGE) * len(rows)


async def to_mock(mock: MockUpstream, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """A request straight to the mock vendor (what the vendor would answer a client that sent it)."""
    headers = {"authorization": f"Bearer {UPSTREAM_KEY}"}
    async with aiohttp.ClientSession() as session, session.post(f"{mock.url}{path}", json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_kimi_k2_5_and_later_get_no_sampling_fields_they_fix_themselves(
    oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    # The vendor (and the mock) refuses another value than the model's own.
    hi = [{"role": "user", "content": "hi"}]
    status, error = await to_mock(
        mock_upstream, "/moonshot/v1/chat/completions", {"model": "kimi-k2.6", "messages": hi, "temperature": 0.2}
    )
    assert status == 400 and error["error"]["message"] == "invalid temperature: only 0.6 is allowed for this model"
    spend = await KeySpend(gateway.app.gateway.config.database_url).begin(gateway.app.gateway.recorder)
    ask = [{"role": "user", "content": "sample " + directive(usage=USAGE)}]
    fixed = {"temperature", "top_p", "n", "presence_penalty", "frequency_penalty"}
    raw = await oai.chat.completions.with_raw_response.create(
        model="kimi-k2.6",
        messages=ask,  # type: ignore[arg-type]
        temperature=0.2,
        top_p=0.5,
        n=1,
        presence_penalty=0.3,
        frequency_penalty=0.1,
        reasoning_effort="high",
    )
    body = sent(mock_upstream)
    assert not fixed & body.keys() and body["thinking"] == {"type": "enabled"}
    answer = raw.parse()
    assert answer.choices[0].message.content and reasoning_of(answer.choices[0].message) == DEFAULT_REASONING
    ids = [raw.headers["x-request-id"]]
    raw_message = await claude.messages.with_raw_response.create(
        model="kimi-k2.6",
        max_tokens=300,
        extra_body={"temperature": 0.0, "top_p": 0.3},
        messages=ask,  # type: ignore[arg-type]
    )
    assert not fixed & sent(mock_upstream).keys() and (await raw_message.parse()).content[0].type == "text"
    ids.append(raw_message.headers["x-request-id"])
    # An earlier Kimi takes the client's sampling as sent.
    raw = await oai.chat.completions.with_raw_response.create(
        model="kimi-k2-0905",
        messages=ask,  # type: ignore[arg-type]
        temperature=0.2,
        top_p=0.5,
        presence_penalty=0.3,
    )
    body = sent(mock_upstream)
    assert (body["temperature"], body["top_p"], body["presence_penalty"]) == (0.2, 0.5, 0.3)
    ids.append(raw.headers["x-request-id"])
    await billed(gateway, ids, "kimi-k2*", spend)


async def test_kimi_takes_one_choice_near_temperature_zero(
    oai: openai.AsyncOpenAI, gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    hi = [{"role": "user", "content": "hi"}]
    status, error = await to_mock(
        mock_upstream,
        "/moonshot/v1/chat/completions",
        {"model": "kimi-k2-0905", "messages": hi, "temperature": 0, "n": 2},
    )
    assert status == 400 and error["error"]["type"] == "invalid_request_error"
    spend = await KeySpend(gateway.app.gateway.config.database_url).begin(gateway.app.gateway.recorder)
    ask = [{"role": "user", "content": "n " + directive(usage=USAGE)}]
    raw = await oai.chat.completions.with_raw_response.create(
        model="kimi-k2-0905",
        messages=ask,  # type: ignore[arg-type]
        temperature=0,
        n=2,
    )
    body = sent(mock_upstream)
    assert body["n"] == 1 and body["temperature"] == 0, body
    assert len(raw.parse().choices) == 1
    ids = [raw.headers["x-request-id"]]
    raw = await oai.chat.completions.with_raw_response.create(
        model="kimi-k2-0905",
        messages=ask,  # type: ignore[arg-type]
        temperature=0.7,
        n=2,
    )
    assert sent(mock_upstream)["n"] == 2  # away from 0 the client's n stands
    ids.append(raw.headers["x-request-id"])
    await billed(gateway, ids, "kimi-k2*", spend)


async def test_minimax_m3_thinking_maps_onto_adaptive_and_disabled(
    oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    hi = [{"role": "user", "content": "hi"}]
    status, error = await to_mock(
        mock_upstream,
        "/minimax/v1/chat/completions",
        {"model": "minimax-m3", "messages": hi, "thinking": {"type": "enabled"}},
    )
    assert status == 400 and "adaptive or disabled" in error["error"]["message"]
    spend = await KeySpend(gateway.app.gateway.config.database_url).begin(gateway.app.gateway.recorder)
    ask = [{"role": "user", "content": "m3 " + directive(usage=USAGE)}]
    ids: list[str] = []
    # OpenAI effort: on is adaptive; the reasoning (in <think> tags upstream) comes back as reasoning_content.
    raw = await oai.chat.completions.with_raw_response.create(
        model="minimax-m3",
        messages=ask,  # type: ignore[arg-type]
        reasoning_effort="high",
    )
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "adaptive"} and "reasoning_effort" not in body
    message = raw.parse().choices[0].message
    assert reasoning_of(message) == DEFAULT_REASONING and "<think>" not in (message.content or "")
    ids.append(raw.headers["x-request-id"])
    # Off is disabled; a silent client leaves M3 to its default (adaptive), sending nothing.
    raw = await oai.chat.completions.with_raw_response.create(
        model="minimax-m3",
        messages=ask,  # type: ignore[arg-type]
        reasoning_effort="none",  # type: ignore[arg-type]
    )
    assert (
        sent(mock_upstream)["thinking"] == {"type": "disabled"} and reasoning_of(raw.parse().choices[0].message) is None
    )
    ids.append(raw.headers["x-request-id"])
    raw = await oai.chat.completions.with_raw_response.create(model="minimax-m3", messages=ask)  # type: ignore[arg-type]
    assert "thinking" not in sent(mock_upstream)
    ids.append(raw.headers["x-request-id"])
    # An Anthropic client's thinking (budget and all): adaptive, the thinking block back.
    raw_message = await claude.messages.with_raw_response.create(
        model="minimax-m3",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=ask,  # type: ignore[arg-type]
    )
    assert sent(mock_upstream)["thinking"] == {"type": "adaptive"}
    blocks = (await raw_message.parse()).content
    assert blocks[0].type == "thinking" and blocks[0].thinking == DEFAULT_REASONING
    ids.append(raw_message.headers["x-request-id"])
    # A Gemini client's zero budget is off.
    client = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=gateway.url))
    try:
        quiet = await client.aio.models.generate_content(
            model="minimax-m3",
            contents="m3 " + directive(usage=USAGE),
            config=gtypes.GenerateContentConfig(thinking_config=gtypes.ThinkingConfig(thinking_budget=0)),
        )
    finally:
        await client.aio.aclose()
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"} and quiet.usage_metadata is not None
    assert quiet.usage_metadata.prompt_token_count == USAGE["input"]
    # M2 has no switch: nothing is sent (it thinks anyway); it has no price here, so it costs nothing.
    await oai.chat.completions.create(model="MiniMax-M2", messages=hi, reasoning_effort="none")  # type: ignore[arg-type]
    assert "thinking" not in sent(mock_upstream)
    rows = [await ledger_row(gateway, request_id) for request_id in ids]
    assert [row.cost_nano for row in rows] == [nano("minimax-m3", USAGE)] * 4
    for _ in range(100):  # the Gemini request's row (no request id through the SDK) lands with the others
        if await spend.spent() == nano("minimax-m3", USAGE) * 5:
            break
        await asyncio.sleep(0.05)
    assert await spend.spent() == nano("minimax-m3", USAGE) * 5


async def test_model_rules_hold_on_the_anthropic_endpoints_too(
    oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    hi: Any = [{"role": "user", "content": "hi"}]
    status, _ = await to_mock(
        mock_upstream,
        "/moonshot/anthropic/v1/messages",
        {"model": "kimi-k2.5", "max_tokens": 100, "messages": hi, "temperature": 0.2},
    )
    assert status == 400  # the vendor's own refusal, which the gateway must avoid
    spend = await KeySpend(gateway.app.gateway.config.database_url).begin(gateway.app.gateway.recorder)
    ask: Any = [{"role": "user", "content": "a " + directive(usage=USAGE)}]
    ids: list[str] = []
    # Kimi K2.5 over Anthropic Messages: an Anthropic client's body relayed without the fields it fixes.
    raw_message = await claude.messages.with_raw_response.create(
        model="kimi-k2.5", max_tokens=300, messages=ask, extra_body={"temperature": 0.2, "top_p": 0.5}
    )
    body = sent(mock_upstream)
    assert mock_upstream.requests[-1].path == "/moonshot/anthropic/v1/messages"
    assert "temperature" not in body and "top_p" not in body and body["messages"] == ask
    ids.append(raw_message.headers["x-request-id"])
    raw = await oai.chat.completions.with_raw_response.create(model="kimi-k2.5", messages=ask, temperature=0.3)
    assert "temperature" not in sent(mock_upstream)
    ids.append(raw.headers["x-request-id"])
    # MiniMax M3 over Anthropic Messages: a thinking request in its adaptive mode (no budget), off as disabled.
    raw_message = await claude.messages.with_raw_response.create(
        model="MiniMax-M3", max_tokens=8000, thinking={"type": "enabled", "budget_tokens": 2048}, messages=ask
    )
    assert sent(mock_upstream)["thinking"] == {"type": "adaptive"}
    assert (await raw_message.parse()).content[0].type == "thinking"
    ids.append(raw_message.headers["x-request-id"])
    raw = await oai.chat.completions.with_raw_response.create(model="MiniMax-M3", messages=ask, reasoning_effort="high")
    assert sent(mock_upstream)["thinking"] == {"type": "adaptive"}
    assert reasoning_of(raw.parse().choices[0].message) == DEFAULT_REASONING
    ids.append(raw.headers["x-request-id"])
    raw = await oai.chat.completions.with_raw_response.create(
        model="MiniMax-M3",
        messages=ask,
        reasoning_effort="none",  # type: ignore[arg-type]
    )
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"}
    ids.append(raw.headers["x-request-id"])
    rows = [await ledger_row(gateway, request_id) for request_id in ids]
    expected = [nano("kimi-k2*", USAGE)] * 2 + [nano("MiniMax-M3", USAGE)] * 3
    assert [row.cost_nano for row in rows] == expected
    assert await spend.spent() == sum(expected)
