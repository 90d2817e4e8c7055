"""Never a 500: hypothesis-generated hostile bodies against a real gateway, on every inbound protocol and the admin API.

Bodies keep each protocol's shape (messages, tools, generation settings…) with hostile leaves:
huge / negative / fractional numbers, wrong types, deep nesting, odd unicode, nulls.  Every answer
must be below 500 and, when an error, in the client's own protocol's format.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import RunningGateway, running_gateway
from tests.helpers.hostile import ADMIN_HEADERS, HEADERS, MODELS, error_message, hostile_config, route

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _deep(levels: int) -> Any:
    value: Any = "x"
    for i in range(levels):
        value = {"type": "object", "properties": {"x": value}} if i % 2 else [value]
    return value


LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 1.5, -0.0, 5e-324]),
    st.text(max_size=8),
    st.sampled_from(["", "²", "١٢", "\u0000", "\ud7ff", "user", "model", "function", "tool", "object"]),
    st.just([]),
    st.just({}),
    st.integers(min_value=60, max_value=400).map(_deep),
)
"""One hostile value."""
ANY = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value (so that decoding goes deep), now and then a hostile one."""
    return st.integers(0, 7).flatmap(lambda i: LEAF if i == 0 else value)


def body_of(required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]) -> Any:
    """An object with the required keys and any of the optional ones, each value maybe hostile (not ``model``)."""
    return st.fixed_dictionaries(
        {k: v if k == "model" else maybe(v) for k, v in required.items()},
        optional={k: maybe(v) for k, v in optional.items()},
    )


SCHEMA = st.one_of(
    st.just({"type": "object", "properties": {"a": {"type": "string"}}}),
    st.integers(min_value=1, max_value=200).map(_deep),
    st.fixed_dictionaries(
        {"type": st.just("OBJECT"), "properties": st.just({"a": {"type": "ARRAY", "maxItems": "²"}})}
    ),
    ANY,
)
TEXT = st.text(max_size=10)
NUM = st.one_of(
    st.integers(-5, 5000),
    st.floats(-3, 3),
    st.sampled_from([1e308, -1e308, 1e19, 10**30, -(10**30), 2**63, 2**64 - 1, 0.5, 2.0]),
)


def openai_chat_body(model: str) -> Any:
    message = body_of(
        {"role": st.sampled_from(["user", "system", "assistant", "tool", "developer"]), "content": TEXT},
        {
            "tool_calls": st.lists(
                body_of(
                    {"id": TEXT, "type": st.just("function"), "function": body_of({"name": TEXT}, {"arguments": ANY})},
                    {},
                ),
                max_size=2,
            ),
            "tool_call_id": TEXT,
            "name": TEXT,
        },
    )
    tool = body_of({"type": st.just("function"), "function": body_of({"name": TEXT}, {"parameters": SCHEMA})}, {})
    return body_of(
        {"model": st.just(model), "messages": st.lists(message, min_size=1, max_size=3)},
        {
            "stream": st.booleans(),
            "max_tokens": NUM,
            "max_completion_tokens": NUM,
            "temperature": NUM,
            "top_p": NUM,
            "top_k": NUM,
            "n": NUM,
            "seed": NUM,
            "presence_penalty": NUM,
            "frequency_penalty": NUM,
            "stop": st.lists(TEXT, max_size=2),
            "tools": st.lists(tool, max_size=2),
            "tool_choice": st.sampled_from(["auto", "none", "required"]),
            "response_format": body_of(
                {"type": st.just("json_schema"), "json_schema": body_of({"name": TEXT}, {"schema": SCHEMA})}, {}
            ),
            "stream_options": body_of({}, {"include_usage": st.booleans()}),
            "reasoning_effort": st.sampled_from(["low", "high"]),
            "metadata": ANY,
        },
    )


def responses_body(model: str) -> Any:
    item = st.one_of(
        body_of({"type": st.just("message"), "role": st.sampled_from(["user", "assistant"]), "content": TEXT}, {}),
        body_of({"type": st.just("function_call"), "call_id": TEXT, "name": TEXT}, {"arguments": ANY}),
        body_of({"type": st.just("function_call_output"), "call_id": TEXT}, {"output": ANY}),
        body_of({"type": st.just("reasoning")}, {"summary": ANY, "encrypted_content": TEXT}),
    )
    return body_of(
        {"model": st.just(model), "input": st.one_of(TEXT, st.lists(item, min_size=1, max_size=3))},
        {
            "stream": st.booleans(),
            "max_output_tokens": NUM,
            "temperature": NUM,
            "top_p": NUM,
            "instructions": TEXT,
            "tools": st.lists(body_of({"type": st.just("function"), "name": TEXT}, {"parameters": SCHEMA}), max_size=2),
            "text": body_of(
                {"format": body_of({"type": st.just("json_schema"), "name": TEXT}, {"schema": SCHEMA})}, {}
            ),
            "reasoning": body_of({}, {"effort": st.sampled_from(["low", "high"]), "summary": TEXT}),
            "store": st.booleans(),
        },
    )


