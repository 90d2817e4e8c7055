"""Gemini codec: request decoding and encoding, round trips, and what the mock upstream accepts."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from omnirouter.ir import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImageOutput,
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
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.carry import wrap_b64
from omnirouter.protocols.gemini import GEMINI
from omnirouter.protocols.openai_chat import OPENAI_CHAT

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
SIG = base64.b64encode(b"\x01\x02signature").decode()
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city"],
    "additionalProperties": False,
}


def rich_request() -> ChatRequest:
    """A multi-turn request in the form the Gemini decoder produces."""
    return ChatRequest(
        model="",
        messages=[
            Message(role="system", content=[TextPart(text="be brief"), TextPart(text="use tools")]),
            Message(
                role="user",
                content=[
                    TextPart(text="look"),
                    ImagePart(url="https://example.com/cat.png", media_type="image/png"),
                    ImagePart(data=PNG, media_type="image/png"),
                    AudioPart(data="UklGRg==", format="wav"),
                    FilePart(data="JVBERi0=", media_type="application/pdf"),
                    FilePart(url="https://example.com/doc.pdf", media_type="application/pdf"),
                ],
            ),
            Message(
                role="assistant",
                content=[
                    ReasoningPart(text="thinking", signature="c2ln", origin="gemini"),
                    TextPart(text="checking"),
                    ToolCallPart(
                        id="call_1",
                        name="get_weather",
                        arguments='{"city":"Rome"}',
                        signature=SIG,
                        signature_origin="gemini",
                    ),
                    ToolCallPart(id="call_2", name="get_time", arguments='{"tz":"CET"}'),
                ],
            ),
            Message(
                role="tool",
                content=[
                    ToolResultPart(call_id="call_1", content=[TextPart(text="sunny")], name="get_weather"),
                    ToolResultPart(call_id="call_2", content=[TextPart(text="boom")], name="get_time", is_error=True),
                ],
            ),
            Message(
                role="assistant",
                content=[
                    ReasoningPart(signature="c2lnMg==", origin="gemini"),
                    TextPart(text="done"),
                    UnknownPart(protocol="gemini", data={"executableCode": {"language": "PYTHON", "code": "print(1)"}}),
                ],
            ),
            Message(role="user", content=[TextPart(text="thanks")]),
        ],
        max_tokens=100,
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        stop=["END"],
        seed=7,
        n=1,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        tools=[
            ToolDef(name="get_weather", description="Weather", parameters=WEATHER_SCHEMA),
            ToolDef(name="get_time", parameters={"type": "object"}),
        ],
        tool_choice=ToolChoice(mode="tool", name="get_weather"),
        reasoning=ReasoningConfig(budget_tokens=1024, include_thoughts=True),
        response_format=ResponseFormat(type="json_schema", schema={"type": "object"}),
        modalities=["text", "image"],
        image_output=ImageOutput(aspect_ratio="16:9", image_size="2K"),
        include_usage=True,
        source_protocol="gemini",
        extra={
            "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
            "cachedContent": "cachedContents/abc",
            "tools": [{"googleSearch": {}}],
            "generationConfig": {"responseLogprobs": True},
        },
    )


def test_round_trip_rich_request() -> None:
    ir = rich_request()
    body = GEMINI.encode_request(ir)
    assert "model" not in body and "stream" not in body
    assert GEMINI.decode_request(body) == ir


def test_encoded_shape() -> None:
    body = GEMINI.encode_request(rich_request())
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}, {"text": "use tools"}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user", "model", "user"]
    model = body["contents"][1]["parts"]
    assert model[0] == {"text": "thinking", "thought": True, "thoughtSignature": "c2ln"}
    assert model[2] == {
        "functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Rome"}},
        "thoughtSignature": SIG,
    }
    results = body["contents"][2]["parts"]
    assert results[0]["functionResponse"] == {"id": "call_1", "name": "get_weather", "response": {"result": "sunny"}}
    assert results[1]["functionResponse"]["response"] == {"error": "boom"}
    assert body["contents"][3]["parts"][0] == {"text": "done", "thoughtSignature": "c2lnMg=="}
    assert body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == WEATHER_SCHEMA
    assert body["tools"][1] == {"googleSearch": {}}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    config = body["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 1024}
    assert config["responseMimeType"] == "application/json" and config["responseJsonSchema"] == {"type": "object"}
    assert config["responseModalities"] == ["TEXT", "IMAGE"]
    assert config["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert config["responseLogprobs"] is True


def test_decodes_snake_case_and_openapi_schema() -> None:
    body = {
        "model": "models/ignored",
        "system_instruction": {"parts": [{"text": "sys"}]},
        "contents": [{"parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/jpeg", "data": "/9j/"}}]}],
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "f",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {
                                "n": {"type": "INTEGER", "nullable": True},
                                "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "max_items": "3"},
                            },
                            "propertyOrdering": ["n", "tags"],
                        },
                    }
                ]
            },
            {"code_execution": {}},
        ],
        "tool_config": {"function_calling_config": {"mode": "none"}},
        "generation_config": {
            "max_output_tokens": 50,
            "top_k": 40.0,
            "candidate_count": 2,
            "response_mime_type": "application/json",
            "response_schema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
            "thinking_config": {"thinking_level": "HIGH", "include_thoughts": False},
        },
        "safety_settings": [],
    }
    ir = GEMINI.decode_request(body)
    assert ir.model == "" and not ir.stream and ir.source_protocol == "gemini"
    assert ir.messages == [
        Message(role="system", content=[TextPart(text="sys")]),
        Message(role="user", content=[TextPart(text="hi"), ImagePart(data="/9j/", media_type="image/jpeg")]),
    ]
    assert ir.tools == [
        ToolDef(
            name="f",
            parameters={
                "type": "object",
                "properties": {
                    "n": {"type": ["integer", "null"]},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                },
            },
        )
    ]
    assert ir.tool_choice == ToolChoice(mode="none")
    assert (ir.max_tokens, ir.top_k, ir.n) == (50, 40, 2)
    assert ir.response_format == ResponseFormat(
        type="json_schema", schema={"type": "object", "properties": {"a": {"type": "string"}}}
    )
    assert ir.reasoning == ReasoningConfig(effort="high", include_thoughts=False)
    assert ir.extra == {"tools": [{"codeExecution": {}}], "safetySettings": []}


@pytest.mark.parametrize(
    ("config", "choice", "raw_kept"),
    [
        ({"mode": "AUTO"}, ToolChoice(mode="auto"), False),
        ({"mode": "ANY"}, ToolChoice(mode="required"), False),
        ({"mode": "ANY", "allowedFunctionNames": ["f"]}, ToolChoice(mode="tool", name="f"), False),
        ({"mode": "ANY", "allowedFunctionNames": ["f", "g"]}, ToolChoice(mode="required"), True),
        ({"mode": "VALIDATED"}, ToolChoice(mode="auto"), True),
        ({"mode": "NONE"}, ToolChoice(mode="none"), False),
    ],
)
def test_tool_config(config: dict[str, Any], choice: ToolChoice, raw_kept: bool) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}],
        "toolConfig": {"functionCallingConfig": config},
    }
    ir = GEMINI.decode_request(body)
    assert ir.tool_choice == choice
    assert ("toolConfig" in ir.extra) is raw_kept
    encoded = GEMINI.encode_request(ir)["toolConfig"]
    assert encoded == body["toolConfig"] or (
        not raw_kept and encoded["functionCallingConfig"]["mode"] == config["mode"]
    )


@pytest.mark.parametrize(
    ("thinking", "reasoning", "model", "encoded"),
    [
        (
            {"thinkingBudget": 0},
            ReasoningConfig(effort="none", budget_tokens=0),
            "gemini-2.5-flash",
            {"thinkingBudget": 0},
        ),
        ({"thinkingBudget": 4096}, ReasoningConfig(budget_tokens=4096), "gemini-2.5-pro", {"thinkingBudget": 4096}),
        ({"thinkingLevel": "low"}, ReasoningConfig(effort="low"), "gemini-3-pro-preview", {"thinkingLevel": "LOW"}),
        ({"includeThoughts": True}, ReasoningConfig(include_thoughts=True), "x", {"includeThoughts": True}),
    ],
)
def test_thinking_config(
    thinking: dict[str, Any], reasoning: ReasoningConfig, model: str, encoded: dict[str, Any]
) -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": thinking}}
    ir = GEMINI.decode_request(body)
    assert ir.reasoning == reasoning
    ir.model = model
    assert GEMINI.encode_request(ir)["generationConfig"]["thinkingConfig"] == encoded


def test_dynamic_thinking_budget_is_kept_for_gemini_only() -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}}
    ir = GEMINI.decode_request(body)
    assert ir.reasoning is None
    assert GEMINI.encode_request(ir)["generationConfig"] == {"thinkingConfig": {"thinkingBudget": -1}}


@pytest.mark.parametrize(
    ("reasoning", "model", "expected"),
    [
        (ReasoningConfig(effort="medium"), "gemini-2.5-flash", {"thinkingBudget": 8192}),
        (ReasoningConfig(effort="medium"), "gemini-3-flash", {"thinkingLevel": "HIGH"}),
        (ReasoningConfig(effort="minimal"), "gemini-3-pro", {"thinkingLevel": "LOW"}),
        (ReasoningConfig(effort="none"), "gemini-2.5-flash", {"thinkingBudget": 0}),
        (
            ReasoningConfig(budget_tokens=31999, summary="auto"),
            "gemini-2.5-pro",
            {"includeThoughts": True, "thinkingBudget": 31999},
        ),
    ],
)
def test_foreign_reasoning_config(reasoning: ReasoningConfig, model: str, expected: dict[str, Any]) -> None:
    ir = ChatRequest(model=model, messages=[Message(role="user", content=[TextPart(text="x")])], reasoning=reasoning)
    assert GEMINI.encode_request(ir)["generationConfig"]["thinkingConfig"] == expected


def test_calls_and_responses_without_ids_are_paired() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "weather in Rome and Oslo?"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}, "thoughtSignature": SIG},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                    {"functionCall": {"name": "get_time"}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_time", "response": {"output": "noon"}}},
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 20}}},
                    {"functionResponse": {"name": "get_weather", "response": {"result": ""}}},
                ],
            },
        ]
    }
    ir = GEMINI.decode_request(body)
    calls = [p for p in ir.messages[1].content if isinstance(p, ToolCallPart)]
    results = [p for p in ir.messages[2].content if isinstance(p, ToolResultPart)]
    assert ir.messages[2].role == "tool"
    assert len({c.id for c in calls}) == 3 and all(c.id.startswith("call_") and len(c.id) == 29 for c in calls)
    assert [r.call_id for r in results] == [calls[2].id, calls[0].id, calls[1].id]
    assert [r.content for r in results] == [[TextPart(text="noon")], [TextPart(text='{"temp":20}')], []]
    assert calls[0].signature == SIG and calls[0].signature_origin == "gemini" and calls[2].arguments == "{}"
    assert GEMINI.decode_request(body) == ir  # ids are stable from turn to turn
    encoded = GEMINI.encode_request(ir)["contents"][2]["parts"]
    assert [p["functionResponse"]["response"] for p in encoded] == [{"result": "noon"}, {"temp": 20}, {"result": ""}]


def test_streamed_history_is_merged_into_one_turn() -> None:
    """The SDK's chat keeps each streamed chunk as a content; thought pieces join into one block."""
    wrapped = wrap_b64("anthropic", "EqSig")
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "Let me ", "thought": True}]},
            {"role": "model", "parts": [{"text": "think.", "thought": True}]},
            {"role": "model", "parts": [{"text": "", "thought": True, "thoughtSignature": wrapped}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "model", "parts": [{"text": "", "thoughtSignature": SIG}]},
            {"role": "user", "parts": [{"text": "more"}]},
        ]
    }
    ir = GEMINI.decode_request(body)
    assert ir.messages[1] == Message(
        role="assistant",
        content=[
            ReasoningPart(text="Let me think.", signature="EqSig", origin="anthropic"),
            TextPart(text="Hello"),
            ReasoningPart(signature=SIG, origin="gemini"),
        ],
    )
    upstream = GEMINI.encode_request(ir)["contents"][1]["parts"]
    assert upstream == [{"text": "Hello"}, {"text": "", "thoughtSignature": SIG}]


