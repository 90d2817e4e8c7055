"""Azure OpenAI realtime through a real gateway: ``azure`` channels dial the deployment URL
(``/openai/realtime?api-version=…&deployment=…``, the preview's beta events), ``azure-v1`` channels the v1
URL (``/openai/v1/realtime?model=<deployment>``, GA events), both with the channel's key in ``api-key``;
the client's generation picks the channel, and one no channel speaks is refused on the handshake.  Driven
by the official ``openai`` SDK and a raw ``websockets`` client; the mock's Azure routes are checked
against the official ``AsyncAzureOpenAI`` client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import UPSTREAM_KEY
from tests.helpers.realtime import (
    AZURE_ANY_MODEL,
    AZURE_API_VERSION,
    AZURE_BETA_MODEL,
    AZURE_DEPLOYMENTS,
    AZURE_GA_MODEL,
    AZURE_KEYS_MODEL,
    REFUSED_AZURE_KEY,
    SharedRealtime,
    expected_cost_nano,
    session_rows,
    until_response_done,
    upstream_sessions,
    user_text,
    ws_url,
)

CLASSIC = "/azure/openai/realtime"
V1 = "/azure-v1/openai/v1/realtime"


async def _next(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return event


async def _raw_turn(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    await ws.send(json.dumps({"type": "conversation.item.create", "item": user_text(text)}))
    await ws.send(json.dumps({"type": "response.create"}))
    events = []
    while True:
        events.append(await _next(ws))
        if events[-1]["type"] == "response.done":
            return events


def _azure_handshake(entry: Any) -> None:
    """The upstream handshake carried the channel's key the Azure way, and nothing of the client's."""
    assert entry.headers["api-key"] == UPSTREAM_KEY
    assert "authorization" not in entry.headers
    assert entry.get("provider") in ("azure", "azure-v1")


async def test_beta_sdk_reaches_the_azure_deployment_url(rt: SharedRealtime, mock: MockUpstream) -> None:
    key = rt.key()
    gw = rt.gateway
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", websocket_base_url=f"ws://127.0.0.1:{gw.port}/v1",
                                api_key=key.secret, max_retries=0)  # fmt: skip
    async with client.beta.realtime.connect(model=AZURE_BETA_MODEL) as connection:
        created = await connection.recv()
        assert created.type == "session.created"
        assert created.session.model == "rt-preview-deployment"
        await connection.session.update(session={"model": AZURE_BETA_MODEL, "modalities": ["text"]})
        assert (await connection.recv()).type == "session.updated"
        await connection.conversation.item.create(item=user_text("hello azure"))
        await connection.response.create()
        events = await until_response_done(connection)
    kinds = [event.type for event in events]
    assert "response.text.delta" in kinds and "response.output_text.delta" not in kinds  # the preview's events
    assert "".join(e.delta for e in events if e.type == "response.text.delta") == "Hello from the realtime mock."
    usage = events[-1].response.usage.model_dump()
    (handshake,) = upstream_sessions(mock, CLASSIC)
    assert handshake.query == {"api-version": AZURE_API_VERSION, "deployment": "rt-preview-deployment"}
    _azure_handshake(handshake)
    assert handshake.headers["openai-beta"] == "realtime=v1"  # the beta client's header, as Azure's SDK sends it
    update = next(e for e in handshake.body if e["type"] == "session.update")
    assert update["session"]["model"] == "rt-preview-deployment"
    assert upstream_sessions(mock) == [] and upstream_sessions(mock, V1) == []
    rows = await session_rows(rt.url, key.name, 2)
    assert [row.cost_nano for row in rows] == [expected_cost_nano(usage), 0]
    assert rows[0].cost_nano > 0
    assert {row.channel for row in rows} == {"rt-azure"}
    assert rows[0].upstream_model == "rt-preview-deployment"
    await assert_books_balance(rt.url, key.name)


async def test_ga_sdk_reaches_the_azure_v1_url(rt: SharedRealtime, mock: MockUpstream) -> None:
    key = rt.key()
    client = openai.AsyncOpenAI(base_url=f"{rt.gateway.url}/v1", api_key=key.secret, max_retries=0)
    usages = []
    async with client.realtime.connect(model=AZURE_GA_MODEL) as connection:
        created = await connection.recv()
        assert created.type == "session.created" and created.session.model == "rt-ga-deployment"
        await connection.session.update(session={"type": "realtime", "instructions": "Be brief."})
        assert (await connection.recv()).type == "session.updated"
        for turn in ("first question", "second question"):
            await connection.conversation.item.create(item=user_text(turn))
            await connection.response.create()
            events = await until_response_done(connection)
            kinds = [event.type for event in events]
            assert "response.output_audio_transcript.delta" in kinds  # GA names
            assert "response.audio_transcript.delta" not in kinds and "error" not in kinds
            usages.append(events[-1].response.usage.model_dump())
    (handshake,) = upstream_sessions(mock, V1)
    assert handshake.query == {"model": "rt-ga-deployment"}
    _azure_handshake(handshake)
    assert "openai-beta" not in handshake.headers  # a GA client stays GA
    rows = await session_rows(rt.url, key.name, 3)
    assert [row.cost_nano for row in rows] == [expected_cost_nano(u) for u in usages] + [0]
    assert usages[1]["input_token_details"]["cached_tokens"] > 0
    assert {row.channel for row in rows} == {"rt-azure-v1"}
    await assert_books_balance(rt.url, key.name)


async def test_the_client_generation_picks_the_azure_url(rt: SharedRealtime, mock: MockUpstream) -> None:
    key = rt.key()
    deployments = {name: AZURE_DEPLOYMENTS[name][AZURE_ANY_MODEL] for name in ("rt-azure", "rt-azure-v1")}
    headers = {"Authorization": f"Bearer {key.secret}"}
    async with connect(ws_url(rt.gateway, AZURE_ANY_MODEL), additional_headers=headers) as ws:  # GA
        assert (await _next(ws))["type"] == "session.created"
        ga = await _raw_turn(ws, "hi")
    protocols = ["realtime", f"openai-insecure-api-key.{key.secret}", "openai-beta.realtime-v1"]
    async with connect(ws_url(rt.gateway, AZURE_ANY_MODEL), subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        assert (await _next(ws))["type"] == "session.created"
        beta = await _raw_turn(ws, "hi")
    assert "response.output_audio.delta" in [e["type"] for e in ga]
    assert "response.audio.delta" in [e["type"] for e in beta]
    (v1,) = upstream_sessions(mock, V1)
    (classic,) = upstream_sessions(mock, CLASSIC)
    assert v1.query == {"model": deployments["rt-azure-v1"]}
    assert classic.query == {"api-version": AZURE_API_VERSION, "deployment": deployments["rt-azure"]}
    for entry in (v1, classic):
        _azure_handshake(entry)
        assert key.secret not in json.dumps(dict(entry.headers))  # never the client's key upstream
    rows = await session_rows(rt.url, key.name, 4)
    paid = [row for row in rows if row.cost_nano]
    assert [row.channel for row in paid] == ["rt-azure-v1", "rt-azure"]
    assert [row.cost_nano for row in paid] == [expected_cost_nano(e[-1]["response"]["usage"]) for e in (ga, beta)]
    await assert_books_balance(rt.url, key.name)


async def test_a_generation_no_channel_speaks_is_refused_on_the_handshake(
    rt: SharedRealtime, mock: MockUpstream
) -> None:
    key = rt.key()
    bearer = {"Authorization": f"Bearer {key.secret}"}
    cases = [
        (AZURE_BETA_MODEL, bearer, "beta (preview)"),  # a GA client; the model is on the deployment URL only
        (AZURE_GA_MODEL, {**bearer, "OpenAI-Beta": "realtime=v1"}, "GA"),  # a beta client; Azure v1 only
    ]
    for model, headers, served in cases:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(rt.gateway, model), additional_headers=headers):
                pass
        response = refused.value.response
        assert response.status_code == 400
        error = json.loads(response.body)["error"]
        assert error["code"] == "unsupported_realtime_generation"
        assert f"only with {served} realtime events" in error["message"]
    assert upstream_sessions(mock, CLASSIC) == [] and upstream_sessions(mock, V1) == []


async def test_an_azure_key_the_upstream_refuses_is_set_aside_before_the_socket_opens(
    rt: SharedRealtime, mock: MockUpstream
) -> None:
    key = rt.key()
    headers = {"Authorization": f"Bearer {key.secret}", "OpenAI-Beta": "realtime=v1"}
    for _ in range(2):
        async with connect(ws_url(rt.gateway, AZURE_KEYS_MODEL), additional_headers=headers) as ws:
            assert (await _next(ws))["type"] == "session.created"
            await _raw_turn(ws, "hi")
    handshakes = upstream_sessions(mock, CLASSIC)
    # the refused key (401 on the upgrade) is set aside: the second session goes straight to the good one
    assert [entry.headers["api-key"] for entry in handshakes] == [REFUSED_AZURE_KEY, UPSTREAM_KEY, UPSTREAM_KEY]
    rows = await session_rows(rt.url, key.name, 4)
    attempts = json.loads(rows[0].attempt_log)
    assert [(entry["channel"], entry.get("status")) for entry in attempts] == [
        ("rt-azure-keys", 401),
        ("rt-azure-keys", 200),
    ]
    assert REFUSED_AZURE_KEY not in rows[0].attempt_log  # upstream keys never in the ledger
    assert [row.cost_nano > 0 for row in rows] == [True, False, True, False]
    await assert_books_balance(rt.url, key.name)


async def test_the_azure_mock_takes_what_the_azure_sdk_sends(mock: MockUpstream) -> None:
    """The mock's deployment route against the official ``AsyncAzureOpenAI`` realtime client (which sends
    ``api-key`` and ``?api-version=…&deployment=…``), and the refusals Azure gives."""
    endpoint = f"{mock.url}/azure"
    websocket_base = endpoint.replace("http://", "ws://") + "/openai"
    client = openai.AsyncAzureOpenAI(azure_endpoint=endpoint, api_key=UPSTREAM_KEY, api_version=AZURE_API_VERSION,
                                     websocket_base_url=websocket_base, max_retries=0)  # fmt: skip
    async with client.beta.realtime.connect(model="my-deployment") as connection:
        created = await connection.recv()
        assert created.type == "session.created" and created.session.model == "my-deployment"
    (entry,) = upstream_sessions(mock, CLASSIC)
    assert entry.query == {"api-version": AZURE_API_VERSION, "deployment": "my-deployment"}
    base = websocket_base + "/realtime"
    refused = [
        (f"{base}?api-version={AZURE_API_VERSION}&deployment=d", {"api-key": "bad-key"}, 401),
        (f"{base}?api-version={AZURE_API_VERSION}&deployment=d", {"Authorization": f"Bearer {UPSTREAM_KEY}"}, 401),
        (f"{base}?deployment=d", {"api-key": UPSTREAM_KEY}, 404),  # no api-version on the deployment URL
        (f"{mock.url.replace('http://', 'ws://')}/azure-v1/openai/v1/realtime", {"api-key": UPSTREAM_KEY}, 400),
    ]
    for url, headers, status in refused:
        with pytest.raises(InvalidStatus) as failed:
            async with connect(url, additional_headers=headers):
                pass
        assert failed.value.response.status_code == status, url
    v1 = f"{mock.url.replace('http://', 'ws://')}/azure-v1/openai/v1/realtime?model=d&api-key={UPSTREAM_KEY}"
    async with connect(v1, additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:  # the key as a query
        assert (await _next(ws))["type"] == "session.created"
        error = await _next(ws)
        assert error["type"] == "error" and error["error"]["code"] == "unknown_parameter"  # v1 is GA only
