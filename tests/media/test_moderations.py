"""OpenAI ``/v1/moderations`` through the gateway with the openai SDK: one result per input with all 13
categories, as the upstream computed them, under the public model; billed one call, tokens estimated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

CATEGORIES = {
    "hate", "hate/threatening", "harassment", "harassment/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
    "violence/graphic",
}  # fmt: skip
PARTS = [
    {"type": "text", "text": "they attack at dawn"},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
]


def gateway_channels(mock_url: str) -> list[dict[str, Any]]:
    return [
        channel(mock_url, "oa", "openai", ["omni-moderation-latest", "my-mod"],
                model_map={"my-mod": "omni-moderation-2024-09-26"}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with media_gateway(tmp_path_factory.mktemp("moderations"), gateway_channels(mock_upstream.url)) as running:
        yield running


@pytest.fixture
async def client(served: RunningGateway, mock_upstream: MockUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    mock_upstream.requests.clear()
    async with openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


async def direct(mock: MockUpstream, body: dict[str, Any]) -> dict[str, Any]:
    """The mock's own answer to ``body`` (the reference)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{mock.url}/v1/moderations", json=body,
                     headers={"authorization": f"Bearer {UPSTREAM_KEY}"}) as response,
    ):  # fmt: skip
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
    mock.requests.clear()
    return answer


@pytest.mark.parametrize(
    "value", ["I will attack you", ["hello there", "you idiot", "buy drugs here"], PARTS], ids=["str", "list", "parts"]
)
async def test_moderation_answers_one_result_per_input(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, value: Any
) -> None:
    expected = await direct(mock_upstream, {"model": "omni-moderation-2024-09-26", "input": value})
    answer = await client.moderations.create(model="my-mod", input=value)
    assert answer.model == "my-mod"
    count = len(value) if isinstance(value, list) and isinstance(value[0], str) else 1
    assert len(answer.results) == count
    for got, want in zip(answer.results, expected["results"], strict=True):
        dumped = got.model_dump(by_alias=True)
        assert set(dumped["categories"]) == CATEGORIES == set(dumped["category_scores"])
        assert dumped["categories"] == want["categories"] and dumped["category_scores"] == want["category_scores"]
        assert got.flagged == want["flagged"]
    assert [r.flagged for r in answer.results][-1] is True  # the trigger words flagged the last input
    (sent,) = mock_upstream.requests
    assert sent.body == {"model": "omni-moderation-2024-09-26", "input": value}


async def test_model_defaults_to_omni_moderation_latest(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    answer = await client.moderations.create(input="a calm sentence")
    assert answer.model == "omni-moderation-latest" and answer.results[0].flagged is False
    assert mock_upstream.requests[-1].body["model"] == "omni-moderation-latest"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "my-mod"}, "input"),
        ({"model": "my-mod", "input": []}, "input"),
        ({"model": "my-mod", "input": 5}, "input"),
        ({"model": "my-mod", "input": ["ok", 3]}, "input[1]"),
        ({"model": "my-mod", "input": [{"type": "audio", "audio": "x"}]}, "input[0].type"),
        ({"model": "my-mod", "input": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]},
         "input[0].image_url.url"),
        ({"model": 7, "input": "x"}, "model"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_400_naming_the_field(
    client: openai.AsyncOpenAI, mock_upstream: MockUpstream, body: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.post("/moderations", body=body, cast_to=dict)  # type: ignore[arg-type]
    assert caught.value.param == param
    assert mock_upstream.requests == []


async def test_moderation_bills_one_call_and_estimated_tokens(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    prices = {"my-mod": {"input": 1.0, "per_call": 0.0005}}
    async with (
        media_gateway(tmp_path, gateway_channels(mock_upstream.url), prices=prices) as gateway,
        openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk,
    ):
        await sdk.moderations.create(model="my-mod", input=["first text here", "second"])
    (row,) = await usage_rows(tmp_path / "gw.db")
    assert row["model"] == "my-mod" and row["upstream_model"] == "omni-moderation-2024-09-26"
    assert row["usage_estimated"] and row["input_tokens"] == (15 + 3) // 4 + (6 + 3) // 4
    assert row["calls"] == 1 and row["images"] == row["seconds"] == row["characters"] == 0
    assert row["cost_nano"] == row["input_tokens"] * 1000 + row["calls"] * 500_000
