"""A translated stream starts as soon as the upstream's does: the client's opening frame goes out with the
upstream's first event, not with its first content.

The mock holds each stream after its first event (``hold_after``) until the test, having seen the client's
opening frame through the official SDK, releases it: ``release()`` answering 1 proves the upstream had sent
nothing more when the frame arrived.  The ``asyncio.timeout`` blocks only keep a regression from hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import msgspec
import pytest

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream, directive
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, running_gateway
from tests.helpers.vendor_gateway import anthropic_sdk, openai_sdk

WORDS = "one two three"


def _config(mock_url: str, db: Path) -> GatewayConfig:
    def openai(name: str, models: list[str], **extra: object) -> dict[str, object]:
        return {"name": name, "provider": "openai", "base_url": f"{mock_url}/v1", "api_keys": [f"sk-{name}"]} | {
            "models": models,
            **extra,
        }

    raw = {
        "database_url": f"sqlite:///{db}",
        "channels": [
            openai("oa", ["gpt-4o-mini"]),
            openai("first", ["gpt-4o"], priority=1),
            openai("second", ["gpt-4o"]),
            {
                "name": "an",
                "provider": "anthropic",
                "base_url": mock_url,
                "api_keys": ["sk-an"],
                "models": ["claude-sonnet-4-5"],
            },
        ],
        "keys": [{"name": "one", "key": CLIENT_KEY}],
        "breaker": {"failures": 1_000_000},
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(scope="module")
async def gw(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    async with running_gateway(_config(mock_upstream.url, tmp_path_factory.mktemp("s") / "gw.db")) as gateway:
        yield gateway


def _held(text: str = WORDS) -> list[anthropic.types.MessageParam]:
    return [{"role": "user", "content": directive(text=text, hold_after=1)}]


async def test_anthropic_client_of_an_openai_model_gets_message_start_before_any_content(
    gw: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with anthropic_sdk(gw, mock_upstream) as client, asyncio.timeout(10):
        request = client.messages.stream(model="gpt-4o-mini", max_tokens=100, messages=_held())
        async with request as stream:
            events = aiter(stream)
            first = await anext(events)
            assert first.type == "message_start"
            assert mock_upstream.release() == 1  # the upstream sent only its role-only first chunk so far
            kinds = [event.type async for event in events]
            final = await stream.get_final_message()
    start = first.message
    assert start.id.startswith("msg_") and start.id == final.id
    assert start.model == "gpt-4o-mini" and start.content == [] and start.stop_reason is None
    assert start.usage.input_tokens == 0 and start.usage.output_tokens == 0  # OpenAI reports usage at the end
    assert kinds[0] == "content_block_start" and kinds[-1] == "message_stop"
    assert final.content[0].type == "text" and final.content[0].text == WORDS
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 3 and final.usage.input_tokens > 0


async def test_responses_client_of_an_anthropic_model_gets_response_created_before_any_content(
    gw: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with openai_sdk(gw, mock_upstream) as client, asyncio.timeout(10):
        prompt = directive(text=WORDS, hold_after=1)
        stream = await client.responses.create(model="claude-sonnet-4-5", input=prompt, stream=True)
        events = aiter(stream)
        created, in_progress = await anext(events), await anext(events)
        assert (created.type, in_progress.type) == ("response.created", "response.in_progress")
        assert mock_upstream.release() == 1  # the upstream sent only message_start so far
        rest = [event async for event in events]
    assert created.response.id == in_progress.response.id and created.response.model == "claude-sonnet-4-5"
    assert created.response.status == "in_progress" and created.response.output == []
    done = rest[-1]
    assert done.type == "response.completed" and done.response.id == created.response.id
    assert done.response.output_text == WORDS and done.response.usage is not None


async def test_chat_client_of_an_anthropic_model_gets_the_role_chunk_before_any_content(
    gw: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with openai_sdk(gw, mock_upstream) as client, asyncio.timeout(10):
        prompt = directive(text=WORDS, hold_after=1)
        messages = [{"role": "user", "content": prompt}]
        stream = await client.chat.completions.create(model="claude-sonnet-4-5", messages=messages, stream=True)
        chunks = aiter(stream)
        first = await anext(chunks)
        assert first.choices[0].delta.role == "assistant" and not first.choices[0].delta.content
        assert mock_upstream.release() == 1
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in chunks if chunk.choices])
    assert text == WORDS


async def test_an_upstream_whose_first_event_is_an_error_still_falls_back(
    gw: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with anthropic_sdk(gw, mock_upstream) as client, asyncio.timeout(10):
        mock_upstream.script({"text": "not sent", "error_after": 0, "fail": 500}, times=1)
        raw = await client.messages.with_raw_response.create(
            model="gpt-4o", max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        events = [event async for event in await raw.parse()]
    assert raw.headers["x-omnirouter-attempts"] == "2"
    assert [logged.headers["authorization"] for logged in mock_upstream.requests] == [
        "Bearer sk-first",
        "Bearer sk-second",
    ]
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == "Echo: hi"


async def test_a_failure_after_the_opening_frame_is_the_clients_in_stream_error(
    gw: RunningGateway, mock_upstream: MockUpstream
) -> None:
    async with anthropic_sdk(gw, mock_upstream) as client, asyncio.timeout(10):
        # The role-only chunk, then (once the client has message_start) an error event.
        mock_upstream.script({"text": WORDS, "hold_after": 1, "error_after": 1, "fail": 500}, times=1)
        raw = await client.messages.with_raw_response.create(
            model="gpt-4o", max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        events = aiter(await raw.parse())
        assert (await anext(events)).type == "message_start"
        assert mock_upstream.release() == 1
        with pytest.raises(anthropic.APIStatusError) as caught:
            await anext(events)
    assert raw.headers["x-omnirouter-attempts"] == "1"  # committed to the first channel by message_start
    assert len(mock_upstream.requests) == 1
    assert "Internal server error" in str(caught.value)
