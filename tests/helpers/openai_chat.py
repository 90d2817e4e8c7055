"""OpenAI Chat in the tests: a request using every field the codec maps."""

from __future__ import annotations

from typing import Any

from omnirouter.ir import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    ReasoningConfig,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolDef,
    ToolResultPart,
    UnknownPart,
)

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def rich_request(**overrides: Any) -> ChatRequest:
    """A multi-turn request using every field the OpenAI Chat codec maps."""
    messages = [
        Message(role="system", content=[TextPart(text="You are terse.")]),
        Message(role="developer", content=[TextPart(text="Rule one."), TextPart(text="Rule two.")]),
        Message(
            role="user",
            name="alice",
            content=[
                TextPart(text="What is in these images, and the weather?"),
                ImagePart(url="https://example.com/cat.png", detail="high"),
                ImagePart(data=PNG_B64, media_type="image/png"),
                AudioPart(data="UklGRg==", format="wav"),
                FilePart(data="JVBERi0xLjQ=", media_type="application/pdf", filename="a.pdf"),
                FilePart(file_id="file-123"),
                UnknownPart(protocol="openai_chat", data={"type": "video_url", "video_url": {"url": "v.mp4"}}),
            ],
        ),
        Message(
            role="assistant",
            content=[
                ReasoningPart(origin="openai_chat", text="The user wants two cities."),
                TextPart(text="Checking."),
                ToolCallPart(id="call_1", name="get_weather", arguments='{"city":"Paris"}'),
                ToolCallPart(
                    id="2",
                    name="get_weather",
                    arguments='{"city": "Oslo"',
                    signature="c2ln",
                    signature_origin="openai_chat",
                ),
            ],
        ),
        Message(
            role="tool",
            content=[ToolResultPart(call_id="call_1", name="get_weather", content=[TextPart(text="18C")])],
        ),
        Message(
            role="tool",
            content=[
                ToolResultPart(
                    call_id="2",
                    name="get_weather",
                    content=[TextPart(text="bad args"), TextPart(text="retry")],
                )
            ],
        ),
        Message(
            role="assistant",
            content=[
                ReasoningPart(origin="openai_chat", text="thinking", signature="sig-a"),
                ReasoningPart(origin="openai_chat", redacted="ENCRYPTED"),
                TextPart(text="Paris 18C."),
            ],
        ),
        Message(role="user", content=[TextPart(text="Thanks. JSON please.")]),
    ]
    fields: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": messages,
        "stream": True,
        "max_tokens": 512,
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["END", "STOP"],
        "seed": 7,
        "n": 1,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "tools": [
            ToolDef(name="get_weather", description="Weather for a city", parameters=WEATHER_SCHEMA, strict=True),
            ToolDef(name="noop"),
        ],
        "tool_choice": ToolChoice(mode="tool", name="get_weather"),
        "parallel_tool_calls": False,
        "reasoning": ReasoningConfig(effort="high"),
        "response_format": ResponseFormat(
            type="json_schema", name="answer", schema=WEATHER_SCHEMA, strict=True, description="d"
        ),
        "include_usage": True,
        "user": "user-1",
        "metadata": {"trace": "abc"},
        "source_protocol": "openai_chat",
        "extra": {"logprobs": True, "top_logprobs": 2, "stream_options": {"include_obfuscation": False}},
    }
    fields.update(overrides)
    return ChatRequest(**fields)
