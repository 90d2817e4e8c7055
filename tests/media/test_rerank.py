"""Rerank through the gateway with Cohere's own SDK (v1 ``Client.rerank`` and v2 ``ClientV2.rerank``)
against every rerank upstream on the mock (Cohere, Jina, Voyage, DashScope).

Scores and order are compared with what the mock itself computes for the same query and documents
(asked directly, at its Cohere v1 endpoint, which ranks string and ``{text}`` documents alike).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import cohere
import httpx
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway
from tests.helpers.media_gateway import channel, media_gateway
from tests.helpers.usage_rows import usage_rows

UPSTREAMS = {  # public model -> (provider, upstream model)
    "rr-cohere": ("cohere", "rerank-v3.5"),
    "rr-jina": ("jina", "jina-reranker-v2-base-multilingual"),
    "rr-voyage": ("voyage", "rerank-2.5"),
    "rr-dash": ("dashscope", "gte-rerank-v2"),
}
MODELS = list(UPSTREAMS)
QUERY = "what is the capital of france"
DOCUMENTS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital of France.",
    "France is a country in Europe.",
    "Bananas are yellow.",
    "The capital city of France, Paris, is on the Seine.",
]
OBJECTS = [{"text": text, "title": f"doc {i}"} for i, text in enumerate(DOCUMENTS)]


def vendor_requests(mock: MockUpstream) -> list[dict[str, Any]]:
    """Bodies the rerank vendors received (not the test's own reference calls)."""
    return [r.body for r in mock.requests if r.provider in ("cohere", "jina", "voyage", "dashscope")]


@pytest.fixture(scope="module")
async def served(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """One channel per rerank vendor; the tests only rerank (no test here reads usage rows)."""
    channels = [
        channel(mock_upstream.url, provider, provider, [public], model_map={public: upstream})
        for public, (provider, upstream) in UPSTREAMS.items()
    ]
    async with media_gateway(tmp_path_factory.mktemp("rerank"), channels) as running:
        yield running


@pytest.fixture
def gateway(served: RunningGateway, mock_upstream: MockUpstream) -> RunningGateway:
    mock_upstream.requests.clear()
    return served


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The Cohere clients' connection pool, closed after the test."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def v1_client(gateway: RunningGateway, http: httpx.AsyncClient) -> cohere.AsyncClient:
    return cohere.AsyncClient(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0, httpx_client=http)


def v2_client(gateway: RunningGateway, http: httpx.AsyncClient) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0, httpx_client=http)


async def reference(mock: MockUpstream, documents: list[Any]) -> list[tuple[int, float]]:
    """(index, score) of every document as the mock ranks them, best first."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{mock.url}/cohere/v1/rerank",
            json={"query": QUERY, "documents": documents},
            headers={"authorization": f"Bearer {UPSTREAM_KEY}"},
        ) as response,
    ):
        assert response.status == 200
        body = await response.json()
    mock.requests.clear()
    return [(r["index"], r["relevance_score"]) for r in body["results"]]


@pytest.mark.parametrize("top_n", [None, 2])
@pytest.mark.parametrize("model", MODELS)
async def test_cohere_v2_sdk_reranks_on_every_vendor(
    gateway: RunningGateway, mock_upstream: MockUpstream, model: str, top_n: int | None, http: httpx.AsyncClient
) -> None:
    expected = await reference(mock_upstream, DOCUMENTS)
    client = v2_client(gateway, http)
    kwargs: dict[str, Any] = {} if top_n is None else {"top_n": top_n}
    answer = await client.rerank(model=model, query=QUERY, documents=DOCUMENTS, **kwargs)
    got = [(r.index, r.relevance_score) for r in answer.results]
    assert got == expected[: top_n or len(DOCUMENTS)]
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    assert all("document" not in r.model_dump() for r in answer.results)  # v2 never answers documents
    (sent,) = vendor_requests(mock_upstream)
    provider, upstream = UPSTREAMS[model]
    assert sent["model"] == upstream
    limit = sent.get("parameters", {}).get("top_n") if provider == "dashscope" else sent.get("top_n", sent.get("top_k"))
    assert limit == top_n  # never invented when absent
    if provider == "cohere":
        assert mock_upstream.requests[-1].path == "/cohere/v2/rerank"
        assert answer.meta is not None and answer.meta.billed_units is not None
        assert answer.meta.billed_units.search_units == 1


@pytest.mark.parametrize("return_documents", [None, True, False])
@pytest.mark.parametrize("model", MODELS)
async def test_cohere_v1_sdk_with_object_documents(
    gateway: RunningGateway,
    mock_upstream: MockUpstream,
    model: str,
    return_documents: bool | None,
    http: httpx.AsyncClient,
) -> None:
    expected = await reference(mock_upstream, OBJECTS)
    client = v1_client(gateway, http)
    kwargs: dict[str, Any] = {} if return_documents is None else {"return_documents": return_documents}
    answer = await client.rerank(model=model, query=QUERY, documents=OBJECTS, top_n=3, **kwargs)
    assert [(r.index, r.relevance_score) for r in answer.results] == expected[:3]
    provider, _ = UPSTREAMS[model]
    # Documents come back when asked; when not said, as the vendor's own default (only Jina's is true).
    with_documents = return_documents if return_documents is not None else provider == "jina"
    for r in answer.results:
        if with_documents:
            assert r.document is not None and r.document.text == DOCUMENTS[r.index]
            assert r.document.model_dump().get("title") == f"doc {r.index}"  # the client's own object
        else:
            assert r.document is None
    (sent,) = vendor_requests(mock_upstream)
    documents = sent["input"]["documents"] if provider == "dashscope" else sent["documents"]
    if provider in ("cohere", "jina"):
        assert documents == OBJECTS  # these take objects as sent
    else:
        assert documents == DOCUMENTS  # flattened to the text field for strings-only vendors
    said = sent.get("parameters", {}) if provider == "dashscope" else sent
    assert said.get("return_documents") == return_documents
    if provider == "cohere":
        assert mock_upstream.requests[-1].path == "/cohere/v1/rerank"


@pytest.mark.parametrize("model", MODELS)
async def test_v1_string_documents_without_top_n_return_all(
    gateway: RunningGateway, mock_upstream: MockUpstream, model: str, http: httpx.AsyncClient
) -> None:
    expected = await reference(mock_upstream, DOCUMENTS)
    client = v1_client(gateway, http)
    answer = await client.rerank(model=model, query=QUERY, documents=DOCUMENTS, return_documents=True)
    assert [(r.index, r.relevance_score) for r in answer.results] == expected
    assert [r.document.text for r in answer.results if r.document] == [DOCUMENTS[i] for i, _ in expected]


async def test_jina_shape_answer_names_the_public_model_and_usage(
    gateway: RunningGateway, mock_upstream: MockUpstream
) -> None:
    """A Jina/LangChain client reads ``results``, ``model`` and ``usage.total_tokens`` at ``/rerank``."""
    expected = await reference(mock_upstream, DOCUMENTS)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.url}/rerank",
            json={"model": "rr-jina", "query": QUERY, "documents": DOCUMENTS, "top_n": 1},
            headers={"authorization": f"Bearer {CLIENT_KEY}"},
        ) as response,
    ):
        assert response.status == 200
        body = await response.json()
    (upstream,) = [r for r in mock_upstream.requests if r.provider == "jina"]
    assert body["model"] == "rr-jina"
    (best,) = body["results"]
    assert (best["index"], best["relevance_score"]) == expected[0]
    assert best["document"] == {"text": DOCUMENTS[best["index"]]}  # Jina's default: documents back
    assert body["usage"]["total_tokens"] > 0
    assert upstream.path == "/jina/v1/rerank"


BAD = [
    ("/v1/rerank", {"model": "rr-cohere", "documents": DOCUMENTS}, "query"),
    ("/v1/rerank", {"model": "rr-cohere", "query": "", "documents": DOCUMENTS}, "query"),
    ("/v1/rerank", {"model": "rr-cohere", "query": QUERY, "documents": "one document"}, "documents"),
    ("/v1/rerank", {"model": "rr-cohere", "query": QUERY, "documents": []}, "documents"),
    ("/v1/rerank", {"model": "rr-cohere", "query": QUERY, "documents": ["a", 3]}, "documents[1]"),
    ("/v1/rerank", {"model": "rr-cohere", "query": QUERY, "documents": DOCUMENTS, "top_n": 0}, "top_n"),
    ("/v1/rerank", {"model": "rr-jina", "query": QUERY, "documents": DOCUMENTS, "top_n": -1}, "top_n"),
    ("/v1/rerank", {"model": "rr-jina", "query": QUERY, "documents": DOCUMENTS, "return_documents": "yes"},
     "return_documents"),
    ("/v1/rerank", {"query": QUERY, "documents": DOCUMENTS}, "model"),
    ("/v2/rerank", {"model": "rr-cohere", "query": QUERY, "documents": OBJECTS}, "documents[0]"),
    ("/v2/rerank", {"query": QUERY, "documents": DOCUMENTS}, "model"),
    ("/v2/rerank", {"model": "rr-voyage", "query": QUERY, "documents": DOCUMENTS, "top_n": 0}, "top_n"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "param"), BAD)
async def test_bad_input_is_a_400_naming_the_field_and_reaches_no_upstream(
    gateway: RunningGateway, mock_upstream: MockUpstream, path: str, body: dict[str, Any], param: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gateway.url}{path}", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}) as response,
    ):
        status, answer = response.status, await response.json()
    assert status == 400
    assert answer["error"]["param"] == param and param in answer["message"]
    assert mock_upstream.requests == []


async def test_cohere_sdk_sees_a_bad_request_error(
    gateway: RunningGateway, mock_upstream: MockUpstream, http: httpx.AsyncClient
) -> None:
    client = v1_client(gateway, http)
    with pytest.raises(cohere.BadRequestError) as caught:
        await client.rerank(model="rr-cohere", query=QUERY, documents=DOCUMENTS, top_n=0)
    assert "top_n" in str(caught.value.body)
    assert mock_upstream.requests == []


# ---------------------------------------------------------------- billing and failover (own gateways)


async def test_usage_rows_bill_search_units_and_tokens(
    tmp_path: Path, mock_upstream: MockUpstream, http: httpx.AsyncClient
) -> None:
    """Cohere's search units are calls (priced ``per_call``); Jina's tokens are input tokens plus one call."""
    channels = [
        channel(mock_upstream.url, "co", "cohere", ["rr-cohere"], model_map={"rr-cohere": "rerank-v3.5"}),
        channel(mock_upstream.url, "ji", "jina", ["rr-jina"], model_map={"rr-jina": "jina-reranker-v2"}),
    ]
    prices = {"rr-cohere": {"per_call": 0.002}, "rr-jina": {"input": 1.0, "per_call": 0.001}}
    many = [f"document number {i} about france" for i in range(150)]
    async with media_gateway(tmp_path, channels, prices=prices) as gateway:
        client = v2_client(gateway, http)
        cohere_answer = await client.rerank(model="rr-cohere", query=QUERY, documents=many, top_n=3)
        mock_upstream.requests.clear()
        jina_answer = await client.rerank(model="rr-jina", query=QUERY, documents=DOCUMENTS)
    assert cohere_answer.meta is not None and cohere_answer.meta.billed_units is not None
    assert cohere_answer.meta.billed_units.search_units == 2  # 150 documents: two units, as the mock bills
    assert len(jina_answer.results) == len(DOCUMENTS)
    rows = await usage_rows(tmp_path / "gw.db")
    co, ji = rows
    assert (co["model"], co["channel"], co["status_code"], co["inbound_protocol"]) == ("rr-cohere", "co", 200,
                                                                                        "cohere_v2")  # fmt: skip
    assert co["calls"] == cohere_answer.meta.billed_units.search_units  # the search units, in their column
    assert co["cost_nano"] == co["calls"] * 2_000_000 and co["input_tokens"] == 0 and not co["usage_estimated"]
    assert ji["input_tokens"] > 0 and not ji["usage_estimated"] and ji["calls"] == 1
    assert ji["cost_nano"] == ji["input_tokens"] * 1000 + ji["calls"] * 1_000_000


async def test_dashscope_error_inside_a_200_fails_over(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    channels = [
        channel(mock_upstream.url, "ds-first", "dashscope", ["rr-any"], priority=10),
        channel(mock_upstream.url, "ji-second", "jina", ["rr-any"]),
    ]
    expected = await reference(mock_upstream, DOCUMENTS)
    async with media_gateway(tmp_path, channels) as gateway:
        mock_upstream.script({"body_error": True, "message": "Mock quota problem"}, times=1)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{gateway.url}/v1/rerank",
                json={"model": "rr-any", "query": QUERY, "documents": DOCUMENTS},
                headers={"authorization": f"Bearer {CLIENT_KEY}"},
            ) as response,
        ):
            status, body = response.status, await response.json()
            attempts = response.headers["x-omnirouter-attempts"]
    assert status == 200 and attempts == "2"
    assert [(r["index"], r["relevance_score"]) for r in body["results"]] == expected
    assert [r.provider for r in mock_upstream.requests] == ["dashscope", "jina"]
    (row,) = await usage_rows(tmp_path / "gw.db")
    log = json.loads(row["attempt_log"])
    assert [entry["channel"] for entry in log] == ["ds-first", "ji-second"]
    assert (log[0]["status"], log[0]["error"]) == (502, "upstream") and log[1]["status"] == 200
    assert row["attempts"] == 2 and row["channel"] == "ji-second" and row["status_code"] == 200
    assert row["input_tokens"] == body["usage"]["total_tokens"]
