"""Hostile input (issue 10, items 3-6): a 4xx in the client's own format naming the problem; nothing sent upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.limits import MAX_JSON_DEPTH
from tests.helpers.gateway_harness import RunningGateway, running_gateway
from tests.helpers.hostile import (
    ADMIN_HEADERS,
    HEADERS,
    MODELS,
    error_message,
    hostile_config,
    minimal_body,
    nested_schema,
    post,
    route,
)

PROTOCOLS = ("openai_chat", "openai_responses", "anthropic", "gemini")
TOO_DEEP = 150  # x2 JSON levels: far past MAX_JSON_DEPTH, and past orjson's own limit (254)


@pytest.fixture(scope="module")
async def gw(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    async with running_gateway(hostile_config(mock_upstream.url, tmp_path_factory.mktemp("h") / "gw.db")) as gateway:
        yield gateway


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def refused(
    gw: RunningGateway, mock: MockUpstream, session: aiohttp.ClientSession, protocol: str, path: str, body: Any
) -> str:
    """Post ``body``: it must be a 400 in ``protocol``'s format with nothing sent upstream; its message."""
    before = len(mock.requests)
    status, payload = await post(session, gw.url + path, body, HEADERS[protocol])
    assert status == 400, payload
    assert len(mock.requests) == before, "the request reached an upstream"
    return error_message(protocol, payload)


def with_tool(protocol: str, body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``body`` with one tool whose parameter schema is ``schema``."""
    if protocol == "openai_chat":
        tool: dict[str, Any] = {"type": "function", "function": {"name": "f", "parameters": schema}}
    elif protocol == "openai_responses":
        tool = {"type": "function", "name": "f", "parameters": schema}
    elif protocol == "anthropic":
        tool = {"name": "f", "input_schema": schema}
    else:
        tool = {"functionDeclarations": [{"name": "f", "parameters": schema}]}
    return {**body, "tools": [tool]}


def with_output_schema(protocol: str, body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``body`` asking for structured output following ``schema``."""
    if protocol == "openai_chat":
        return {**body, "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": schema}}}
    if protocol == "openai_responses":
        return {**body, "text": {"format": {"type": "json_schema", "name": "o", "schema": schema}}}
    if protocol == "anthropic":
        return {**body, "output_config": {"format": {"type": "json_schema", "schema": schema}}}
    return {**body, "generationConfig": {"responseMimeType": "application/json", "responseSchema": schema}}


# ------------------------------------------------------------------ item 3: a non-string role


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("role", [[], {}, ["user"], 5, None, True])
async def test_non_string_role_is_400(
    gw: RunningGateway, mock_upstream: MockUpstream, session: aiohttp.ClientSession, model: str, role: Any
) -> None:
    body = {"model": model, "messages": [{"role": role, "content": "hi"}]}
    message = await refused(gw, mock_upstream, session, "openai_chat", "/v1/chat/completions", body)
    assert "role" in message


@pytest.mark.parametrize("protocol", ["openai_responses", "anthropic", "gemini"])
async def test_non_string_role_is_400_on_the_other_protocols(
    gw: RunningGateway, mock_upstream: MockUpstream, session: aiohttp.ClientSession, protocol: str
) -> None:
    body = minimal_body(protocol, MODELS[1], False)
    if protocol == "openai_responses":
        body["input"] = [{"type": "message", "role": ["user"], "content": "hi"}]
    elif protocol == "anthropic":
        body["messages"] = [{"role": ["user"], "content": "hi"}]
    else:
        body["contents"] = [{"role": ["user"], "parts": [{"text": "hi"}]}]
    message = await refused(gw, mock_upstream, session, protocol, route(protocol, MODELS[1], False), body)
    assert "role" in message


