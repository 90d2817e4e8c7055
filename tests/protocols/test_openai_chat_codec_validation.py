"""OpenAI Chat codec: validation of client request bodies (bad input never escapes as anything
but ``GatewayError(INVALID_REQUEST)``)."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from tests.helpers.openai_chat import rich_request


def _user(content: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": 5, "messages": []}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": {"role": "user"}}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        (_user(5), "messages[0].content"),
        (_user([{"text": "no type"}]), "messages[0].content[0]"),
        (_user([{"type": "text", "text": 1}]), "messages[0].content[0].text"),
        (
            _user([{"type": "image_url", "image_url": {"detail": "low"}}]),
            "messages[0].content[0].image_url.url",
        ),
        (_user([{"type": "image_url", "image_url": 3}]), "messages[0].content[0].image_url"),
        (
            _user([{"type": "input_audio", "input_audio": {"data": "x"}}]),
            "messages[0].content[0].input_audio.format",
        ),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": {}}]}]},
            "messages[0].tool_calls[0].function.name",
        ),
        ({"model": "m", "messages": [{"role": "assistant", "tool_calls": {}}]}, "messages[0].tool_calls"),
        ({**_user("x"), "temperature": "hot"}, "temperature"),
        ({**_user("x"), "max_tokens": 1.5}, "max_tokens"),
        ({**_user("x"), "n": True}, "n"),
        ({**_user("x"), "stream": "yes"}, "stream"),
        ({**_user("x"), "stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
        ({**_user("x"), "stop": [1]}, "stop"),
        ({**_user("x"), "tools": {"a": 1}}, "tools"),
        ({**_user("x"), "tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0]"),
        ({**_user("x"), "tools": [{"type": "function", "function": {"name": ""}}]}, "tools[0].function.name"),
        (
            {**_user("x"), "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
            "tools[0].function.parameters",
        ),
        ({**_user("x"), "tool_choice": "sometimes"}, "tool_choice"),
        ({**_user("x"), "tool_choice": {"type": "function"}}, "tool_choice"),
        ({**_user("x"), "response_format": {"type": "yaml"}}, "response_format"),
        ({**_user("x"), "response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({**_user("x"), "reasoning_effort": 3}, "reasoning_effort"),
        ({**_user("x"), "metadata": "x"}, "metadata"),
    ],
)
def test_decode_request_rejects_bad_input(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as info:
        OPENAI_CHAT.decode_request(body)
    assert info.value.kind is ErrorKind.INVALID_REQUEST
    assert info.value.status == 400
    assert info.value.param == param
    assert param.split("[")[0].split(".")[0] in info.value.message


def test_decode_request_rejects_non_dict_body() -> None:
    with pytest.raises(GatewayError) as info:
        OPENAI_CHAT.decode_request([1, 2])  # type: ignore[arg-type]
    assert info.value.kind is ErrorKind.INVALID_REQUEST


_ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2.5,
    "",
    "x",
    "auto",
    [],
    [None],
    {},
    {"type": "text"},
    [{"type": 1}],
    {"a": {}},
]


def _mutate(value: Any, rng: random.Random, rate: float) -> Any:
    """Replace, drop or keep pieces of a JSON value at random (each with probability ``rate``)."""
    if rng.random() < rate:
        return rng.choice(_ODD_VALUES)
    if isinstance(value, dict):
        out = {key: _mutate(item, rng, rate) for key, item in value.items() if rng.random() >= rate}
        if rng.random() < rate:
            out[rng.choice(["type", "role", "content", "x", "index", "function"])] = rng.choice(_ODD_VALUES)
        return out
    if isinstance(value, list):
        return [_mutate(item, rng, rate) for item in value if rng.random() >= rate]
    return value


def test_decode_request_never_raises_anything_but_gateway_error() -> None:
    seed_body = orjson.loads(orjson.dumps(OPENAI_CHAT.encode_request(rich_request())))
    rng = random.Random(1234)
    outcomes = {"ok": 0, "rejected": 0}
    for _ in range(3000):
        body = _mutate(seed_body, rng, rng.choice([0.003, 0.01, 0.03, 0.1]))
        try:
            ir = OPENAI_CHAT.decode_request(body)
        except GatewayError as error:
            assert error.kind is ErrorKind.INVALID_REQUEST
            assert error.message
            outcomes["rejected"] += 1
        else:
            OPENAI_CHAT.encode_request(ir)  # whatever decodes must encode
            outcomes["ok"] += 1
    assert outcomes["ok"] > 100 and outcomes["rejected"] > 100
