"""The capability matrix of the OpenAI-compatible vendors (providers/vendors.py): every entry, through the
gateway, with the official openai and anthropic SDKs, against the mock upstream speaking that vendor's
dialect (its auth header, where it puts reasoning, its thinking switch, its usage); see
tests/helpers/vendor_gateway.py for the channels."""

from __future__ import annotations

from pathlib import Path

import anthropic
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.plan import DEFAULT_REASONING
from omnirouter.providers import ProviderKind
from omnirouter.providers.vendors import VENDORS
from tests.helpers.vendor_gateway import KINDS, NO_STREAM_USAGE, assert_reached_with_vendor_auth


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_openai_client_gets_reasoning_content_and_clean_text(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream, kind: ProviderKind
) -> None:
    response = await oai.chat.completions.create(
        model=f"{kind.value}-chat", messages=[{"role": "user", "content": "hi there"}], reasoning_effort="high"
    )
    message = response.choices[0].message
    assert message.content == "Echo: hi there"
    assert (message.model_extra or {}).get("reasoning_content") == DEFAULT_REASONING
    assert response.usage is not None and response.usage.completion_tokens > 0
    assert response.model == f"{kind.value}-chat"
    assert_reached_with_vendor_auth(mock_upstream, kind)


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_openai_client_streams_reasoning_text_and_usage(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream, kind: ProviderKind
) -> None:
    stream = await oai.chat.completions.create(
        model=f"{kind.value}-chat",
        messages=[{"role": "user", "content": "one two three"}],
        reasoning_effort="high",
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, text, usages = "", "", []
    async for chunk in stream:
        if chunk.usage is not None:
            usages.append(chunk.usage)
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            text += choice.delta.content or ""
    assert text == "Echo: one two three"
    assert reasoning == DEFAULT_REASONING
    # Vendors that stream no usage get the gateway's estimate (the one it bills, see the quirk tests).
    assert len(usages) == 1 and usages[0].completion_tokens > 0 and usages[0].prompt_tokens > 0
    body = assert_reached_with_vendor_auth(mock_upstream, kind)
    assert ("stream_options" in body) is (kind not in NO_STREAM_USAGE)


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_anthropic_client_gets_thinking_blocks(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream, kind: ProviderKind
) -> None:
    mock_upstream.clear_requests()
    message = await claude.messages.create(
        model=f"{kind.value}-chat",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "hello"}],
    )
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text"]
    assert message.content[0].thinking == DEFAULT_REASONING  # type: ignore[union-attr]
    assert message.content[1].text == "Echo: hello"  # type: ignore[union-attr]
    assert message.usage.output_tokens > 0
    assert_reached_with_vendor_auth(mock_upstream, kind)


@pytest.mark.parametrize("kind", KINDS, ids=str)
async def test_anthropic_client_streams_thinking_deltas(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream, kind: ProviderKind
) -> None:
    mock_upstream.clear_requests()
    thinking, text = "", ""
    async with claude.messages.stream(
        model=f"{kind.value}-chat",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "a b c"}],
    ) as stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "thinking_delta":
                thinking += event.delta.thinking
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                text += event.delta.text
        final = await stream.get_final_message()
    assert thinking == DEFAULT_REASONING
    assert text == "Echo: a b c"
    assert final.usage.output_tokens > 0  # an estimate for vendors that stream none (NO_STREAM_USAGE)
    assert_reached_with_vendor_auth(mock_upstream, kind)


def test_every_vendor_channel_loads_without_a_base_url(tmp_path: Path) -> None:
    from omnirouter.config.loader import load_config
    from omnirouter.routing.channel import Channel

    lines = ["channels:"]
    for kind in KINDS:
        lines += [f"  - name: c-{kind.value}", f"    provider: {kind.value}", "    api_keys: [k]", "    models: [m]"]
        if not VENDORS[kind].base_url:
            lines.append("    base_url: https://res.openai.azure.com")
    path = tmp_path / "omnirouter.yaml"
    path.write_text("\n".join(lines) + "\n")
    config = load_config(path)
    for channel_config in config.channels:
        channel = Channel(channel_config)
        vendor = VENDORS[channel_config.provider]
        url = str(channel.url(channel.protocol_for("m"), "m", False))
        if vendor.base_url:
            assert url == vendor.base_url.rstrip("/") + "/chat/completions"
    azure = Channel(next(c for c in config.channels if c.provider is ProviderKind.AZURE))
    assert str(azure.url(azure.protocol_for("m"), "gpt-4o", False)) == (
        "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2025-04-01-preview"
    )
    azure_v1 = Channel(next(c for c in config.channels if c.provider is ProviderKind.AZURE_V1))
    assert str(azure_v1.url(azure_v1.protocol_for("m"), "gpt-4o", False)) == (
        "https://res.openai.azure.com/openai/v1/chat/completions"
    )


def test_azure_without_a_base_url_is_refused_at_load() -> None:
    from omnirouter.config.loader import ConfigError, parse_config

    text = "channels:\n  - {name: a, provider: azure, api_keys: [k], models: [m]}\n"
    with pytest.raises(ConfigError, match="base_url"):
        parse_config(text)
