"""The realtime relay with a raw ``websockets`` client: browser subprotocols, refusals on the handshake,
fallback before the upstream socket is open, quota exhaustion, bad frames, the guard's limits and close
codes passed both ways; the ledger summed on SQLite and PostgreSQL.  Most tests share the package's
gateway (``rt``, a key of each test's own); the session limits get gateways of their own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance, key_row
from tests.helpers.gateway_harness import UPSTREAM_KEY
from tests.helpers.realtime import (
    BETA_MODEL,
    FALLBACK_MODEL,
    GA_MODEL,
    RESERVATION_NANO,
    RICH,
    SharedRealtime,
    expected_cost_nano,
    realtime_gateway,
    session_rows,
    upstream_sessions,
    ws_url,
)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _next(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return event


async def _send(ws: ClientConnection, event: dict[str, Any]) -> None:
    await ws.send(json.dumps(event))


def _item(text: str) -> dict[str, Any]:
    """A ``conversation.item.create`` of a user text."""
    content = [{"type": "input_text", "text": text}]
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": content}}


async def _turn(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    """One user message and one response; the events up to ``response.done``."""
    await _send(ws, _item(text))
    await _send(ws, {"type": "response.create"})
    events = []
    while True:
        event = await _next(ws)
        events.append(event)
        if event["type"] == "response.done":
            return events


async def _closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """The events left before the gateway closes the socket, and its close code."""
    events = []
    try:
        while True:
            events.append(await _next(ws))
    except ConnectionClosed:
        pass
    return events, ws.close_code


async def test_browser_subprotocols_carry_key_and_beta(rt: SharedRealtime, mock: MockUpstream) -> None:
    key, url, gw = rt.key(), rt.url, rt.gateway
    protocols = ["realtime", f"openai-insecure-api-key.{key.secret}", "openai-beta.realtime-v1"]
    async with connect(ws_url(gw, BETA_MODEL), subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        assert ws.response is not None and ws.response.headers["x-request-id"].startswith("req_")
        assert (await _next(ws))["type"] == "session.created"
        events = await _turn(ws, "hi")
        await ws.close(4000, "client done")
    assert next(e["type"] for e in events if e["type"].endswith(".delta")) == "response.audio.delta"  # beta names
    usage = events[-1]["response"]["usage"]
    await asyncio.sleep(0.2)
    (handshake,) = upstream_sessions(mock)
    assert handshake.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert handshake.headers["openai-beta"] == "realtime=v1"
    assert key.secret not in json.dumps(dict(handshake.headers))  # the client's key never goes upstream
    assert handshake["close_code"] == 4000  # the client's close code, passed on
    rows = await session_rows(url, key.name, 2)
    assert [row.cost_nano for row in rows] == [expected_cost_nano(usage), 0]
    await assert_books_balance(url, key.name)


async def test_refusals_happen_on_the_handshake_without_an_upstream_socket(
    rt: SharedRealtime, mock: MockUpstream
) -> None:
    rich, tiny, gw = rt.key(), rt.key("tiny"), rt.gateway
    cases: list[tuple[str, dict[str, str], list[str], int, str]] = [
        (GA_MODEL, _bearer("sk-wrong"), [], 401, "invalid_api_key"),
        (GA_MODEL, {}, ["realtime", "openai-insecure-api-key.sk-wrong"], 401, "invalid_api_key"),
        (GA_MODEL, {}, ["realtime"], 401, "missing_api_key"),
        ("no-such-model", _bearer(rich.secret), [], 404, "model_not_found"),
        ("", _bearer(rich.secret), [], 400, "missing_required_parameter"),
        (GA_MODEL, _bearer(tiny.secret), [], 429, "insufficient_quota"),  # $0.01 cannot cover one response
    ]
    for model, headers, protocols, status, code in cases:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(gw, model), additional_headers=headers,
                               subprotocols=protocols or None):  # type: ignore[arg-type]  # fmt: skip
                pass
        response = refused.value.response
        assert response.status_code == status, (model, headers, protocols)
        assert json.loads(response.body)["error"]["code"] == code
    with pytest.raises(InvalidStatus) as elsewhere:
        async with connect(
            f"ws://127.0.0.1:{gw.port}/v1/realtime/other?model={GA_MODEL}", additional_headers=_bearer(rich.secret)
        ):
            pass
    assert elsewhere.value.response.status_code == 404
    assert upstream_sessions(mock) == []


async def test_fallback_to_the_next_channel_before_the_socket_opens(rt: SharedRealtime, mock: MockUpstream) -> None:
    # FALLBACK_MODEL: rt-down (priority 30, nothing listens there), rt-refusing (20), rt-main (10)
    key, url, gw = rt.key(), rt.url, rt.gateway
    mock.script({"fail": 503, "message": "overloaded (mock)"})  # the mock's first handshake is refused
    async with connect(ws_url(gw, FALLBACK_MODEL), additional_headers=_bearer(key.secret)) as ws:
        assert (await _next(ws))["type"] == "session.created"
        usage = (await _turn(ws, "hello"))[-1]["response"]["usage"]
    rows = await session_rows(url, key.name, 2)
    assert [row.channel for row in rows] == ["rt-main", "rt-main"]
    attempts = json.loads(rows[0].attempt_log)
    assert [entry["channel"] for entry in attempts] == ["rt-down", "rt-refusing", "rt-main"]
    assert [entry.get("status") for entry in attempts[:2]] == [502, 503]
    assert rows[0].cost_nano == expected_cost_nano(usage)
    await assert_books_balance(url, key.name)
    assert len(upstream_sessions(mock)) == 2  # the refused handshake and the served one


async def _reserved_after_charge(url: str, name: str, used_nano: int) -> int:
    """The poor key's reserved money once ``used_nano`` is charged and the next reservation is taken (the
    charge releases the settled reservation, then the next is held: a moment passes with none held)."""
    key = None
    for _ in range(200):
        key = await key_row(url, name)
        if key.used_nano == used_nano and key.reserved_nano:
            return int(key.reserved_nano)
        await asyncio.sleep(0.05)
    raise AssertionError(f"never charged {used_nano} with a reservation held: {key}")


async def test_a_session_cannot_spend_past_the_quota(rt: SharedRealtime, mock: MockUpstream) -> None:
    quota_nano = 150_000_000  # one response costs 40,080,000; each is reserved for 96,032,000 first
    poor, url, gw = rt.key("poor"), rt.url, rt.gateway  # a $0.15 quota
    async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(poor.secret)) as ws:
        assert (await _next(ws))["type"] == "session.created"
        await _send(ws, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
        assert (await _next(ws))["type"] == "session.updated"
        directive = '[[mock {"usage": {"input": 10000, "cached": 0}}]]'
        first = (await _turn(ws, f"one {directive}"))[-1]["response"]["usage"]
        held = await _reserved_after_charge(url, poor.name, 40_080_000)
        assert held == RESERVATION_NANO  # held for the next response
        second = (await _turn(ws, f"two {directive}"))[-1]["response"]["usage"]
        rest, code = await _closed(ws)
    assert code == 1008
    assert [event["type"] for event in rest] == ["error"]
    assert rest[0]["error"]["code"] == "insufficient_quota"
    rows = await session_rows(url, poor.name, 2)
    assert [row.cost_nano for row in rows] == [expected_cost_nano(first), expected_cost_nano(second)]
    assert expected_cost_nano(first) == 40_080_000
    key, _ = await assert_books_balance(url, poor.name)
    assert key.used_nano == 80_160_000 <= quota_nano
    assert quota_nano - key.used_nano < RESERVATION_NANO  # the next response could not have been covered


async def test_bad_frames_end_the_session_with_nothing_charged_beyond_completed_responses(
    rt: SharedRealtime, mock: MockUpstream
) -> None:
    key, url, gw = rt.key(), rt.url, rt.gateway  # the shared gateway's max_frame_bytes is 16384
    async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(key.secret)) as ws:
        await _next(ws)
        usage = (await _turn(ws, "hello"))[-1]["response"]["usage"]
        await ws.send("this is not json")
        rest, code = await _closed(ws)
    assert code == 1007
    assert rest[-1]["type"] == "error" and rest[-1]["error"]["code"] == "invalid_json"
    async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(key.secret)) as ws:
        await _next(ws)
        await _send(ws, _item("x" * 20000))
        rest, code = await _closed(ws)
    assert code == 1009
    assert rest[-1]["error"]["code"] == "frame_too_large"
    async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(key.secret)) as ws:
        await _next(ws)
        await ws.send(b"\x00\x01binary")
        _, code = await _closed(ws)
    assert code == 1007
    rows = await session_rows(url, key.name, 4)
    assert [row.cost_nano for row in rows] == [expected_cost_nano(usage), 0, 0, 0]
    assert [row.status_code for row in rows[1:]] == [400, 400, 400]
    await assert_books_balance(url, key.name)
    await asyncio.sleep(0.1)
    assert [entry["close_code"] for entry in upstream_sessions(mock)] == [1000, 1000, 1000]  # upstream closed too


async def test_an_upstream_cut_mid_response_closes_the_client_and_charges_nothing(
    rt: SharedRealtime, mock: MockUpstream
) -> None:
    key, url, gw = rt.key(), rt.url, rt.gateway
    async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(key.secret)) as ws:
        await _next(ws)
        await _send(ws, _item('go [[mock {"cut_after": 2}]]'))
        await _send(ws, {"type": "response.create"})
        rest, code = await _closed(ws)
    assert code == 1011  # the upstream's close code, passed on
    assert "response.done" not in [event["type"] for event in rest]
    assert [event["type"] for event in rest].count("response.output_audio_transcript.delta") == 2
    rows = await session_rows(url, key.name, 1)
    assert [row.cost_nano for row in rows] == [0]
    await assert_books_balance(url, key.name)


async def test_the_idle_limit_closes_both_sides(mock: MockUpstream, tmp_path: Path) -> None:
    async with realtime_gateway(mock, f"sqlite:///{tmp_path / 'r.db'}", idle_timeout=0.3) as gw:
        async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(RICH)) as ws:
            rest, code = await _closed(ws)
        assert code == 1001
        assert [event["type"] for event in rest] == ["session.created", "error"]
        assert rest[-1]["error"]["code"] == "session_idle_timeout"
        rows = await session_rows(f"sqlite:///{tmp_path / 'r.db'}", "rich", 1)
        assert [(row.status_code, row.error_kind, row.cost_nano) for row in rows] == [(408, "session_idle_timeout", 0)]
    assert [entry["close_code"] for entry in upstream_sessions(mock)] == [1000]


async def test_the_session_length_limit_holds_while_frames_flow(mock: MockUpstream, tmp_path: Path) -> None:
    async with realtime_gateway(mock, f"sqlite:///{tmp_path / 'r.db'}", max_session_seconds=0.8) as gw:
        async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(RICH)) as ws:
            await _next(ws)
            started = asyncio.get_running_loop().time()
            turns = 0
            with pytest.raises(ConnectionClosed):
                while True:  # never idle: a turn every 0.1 s
                    await _turn(ws, "keep talking")
                    turns += 1
                    await asyncio.sleep(0.1)
            elapsed = asyncio.get_running_loop().time() - started
        assert ws.close_code == 1001
        assert turns >= 2 and elapsed < 5
        rows = await session_rows(f"sqlite:///{tmp_path / 'r.db'}", "rich", turns + 1)
        assert rows[-1].error_kind == "session_expired"
        await assert_books_balance(f"sqlite:///{tmp_path / 'r.db'}", "rich")


def _tokens(text_bytes: int) -> int:
    """Tokens of text as the gateway estimates them without usage: about four UTF-8 bytes a token."""
    return (text_bytes + 3) // 4


async def test_a_response_without_usage_is_charged_an_estimate_from_the_session_text(
    rt: SharedRealtime, mock: MockUpstream
) -> None:
    key, url, gw = rt.key(), rt.url, rt.gateway
    instructions = "Answer briefly, please."
    tools = [{"type": "function", "name": "lookup", "description": "Find a thing.", "parameters": {"type": "object"}}]
    first_text, first_reply = "hello there", "Hello from the realtime mock."
    second_text = 'and again [[mock {"no_usage": true, "text": "Second reply, estimated."}]]'
    override = 'Be terse [[mock {"no_usage": true, "text": "A third one."}]]'
    async with connect(ws_url(gw, GA_MODEL), additional_headers=_bearer(key.secret)) as ws:
        await _next(ws)
        session = {"type": "realtime", "instructions": instructions, "tools": tools}
        await _send(ws, {"type": "session.update", "session": session})
        assert (await _next(ws))["type"] == "session.updated"
        first = await _turn(ws, first_text)
        second = await _turn(ws, second_text)
        await _send(ws, {"type": "response.create", "response": {"instructions": override}})
        third = []
        while not third or third[-1]["type"] != "response.done":
            third.append(await _next(ws))
    assert first[-1]["response"]["usage"] is not None
    assert second[-1]["response"]["usage"] is None and third[-1]["response"]["usage"] is None
    replies = ["".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
               for events in (first, second, third)]  # fmt: skip
    assert replies == [first_reply, "Second reply, estimated.", "A third one."]
    size = [len(text.encode()) for text in (instructions, first_text, first_reply, second_text, override)]
    tools_size = len(json.dumps(tools, separators=(",", ":")).encode())
    # input: the instructions (a response's own replace the session's), the tools, the conversation so far
    second_in = size[0] + tools_size + size[1] + size[2] + size[3]
    third_in = size[4] + tools_size + size[1] + size[2] + size[3] + len(replies[1])
    estimated = [(_tokens(second_in), _tokens(len(replies[1]))), (_tokens(third_in), _tokens(len(replies[2])))]
    rows = await session_rows(url, key.name, 4)
    assert [(row.input_tokens, row.output_tokens) for row in rows[1:3]] == estimated
    assert [row.usage_estimated for row in rows] == [False, True, True, False]
    # text prices: input $4 and output $16 per 1M tokens, 4,000 and 16,000 nano-USD a token
    costs = [expected_cost_nano(first[-1]["response"]["usage"])] + [i * 4000 + o * 16000 for i, o in estimated]
    assert [row.cost_nano for row in rows] == [*costs, 0]
    assert all(cost > 0 for cost in costs)
    row, _ = await assert_books_balance(url, key.name)
    assert row.used_nano == sum(costs)