def openai_conversation(signature: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"'},
    }
    if signature is not None:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return {
        "model": "m",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            },
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "22C and sunny"},
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Thanks!"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}],
        "tool_choice": "required",
        "max_completion_tokens": 64,
        "reasoning_effort": "low",
    }


def test_openai_conversation_to_gemini() -> None:
    ir = OPENAI_CHAT.decode_request(openai_conversation(signature="foreign-sig"))
    ir.model = "gemini-2.5-flash"
    body = GEMINI.encode_request(ir)
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}, {"text": "Answer in French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]},
        {"role": "model", "parts": [{"functionCall": {"id": "call_abc", "name": "get_weather", "args": {}}}]},
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "call_abc",
                        "name": "get_weather",
                        "response": {"result": "22C and sunny"},
                    }
                },
                {"text": "Thanks!"},
            ],
        },
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["generationConfig"] == {"maxOutputTokens": 64, "thinkingConfig": {"thinkingBudget": 2048}}
    assert "safetySettings" not in body


def test_foreign_signatures_and_reasoning_are_dropped_for_gemini_upstreams() -> None:
    ir = ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            Message(role="user", content=[TextPart(text="q")]),
            Message(
                role="assistant",
                content=[
                    ReasoningPart(text="claude thinking", signature="EqSig", origin="anthropic"),
                    ReasoningPart(redacted="xx", origin="anthropic"),
                    ToolCallPart(id="t1", name="f", arguments="{}", signature="x", signature_origin="openai_responses"),
                ],
            ),
            Message(role="assistant", content=[ReasoningPart(text="only foreign", origin="openai_chat")]),
            Message(role="tool", content=[ToolResultPart(call_id="t1", content=[TextPart(text='{"ok": true}')])]),
        ],
    )
    contents = GEMINI.encode_request(ir)["contents"]
    assert contents[1] == {"role": "model", "parts": [{"functionCall": {"id": "t1", "name": "f", "args": {}}}]}
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"id": "t1", "name": "f", "response": {"ok": True}}}],
    }


