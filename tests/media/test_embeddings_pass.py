"""OpenAI embeddings relayed as the upstream wrote them (``protocols/media/embeddings_pass.py``): an OpenAI
client served by an OpenAI upstream gets the upstream's bytes with only ``model`` renamed, read by the
official SDK in both encodings; an answer that is no embeddings answer fails the attempt (the next
channel answers, or a 502 in OpenAI's error format); another encoding than asked, or items out of
order, still take the parse (converted, reordered).

The upstream here is an OpenAI-compatible server of the test's own that writes its answers the way
OpenAI does (indented JSON) or as each test tells it to.
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.local_http import serving
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

PUBLIC = "house-embeddings"  # the client's name, mapped to the upstream's
UPSTREAM_MODEL = "text-embedding-3-small"
ODD_ONLY = "odd-only"  # served by the odd upstream alone
DIMS = 6
TEXTS = ["one", "two", "three"]


def vector(position: int) -> list[float]:
    """Float32-exact numbers (so float and base64 say the same)."""
    return [(position + 1) * 0.25 + d * 0.125 for d in range(DIMS)]


def as_base64(values: list[float]) -> str:
    packed = array("f", values)
    if packed.itemsize != 4:  # pragma: no cover - float32 everywhere this runs
        raise AssertionError
    return base64.b64encode(packed.tobytes()).decode()


def openai_answer(inputs: int, encoding: str, model: str, **changes: Any) -> dict[str, Any]:
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": as_base64(vector(i)) if encoding == "base64" else vector(i),
        }
        for i in range(inputs)
    ]
    answer = {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    answer.update(changes)
    return answer


BROKEN = {
    "too few vectors": orjson.dumps(openai_answer(2, "float", UPSTREAM_MODEL)),
    "a string among the numbers": orjson.dumps(openai_answer(3, "float", UPSTREAM_MODEL)).replace(
        b"0.375,", b'"0.375",', 1
    ),
    "a null among the numbers": orjson.dumps(openai_answer(3, "float", UPSTREAM_MODEL)).replace(b"0.375,", b"null,", 1),
    "a null vector": orjson.dumps(
        openai_answer(
            3, "float", UPSTREAM_MODEL, data=[{"object": "embedding", "index": i, "embedding": None} for i in range(3)]
        )
    ),
    "not JSON": b'{"object": "list", "data": [',
    "no data": orjson.dumps({"object": "list", "model": UPSTREAM_MODEL}),
    "cut inside a vector": orjson.dumps(openai_answer(3, "float", UPSTREAM_MODEL))[:60],
}


def falls_over(case: str) -> str:
    """The model of a case's own channels (a channel failing every test would be skipped as unhealthy)."""
    return f"falls-over-{sorted(BROKEN).index(case)}"


class OddUpstream:
    """Answers ``POST /v1/embeddings`` like OpenAI (indented), or with the next queued body."""

    def __init__(self) -> None:
        self.queued: list[bytes] = []
        self.sent: list[bytes] = []
        self.requests: list[dict[str, Any]] = []
        self.peers: list[object] = []  # the gateway's end of the connection each request came on

    async def embeddings(self, request: web.Request) -> web.Response:
        asked = await request.json()
        self.requests.append(asked)
        assert request.transport is not None
        self.peers.append(request.transport.get_extra_info("peername"))
        if self.queued:
            body = self.queued.pop(0)
        else:
            inputs = len(asked["input"]) if isinstance(asked["input"], list) else 1
            answer = openai_answer(inputs, asked.get("encoding_format", "float"), asked["model"])
            body = orjson.dumps(answer, option=orjson.OPT_INDENT_2)
        self.sent.append(body)
        return web.Response(body=body, content_type="application/json")


@pytest.fixture(scope="module")
async def odd() -> AsyncIterator[tuple[OddUpstream, str]]:
    upstream = OddUpstream()
    app = web.Application()
    app.router.add_post("/v1/embeddings", upstream.embeddings)
    async with serving(app) as url:
        yield upstream, url


@pytest.fixture(scope="module")
async def served(
    odd: tuple[OddUpstream, str], mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningGateway, Path]]:
    odd_url = odd[1]
    db_dir = tmp_path_factory.mktemp("embeddings-pass")
    channels = [
        channel(odd_url, "odd", "openai", [PUBLIC, ODD_ONLY], model_map={PUBLIC: UPSTREAM_MODEL}),
        channel(
            mock_upstream.url,
            "mock",
            "openai",
            [falls_over(case) for case in BROKEN],
            model_map={falls_over(case): UPSTREAM_MODEL for case in BROKEN},
        ),
    ]
    channels += [
        channel(odd_url, f"odd-{falls_over(case)}", "openai", [falls_over(case)],
                model_map={falls_over(case): UPSTREAM_MODEL}, priority=10)
        for case in BROKEN
    ]  # fmt: skip
    async with media_gateway(db_dir, channels) as running:
        yield running, db_dir


@pytest.fixture
def upstream(odd: tuple[OddUpstream, str], mock_upstream: MockUpstream) -> OddUpstream:
    odd[0].queued.clear()
    odd[0].sent.clear()
    odd[0].requests.clear()
    odd[0].peers.clear()
    mock_upstream.clear_requests()
    mock_upstream.clear_script()
    return odd[0]


@pytest.fixture
async def client(served: tuple[RunningGateway, Path]) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{served[0].url}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