# ------------------------------------------------------------------ item 4: deep nesting


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_deep_tool_schema_is_400_on_every_path(
    gw: RunningGateway, mock_upstream: MockUpstream, session: aiohttp.ClientSession, protocol: str, model: str
) -> None:
    body = with_tool(protocol, minimal_body(protocol, model, False), nested_schema(TOO_DEEP))
    message = await refused(gw, mock_upstream, session, protocol, route(protocol, model, False), body)
    assert "nested too deeply" in message and str(MAX_JSON_DEPTH) in message and "tools" in message


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_deep_output_schema_is_400_on_every_path(
    gw: RunningGateway, mock_upstream: MockUpstream, session: aiohttp.ClientSession, protocol: str, model: str
) -> None:
    body = with_output_schema(protocol, minimal_body(protocol, model, True), nested_schema(TOO_DEEP))
    message = await refused(gw, mock_upstream, session, protocol, route(protocol, model, True), body)
    assert "nested too deeply" in message


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_schema_within_the_limit_is_served(
    gw: RunningGateway, session: aiohttp.ClientSession, protocol: str, model: str
) -> None:
    # tools → tool → (function →) schema: the schema itself may nest a few levels less than the limit.
    body = with_tool(protocol, minimal_body(protocol, model, False), nested_schema((MAX_JSON_DEPTH - 6) // 2))
    status, payload = await post(session, gw.url + route(protocol, model, False), body, HEADERS[protocol])
    assert status == 200, payload


def deep_list(levels: int = 300) -> Any:
    deep: Any = "x"
    for _ in range(levels):
        deep = [deep]
    return deep


@pytest.mark.parametrize("where", ["input", "content"])
@pytest.mark.parametrize("model", MODELS)
async def test_deep_tool_calls_and_results_are_400_on_every_path(
    gw: RunningGateway, mock_upstream: MockUpstream, session: aiohttp.ClientSession, model: str, where: str
) -> None:
    call: dict[str, Any] = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
    if where == "input":
        call["input"] = {"a": deep_list()}
    else:
        result["content"] = [{"type": "text", "text": "ok", "extra": deep_list()}]
    body = minimal_body("anthropic", model, False)
    body["messages"] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result]},
    ]
    message = await refused(gw, mock_upstream, session, "anthropic", "/v1/messages", body)
    assert "nest" in message


@pytest.mark.parametrize("part", ["functionCall", "functionResponse"])
@pytest.mark.parametrize("model", MODELS)
async def test_deep_gemini_function_parts_are_400_on_every_path(
    gw: RunningGateway, mock_upstream: MockUpstream, session: aiohttp.ClientSession, model: str, part: str
) -> None:
    key = "args" if part == "functionCall" else "response"
    body = minimal_body("gemini", model, False)
    body["contents"] = [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{part: {"name": "f", key: {"a": deep_list(170)}}}]},
    ]
    message = await refused(gw, mock_upstream, session, "gemini", route("gemini", model, False), body)
    assert "nest" in message


# ------------------------------------------------------------------ item 5: numbers


NUMBERS: list[tuple[str, str, bool, dict[str, Any], str]] = [
    ("openai_responses", MODELS[0], True, {"max_output_tokens": 1e308}, "max_output_tokens"),
    ("openai_responses", MODELS[1], True, {"max_output_tokens": 1e308}, "max_output_tokens"),
    ("openai_responses", MODELS[2], False, {"max_output_tokens": 10**30}, "max_output_tokens"),
    ("openai_responses", MODELS[1], False, {"temperature": -1}, "temperature"),
    ("openai_chat", MODELS[2], False, {"max_tokens": 1e300}, "max_tokens"),
    ("openai_chat", MODELS[1], True, {"max_completion_tokens": -(10**25)}, "max_completion_tokens"),
    ("openai_chat", MODELS[2], False, {"seed": 1e30}, "seed"),
    ("openai_chat", MODELS[2], False, {"n": 1e20}, "n"),
    ("openai_chat", MODELS[1], False, {"top_k": 1e300}, "top_k"),
    ("openai_chat", MODELS[0], False, {"top_p": "0.5"}, "top_p"),
    ("openai_chat", MODELS[0], False, {"presence_penalty": 1e308}, "presence_penalty"),
    ("anthropic", MODELS[0], False, {"max_tokens": 1e308}, "max_tokens"),
    ("anthropic", MODELS[1], False, {"max_tokens": 1.5}, "max_tokens"),
    ("anthropic", MODELS[2], True, {"top_k": -1e308}, "top_k"),
    ("anthropic", MODELS[2], False, {"thinking": {"type": "enabled", "budget_tokens": 1e308}}, "budget_tokens"),
    ("gemini", MODELS[0], False, {"generationConfig": {"maxOutputTokens": -1e308}}, "maxOutputTokens"),
    ("gemini", MODELS[2], True, {"generationConfig": {"maxOutputTokens": 10**30}}, "maxOutputTokens"),
    ("gemini", MODELS[1], False, {"generationConfig": {"topK": 1e308}}, "topK"),
    ("gemini", MODELS[1], False, {"generationConfig": {"seed": -1e300}}, "seed"),
    ("gemini", MODELS[0], False, {"generationConfig": {"candidateCount": 1e19}}, "candidateCount"),
    ("gemini", MODELS[1], True, {"generation_config": {"max_output_tokens": 1e308}}, "maxOutputTokens"),
    (
        "gemini",
        MODELS[0],
        False,
        {"generationConfig": {"thinkingConfig": {"thinkingBudget": 1e308}}},
        "thinkingBudget",
    ),
]


