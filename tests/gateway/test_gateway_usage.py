"""Every request's usage lands in the database: tokens, ids, status, timings; also for streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import aiohttp
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, make_config, running_gateway
from tests.helpers.usage_rows import usage_rows


async def test_usage_rows_for_plain_stream_and_errors(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    db_path = tmp_path / "usage.db"
    async with contextlib.AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(running_gateway(make_config(mock_upstream.url, db_path)))
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0)
        await stack.enter_async_context(client)
        plain = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "plain words here"}]
        )
        completion = plain.parse()
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "streamed words"}], stream=True
        )
        streamed_text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])
    # Leaving the block shut the gateway down, which must have flushed every row.
    rows = await usage_rows(db_path)
    assert [r["status_code"] for r in rows] == [200, 200, 404]
    first, second, third = rows
    assert first["request_id"] == plain.headers["x-request-id"]
    assert completion.usage is not None
    assert first["input_tokens"] == completion.usage.prompt_tokens
    assert first["output_tokens"] == completion.usage.completion_tokens
    assert first["model"] == "gpt-4o-mini" and first["upstream_model"] == "gpt-4o-mini-2024-07-18"
    assert first["channel"] == "mock-openai" and first["provider"] == "openai"
    assert first["key_name"] == "tester" and first["attempts"] == 1 and first["stream"] is False
    assert first["latency_ms"] > 0 and first["ttfb_ms"] is not None
    # The client did not ask for stream usage, but the gateway asked the upstream and recorded it.
    assert streamed_text == "Echo: streamed words"
    assert second["stream"] is True and second["output_tokens"] == len(streamed_text.split())
    assert second["input_tokens"] > 0
    assert third["error_kind"] == "not_found" and third["channel"] is None


async def test_client_disconnect_midstream_still_records_usage(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    db_path = tmp_path / "usage.db"
    mock_upstream.requests.clear()
    async with running_gateway(make_config(mock_upstream.url, db_path)) as gateway:
        body = {
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": '[[mock {"text": "a b c d e f g h", "chunk_delay": 0.3}]]'}],
        }
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{gateway.url}/v1/chat/completions",
                data=json.dumps(body),
                headers={"authorization": f"Bearer {CLIENT_KEY}"},
            )
            await response.content.readline()  # the first bytes arrived; now walk away
            response.close()
        await asyncio.sleep(0.5)
        # The gateway noticed and cancelled the upstream request long before its 8 chunks x 0.3 s.
    rows = await usage_rows(db_path)
    assert len(rows) == 1
    assert rows[0]["status_code"] == 499 and rows[0]["error_kind"] == "client_disconnected"
    assert rows[0]["latency_ms"] < 2000