def anthropic_body(model: str) -> Any:
    block = st.one_of(
        body_of({"type": st.just("text"), "text": TEXT}, {}),
        body_of({"type": st.just("tool_use"), "id": TEXT, "name": TEXT, "input": ANY}, {}),
        body_of({"type": st.just("tool_result"), "tool_use_id": TEXT}, {"content": ANY, "is_error": st.booleans()}),
        body_of({"type": st.just("thinking"), "thinking": TEXT, "signature": TEXT}, {}),
        body_of({"type": st.just("image"), "source": ANY}, {}),
    )
    message = body_of(
        {"role": st.sampled_from(["user", "assistant"]), "content": st.one_of(TEXT, st.lists(block, max_size=3))}, {}
    )
    return body_of(
        {"model": st.just(model), "max_tokens": NUM, "messages": st.lists(message, min_size=1, max_size=3)},
        {
            "stream": st.booleans(),
            "system": st.one_of(TEXT, st.lists(body_of({"type": st.just("text"), "text": TEXT}, {}), max_size=2)),
            "temperature": NUM,
            "top_p": NUM,
            "top_k": NUM,
            "stop_sequences": st.lists(TEXT, max_size=2),
            "tools": st.lists(body_of({"name": TEXT, "input_schema": SCHEMA}, {"type": TEXT}), max_size=2),
            "tool_choice": body_of({"type": st.sampled_from(["auto", "any", "tool", "none"])}, {"name": TEXT}),
            "thinking": body_of({"type": st.sampled_from(["enabled", "adaptive", "disabled"])}, {"budget_tokens": NUM}),
            "output_config": body_of(
                {}, {"effort": TEXT, "format": body_of({"type": st.just("json_schema"), "schema": SCHEMA}, {})}
            ),
            "metadata": body_of({}, {"user_id": TEXT}),
        },
    )


def gemini_body(model: str) -> Any:
    part = st.one_of(
        body_of({"text": TEXT}, {"thought": st.booleans(), "thoughtSignature": TEXT}),
        body_of({"functionCall": body_of({"name": TEXT}, {"args": ANY, "id": TEXT})}, {}),
        body_of({"functionResponse": body_of({"name": TEXT, "response": ANY}, {"id": TEXT})}, {}),
        body_of({"inlineData": body_of({"mimeType": TEXT, "data": TEXT}, {})}, {}),
        body_of({"fileData": body_of({"fileUri": TEXT}, {"mimeType": TEXT})}, {}),
    )
    content = body_of({"parts": st.lists(part, min_size=1, max_size=3)}, {"role": st.sampled_from(["user", "model"])})
    config = body_of(
        {},
        {
            "maxOutputTokens": NUM,
            "temperature": NUM,
            "topP": NUM,
            "topK": NUM,
            "seed": NUM,
            "candidateCount": NUM,
            "presencePenalty": NUM,
            "frequencyPenalty": NUM,
            "stopSequences": st.lists(TEXT, max_size=2),
            "responseMimeType": st.sampled_from(["application/json", "text/plain"]),
            "responseSchema": SCHEMA,
            "responseJsonSchema": SCHEMA,
            "thinkingConfig": body_of(
                {}, {"thinkingBudget": NUM, "includeThoughts": st.booleans(), "thinkingLevel": TEXT}
            ),
        },
    )
    declaration = body_of({"name": TEXT}, {"parameters": SCHEMA, "parametersJsonSchema": SCHEMA, "description": TEXT})
    return body_of(
        {"contents": st.lists(content, min_size=1, max_size=3)},
        {
            "generationConfig": config,
            "systemInstruction": body_of({"parts": st.lists(part, max_size=2)}, {}),
            "tools": st.lists(body_of({}, {"functionDeclarations": st.lists(declaration, max_size=2)}), max_size=2),
            "toolConfig": body_of(
                {"functionCallingConfig": body_of({}, {"mode": TEXT, "allowedFunctionNames": ANY})}, {}
            ),
        },
    )


BODIES = {
    "openai_chat": openai_chat_body,
    "openai_responses": responses_body,
    "anthropic": anthropic_body,
    "gemini": gemini_body,
}


