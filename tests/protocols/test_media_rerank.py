"""The rerank and moderation codecs without a network: what each vendor is sent, how answers and usage
are read, and what the client gets back."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.media import RerankHit, RerankRequest, RerankResult
from omnirouter.protocols.media.base import Answer, Target
from omnirouter.protocols.media.openai_moderations import OPENAI_MODERATIONS_IN, OPENAI_MODERATIONS_UP
from omnirouter.protocols.media.rerank import COHERE_V2_RERANK_IN, RERANK_IN, document_text
from omnirouter.protocols.media.rerank_vendors import (
    COHERE_RERANK_UP,
    DASHSCOPE_RERANK_UP,
    JINA_RERANK_UP,
    VOYAGE_RERANK_UP,
)

TARGET = Target("up-model", {}, "sk-secret")


def request(**fields: Any) -> RerankRequest:
    base: dict[str, Any] = {"model": "m", "query": "q", "documents": ["a", "b", "c"]}
    return RerankRequest(**{**base, **fields})


def sent(call_body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call_body)
    return parsed


def answer(body: dict[str, Any]) -> Answer:
    return Answer(200, {}, orjson.dumps(body))


def test_document_text_flattens_objects() -> None:
    assert document_text("plain") == "plain"
    assert document_text({"text": "body", "title": "t"}) == "body"
    assert document_text({"title": "T", "year": 2020}) == "title: T\nyear: 2020"
    assert document_text({"title": "T", "text": "x", "tags": ["a"]}, ["tags", "title"]) == 'tags: ["a"]\ntitle: T'


def test_cohere_uses_v2_for_strings_and_v1_for_objects_or_v1_options() -> None:
    call = COHERE_RERANK_UP.build(request(max_tokens_per_doc=512, return_documents=True), TARGET)
    assert call.path == "/v2/rerank"
    assert sent(call.body) == {
        "model": "up-model",
        "query": "q",
        "documents": ["a", "b", "c"],
        "max_tokens_per_doc": 512,
    }
    objects = request(documents=[{"text": "a"}, "b"], top_n=1)
    call = COHERE_RERANK_UP.build(objects, TARGET)
    assert call.path == "/v1/rerank" and sent(call.body)["documents"] == [{"text": "a"}, "b"]
    assert sent(call.body)["top_n"] == 1 and "return_documents" not in sent(call.body)
    assert COHERE_RERANK_UP.build(request(rank_fields=["title"]), TARGET).path == "/v1/rerank"
    assert COHERE_RERANK_UP.build(request(max_chunks_per_doc=3), TARGET).path == "/v1/rerank"


def test_vendor_request_shapes_never_invent_top_n_or_return_documents() -> None:
    plain = request(documents=[{"text": "a", "k": 1}, "b"])
    assert sent(JINA_RERANK_UP.build(plain, TARGET).body) == {
        "model": "up-model", "query": "q", "documents": [{"text": "a", "k": 1}, "b"]}  # fmt: skip
    assert sent(VOYAGE_RERANK_UP.build(plain, TARGET).body) == {
        "model": "up-model",
        "query": "q",
        "documents": ["a", "b"],
    }
    call = DASHSCOPE_RERANK_UP.build(plain, TARGET)
    assert call.path == "/api/v1/services/rerank/text-rerank/text-rerank"
    assert sent(call.body) == {"model": "up-model", "input": {"query": "q", "documents": ["a", "b"]}}
    limited = request(top_n=2, return_documents=False)
    assert sent(VOYAGE_RERANK_UP.build(limited, TARGET).body)["top_k"] == 2
    assert sent(DASHSCOPE_RERANK_UP.build(limited, TARGET).body)["parameters"] == {
        "top_n": 2,
        "return_documents": False,
    }
    fields = request(documents=[{"title": "A", "text": "x"}], rank_fields=["title"])
    assert sent(JINA_RERANK_UP.build(fields, TARGET).body)["documents"] == ["title: A"]


def test_results_are_read_sorted_with_usage() -> None:
    req = request()
    voyage = VOYAGE_RERANK_UP.parse(
        answer({"data": [{"index": 2, "relevance_score": 0.2}, {"index": 0, "relevance_score": 0.9}],
                "usage": {"total_tokens": 17}}), req, TARGET, None)  # fmt: skip
    assert [(h.index, h.score) for h in voyage.hits] == [(0, 0.9), (2, 0.2)]
    assert voyage.usage == Usage(input_tokens=17, calls=1)
    cohere = COHERE_RERANK_UP.parse(
        answer({"id": "x", "results": [{"index": 1, "relevance_score": 0.5}],
                "meta": {"billed_units": {"search_units": 3}}}), req, TARGET, None)  # fmt: skip
    assert cohere.usage == Usage(calls=3) and cohere.search_units == 3 and cohere.id == "x"
    estimated = JINA_RERANK_UP.parse(answer({"results": [{"index": 0, "relevance_score": 1}]}), req, TARGET, None)
    assert estimated.usage.estimated and estimated.usage.input_tokens == 6 and estimated.usage.calls == 1


@pytest.mark.parametrize(
    "results",
    [
        [{"index": 3, "relevance_score": 0.1}],
        [{"index": 0, "relevance_score": 0.1}, {"index": 0, "relevance_score": 0.2}],
        [{"index": 0}],
        [{"index": True, "relevance_score": 0.1}],
        "nope",
    ],
)
def test_bad_results_are_upstream_errors(results: Any) -> None:
    with pytest.raises(GatewayError) as caught:
        JINA_RERANK_UP.parse(answer({"results": results}), request(), TARGET, None)
    assert caught.value.kind is ErrorKind.UPSTREAM


def test_dashscope_error_inside_a_200_raises() -> None:
    body = {"code": "InvalidParameter", "message": "bad things", "request_id": "r"}
    with pytest.raises(GatewayError) as caught:
        DASHSCOPE_RERANK_UP.parse(answer(body), request(), TARGET, None)
    assert caught.value.kind is ErrorKind.UPSTREAM and "bad things" in caught.value.message


def test_vendor_http_errors_keep_their_message() -> None:
    error = VOYAGE_RERANK_UP.decode_error(400, b'{"detail": "Provided API key is invalid."}')
    assert error.status == 400 and error.message == "Provided API key is invalid."


def test_v1_answer_carries_the_clients_documents_and_both_usage_shapes() -> None:
    req = RERANK_IN.decode(
        orjson.dumps({"model": "m", "query": "q", "documents": ["a", {"text": "b", "x": 1}], "return_documents": True}),
        "application/json", None)  # fmt: skip
    result = RerankResult(hits=[RerankHit(index=1, score=0.7), RerankHit(index=0, score=0.1)],
                          usage=Usage(input_tokens=9, calls=1), search_units=1)  # fmt: skip
    body = orjson.loads(RERANK_IN.encode(result, req, "public")[0])
    assert body == {
        "results": [
            {"index": 1, "relevance_score": 0.7, "document": {"text": "b", "x": 1}},
            {"index": 0, "relevance_score": 0.1, "document": {"text": "a"}},
        ],
        "model": "public",
        "usage": {"total_tokens": 9},
        "meta": {"billed_units": {"search_units": 1}},
    }
    v2 = COHERE_V2_RERANK_IN.decode(orjson.dumps({"model": "m", "query": "q", "documents": ["a", "b"]}), "", None)
    v2_body = orjson.loads(COHERE_V2_RERANK_IN.encode(result, v2, "public")[0])
    assert "document" not in v2_body["results"][0] and "usage" not in v2_body


def test_budget_bounds_search_units() -> None:
    req = request(documents=["d"] * 250)
    assert RERANK_IN.budget(req, 1000).calls == 3
    assert RERANK_IN.budget(req, 1000).max_output == 0


def test_budget_counts_the_chunks_cohere_bills_for_long_documents() -> None:
    """A document longer than 500 tokens with the query is billed as one document per chunk: 100 documents
    of 2,000 ASCII words (at least 4 chunks each by bytes) reserve more than one search unit."""
    long = " ".join(["word"] * 2000)  # 9,999 bytes, far above 500 tokens
    req = request(documents=[long] * 100)
    room = 500 - len(req.query.encode())
    assert RERANK_IN.budget(req, 10**6).calls == math.ceil(100 * math.ceil(len(long) / room) / 100) > 1
    assert RERANK_IN.budget(request(documents=["short"] * 100), 1000).calls == 1


def test_moderation_results_must_match_the_inputs() -> None:
    req = OPENAI_MODERATIONS_IN.decode(orjson.dumps({"input": ["a", "b"]}), "application/json", None)
    assert req.model == "omni-moderation-latest"
    one = {"flagged": False, "categories": {}, "category_scores": {}}
    with pytest.raises(GatewayError):
        OPENAI_MODERATIONS_UP.parse(answer({"results": [one]}), req, TARGET, None)
    result = OPENAI_MODERATIONS_UP.parse(answer({"id": "modr-1", "results": [one, one]}), req, TARGET, None)
    assert result.usage.calls == 1 and result.usage.estimated and result.id == "modr-1"
