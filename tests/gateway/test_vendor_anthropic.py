"""Vendors over their Anthropic-compatible endpoints (a channel's ``protocol: anthropic``, docs/vendors.md):
through the gateway with the official SDKs against the mock's ``/{provider}/.../v1/messages`` routes, which
check the vendor's own auth header and, like Anthropic, refuse a thinking block whose signature changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import msgspec
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from omnirouter.config import GatewayConfig
from omnirouter.config.loader import ConfigError, parse_config
from omnirouter.config.schema import ChannelConfig
from omnirouter.mock_upstream import MockUpstream, directive
from omnirouter.mock_upstream.tokens import signature
from omnirouter.mock_upstream.vendor_anthropic import vendor_anthropic_path
from omnirouter.protocols.base import ProtocolName
from omnirouter.providers import ProviderKind
from omnirouter.providers.auth import AuthStyle
from omnirouter.providers.registry import ANTHROPIC_VIA
from omnirouter.providers.vendors import VENDORS
from omnirouter.routing.channel import Channel
from omnirouter.storage.channels_repo import check_channel
from omnirouter.storage.repo_common import Invalid
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.vendor_gateway import anthropic_sdk, ledger_row, openai_sdk, vendor_anthropic_base

KINDS = list(ANTHROPIC_VIA)
PRICE = {"input": 1.0, "cached_input": 0.1, "output": 2.0}  # USD per 1M tokens: ×1000 nano-USD per token
WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def config(mock_url: str, db: str) -> GatewayConfig:
    channels = [
        {
            "name": f"{kind.value}-messages",
            "provider": kind.value,
            "protocol": "anthropic",
            "base_url": vendor_anthropic_base(mock_url, kind),
            "api_keys": [UPSTREAM_KEY],
            "models": [f"{kind.value}-claude"],
            "model_map": {f"{kind.value}-claude": f"{kind.value}-model"},
        }
        for kind in KINDS
    ]
    raw = {
        "database_url": db,
        "usage_flush_interval": 0.05,
        "channels": channels,
        "keys": [{"name": "tester", "key": CLIENT_KEY}],
        "prices": {f"{kind.value}-claude": PRICE for kind in KINDS},
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def gateway(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[RunningGateway]:
    db = (
        gateway_postgres_url
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path_factory.mktemp('va') / 'gw.db'}"
    )
    async with running_gateway(config(mock_upstream.url, db)) as running:
        yield running


@pytest.fixture
async def claude(gateway: RunningGateway, mock_upstream: MockUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic_sdk(gateway, mock_upstream) as client:
        yield client


@pytest.fixture
async def oai(gateway: RunningGateway, mock_upstream: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai_sdk(gateway, mock_upstream) as client:
        yield client


def upstream(mock: MockUpstream, kind: ProviderKind) -> dict[str, Any]:
    """The last upstream request: at the vendor's Anthropic route, its key in the vendor's header there."""
    seen = mock.requests[-1]
    assert seen.path == vendor_anthropic_path(kind, VENDORS[kind].anthropic_base_url or "")
    if VENDORS[kind].anthropic_auth is AuthStyle.BEARER:
        assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}" and "x-api-key" not in seen.headers
    else:
        assert seen.headers["x-api-key"] == UPSTREAM_KEY and "authorization" not in seen.headers
    assert CLIENT_KEY not in str(seen.headers) + str(seen.body)
    body: dict[str, Any] = seen.body
    return body


@pytest.mark.parametrize("kind", KINDS, ids=[kind.value for kind in KINDS])
async def test_each_vendor_is_reached_at_its_anthropic_endpoint_with_its_own_auth(
    kind: ProviderKind, claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    message = await claude.messages.create(
        model=f"{kind.value}-claude", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.model == f"{kind.value}-claude"
    assert message.content[0].type == "text" and message.content[0].text == "Echo: hi"
    body = upstream(mock_upstream, kind)
    assert body["model"] == f"{kind.value}-model" and body["messages"] == [{"role": "user", "content": "hi"}]


def as_params(content: list[Any]) -> list[dict[str, Any]]:
    """An answer's blocks as the client sends them back in the history."""
    return [block.model_dump(exclude_none=True) for block in content]


