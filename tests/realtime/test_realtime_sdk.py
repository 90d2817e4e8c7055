"""The realtime relay through a real gateway and the realtime mock, driven by the official ``openai`` SDK
(GA ``client.realtime`` and beta ``client.beta.realtime``): events both ways, the model mapped, the GA /
beta headers kept, and each response billed once from its ``response.done`` usage (SQLite, PostgreSQL:
the package's shared gateway, ``rt``, a key of each test's own)."""

from __future__ import annotations

import openai

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance
from tests.helpers.gateway_harness import UPSTREAM_KEY
from tests.helpers.realtime import (
    BETA_MODEL,
    GA_MODEL,
    GA_UPSTREAM,
    SharedRealtime,
    expected_cost_nano,
    session_rows,
    until_response_done,
    upstream_sessions,
    user_text,
)


async def test_ga_sdk_session_is_relayed_and_billed_per_response(rt: SharedRealtime, mock: MockUpstream) -> None:
    key, url = rt.key(), rt.url
    client = openai.AsyncOpenAI(base_url=f"{rt.gateway.url}/v1", api_key=key.secret, max_retries=0)
    usages = []
    async with client.realtime.connect(model=GA_MODEL) as connection:
        created = await connection.recv()
        assert created.type == "session.created"
        assert created.session.model == GA_UPSTREAM
        await connection.session.update(session={"type": "realtime", "model": GA_MODEL,
                                                  "instructions": "Answer in one short sentence."})  # fmt: skip
        updated = await connection.recv()
        assert updated.type == "session.updated"
        for turn in ("hello there", "and once more please"):
            await connection.conversation.item.create(item=user_text(turn))
            await connection.response.create()
            events = await until_response_done(connection)
            kinds = [event.type for event in events]
            assert "response.output_audio_transcript.delta" in kinds  # GA names: the upstream stayed GA
            assert "response.audio_transcript.delta" not in kinds
            assert "error" not in kinds
            transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
            assert transcript == "Hello from the realtime mock."
            usages.append(events[-1].response.usage.model_dump())
    (handshake,) = upstream_sessions(mock)
    assert handshake.query == {"model": GA_UPSTREAM}
    assert handshake.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "openai-beta" not in handshake.headers
    update = next(e for e in handshake.body if e["type"] == "session.update")
    assert update["session"]["model"] == GA_UPSTREAM  # the only change the relay makes
    assert usages[1]["input_token_details"]["cached_tokens"] > 0  # the second turn re-bills the context
    rows = await session_rows(url, key.name, 3)
    assert [row.cost_nano for row in rows] == [expected_cost_nano(u) for u in usages] + [0]
    assert all(row.cost_nano > 0 for row in rows[:2])
    assert [row.audio_output_tokens for row in rows[:2]] == [u["output_token_details"]["audio_tokens"] for u in usages]
    assert {row.channel for row in rows} == {"rt-main"}
    await assert_books_balance(url, key.name)


async def test_beta_sdk_session_keeps_the_beta_header_and_events(rt: SharedRealtime, mock: MockUpstream) -> None:
    key, url, gw = rt.key(), rt.url, rt.gateway
    # the beta client always dials wss:// unless told the WebSocket base (plain ws:// on loopback here)
    websocket_base = f"ws://127.0.0.1:{gw.port}/v1"
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", websocket_base_url=websocket_base, api_key=key.secret,
                                max_retries=0)  # fmt: skip
    async with client.beta.realtime.connect(model=BETA_MODEL) as connection:
        assert (await connection.recv()).type == "session.created"
        await connection.session.update(session={"modalities": ["text"], "instructions": "Be brief."})
        assert (await connection.recv()).type == "session.updated"
        await connection.conversation.item.create(item=user_text("say hi"))
        await connection.response.create()
        events = await until_response_done(connection)
    kinds = [event.type for event in events]
    assert "response.text.delta" in kinds and "response.output_text.delta" not in kinds
    usage = events[-1].response.usage.model_dump()
    (handshake,) = upstream_sessions(mock)
    assert handshake.headers["openai-beta"] == "realtime=v1"
    assert handshake.query == {"model": BETA_MODEL}
    rows = await session_rows(url, key.name, 2)
    assert [row.cost_nano for row in rows] == [expected_cost_nano(usage), 0]
    await assert_books_balance(url, key.name)