@pytest.mark.parametrize(("protocol", "model", "stream", "fields", "name"), NUMBERS)
async def test_out_of_range_numbers_are_400(
    gw: RunningGateway,
    mock_upstream: MockUpstream,
    session: aiohttp.ClientSession,
    protocol: str,
    model: str,
    stream: bool,
    fields: dict[str, Any],
    name: str,
) -> None:
    body = {**minimal_body(protocol, model, stream), **fields}
    message = await refused(gw, mock_upstream, session, protocol, route(protocol, model, stream), body)
    assert name in message


@pytest.mark.parametrize("value", ["²", "9" * 40])
async def test_gemini_schema_bounds_that_are_no_int64_are_kept_as_text(
    gw: RunningGateway, session: aiohttp.ClientSession, value: str
) -> None:
    schema = {"type": "OBJECT", "properties": {"x": {"type": "ARRAY", "maxItems": value, "items": {"type": "STRING"}}}}
    body = with_tool("gemini", minimal_body("gemini", MODELS[1], False), schema)
    status, payload = await post(session, gw.url + route("gemini", MODELS[1], False), body, HEADERS["gemini"])
    assert status == 200, payload


# ------------------------------------------------------------------ count_tokens / countTokens


async def test_count_tokens_routes_refuse_hostile_input(gw: RunningGateway, session: aiohttp.ClientSession) -> None:
    anthropic = with_tool("anthropic", minimal_body("anthropic", MODELS[1], False), nested_schema(TOO_DEEP))
    status, payload = await post(session, gw.url + "/v1/messages/count_tokens", anthropic, HEADERS["anthropic"])
    assert status == 400 and "nested too deeply" in error_message("anthropic", payload)
    gemini = with_tool("gemini", minimal_body("gemini", MODELS[2], False), nested_schema(TOO_DEEP))
    path = f"/v1beta/models/{MODELS[2]}:countTokens"
    status, payload = await post(session, gw.url + path, gemini, HEADERS["gemini"])
    assert status == 400 and "nested too deeply" in error_message("gemini", payload)
    wrapped = {
        "generateContentRequest": {**minimal_body("gemini", MODELS[2], False), "generationConfig": {"topK": 1e308}}
    }
    status, payload = await post(session, gw.url + path, wrapped, HEADERS["gemini"])
    assert status == 400 and "topK" in error_message("gemini", payload)


# ------------------------------------------------------------------ item 6: the admin API


@pytest.mark.parametrize("path", ["/admin/users", "/admin/keys"])
async def test_admin_metadata_beyond_64_bits_is_400(
    gw: RunningGateway, session: aiohttp.ClientSession, path: str
) -> None:
    for big in (b"100000000000000000000000000000", b"-99999999999999999999"):
        raw = b'{"name": "big-' + big[-3:] + b'", "metadata": {"n": ' + big + b"}}"
        status, payload = await post(session, gw.url + path, raw, ADMIN_HEADERS)
        assert status == 400, payload
        assert "64 bits" in error_message("admin", payload)


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
@pytest.mark.parametrize("resource", ["keys", "users"])
@pytest.mark.parametrize("ident", ["99999999999999999999", "9223372036854775808", "²", "١٢"])
async def test_admin_ids_beyond_64_bits_are_404(
    gw: RunningGateway, session: aiohttp.ClientSession, method: str, resource: str, ident: str
) -> None:
    body = {"name": "x"} if method == "PATCH" else None
    status, payload = await post(session, f"{gw.url}/admin/{resource}/{ident}", body, ADMIN_HEADERS, method)
    assert status == 404, payload
    error_message("admin", payload)


@pytest.mark.parametrize("before", ["99999999999999999999", "²", "9" * 5000])
async def test_admin_ledger_cursor_beyond_64_bits_is_400(
    gw: RunningGateway, session: aiohttp.ClientSession, before: str
) -> None:
    status, payload = await post(session, f"{gw.url}/admin/ledger?before={before}", None, ADMIN_HEADERS, "GET")
    assert status == 400, payload
    assert "before" in error_message("admin", payload)
