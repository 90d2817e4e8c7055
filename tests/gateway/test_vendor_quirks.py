"""One test per vendor quirk (providers/vendors.py, docs/vendors.md), through the gateway against the mock's
dialects: thinking switches from each client protocol, reasoning in tags or details, usage hidden in
vendor fields and billed from them, renamed and respelled request fields, Azure's URLs."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from omnirouter.mock_upstream import MockUpstream, directive
from omnirouter.mock_upstream.plan import DEFAULT_REASONING
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.vendor_gateway import ledger_row, sent

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


# --- thinking switches -------------------------------------------------------------------------------


async def test_deepseek_thinks_by_default_so_a_silent_openai_client_gets_the_off_switch(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    response = await oai.chat.completions.create(
        model="deepseek-chat", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=50
    )
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "disabled"}
    assert body["max_tokens"] == 50 and "max_completion_tokens" not in body  # DeepSeek's name for it
    assert "reasoning_content" not in (response.choices[0].message.model_extra or {})


async def test_deepseek_effort_maps_onto_thinking_and_its_own_effort_levels(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await oai.chat.completions.create(
        model="deepseek-chat", messages=[{"role": "user", "content": "hi"}], reasoning_effort="medium"
    )
    body = sent(mock_upstream)
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "high"


async def test_a_vendor_switch_the_openai_client_wrote_itself_is_kept(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    response = await oai.chat.completions.create(
        model="deepseek-chat",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"thinking": {"type": "enabled"}},
    )
    assert sent(mock_upstream)["thinking"] == {"type": "enabled"}
    assert (response.choices[0].message.model_extra or {})["reasoning_content"] == DEFAULT_REASONING


async def test_anthropic_thinking_disabled_switches_deepseek_and_glm_off(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    for model in ("deepseek-chat", "zhipu-chat"):
        message = await claude.messages.create(
            model=model, max_tokens=100, thinking={"type": "disabled"}, messages=[{"role": "user", "content": "x"}]
        )
        assert sent(mock_upstream)["thinking"] == {"type": "disabled"}
        assert [block.type for block in message.content] == ["text"]


async def test_glm_gets_the_off_switch_when_claude_asks_for_no_thinking_and_auto_for_required_tools(
    claude: anthropic.AsyncAnthropic, oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await claude.messages.create(model="zhipu-chat", max_tokens=100, messages=[{"role": "user", "content": "x"}])
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"}
    await oai.chat.completions.create(
        model="zhipu-chat",
        messages=[{"role": "user", "content": "x"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        presence_penalty=0.5,
    )
    body = sent(mock_upstream)
    assert body["tool_choice"] == "auto" and "presence_penalty" not in body


async def test_qwen_gets_enable_thinking_and_the_claude_budget(
    claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    message = await claude.messages.create(
        model="dashscope-chat",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 3000},
        messages=[{"role": "user", "content": "x"}],
    )
    body = sent(mock_upstream)
    assert body["enable_thinking"] is True and body["thinking_budget"] == 3000
    assert message.content[0].type == "thinking"


async def test_gemini_thinking_config_reaches_qwen_and_comes_back_as_thought_parts(
    vendor_gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    url = f"{vendor_gateway.url}/v1beta/models/dashscope-chat:generateContent"
    headers = {"x-goog-api-key": CLIENT_KEY}

    async def ask(config: dict[str, Any]) -> dict[str, Any]:
        body = {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"thinkingConfig": config},
        }
        async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer

    answer = await ask({"thinkingBudget": 1234, "includeThoughts": True})
    assert sent(mock_upstream)["enable_thinking"] is True and sent(mock_upstream)["thinking_budget"] == 1234
    parts = answer["candidates"][0]["content"]["parts"]
    assert parts[0] == {"text": DEFAULT_REASONING, "thought": True} and parts[1]["text"] == "Echo: hi"
    await ask({"thinkingBudget": 0})
    assert sent(mock_upstream)["enable_thinking"] is False and "thinking_budget" not in sent(mock_upstream)


async def test_spark_gets_thinking_type_from_every_client(
    oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, mock_upstream: MockUpstream
) -> None:
    # xfyun.cn/doc/spark/X1http.html: X1.5 switches thinking with a `thinking` field.
    await oai.chat.completions.create(
        model="spark-chat", messages=[{"role": "user", "content": "x"}], reasoning_effort="high"
    )
    assert sent(mock_upstream)["thinking"] == {"type": "enabled"} and "reasoning_effort" not in sent(mock_upstream)
    message = await claude.messages.create(
        model="spark-chat", max_tokens=100, thinking={"type": "disabled"}, messages=[{"role": "user", "content": "x"}]
    )
    assert sent(mock_upstream)["thinking"] == {"type": "disabled"}
    assert [block.type for block in message.content] == ["text"]
    await oai.chat.completions.create(model="spark-chat", messages=[{"role": "user", "content": "x"}])
    assert "thinking" not in sent(mock_upstream)  # silent: the /v1 models know no switch, none is sent


async def test_vllm_and_openrouter_get_their_own_switches(oai: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    for effort, vllm, openrouter in (("high", True, {"effort": "high"}), ("none", False, {"enabled": False})):
        await oai.chat.completions.create(
            model="vllm-chat",
            messages=[{"role": "user", "content": "x"}],
            reasoning_effort=effort,  # type: ignore[arg-type]
        )
        body = sent(mock_upstream)
        assert body["chat_template_kwargs"] == {"enable_thinking": vllm} and "reasoning_effort" not in body
        await oai.chat.completions.create(
            model="openrouter-chat",
            messages=[{"role": "user", "content": "x"}],
            reasoning_effort=effort,  # type: ignore[arg-type]
        )
        body = sent(mock_upstream)
        assert body["reasoning"] == openrouter and "reasoning_effort" not in body


async def test_mistral_renames_seed_and_respells_required(oai: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    await oai.chat.completions.create(
        model="mistral-chat",
        messages=[{"role": "user", "content": "x"}],
        seed=7,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
    )
    body = sent(mock_upstream)
    assert body["random_seed"] == 7 and "seed" not in body and body["tool_choice"] == "any"


# --- reasoning in other places -----------------------------------------------------------------------


async def test_minimax_reasoning_split_details_become_reasoning_content(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    response = await oai.chat.completions.create(
        model="minimax-chat", messages=[{"role": "user", "content": "hey"}], extra_body={"reasoning_split": True}
    )
    assert sent(mock_upstream)["reasoning_split"] is True  # the mock answers in reasoning_details
    message = response.choices[0].message
    assert message.content == "Echo: hey"
    assert (message.model_extra or {})["reasoning_content"] == DEFAULT_REASONING


async def test_groq_raw_think_tags_are_split_out_of_the_stream(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="groq-chat",
        messages=[{"role": "user", "content": "tags please"}],
        reasoning_effort="high",
        stream=True,
        extra_body={"reasoning_format": "raw"},
    )
    reasoning, text = "", ""
    async for chunk in stream:
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            text += choice.delta.content or ""
    assert reasoning == DEFAULT_REASONING and text == "Echo: tags please"
    assert "<think>" not in text + reasoning


# --- usage ------------------------------------------------------------------------------------------


async def test_deepseek_cache_hits_are_cached_tokens_billed_at_cached_input(
    oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, vendor_gateway: RunningGateway
) -> None:
    usage = {"input": 1000, "cached": 800, "output": 40}
    raw = await oai.chat.completions.with_raw_response.create(
        model="deepseek-chat", messages=[{"role": "user", "content": "cached " + directive(usage=usage)}]
    )
    answer = raw.parse()
    assert answer.usage is not None and answer.usage.prompt_tokens == 1000
    assert answer.usage.prompt_tokens_details is not None and answer.usage.prompt_tokens_details.cached_tokens == 800
    row = await ledger_row(vendor_gateway, raw.headers["x-request-id"])
    assert (row.input_tokens, row.cached_tokens, row.output_tokens) == (1000, 800, 40)
    # input 1.0, cached_input 0.1, output 2.0 USD per 1M tokens: nano-USD per token ×1000
    assert row.cost_nano == 200 * 1000 + 800 * 100 + 40 * 2000
    message = await claude.messages.create(
        model="deepseek-chat", max_tokens=100, messages=[{"role": "user", "content": "c " + directive(usage=usage)}]
    )
    assert message.usage.cache_read_input_tokens == 800 and message.usage.input_tokens == 200


async def test_groq_x_groq_usage_becomes_the_include_usage_chunk(oai: openai.AsyncOpenAI) -> None:
    usage = {"input": 30, "output": 12}
    stream = await oai.chat.completions.create(
        model="groq-chat",
        messages=[{"role": "user", "content": "u " + directive(usage=usage)}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [chunk.usage async for chunk in stream if chunk.usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(30, 12)]


async def test_kimi_choice_usage_becomes_the_include_usage_chunk_and_the_bill(
    oai: openai.AsyncOpenAI, vendor_gateway: RunningGateway
) -> None:
    usage = {"input": 21, "output": 9, "cached": 5}
    raw = await oai.chat.completions.with_raw_response.create(
        model="moonshot-chat",
        messages=[{"role": "user", "content": "k " + directive(usage=usage)}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [chunk.usage async for chunk in raw.parse() if chunk.usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(21, 9)]
    row = await ledger_row(vendor_gateway, raw.headers["x-request-id"])
    assert (row.input_tokens, row.cached_tokens, row.output_tokens, row.usage_estimated) == (21, 5, 9, False)


def estimated_output(*texts: str) -> int:
    """billing/estimate.py's output estimate for the generated ``texts`` relayed (no JSON escapes in them)."""
    return (sum(len(text.encode()) for text in texts) + 3) // 4