@pytest.fixture(scope="module")
async def gw(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    async with running_gateway(hostile_config(mock_upstream.url, tmp_path_factory.mktemp("f") / "gw.db")) as gateway:
        yield gateway


@pytest.fixture(scope="module")
async def session(gw: RunningGateway) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def send(
    session: aiohttp.ClientSession, method: str, url: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    async with session.request(method, url, data=data, headers=headers) as response:
        raw = await response.read()
        if response.status >= 400:
            return response.status, json.loads(raw)
        return response.status, None


@pytest.mark.parametrize("protocol", list(BODIES))
@FUZZ
@given(data=st.data())
async def test_chat_routes_never_500(
    gw: RunningGateway, session: aiohttp.ClientSession, protocol: str, data: st.DataObject
) -> None:
    model = data.draw(st.sampled_from(MODELS), label="model")
    body = data.draw(BODIES[protocol](model), label="body")
    stream = data.draw(st.booleans(), label="stream") if protocol == "gemini" else body.get("stream") is True
    status, payload = await send(session, "POST", gw.url + route(protocol, model, stream), body, HEADERS[protocol])
    assert status < 500, payload
    if status >= 400:
        error_message(protocol, payload)


@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_count_tokens_routes_never_500(
    gw: RunningGateway, session: aiohttp.ClientSession, protocol: str, data: st.DataObject
) -> None:
    model = data.draw(st.sampled_from(MODELS), label="model")
    body = data.draw(BODIES[protocol](model), label="body")
    path = "/v1/messages/count_tokens" if protocol == "anthropic" else f"/v1beta/models/{model}:countTokens"
    status, payload = await send(session, "POST", gw.url + path, body, HEADERS[protocol])
    assert status < 500, payload
    if status >= 400:
        error_message(protocol, payload)


IDS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str), st.sampled_from(["²", "١٢", "0", "x", "1e5"])
)
KEY_FIELDS = {
    "name": TEXT,
    "user_id": NUM,
    "rpm": NUM,
    "tpm": NUM,
    "max_concurrent": NUM,
    "quota_usd": NUM,
    "models": st.lists(TEXT, max_size=2),
    "ip_allow": st.lists(TEXT, max_size=2),
    "group": TEXT,
    "expires_at": TEXT,
    "metadata": ANY,
    "status": st.sampled_from(["active", "disabled"]),
}
ADMIN_CALLS = st.one_of(
    st.tuples(st.just("POST"), st.just("/admin/users"), body_of({"name": TEXT}, {"email": TEXT, "metadata": ANY})),
    st.tuples(
        st.just("POST"),
        st.just("/admin/keys"),
        body_of({"name": TEXT}, {k: v for k, v in KEY_FIELDS.items() if k != "name"}),
    ),
    st.tuples(
        st.sampled_from(["GET", "DELETE", "PATCH"]), IDS.map(lambda i: f"/admin/keys/{i}"), body_of({}, KEY_FIELDS)
    ),
    st.tuples(
        st.sampled_from(["GET", "DELETE", "PATCH"]),
        IDS.map(lambda i: f"/admin/users/{i}"),
        body_of({}, {"name": TEXT, "metadata": ANY}),
    ),
    st.tuples(st.just("POST"), IDS.map(lambda i: f"/admin/keys/{i}/rotate"), st.none()),
    st.tuples(st.just("GET"), IDS.map(lambda i: f"/admin/ledger?before={i}"), st.none()),
    st.tuples(st.just("GET"), IDS.map(lambda i: f"/admin/ledger?limit={i}&user_id={i}"), st.none()),
    st.tuples(st.just("GET"), IDS.map(lambda i: f"/admin/usage?user_id={i}&key_id={i}"), st.none()),
    st.tuples(st.just("GET"), IDS.map(lambda i: f"/admin/keys?user_id={i}"), st.none()),
    st.tuples(
        st.just("POST"),
        st.just("/admin/prices"),
        body_of({"model": TEXT}, {"input": NUM, "output": NUM, "cached_input": NUM, "per_image": NUM}),
    ),
    st.tuples(st.just("POST"), st.just("/admin/groups"), body_of({"name": TEXT}, {"multiplier": NUM})),
)


@FUZZ
@given(call=ADMIN_CALLS)
async def test_admin_api_never_500(
    gw: RunningGateway, session: aiohttp.ClientSession, call: tuple[str, str, Any]
) -> None:
    method, path, body = call
    status, payload = await send(
        session, method, gw.url + path, body if method in ("POST", "PATCH") else None, ADMIN_HEADERS
    )
    assert status < 500, (method, path, payload)
    if status >= 400:
        error_message("admin", payload)