@pytest.mark.parametrize("kind", [ProviderKind.DEEPSEEK, ProviderKind.ZHIPU], ids=["deepseek", "zhipu"])
async def test_thinking_signatures_round_trip_through_a_multi_turn_tool_conversation(
    kind: ProviderKind, claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    model = f"{kind.value}-claude"
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    first_prompt = "Weather in Paris? " + directive(reasoning="I should call the weather tool.", tool_calls=[call])
    history: list[Any] = [{"role": "user", "content": first_prompt}]
    first = await claude.messages.create(
        model=model, max_tokens=4096, thinking=thinking, tools=[WEATHER], messages=history
    )
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    assert first.content[0].type == "thinking"
    assert first.content[0].signature == signature("I should call the weather tool.")  # the vendor's, as given
    tool_use = first.content[1]
    assert tool_use.type == "tool_use"
    history += [
        {"role": "assistant", "content": as_params(first.content)},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny, 24C"},
                {"type": "text", "text": directive(reasoning="Sunny: no umbrella.", text="It is sunny.")},
            ],
        },
    ]
    # Turn two, streamed: the history's thinking block reaches the vendor exactly as it answered it (its
    # mock refuses a changed signature), and the new thinking block's signature reaches the client.
    async with claude.messages.stream(
        model=model, max_tokens=4096, thinking=thinking, tools=[WEATHER], messages=history
    ) as stream:
        second = await stream.get_final_message()
    sent = upstream(mock_upstream, kind)
    assert sent["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "I should call the weather tool.",
        "signature": signature("I should call the weather tool."),
    }
    assert sent["thinking"] == thinking and sent["stream"] is True
    assert sent["messages"] == history  # pass-through: the client's history as it sent it, block for block
    assert second.content[0].type == "thinking" and second.content[0].signature == signature("Sunny: no umbrella.")
    assert second.content[-1].type == "text" and second.content[-1].text == "It is sunny."
    # Turn three, with both signed blocks in the history: still accepted.
    history += [
        {"role": "assistant", "content": as_params(second.content)},
        {"role": "user", "content": "thanks"},
    ]
    third = await claude.messages.create(model=model, max_tokens=4096, thinking=thinking, messages=history)
    assert third.content[-1].type == "text" and third.content[-1].text == "Echo: thanks"
    # The mock's check is live: a tampered signature is the vendor's 400, relayed in Anthropic's shape.
    history[1]["content"][0]["signature"] = "tampered"
    with pytest.raises(anthropic.BadRequestError) as refused:
        await claude.messages.create(model=model, max_tokens=4096, thinking=thinking, messages=history)
    assert "signature" in str(refused.value.body)


