"""Rerank: Cohere v1/v2, Jina, Voyage and DashScope, scored by word overlap with the query.

Cohere, Jina and Voyage all answer ``POST /v1/rerank`` on their own hosts, so the mock tells them
apart by a path prefix the channel's base URL carries: ``/cohere/v1/rerank``, ``/cohere/v2/rerank``,
``/jina/v1/rerank``, ``/voyage/v1/rerank``; ``/v1/rerank`` and ``/v2/rerank`` without a prefix are Cohere.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream.core import Exchange, as_int, begin, json_response
from omnirouter.mock_upstream.media_common import directive, ranked
from omnirouter.mock_upstream.media_wires import COHERE, DASHSCOPE, JINA, VOYAGE, body_error
from omnirouter.mock_upstream.tokens import count_input

_COHERE_V1 = frozenset(
    {"model", "query", "documents", "top_n", "rank_fields", "return_documents", "max_chunks_per_doc"}
)
_COHERE_V2 = frozenset({"model", "query", "documents", "top_n", "max_tokens_per_doc", "priority"})


def _doc_text(doc: Any, fields: list[str] | None = None) -> str | None:
    if isinstance(doc, str):
        return doc
    if isinstance(doc, dict):
        if fields:
            return " ".join(str(doc.get(f, "")) for f in fields)
        text = doc.get("text")
        return text if isinstance(text, str) else None
    return None


def _texts(documents: Any, *, objects: bool, fields: list[str] | None = None) -> list[str] | str:
    """Document texts, or a message naming what is wrong."""
    if not isinstance(documents, list) or not documents:
        return "documents must be a non-empty list"
    texts: list[str] = []
    for i, doc in enumerate(documents):
        text = _doc_text(doc, fields) if objects or isinstance(doc, str) else None
        if text is None:
            return f"documents[{i}] must be a string" if not objects else f"documents[{i}] must be a string or object"
        texts.append(text)
    return texts


async def _cohere(request: web.Request, version: int) -> web.StreamResponse:
    ex = await begin(request, COHERE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    for name in body:
        if name not in (_COHERE_V1 if version == 1 else _COHERE_V2):
            return COHERE.error(422, f"unknown field: parameter '{name}' is not a valid field")
    if version == 2 and not isinstance(body.get("model"), str):
        return COHERE.error(400, "invalid request: model must be specified")
    query = body.get("query")
    if not isinstance(query, str) or not query:
        return COHERE.error(400, "invalid request: query must not be empty")
    fields = body.get("rank_fields") if isinstance(body.get("rank_fields"), list) else None
    texts = _texts(body.get("documents"), objects=version == 1, fields=fields)
    if isinstance(texts, str):
        return COHERE.error(400, f"invalid request: {texts}")
    got = await directive(ex, query)
    if not isinstance(got, tuple):
        return got
    _, clean = got
    results: list[dict[str, Any]] = []
    for index, score in ranked(clean, texts, as_int(body.get("top_n"))):
        item: dict[str, Any] = {"index": index, "relevance_score": score}
        if version == 1 and body.get("return_documents") is True:
            doc = body["documents"][index]
            item["document"] = doc if isinstance(doc, dict) else {"text": doc}
        results.append(item)
    serial = ex.state.next_serial()
    meta = {
        "api_version": {"version": str(version), "is_experimental": False},
        "billed_units": {"search_units": max(1, math.ceil(len(texts) / 100))},
    }
    return json_response({"id": f"mock-rerank-{serial:08d}", "results": results, "meta": meta})


async def cohere_v1(request: web.Request) -> web.StreamResponse:
    """``POST [/cohere]/v1/rerank``: Cohere v1 (string or object documents, ``return_documents``)."""
    return await _cohere(request, 1)


async def cohere_v2(request: web.Request) -> web.StreamResponse:
    """``POST [/cohere]/v2/rerank``: Cohere v2 (model required, strings only, never documents)."""
    return await _cohere(request, 2)


def _tokens(query: str, texts: list[str]) -> int:
    return count_input(query) * len(texts) + count_input(texts)


async def jina(request: web.Request) -> web.StreamResponse:
    """``POST /jina/v1/rerank``: ``{model, usage: {total_tokens}, results: [{index, document, relevance_score}]}``."""
    ex = await begin(request, JINA)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    query = body.get("query")
    if not isinstance(query, str) or not isinstance(body.get("model"), str):
        return JINA.error(422, "Field required: 'model' and 'query'")
    texts = _texts(body.get("documents"), objects=True)
    if isinstance(texts, str):
        return JINA.error(422, texts)
    got = await directive(ex, query)
    if not isinstance(got, tuple):
        return got
    results: list[dict[str, Any]] = []
    for index, score in ranked(got[1], texts, as_int(body.get("top_n"))):
        item: dict[str, Any] = {"index": index}
        if body.get("return_documents", True) is not False:
            item["document"] = {"text": texts[index]}
        item["relevance_score"] = score
        results.append(item)
    usage = {"total_tokens": _tokens(query, texts)}
    return json_response({"model": body["model"], "usage": usage, "results": results})


async def voyage(request: web.Request) -> web.StreamResponse:
    """``POST /voyage/v1/rerank``: ``{object: list, data: [...], model, usage: {total_tokens}}`` with ``top_k``."""
    ex = await begin(request, VOYAGE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    query = body.get("query")
    if not isinstance(query, str) or not isinstance(body.get("model"), str):
        return VOYAGE.error(400, "Request body must include 'query', 'documents' and 'model'.")
    texts = _texts(body.get("documents"), objects=False)
    if isinstance(texts, str):
        return VOYAGE.error(400, texts)
    got = await directive(ex, query)
    if not isinstance(got, tuple):
        return got
    data: list[dict[str, Any]] = []
    for index, score in ranked(got[1], texts, as_int(body.get("top_k"))):
        item: dict[str, Any] = {"relevance_score": score, "index": index}
        if body.get("return_documents") is True:
            item["document"] = texts[index]
        data.append(item)
    usage = {"total_tokens": _tokens(query, texts)}
    return json_response({"object": "list", "data": data, "model": body["model"], "usage": usage})


async def dashscope(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/services/rerank/text-rerank/text-rerank``: ``{output: {results}, usage, request_id}``."""
    ex = await begin(request, DASHSCOPE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    inp = body.get("input")
    params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    query = inp.get("query") if isinstance(inp, dict) else None
    if not isinstance(body.get("model"), str) or not isinstance(query, str):
        return DASHSCOPE.error(400, "Required parameter(s) missing or invalid: model, input.query")
    texts = _texts(inp.get("documents") if isinstance(inp, dict) else None, objects=False)
    if isinstance(texts, str):
        return DASHSCOPE.error(400, f"Invalid input: {texts}")
    got = await directive(ex, query)
    if not isinstance(got, tuple):
        return got
    serial = ex.state.next_serial()
    failed = body_error(DASHSCOPE, got[0], serial)
    if failed is not None:
        return failed
    results: list[dict[str, Any]] = []
    for index, score in ranked(got[1], texts, as_int(params.get("top_n"))):
        item: dict[str, Any] = {"index": index, "relevance_score": score}
        if params.get("return_documents") is True:
            item["document"] = {"text": texts[index]}
        results.append(item)
    answer = {
        "output": {"results": results},
        "usage": {"total_tokens": _tokens(query, texts)},
        "request_id": f"mock-{serial:012d}",
    }
    return json_response(answer)