def test_system_only_conversation_becomes_a_user_turn() -> None:
    ir = ChatRequest(model="m", messages=[Message(role="system", content=[TextPart(text="Say hi")])])
    body = GEMINI.encode_request(ir)
    assert body == {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]}


def test_media_encoding() -> None:
    ir = ChatRequest(
        model="m",
        messages=[
            Message(
                role="user",
                content=[
                    ImagePart(url="https://example.com/a.jpg?x=1"),
                    ImagePart(url="https://example.com/noext"),
                    ImagePart(url=f"data:image/png;base64,{PNG}"),
                    ImagePart(data=PNG),
                    FilePart(file_id="file-abc"),
                    FilePart(url="gs://bucket/doc"),
                    AudioPart(data="SUQz", format="mp3"),
                ],
            )
        ],
    )
    parts = GEMINI.encode_request(ir)["contents"][0]["parts"]
    assert parts == [
        {"fileData": {"fileUri": "https://example.com/a.jpg?x=1", "mimeType": "image/jpeg"}},
        {"fileData": {"fileUri": "https://example.com/noext", "mimeType": "image/jpeg"}},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"fileUri": "gs://bucket/doc"}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}},
    ]
    assert GEMINI.decode_request({"contents": [{"parts": parts}]}).messages[0].content[-1] == AudioPart(
        data="SUQz", format="mp3"
    )