async def test_an_anthropic_client_is_billed_from_the_vendor_usage_with_cache_reads(
    claude: anthropic.AsyncAnthropic, gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    usage = {"input": 1000, "cached": 600, "output": 50}
    raw = await claude.messages.with_raw_response.create(
        model="deepseek-claude", max_tokens=100, messages=[{"role": "user", "content": directive(usage=usage)}]
    )
    message = await raw.parse()
    assert message.usage.input_tokens == 400 and message.usage.cache_read_input_tokens == 600
    row = await ledger_row(gateway, raw.headers["x-request-id"])
    assert (row.provider, row.channel, row.upstream_model) == ("deepseek", "deepseek-messages", "deepseek-model")
    assert (row.input_tokens, row.cached_tokens, row.output_tokens) == (1000, 600, 50)
    assert row.cost_nano == 400 * 1000 + 600 * 100 + 50 * 2000


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_an_openai_client_is_translated_to_messages_and_billed(
    stream: bool, oai: openai.AsyncOpenAI, gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    prompt = directive(text="Bonjour.", reasoning="French, then.", usage={"input": 300, "output": 40})
    messages: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]
    if stream:
        raw_stream = await oai.chat.completions.with_raw_response.create(
            model="minimax-claude", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        request_id = raw_stream.headers["x-request-id"]
        text, reasoning, usage = "", "", None
        async for chunk in raw_stream.parse():
            for choice in chunk.choices:
                text += choice.delta.content or ""
                reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            usage = chunk.usage or usage
        assert usage is not None
        prompt_tokens, completion_tokens = usage.prompt_tokens, usage.completion_tokens
    else:
        raw = await oai.chat.completions.with_raw_response.create(
            model="minimax-claude", messages=messages, max_completion_tokens=500
        )
        request_id = raw.headers["x-request-id"]
        completion = raw.parse()
        text = completion.choices[0].message.content or ""
        reasoning = (completion.choices[0].message.model_extra or {}).get("reasoning_content") or ""
        assert completion.usage is not None
        prompt_tokens, completion_tokens = completion.usage.prompt_tokens, completion.usage.completion_tokens
    assert text == "Bonjour." and reasoning == "French, then."
    assert (prompt_tokens, completion_tokens) == (300, 40)
    body = upstream(mock_upstream, ProviderKind.MINIMAX)
    assert body["model"] == "minimax-model" and body["max_tokens"] >= 1
    assert body["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    assert body["messages"][0]["role"] == "user"
    row = await ledger_row(gateway, request_id)
    assert (row.provider, row.inbound_protocol) == ("minimax", "openai_chat")
    assert row.cost_nano == 300 * 1000 + 40 * 2000


async def test_a_gemini_client_thinks_through_the_vendor_messages_endpoint(
    gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    mock_upstream.clear_requests()
    client = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=gateway.url))
    try:
        response = await client.aio.models.generate_content(
            model="zhipu-claude",
            contents=directive(text="Done.", reasoning="Think first."),
            config=gtypes.GenerateContentConfig(
                max_output_tokens=4096,
                thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
            ),
        )
    finally:
        await client.aio.aclose()
    parts = response.candidates[0].content.parts if response.candidates and response.candidates[0].content else None
    assert parts is not None
    assert [(part.thought is True, part.text) for part in parts] == [(True, "Think first."), (False, "Done.")]
    body = upstream(mock_upstream, ProviderKind.ZHIPU)
    assert body["model"] == "zhipu-model" and body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


# --- configuration -----------------------------------------------------------------------------------


def channel_yaml(provider: str, protocol: str) -> str:
    return (
        f"channels:\n  - name: c\n    provider: {provider}\n    protocol: {protocol}\n"
        "    api_keys: [sk-upstream]\n    models: [m]\n"
    )


@pytest.mark.parametrize(
    ("provider", "protocol"), [("xai", "anthropic"), ("openai", "anthropic"), ("gemini", "openai")]
)
def test_a_protocol_the_provider_has_no_endpoint_for_is_a_config_error_naming_the_field(
    provider: str, protocol: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(channel_yaml(provider, protocol))
    assert refused.value.key == "channels[0].protocol"
    assert f"'{provider}' has no {protocol} endpoint" in refused.value.reason
    refused_channel = msgspec.convert(
        {"name": "c", "provider": provider, "protocol": protocol, "api_keys": ["k"], "models": ["m"]}, ChannelConfig
    )
    with pytest.raises(Invalid) as invalid:  # the admin API's rule is the same
        check_channel(refused_channel)
    assert invalid.value.param == "protocol"


def test_protocol_anthropic_defaults_base_url_to_the_vendor_anthropic_base() -> None:
    parsed = parse_config(channel_yaml("deepseek", "anthropic")).channels[0]
    channel = Channel(parsed)
    assert channel.protocol_for("m") is ProtocolName.ANTHROPIC
    assert channel.codec(ProtocolName.ANTHROPIC).name is ProtocolName.ANTHROPIC  # Anthropic's, with DeepSeek's rules
    assert channel.endpoint_url(ProtocolName.ANTHROPIC, "m", False) == "https://api.deepseek.com/anthropic/v1/messages"
    assert channel.headers("sk-upstream")["x-api-key"] == "sk-upstream"
    glm = Channel(parse_config(channel_yaml("zhipu", "anthropic")).channels[0])
    assert glm.endpoint_url(ProtocolName.ANTHROPIC, "m", True) == "https://open.bigmodel.cn/api/anthropic/v1/messages"
    assert glm.headers("sk-upstream")["authorization"] == "Bearer sk-upstream"
    # ``protocol: openai`` (or none) keeps the vendor's OpenAI-compatible dialect.
    own = Channel(parse_config(channel_yaml("deepseek", "openai")).channels[0])
    assert own.endpoint_url(ProtocolName.OPENAI_CHAT, "m", False) == "https://api.deepseek.com/chat/completions"
    assert own.chat_codec is not None
