"""The protocol matrix: every inbound protocol's official SDK × every upstream protocol × plain/streamed.

Each cell drives a running gateway over real HTTP; the upstream is the mock,
which speaks each provider's real wire format and logs what it received.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import msgspec
import openai
import pytest
from aiohttp import web
from google.genai import errors as genai_errors

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream, directive
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, running_gateway
from tests.matrix.drivers import DRIVERS, Driver, Image, Options, Reply, UserTurn

INBOUND = ["openai_chat", "openai_responses", "anthropic", "gemini"]
UPSTREAMS = {
    "openai_chat": ("openai", "/v1", "o4-mini", {}),
    "openai_responses": ("openai", "/v1", "gpt-5-mini", {"responses_models": ["m-openai_responses"]}),
    "anthropic": ("anthropic", "", "claude-sonnet-4-5", {}),
    "gemini": ("gemini", "", "gemini-3-pro-preview", {}),
}
UPSTREAM_PATHS = {
    "openai_chat": "/v1/chat/completions",
    "openai_responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gemini-3-pro-preview:",
}
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CLOCK = {
    "name": "get_time",
    "description": "Time in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

cells = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
pairs = pytest.mark.parametrize(
    ("driver", "upstream"), [(i, u) for i in INBOUND for u in UPSTREAMS], ids=lambda v: str(v), indirect=["driver"]
)


def model_for(upstream: str) -> str:
    return f"m-{upstream}"


@pytest.fixture(scope="module")
async def image_server() -> AsyncIterator[str]:
    app = web.Application()

    async def cat(_: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    app.router.add_get("/cat.png", cat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture(scope="module")
async def matrix_gateway(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    channels = [
        {
            "name": f"up-{name}",
            "provider": provider,
            "base_url": f"{mock_upstream.url}{suffix}",
            "api_keys": [f"sk-up-{name}"],
            "models": [model_for(name)],
            "model_map": {model_for(name): upstream_model},
            **extra,
        }
        for name, (provider, suffix, upstream_model, extra) in UPSTREAMS.items()
    ]
    config = msgspec.convert(
        {
            "database_url": f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'gw.db'}",
            "channels": channels,
            "keys": [{"name": "tester", "key": CLIENT_KEY}],
            "image_fetch": {"allow_private": True},
            # These tests fault the upstream on purpose, many times: keep the breaker out of the way.
            "breaker": {"failures": 1_000_000},
        },
        GatewayConfig,
    )
    async with running_gateway(config) as gateway:
        yield gateway


@pytest.fixture
async def driver(request: pytest.FixtureRequest, matrix_gateway: RunningGateway) -> AsyncIterator[Driver]:
    client = DRIVERS[request.param](matrix_gateway.url, CLIENT_KEY)
    yield client
    await client.close()


def last_upstream_body(mock: MockUpstream, upstream: str) -> dict[str, Any]:
    path = UPSTREAM_PATHS[upstream]
    for logged in reversed(mock.requests):
        if logged.path.startswith(path):
            body: dict[str, Any] = logged.body
            return body
    raise AssertionError(f"the upstream {upstream} got no request")


async def send(driver: Driver, convo: Any, upstream: str, turn: UserTurn, stream: bool, **opts: Any) -> Reply:
    async with asyncio.timeout(20):
        return await driver.send(convo, model_for(upstream), turn, Options(**opts), stream)


@pairs
@cells
async def test_text_multi_turn_and_system(
    driver: Driver, upstream: str, stream: bool, mock_upstream: MockUpstream
) -> None:
    convo = driver.start("You are terse. SYSTEM-MARK")
    first = await send(driver, convo, upstream, UserTurn("first question"), stream)
    assert first.text == "Echo: first question"
    assert first.stop == "end"
    second = await send(driver, convo, upstream, UserTurn("second question"), stream)
    assert second.text == "Echo: second question"
    body = last_upstream_body(mock_upstream, upstream)
    assert "SYSTEM-MARK" in json.dumps(body) and "first question" in json.dumps(body)
    assert assistant_text(upstream, body) == "Echo: first question"


def assistant_text(upstream: str, body: dict[str, Any]) -> str:
    """The text of the earlier assistant turns the upstream received."""
    texts: list[str] = []
    if upstream == "gemini":
        for content in body["contents"]:
            if content.get("role") == "model":
                texts += [p.get("text", "") for p in content["parts"] if not p.get("thought")]
        return "".join(texts)
    if upstream == "openai_responses":
        turns = [i for i in body["input"] if i.get("role") == "assistant"]
    else:
        turns = [m for m in body["messages"] if m["role"] == "assistant"]
    for turn in turns:
        content = turn.get("content")
        if isinstance(content, str):
            texts.append(content)
        else:
            texts += [c.get("text", "") for c in content or [] if c.get("type") in ("text", "output_text")]
    return "".join(texts)


@pairs
@cells
async def test_parallel_tool_calls_and_results(
    driver: Driver, upstream: str, stream: bool, mock_upstream: MockUpstream
) -> None:
    convo = driver.start(None)
    calls = [
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        {"name": "get_time", "arguments": {"city": "Tokyo"}},
    ]
    reply = await send(
        driver, convo, upstream, UserTurn("plan " + directive(tool_calls=calls)), stream, tools=[WEATHER, CLOCK]
    )
    assert reply.stop == "tool_calls"
    assert reply.text == ""
    assert [(c.name, c.args) for c in reply.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Tokyo"}),
    ]
    if not (driver.name == upstream == "gemini"):  # Gemini itself may answer calls without ids
        assert len({c.id for c in reply.tool_calls}) == 2 and all(c.id for c in reply.tool_calls)
    results = [(reply.tool_calls[0], "sunny-in-paris"), (reply.tool_calls[1], "nine-in-tokyo")]
    answer = await send(driver, convo, upstream, UserTurn(tool_results=results), stream, tools=[WEATHER, CLOCK])
    assert "sunny-in-paris" in answer.text and answer.stop == "end"
    sent = json.dumps(last_upstream_body(mock_upstream, upstream))
    assert "sunny-in-paris" in sent and "nine-in-tokyo" in sent


def neutral_tool_choice(upstream: str, body: dict[str, Any]) -> tuple[str, str | None, bool | None]:
    """(mode, tool name, parallel) as the upstream request expressed them."""
    if upstream in ("openai_chat", "openai_responses"):
        choice = body.get("tool_choice", "auto")
        parallel = body.get("parallel_tool_calls")
        if isinstance(choice, dict):
            name = choice.get("name") or choice.get("function", {}).get("name")
            return "tool", name, parallel
        return choice, None, parallel
    if upstream == "anthropic":
        choice = body.get("tool_choice", {"type": "auto"})
        mode = {"any": "required", "tool": "tool"}.get(choice["type"], choice["type"])
        disabled = choice.get("disable_parallel_tool_use")
        return mode, choice.get("name"), None if disabled is None else not disabled
    config = body.get("toolConfig", {}).get("functionCallingConfig", {"mode": "AUTO"})
    names = config.get("allowedFunctionNames")
    mode = {"AUTO": "auto", "ANY": "required", "NONE": "none"}[config["mode"]]
    if names:
        return "tool", names[0], None
    return mode, None, None


@pairs
@pytest.mark.parametrize("choice", ["auto", "required", "none", "get_time"])
async def test_tool_choice_reaches_upstream(
    driver: Driver, upstream: str, choice: str, mock_upstream: MockUpstream
) -> None:
    parallel = False if choice == "required" else None
    await send(
        driver,
        driver.start(None),
        upstream,
        UserTurn("hi"),
        False,
        tools=[WEATHER, CLOCK],
        tool_choice=choice,
        parallel=parallel,
    )
    mode, name, sent_parallel = neutral_tool_choice(upstream, last_upstream_body(mock_upstream, upstream))
    expected_mode = "tool" if choice == "get_time" else choice
    assert (mode, name) == (expected_mode, "get_time" if choice == "get_time" else None)
    if parallel is False and upstream != "gemini" and driver.name != "gemini":
        assert sent_parallel is False


@pairs
@pytest.mark.parametrize("source", ["base64", "url"])
async def test_images_in(
    driver: Driver, upstream: str, source: str, mock_upstream: MockUpstream, image_server: str
) -> None:
    image = Image(data=PNG) if source == "base64" else Image(url=f"{image_server}/cat.png")
    reply = await send(driver, driver.start(None), upstream, UserTurn("what is this", image=image), False)
    assert reply.text == "Echo: what is this"
    sent = json.dumps(last_upstream_body(mock_upstream, upstream))
    encoded = base64.b64encode(PNG).decode()
    if source == "base64" or (upstream == "gemini" and driver.name != "gemini"):
        assert encoded in sent  # inline data, fetched by the gateway where the upstream needs it
    else:
        assert f"{image_server}/cat.png" in sent


def reasoning_control(upstream: str, body: dict[str, Any]) -> Any:
    if upstream == "openai_chat":
        return body.get("reasoning_effort")
    if upstream == "openai_responses":
        return (body.get("reasoning") or {}).get("effort")
    if upstream == "anthropic":
        return (body.get("thinking") or {}).get("budget_tokens")
    config = body.get("generationConfig", {}).get("thinkingConfig") or {}
    return config.get("thinkingBudget") or config.get("thinking_budget") or config.get("thinkingLevel")


def signature_replayed(upstream: str, body: dict[str, Any]) -> bool:
    if upstream == "anthropic":
        return any(
            block.get("type") == "thinking" and block.get("signature")
            for message in body["messages"]
            if message["role"] == "assistant" and isinstance(message["content"], list)
            for block in message["content"]
        )
    if upstream == "gemini":
        return any(
            part.get("thoughtSignature")
            for content in body["contents"]
            if content.get("role") == "model"
            for part in content["parts"]
        )
    if upstream == "openai_responses":  # by id (stored upstream) or, stateless, by its encrypted content
        return any(
            item.get("type") == "reasoning" and (item.get("encrypted_content") or item.get("id"))
            for item in body["input"]
        )
    return True  # Chat Completions upstreams send reasoning text without signatures


@pairs
@cells
async def test_reasoning_kept_apart_and_signatures_round_trip(
    driver: Driver, upstream: str, stream: bool, mock_upstream: MockUpstream
) -> None:
    convo = driver.start(None)
    calls = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    reply = await send(
        driver,
        convo,
        upstream,
        UserTurn("think " + directive(reasoning="weighing the options", tool_calls=calls)),
        stream,
        tools=[WEATHER],
        reasoning=True,
        max_tokens=8192,
    )
    assert reasoning_control(upstream, last_upstream_body(mock_upstream, upstream))
    assert "weighing the options" in reply.reasoning
    assert "weighing" not in reply.text
    assert reply.tool_calls and reply.tool_calls[0].args == {"city": "Oslo"}
    answer = await send(
        driver,
        convo,
        upstream,
        UserTurn(tool_results=[(reply.tool_calls[0], "cold")]),
        stream,
        tools=[WEATHER],
        reasoning=True,
        max_tokens=8192,
    )
    assert "cold" in answer.text
    assert signature_replayed(upstream, last_upstream_body(mock_upstream, upstream))


def schema_sent(upstream: str, body: dict[str, Any]) -> Any:
    if upstream == "openai_chat":
        return body["response_format"]["json_schema"]["schema"]
    if upstream == "openai_responses":
        return body["text"]["format"]["schema"]
    if upstream == "anthropic":
        return body["output_config"]["format"]["schema"]
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    return config.get("responseJsonSchema") or config.get("responseSchema")


@pairs
async def test_structured_output_schema_reaches_upstream(
    driver: Driver, upstream: str, mock_upstream: MockUpstream
) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    reply = await send(
        driver, driver.start(None), upstream, UserTurn(directive(text='{"city": "Paris"}')), False, json_schema=schema
    )
    assert json.loads(reply.text) == {"city": "Paris"}
    assert schema_sent(upstream, last_upstream_body(mock_upstream, upstream))["properties"]["city"]["type"] in (
        "string",
        "STRING",
    )


@pairs
@cells
async def test_length_stop_and_usage_conversion(driver: Driver, upstream: str, stream: bool) -> None:
    usage = {"input": 100, "output": 20, "cached": 30, "reasoning": 5}
    reply = await send(
        driver,
        driver.start(None),
        upstream,
        UserTurn(directive(text="cut short", finish="length", usage=usage)),
        stream,
    )
    assert reply.stop == "length"
    assert reply.usage["input"] == 100
    assert reply.usage["output"] == 20
    assert reply.usage["cached"] == 30
    if reply.usage["reasoning"] is not None and upstream != "anthropic":
        assert reply.usage["reasoning"] == 5


def error_status(exc: BaseException) -> int:
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        return exc.status_code
    if isinstance(exc, genai_errors.APIError):
        return exc.code
    raise AssertionError(f"not an SDK status error: {exc!r}")


@pairs
@pytest.mark.parametrize("status", [400, 429, 529])
async def test_upstream_errors_keep_a_faithful_status(driver: Driver, upstream: str, status: int) -> None:
    with pytest.raises((openai.APIStatusError, anthropic.APIStatusError, genai_errors.APIError)) as caught:
        await send(
            driver, driver.start(None), upstream, UserTurn(directive(fail=status, message="upstream says no")), False
        )
    expected = 503 if status == 529 and driver.name != "anthropic" else status
    assert error_status(caught.value) == expected
    assert "upstream says no" in str(caught.value)


# The error each client's SDK raises when a stream fails (the Responses driver raises openai.APIError for an
# `error` / `response.failed` event, as a client must: the SDK's stream helper yields them without raising).
SDK_ERRORS: dict[str, type[Exception]] = {
    "openai_chat": openai.APIError,
    "openai_responses": openai.APIError,
    "anthropic": anthropic.APIError,
    "gemini": genai_errors.APIError,
}
TEN_WORDS = "one two three four five six seven eight nine ten"


@pairs
@pytest.mark.parametrize("when", ["after_text", "at_once"])
async def test_midstream_failure_ends_the_client_stream(driver: Driver, upstream: str, when: str) -> None:
    """The upstream reports an error after 6 stream events (at least two words on every wire).

    ``after_text``: events are paced, so the words are relayed before the error arrives, and the
    client's stream must end with its protocol's error after them. ``at_once``: the whole failed stream
    arrives in one read, before any client byte (the gateway may answer with an HTTP error instead).
    """
    fields: dict[str, Any] = {"text": TEN_WORDS, "error_after": 6, "fail": 529}
    if when == "after_text":
        fields["chunk_delay"] = 0.05
    started = time.monotonic()
    with pytest.raises(SDK_ERRORS[driver.name]) as caught:
        await send(driver, driver.start(None), upstream, UserTurn(directive(**fields)), True)
    assert time.monotonic() - started < 5
    if when == "after_text":
        assert driver.partial.startswith("one two"), driver.partial
        assert TEN_WORDS.startswith(driver.partial) and driver.partial != TEN_WORDS
        assert "Overloaded" in str(caught.value)


@pairs
async def test_cut_stream_ends_the_client_stream_with_an_error(driver: Driver, upstream: str) -> None:
    """The upstream connection drops after 3 events, without a terminator: the client gets an error, no hang."""
    started = time.monotonic()
    with pytest.raises(SDK_ERRORS[driver.name]):
        await send(driver, driver.start(None), upstream, UserTurn(directive(text=TEN_WORDS, cut_after=3)), True)
    assert time.monotonic() - started < 5
    assert TEN_WORDS.startswith(driver.partial) and driver.partial != TEN_WORDS


REFUSAL = "I can't help with that"


def expected_refusal(client: str, upstream: str, stream: bool) -> tuple[str, str, str]:
    """(stop, text, refusal) a client sees when the upstream refuses with ``REFUSAL``.

    Chat, Responses and Anthropic upstreams refuse with the text (IR REFUSAL); a Gemini upstream refuses
    with ``finishReason: SAFETY`` and no text (IR CONTENT_FILTER), which each client sees as its filter
    stop (``docs/protocol-matrix.md``: blocked prompt row). For REFUSAL:

    * OpenAI Chat: ``content: null, refusal: <text>``, finish ``stop`` (docs/protocols/openai_chat.md);
    * Responses: a ``refusal`` content part, status ``completed`` (docs/protocols/openai_responses.md);
    * Anthropic: the text and ``stop_reason: refusal``; Gemini: the text and ``finishReason: SAFETY``;
    * translated OpenAI streams: the IR stream has no refusal event (the text streams before the stop
      reason is known), so the text arrives as ordinary output and the stream ends normally
      (documented for Responses: "Refusals in streams are sent as output_text"). Same-protocol streams
      are passed through and keep the upstream's own refusal form.
    """
    if upstream == "gemini":
        return FILTER_STOP[client], "", ""
    if client in ("anthropic", "gemini"):
        return ("refusal" if client == "anthropic" else "content_filter"), REFUSAL, ""
    if stream and client != upstream:
        return "end", REFUSAL, ""
    return "refusal", "", REFUSAL


# A blocked answer as each client protocol says it (Anthropic has no content-filter stop: `refusal`).
FILTER_STOP = {
    "openai_chat": "content_filter",
    "openai_responses": "content_filter",
    "anthropic": "refusal",
    "gemini": "content_filter",
}


@pairs
@cells
async def test_refusal_reaches_the_client_in_its_own_form(driver: Driver, upstream: str, stream: bool) -> None:
    reply = await send(driver, driver.start(None), upstream, UserTurn("tell me " + directive(refusal=REFUSAL)), stream)
    assert (reply.stop, reply.text, reply.refusal) == expected_refusal(driver.name, upstream, stream)
    assert reply.tool_calls == []


@pairs
@cells
async def test_blocked_prompt_is_a_content_filter_outcome(driver: Driver, upstream: str, stream: bool) -> None:
    """Gemini blocks with promptFeedback, OpenAI with content_filter, Responses incomplete, Anthropic refusal."""
    started = time.monotonic()
    reply = await send(driver, driver.start(None), upstream, UserTurn("bad " + directive(block="SAFETY")), stream)
    assert time.monotonic() - started < 5
    assert reply.stop == FILTER_STOP[driver.name]
    assert (reply.text, reply.refusal, reply.tool_calls) == ("", "", [])
    assert reply.usage["input"]