async def raw_embeddings(gateway: RunningGateway, body: dict[str, Any]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.url}/v1/embeddings", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
        ) as response,
    ):
        return response.status, await response.read()


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_the_upstream_answer_is_relayed_as_written_with_the_public_model(
    served: tuple[RunningGateway, Path], upstream: OddUpstream, encoding: str
) -> None:
    status, body = await raw_embeddings(served[0], {"model": PUBLIC, "input": TEXTS, "encoding_format": encoding})
    assert status == 200
    (sent,) = upstream.sent
    assert b'\n  "model": "text-embedding-3-small"' in sent  # indented, as OpenAI writes it
    assert body == sent.replace(b'"model": "text-embedding-3-small"', b'"model": "house-embeddings"')
    assert upstream.requests[0]["model"] == UPSTREAM_MODEL and upstream.requests[0]["encoding_format"] == encoding


async def test_calls_go_through_the_gateways_http1_client_on_one_kept_alive_connection(
    served: tuple[RunningGateway, Path], upstream: OddUpstream
) -> None:
    gateway = served[0]
    client = gateway.app.gateway.client.chat
    await client.close()  # no connection kept from earlier tests: the calls below open the one they use
    made = client.connections_made
    for encoding in ("float", "base64", "float", "base64", "float"):
        status, _ = await raw_embeddings(gateway, {"model": PUBLIC, "input": TEXTS, "encoding_format": encoding})
        assert status == 200
    assert len(upstream.peers) == 5 and len(set(upstream.peers)) == 1
    assert client.connections_made == made + 1 and client.idle == 1


@pytest.mark.parametrize("encoding", ["float", "base64", None])
async def test_the_official_sdk_reads_the_relayed_answer(
    served: tuple[RunningGateway, Path], client: openai.AsyncOpenAI, upstream: OddUpstream, encoding: str | None
) -> None:
    extra = {} if encoding is None else {"encoding_format": encoding}
    answer = await client.embeddings.create(model=PUBLIC, input=TEXTS, **extra)  # type: ignore[arg-type]
    assert answer.model == PUBLIC
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == 7
    for position, item in enumerate(answer.data):
        got = item.embedding
        if encoding == "base64":  # asked for, the SDK leaves it to the caller
            assert isinstance(got, str)
            got = array("f", base64.b64decode(got)).tolist()
        assert item.index == position and got == vector(position)
    gateway, db_dir = served
    await gateway.app.gateway.recorder.flush()
    row = [row for row in await usage_rows(db_dir / "gw.db") if row["model"] == PUBLIC][-1]
    assert row["input_tokens"] == 7 and not row["usage_estimated"] and row["status_code"] == 200


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_a_broken_answer_fails_over_to_the_next_channel(
    served: tuple[RunningGateway, Path], client: openai.AsyncOpenAI, upstream: OddUpstream, case: str
) -> None:
    upstream.queued.append(BROKEN[case])
    raw = await client.embeddings.with_raw_response.create(model=falls_over(case), input=TEXTS, encoding_format="float")
    answer = raw.parse()
    assert raw.headers["x-omnirouter-attempts"] == "2"
    assert answer.model == falls_over(case) and len(answer.data) == 3 and len(answer.data[0].embedding) == 1536
    assert len(upstream.sent) == 1


async def test_a_broken_answer_on_the_only_channel_is_a_502_in_openai_format(
    client: openai.AsyncOpenAI, upstream: OddUpstream
) -> None:
    bad_base64 = openai_answer(3, "base64", UPSTREAM_MODEL)
    bad_base64["data"][1]["embedding"] = bad_base64["data"][1]["embedding"][:-4]  # not a whole float32
    upstream.queued.append(orjson.dumps(bad_base64))
    with pytest.raises(openai.APIStatusError) as caught:
        await client.embeddings.create(model=ODD_ONLY, input=TEXTS, encoding_format="base64")
    assert caught.value.status_code == 502
    error = caught.value.body
    assert isinstance(error, dict) and error["type"] and "base64" in error["message"]


async def test_another_encoding_than_asked_is_converted(client: openai.AsyncOpenAI, upstream: OddUpstream) -> None:
    upstream.queued.append(orjson.dumps(openai_answer(3, "base64", UPSTREAM_MODEL)))
    answer = await client.embeddings.create(model=PUBLIC, input=TEXTS, encoding_format="float")
    assert [item.embedding for item in answer.data] == [vector(i) for i in range(3)]
    assert answer.model == PUBLIC


async def test_items_out_of_order_are_put_in_order(client: openai.AsyncOpenAI, upstream: OddUpstream) -> None:
    shuffled = openai_answer(3, "float", UPSTREAM_MODEL)
    shuffled["data"].reverse()
    upstream.queued.append(orjson.dumps(shuffled))
    answer = await client.embeddings.create(model=PUBLIC, input=TEXTS, encoding_format="float")
    assert [(item.index, item.embedding) for item in answer.data] == [(i, vector(i)) for i in range(3)]


async def test_a_model_named_twice_is_rewritten_by_the_parse(
    served: tuple[RunningGateway, Path], upstream: OddUpstream
) -> None:
    upstream.queued.append(orjson.dumps(openai_answer(3, "float", UPSTREAM_MODEL, extra={"model": "other"})))
    status, body = await raw_embeddings(served[0], {"model": PUBLIC, "input": TEXTS, "encoding_format": "float"})
    answer = orjson.loads(body)
    assert status == 200 and answer["model"] == PUBLIC and "extra" not in answer
    assert [item["embedding"] for item in answer["data"]] == [vector(i) for i in range(3)]