async def post_mock(mock: MockUpstream, model: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{mock.url}/v1beta/models/{model}:generateContent", json=body, headers={"x-goog-api-key": "AIza-ok"}
        ) as response,
    ):
        return response.status, await response.json()


async def test_mock_upstream_accepts_translated_conversation(mock_upstream: MockUpstream) -> None:
    ir = OPENAI_CHAT.decode_request(openai_conversation())
    ir.model = "gemini-2.5-flash"
    status, answer = await post_mock(mock_upstream, ir.model, GEMINI.encode_request(ir))
    assert status == 200, answer
    decoded = GEMINI.decode_response(answer)
    assert decoded.choices[0].content[-1] == TextPart(text="Echo: 22C and sunny\nThanks!")


async def test_mock_gemini_3_needs_the_replayed_signature(mock_upstream: MockUpstream) -> None:
    native = GEMINI.decode_response(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {
                                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                "thoughtSignature": SIG,
                            }
                        ],
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    )
    native.model = "gemini-3-pro-preview"
    # An OpenAI client gets the call (signature wrapped by the OpenAI codec) and replays it.
    message = OPENAI_CHAT.encode_response(native)["choices"][0]["message"]
    replay = openai_conversation()
    replay["messages"][2] = message
    call_id = message["tool_calls"][0]["id"]
    replay["messages"][3]["tool_call_id"] = call_id
    replay["messages"] = replay["messages"][:4]
    ir = OPENAI_CHAT.decode_request(replay)
    ir.model = "gemini-3-pro-preview"
    body = GEMINI.encode_request(ir)
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == SIG
    status, answer = await post_mock(mock_upstream, ir.model, body)
    assert status == 200, answer
    del body["contents"][1]["parts"][0]["thoughtSignature"]
    status, answer = await post_mock(mock_upstream, ir.model, body)
    assert status == 400 and "thought_signature" in answer["error"]["message"]