async def assert_billed_as_shown(gateway: RunningGateway, request_id: str, shown: tuple[int, int]) -> None:
    """The ledger row holds the usage the client was shown, marked estimated, charged at 1 / 2 USD per 1M."""
    row = await ledger_row(gateway, request_id)
    assert row.usage_estimated is True
    assert (row.input_tokens, row.output_tokens) == shown
    assert row.cost_nano == row.input_tokens * 1000 + row.output_tokens * 2000


async def test_an_openai_stream_without_usage_shows_the_estimate_it_is_billed_on(
    oai: openai.AsyncOpenAI, vendor_gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    for model in ("spark-chat", "sensenova-chat"):
        raw = await oai.chat.completions.with_raw_response.create(
            model=model,
            messages=[{"role": "user", "content": "estimate me"}],
            stream=True,
            stream_options={"include_usage": True},
            reasoning_effort="high",  # Spark X1.5 thinks when thinking {type: enabled} says so
        )
        text, reasoning, usages = "", "", []
        async for chunk in raw.parse():
            usages += [chunk.usage] if chunk.usage is not None else []
            for choice in chunk.choices:
                text += choice.delta.content or ""
                reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
        assert text == "Echo: estimate me" and reasoning == DEFAULT_REASONING
        assert "stream_options" not in sent(mock_upstream)  # the vendor takes none and streams no usage
        assert len(usages) == 1 and usages[0].prompt_tokens > 0
        assert usages[0].completion_tokens == estimated_output(text, reasoning)
        assert usages[0].total_tokens == usages[0].prompt_tokens + usages[0].completion_tokens
        shown = (usages[0].prompt_tokens, usages[0].completion_tokens)
        await assert_billed_as_shown(vendor_gateway, raw.headers["x-request-id"], shown)


async def test_a_responses_stream_without_usage_completes_with_the_estimate(
    oai: openai.AsyncOpenAI, vendor_gateway: RunningGateway
) -> None:
    raw = await oai.responses.with_raw_response.create(model="sensenova-chat", input="estimate me", stream=True)
    text, completed = "", []
    async for event in raw.parse():
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.completed":
            completed.append(event.response)
    assert text == "Echo: estimate me" and len(completed) == 1
    usage = completed[0].usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    await assert_billed_as_shown(vendor_gateway, raw.headers["x-request-id"], (usage.input_tokens, usage.output_tokens))


async def test_an_openai_stream_without_include_usage_still_gets_no_usage_chunk(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="spark-chat", messages=[{"role": "user", "content": "no usage asked"}], stream=True
    )
    assert [chunk.usage async for chunk in stream if chunk.usage is not None] == []


async def test_an_anthropic_stream_without_usage_shows_the_estimate_in_message_delta(
    claude: anthropic.AsyncAnthropic, vendor_gateway: RunningGateway
) -> None:
    raw = await claude.messages.with_raw_response.create(
        model="sensenova-chat", max_tokens=500, stream=True, messages=[{"role": "user", "content": "estimate me"}]
    )
    text, thinking, deltas = "", "", []
    async for event in await raw.parse():
        if event.type == "message_delta":
            deltas.append(event.usage)
        elif event.type == "content_block_delta" and event.delta.type == "text_delta":
            text += event.delta.text
        elif event.type == "content_block_delta" and event.delta.type == "thinking_delta":
            thinking += event.delta.thinking
    assert text == "Echo: estimate me" and thinking == DEFAULT_REASONING
    assert len(deltas) == 1 and deltas[0].input_tokens is not None and deltas[0].input_tokens > 0
    assert deltas[0].output_tokens == estimated_output(text, thinking)
    await assert_billed_as_shown(
        vendor_gateway, raw.headers["x-request-id"], (deltas[0].input_tokens, deltas[0].output_tokens)
    )


async def test_a_gemini_stream_without_usage_shows_the_estimate_in_usage_metadata(
    vendor_gateway: RunningGateway,
) -> None:
    client = genai.Client(
        api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=vendor_gateway.url, api_version="v1beta")
    )
    try:
        chunks = [
            chunk
            async for chunk in await client.aio.models.generate_content_stream(
                model="spark-chat",
                contents="estimate me",
                config=gtypes.GenerateContentConfig(
                    thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
                ),
            )
        ]
    finally:
        await client.aio.aclose()
    parts = [part for chunk in chunks if chunk.candidates for part in chunk.candidates[0].content.parts or []]
    text = "".join(part.text or "" for part in parts if not part.thought)
    thoughts = "".join(part.text or "" for part in parts if part.thought)
    assert text == "Echo: estimate me" and thoughts == DEFAULT_REASONING
    metadata = chunks[-1].usage_metadata
    assert metadata is not None and metadata.prompt_token_count and metadata.prompt_token_count > 0
    output = (metadata.candidates_token_count or 0) + (metadata.thoughts_token_count or 0)
    assert output == estimated_output(text, thoughts)
    headers = chunks[-1].sdk_http_response.headers if chunks[-1].sdk_http_response else None
    assert headers is not None
    request_id = {name.lower(): value for name, value in headers.items()}["x-request-id"]
    await assert_billed_as_shown(vendor_gateway, request_id, (metadata.prompt_token_count, output))


# --- Azure ------------------------------------------------------------------------------------------


async def test_azure_calls_the_deployment_with_api_version_and_api_key(
    oai: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await oai.chat.completions.create(model="azure-chat", messages=[{"role": "user", "content": "x"}])
    seen = mock_upstream.requests[-1]
    assert seen.path == "/azure/openai/deployments/azure-thinking-model/chat/completions"
    assert seen.query == {"api-version": "2025-04-01-preview"}
    await oai.chat.completions.create(model="azure-v1-chat", messages=[{"role": "user", "content": "x"}])
    seen = mock_upstream.requests[-1]
    assert seen.path == "/azure-v1/openai/v1/chat/completions" and seen.body["model"] == "azure-v1-thinking-model"
