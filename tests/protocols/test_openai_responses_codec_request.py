"""OpenAI Responses codec: requests, both directions, Codex's request, and validation of client input."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from omnirouter.ir import (
    AudioPart,
    ChatRequest,
    ErrorKind,
    GatewayError,
    Message,
    ReasoningConfig,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    UnknownPart,
)
from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.openai_responses import (
    OPENAI_RESPONSES,
    OPENAI_RESPONSES_PASSTHROUGH,
    OpenAIResponsesCodec,
)
from tests.helpers.openai_responses import NAMESPACE, PNG_B64, SCHEMA, WEB_SEARCH, R, codex_body, rich_request
from tests.helpers.openapi_schema import validate_openai_any_of


def roundtrip(ir: ChatRequest) -> ChatRequest:
    return OPENAI_RESPONSES.decode_request(orjson.loads(orjson.dumps(OPENAI_RESPONSES.encode_request(ir))))


def test_codec_identity() -> None:
    assert isinstance(OPENAI_RESPONSES, OpenAIResponsesCodec)
    assert OPENAI_RESPONSES.name is ProtocolName.OPENAI_RESPONSES
    assert OPENAI_RESPONSES.passthrough is OPENAI_RESPONSES_PASSTHROUGH


def test_round_trip_rich_request() -> None:
    ir = rich_request()
    assert roundtrip(ir) == ir


@pytest.mark.parametrize(
    "overrides",
    [
        {
            "stream": False,
            "include_usage": False,
            "extra": {},
            "tools": None,
            "tool_choice": None,
            "parallel_tool_calls": None,
            "reasoning": None,
        },
        {"tool_choice": ToolChoice(mode="required"), "response_format": ResponseFormat()},
        {"tool_choice": ToolChoice(mode="none"), "response_format": ResponseFormat(type="json_object")},
        {"reasoning": ReasoningConfig(effort="none"), "extra": {"tools": [WEB_SEARCH, NAMESPACE]}},
        {"parallel_tool_calls": None, "metadata": None, "user": None, "temperature": None, "max_tokens": None},
    ],
)
def test_round_trip_variants(overrides: dict[str, Any]) -> None:
    ir = rich_request(**overrides)
    assert roundtrip(ir) == ir


def test_encoded_request_shape() -> None:
    body = OPENAI_RESPONSES.encode_request(rich_request())
    assert body["instructions"] == "You are terse."
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    assert body["reasoning"] == {"context": "all_turns", "effort": "high", "summary": "auto"}
    assert body["text"] == {
        "verbosity": "low",
        "format": {"type": "json_schema", "name": "answer", "description": "d", "schema": SCHEMA, "strict": True},
    }
    assert [t["type"] for t in body["tools"]] == ["function", "function", "web_search", "namespace"]
    assert body["tools"][1] == {"type": "function", "name": "noop", "parameters": None, "strict": None}
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    items = body["input"]
    assert items[0] == {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "Rule one."}, {"type": "input_text", "text": "Rule two."}],
    }
    images = [p for p in items[1]["content"] if p["type"] == "input_image"]
    assert images[1] == {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}", "detail": "auto"}
    reasoning = items[2]
    assert reasoning == {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "The user wants two cities."}],
        "encrypted_content": "gAAAA-enc",
    }
    assert items[3] == {"type": "message", "role": "assistant", "content": "Checking."}
    namespaced = items[6]
    assert namespaced["namespace"] == "mcp__docs__" and namespaced["name"] == "search"
    outputs = [i for i in items if i.get("type") == "function_call_output"]
    assert outputs[0] == {"type": "function_call_output", "call_id": "call_1", "output": "18C"}
    assert outputs[1]["output"] == [{"type": "input_text", "text": "bad args"}, {"type": "input_text", "text": "retry"}]
    assert outputs[3]["output"] == ""


def test_encoded_requests_fit_the_spec() -> None:
    for ir in (rich_request(), rich_request(source_protocol="openai_chat", extra={})):
        body = orjson.loads(orjson.dumps(OPENAI_RESPONSES.encode_request(ir)))
        # Reasoning is replayed without its id (stateless, as Codex does), which the spec marks required.
        reasoning = [i for i in body["input"] if i["type"] == "reasoning"]
        assert all(set(i) == {"type", "summary", "encrypted_content"} for i in reasoning)
        body["input"] = [i for i in body["input"] if i["type"] != "reasoning"]
        validate_openai_any_of(body, "CreateResponse")


def test_reasoning_rules_for_upstream() -> None:
    foreign = ReasoningPart(text="hmm", signature="anthropic-sig", origin="anthropic")
    by_id = ReasoningPart(text="stored", origin=R, id="rs_real")
    unusable = ReasoningPart(text="nothing to replay", origin=R)
    messages = [
        Message(role="user", content=[TextPart(text="q")]),
        Message(
            role="assistant",
            content=[
                foreign,
                by_id,
                unusable,
                ToolCallPart(id="c", name="f", signature="gem", signature_origin="gemini"),
            ],
        ),
    ]
    ir = ChatRequest(
        model="m", messages=messages, source_protocol="anthropic", reasoning=ReasoningConfig(budget_tokens=3000)
    )
    body = OPENAI_RESPONSES.encode_request(ir)
    assert body["reasoning"] == {"effort": "low"}
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    assert [i["type"] for i in body["input"]] == ["message", "function_call"], (
        "foreign / unreplayable reasoning dropped"
    )
    assert "signature" not in orjson.dumps(body).decode()
    stored = OPENAI_RESPONSES.encode_request(ChatRequest(model="m", messages=messages))
    assert "store" not in stored and "include" not in stored
    assert [i.get("id") for i in stored["input"] if i["type"] == "reasoning"] == ["rs_real"]


def test_cross_protocol_request_drops_responses_only_fields() -> None:
    ir = rich_request(source_protocol="openai_chat")
    body = OPENAI_RESPONSES.encode_request(ir)
    assert "metadata" not in body and "truncation" not in body and "prompt_cache_key" not in body
    assert [t["name"] for t in body["tools"]] == ["get_weather", "noop", "mcp__docs__search", "mcp__docs__fetch"]
    calls = [i for i in body["input"] if i["type"] == "function_call"]
    assert "namespace" not in calls[2] and calls[2]["name"] == "mcp__docs__search"


def test_codex_request_decodes_without_loss() -> None:
    ir = OPENAI_RESPONSES.decode_request(codex_body())
    assert [m.role for m in ir.messages] == [
        "system",
        "developer",
        "developer",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert ir.messages[4].content == [
        ReasoningPart(text="**Listing**\n\nUse ls.", signature="gAAAAABenc", origin=R, id="rs_abc"),
        ToolCallPart(id="call_1", name="shell", arguments='{"command":["ls"]}'),
    ]
    assert ir.messages[5].content == [
        ToolResultPart(call_id="call_1", name="shell", content=[TextPart(text="a.txt\nb.txt")])
    ]
    assert ir.max_tokens is None and ir.stream and ir.parallel_tool_calls is False
    assert ir.reasoning == ReasoningConfig(effort="medium", summary="auto", include_thoughts=True)
    assert ir.tools is not None
    assert [t.name for t in ir.tools][-2:] == ["mcp__docs__search", "mcp__docs__fetch"] and len(ir.tools) == 9
    assert ir.extra["store"] is False and ir.extra["include"] == ["reasoning.encrypted_content"]
    assert ir.extra["tools"] == [NAMESPACE, WEB_SEARCH]
    # Back to a Responses upstream: the same conversation, hosted and namespace tools intact.
    body = OPENAI_RESPONSES.encode_request(ir)
    assert body["tools"][-2:] == [NAMESPACE, WEB_SEARCH] and len(body["tools"]) == 9
    assert body["input"][3] == {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "**Listing**\n\nUse ls."}],
        "encrypted_content": "gAAAAABenc",
    }
    # To a Chat upstream: the namespace's functions flattened, the hosted tool dropped.
    chat = OPENAI_CHAT.encode_request(ir)
    assert [t["function"]["name"] for t in chat["tools"]][-2:] == ["mcp__docs__search", "mcp__docs__fetch"]
    assert chat["messages"][0] == {"role": "system", "content": "You are Codex."}


def test_easy_messages_and_string_input() -> None:
    ir = OPENAI_RESPONSES.decode_request(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}},
                {"role": "system", "content": ""},
                {
                    "role": "user",
                    "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}],
                },
            ],
        }
    )
    assert ir.messages == [
        Message(role="user", content=[TextPart(text="hi")]),
        Message(
            role="assistant",
            content=[TextPart(text="hello"), TextPart(text="no"), ToolCallPart(id="c", name="f", arguments='{"a":1}')],
        ),
        Message(role="system", content=[]),
        Message(role="user", content=[AudioPart(data="UklGRg==", format="wav")]),
    ]
    reference = OPENAI_RESPONSES.decode_request({"model": "m", "input": [{"id": "msg_1"}]})
    assert reference.messages == [Message(role="user", content=[UnknownPart(protocol=R, data={"id": "msg_1"})])]
    plain = OPENAI_RESPONSES.decode_request({"model": "m", "input": "hello", "stream": False})
    assert plain.messages == [Message(role="user", content=[TextPart(text="hello")])] and not plain.include_usage
    assert OPENAI_RESPONSES.decode_request({"model": "m", "previous_response_id": "resp_1"}).messages == []


def test_unknown_tool_choice_and_reasoning_budget() -> None:
    body = {"model": "m", "input": "x", "tool_choice": {"type": "web_search"}, "tools": [WEB_SEARCH]}
    ir = OPENAI_RESPONSES.decode_request(body)
    assert ir.tool_choice is None and ir.extra["tool_choice"] == {"type": "web_search"}
    assert OPENAI_RESPONSES.encode_request(ir)["tool_choice"] == {"type": "web_search"}


BAD_INPUTS: list[tuple[Any, str | None]] = [
    ([], None),
    ({"input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": 3}, "input"),
    ({"model": "m", "input": ["x"]}, "input[0]"),
    ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0]"),
    ({"model": "m", "input": [{"role": "user"}]}, "input[0].content"),
    ({"model": "m", "input": [{"role": "user", "content": 5}]}, "input[0].content"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].text"),
    ({"model": "m", "input": [{"role": "user", "content": [{"text": "x"}]}]}, "input[0].content[0]"),
    ({"model": "m", "input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
    ({"model": "m", "input": [{"type": "function_call", "call_id": "c"}]}, "input[0].name"),
    ({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": 1}]}, "input[0].output"),
    ({"model": "m", "input": [{"type": 7}]}, "input[0].type"),
    ({"model": "m", "input": "x", "instructions": 1}, "instructions"),
    ({"model": "m", "input": "x", "tools": {}}, "tools"),
    ({"model": "m", "input": "x", "tools": [{"name": "f"}]}, "tools[0]"),
    ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    (
        {"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": "x"}]},
        "tools[0].parameters",
    ),
    ({"model": "m", "input": "x", "tools": [{"type": "namespace", "name": "n"}]}, "tools[0]"),
    ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"model": "m", "input": "x", "text": "json"}, "text"),
    ({"model": "m", "input": "x", "reasoning": {"effort": 3}}, "reasoning.effort"),
    ({"model": "m", "input": "x", "max_output_tokens": "many"}, "max_output_tokens"),
    ({"model": "m", "input": "x", "temperature": True}, "temperature"),
    ({"model": "m", "input": "x", "stream": "yes"}, "stream"),
    ({"model": "m", "input": "x", "metadata": []}, "metadata"),
]


@pytest.mark.parametrize(("body", "param"), BAD_INPUTS)
def test_bad_input_is_invalid_request(body: Any, param: str | None) -> None:
    with pytest.raises(GatewayError) as info:
        OPENAI_RESPONSES.decode_request(copy.deepcopy(body))
    assert info.value.kind is ErrorKind.INVALID_REQUEST and info.value.status == 400
    assert info.value.param == param
    assert info.value.message


@pytest.mark.parametrize(("body", "param"), BAD_INPUTS[2:5])
def test_passthrough_check_rejects_bad_input(body: Any, param: str | None) -> None:
    with pytest.raises(GatewayError) as info:
        OPENAI_RESPONSES_PASSTHROUGH.check(body)
    assert info.value.kind is ErrorKind.INVALID_REQUEST and info.value.param == param


JUNK: list[Any] = [None, 0, -1, 2.5, True, "", "x", [], [None], {}, {"type": None}, {"type": "message"}]


def _mutations(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            paths.extend(_mutations(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths.extend(_mutations(value, (*path, index)))
    return paths


def test_fuzzed_requests_raise_only_invalid_request() -> None:
    """Any field of Codex's request replaced by junk: decoded, or rejected as INVALID_REQUEST."""
    import random

    rng = random.Random(7)
    base = codex_body()
    base["input"][0]["content"][0]["text"] = "short"
    base["input"][1]["content"][0]["text"] = "short"
    paths = _mutations(base)[1:]
    for _ in range(600):
        body = copy.deepcopy(base)
        *parents, last = rng.choice(paths)
        target = body
        for key in parents:
            target = target[key]
        target[last] = copy.deepcopy(rng.choice(JUNK))
        try:
            ir = OPENAI_RESPONSES.decode_request(body)
        except GatewayError as error:
            assert error.kind is ErrorKind.INVALID_REQUEST, (parents, last)
            continue
        OPENAI_RESPONSES.encode_request(ir)
        OPENAI_CHAT.encode_request(ir)
