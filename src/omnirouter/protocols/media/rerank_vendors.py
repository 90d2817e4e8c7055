"""Rerank upstreams: Cohere (v1 and v2), Jina, Voyage and DashScope (Alibaba).

Every vendor's channel ``base_url`` is its bare host; the codecs add the paths.  What a vendor cannot
take is adapted, never invented: ``top_n`` is sent only when the client gave it (Voyage calls it
``top_k``), ``return_documents`` likewise; documents go back to the client from its own request by
``index`` (``protocols/media/rerank.py``), so a vendor that cannot return them (Cohere v2) loses nothing.

Cohere: v1 when the request needs it (object documents, ``rank_fields``, ``max_chunks_per_doc``), else
v2 (the current API; ``max_tokens_per_doc`` is v2's).  Voyage and DashScope take strings: object
documents are flattened (``document_text``); Jina takes objects, flattened only for ``rank_fields``.

Usage: Cohere bills search units (``meta.billed_units.search_units`` → ``calls``, its tokens when it
reports them); the others bill tokens (``usage.total_tokens`` → ``input_tokens``) and count one call.
What a vendor leaves out is estimated and marked so.
"""

from __future__ import annotations

import math
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import RerankHit, RerankRequest, RerankResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, estimated_tokens, json_object
from omnirouter.protocols.media.rerank import document_text, search_units
from omnirouter.protocols.openai_chat.errors import decode_error

__all__ = ["COHERE_RERANK_UP", "DASHSCOPE_RERANK_UP", "JINA_RERANK_UP", "VOYAGE_RERANK_UP"]

DASHSCOPE_RERANK_PATH = "/api/v1/services/rerank/text-rerank/text-rerank"


def _texts(request: RerankRequest) -> list[str]:
    return [document_text(d, request.rank_fields) for d in request.documents]


def _bad(vendor: str, what: str) -> GatewayError:
    return GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned {what}")


def _hits(items: Any, request: RerankRequest, vendor: str) -> list[RerankHit]:
    """Ranked items ``[{index, relevance_score, document?}]`` as hits by descending score.

    ``document`` of a hit is the client's document when the vendor returned one (so the client's
    ``return_documents`` default is the vendor's), else None."""
    if not isinstance(items, list):
        raise _bad(vendor, "no rerank results")
    count = len(request.documents)
    hits: list[RerankHit] = []
    seen: set[int] = set()
    for item in items:
        if not isinstance(item, dict):
            raise _bad(vendor, "a rerank result that is not an object")
        index, score = item.get("index"), item.get("relevance_score")
        if type(index) is not int or not 0 <= index < count or index in seen:
            raise _bad(vendor, "rerank results with bad indexes")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise _bad(vendor, "a rerank result without a relevance score")
        seen.add(index)
        returned = item.get("document") is not None
        hits.append(RerankHit(index=index, score=float(score), document=request.documents[index] if returned else None))
    hits.sort(key=lambda hit: -hit.score)
    return hits


def _token_usage(parsed: dict[str, Any], request: RerankRequest) -> Usage:
    """``usage.total_tokens`` as input tokens and one call; estimated when the vendor gave none."""
    usage = parsed.get("usage")
    if isinstance(usage, dict) and usage.get("total_tokens") is not None:
        return Usage(input_tokens=token_count(usage["total_tokens"]), calls=1)
    texts = _texts(request)
    return Usage(input_tokens=estimated_tokens([request.query] * len(texts) + texts), calls=1, estimated=True)


def _optional(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body.update((key, value) for key, value in fields.items() if value is not None)
    return body


class CohereRerankUpstream:
    """Cohere's ``/v1/rerank`` (objects, ``rank_fields``, ``max_chunks_per_doc``) or ``/v2/rerank``."""

    vendor = "Cohere"

    @staticmethod
    def v1(request: RerankRequest) -> bool:
        """Whether the request needs v1: object documents or v1-only options."""
        return (
            request.rank_fields is not None
            or request.max_chunks_per_doc is not None
            or any(isinstance(d, dict) for d in request.documents)
        )

    def build(self, request: RerankRequest, target: Target) -> UpstreamCall:
        body: dict[str, Any] = {"model": target.upstream_model, "query": request.query, "documents": request.documents}
        if self.v1(request):
            _optional(body, top_n=request.top_n, rank_fields=request.rank_fields)
            _optional(body, return_documents=request.return_documents, max_chunks_per_doc=request.max_chunks_per_doc)
            return UpstreamCall("/v1/rerank", client_json(body))
        _optional(body, top_n=request.top_n, max_tokens_per_doc=request.max_tokens_per_doc)
        return UpstreamCall("/v2/rerank", client_json(body))

    def parse(self, answer: Answer, request: RerankRequest, target: Target, step: Followup | None) -> RerankResult:
        parsed = json_object(answer.body, self.vendor)
        hits = _hits(parsed.get("results"), request, self.vendor)
        meta = parsed.get("meta")
        billed = meta.get("billed_units") if isinstance(meta, dict) else None
        billed = billed if isinstance(billed, dict) else {}
        units = billed.get("search_units")
        usage = Usage(input_tokens=token_count(billed.get("input_tokens")))
        if units is not None:
            usage.calls = token_count(units)
        else:
            usage.calls, usage.estimated = search_units(len(request.documents)), True
        served_id = parsed.get("id")
        return RerankResult(hits=hits, usage=usage, id=served_id if isinstance(served_id, str) else None,
                            search_units=usage.calls)  # fmt: skip

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


class JinaRerankUpstream:
    """Jina's ``/v1/rerank``: strings or objects, ``top_n``, ``return_documents``."""

    vendor = "Jina"

    def build(self, request: RerankRequest, target: Target) -> UpstreamCall:
        documents = _texts(request) if request.rank_fields else request.documents
        body: dict[str, Any] = {"model": target.upstream_model, "query": request.query, "documents": documents}
        _optional(body, top_n=request.top_n, return_documents=request.return_documents)
        return UpstreamCall("/v1/rerank", client_json(body))

    def parse(self, answer: Answer, request: RerankRequest, target: Target, step: Followup | None) -> RerankResult:
        parsed = json_object(answer.body, self.vendor)
        return RerankResult(
            hits=_hits(parsed.get("results"), request, self.vendor), usage=_token_usage(parsed, request)
        )

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


class VoyageRerankUpstream:
    """Voyage's ``/v1/rerank``: strings only, ``top_k``; answers ``data``, not ``results``."""

    vendor = "Voyage"

    def build(self, request: RerankRequest, target: Target) -> UpstreamCall:
        body: dict[str, Any] = {"model": target.upstream_model, "query": request.query, "documents": _texts(request)}
        _optional(body, top_k=request.top_n, return_documents=request.return_documents)
        return UpstreamCall("/v1/rerank", client_json(body))

    def parse(self, answer: Answer, request: RerankRequest, target: Target, step: Followup | None) -> RerankResult:
        parsed = json_object(answer.body, self.vendor)
        hits = _hits(parsed.get("data"), request, self.vendor)
        return RerankResult(hits=hits, usage=_token_usage(parsed, request))

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


class DashScopeRerankUpstream:
    """DashScope's text rerank: ``input{query, documents}``, ``parameters{top_n, return_documents}``; an
    error may come as ``{code, message}`` inside an HTTP 200."""

    vendor = "DashScope"

    def build(self, request: RerankRequest, target: Target) -> UpstreamCall:
        body: dict[str, Any] = {
            "model": target.upstream_model,
            "input": {"query": request.query, "documents": _texts(request)},
        }
        parameters = _optional({}, top_n=request.top_n, return_documents=request.return_documents)
        if parameters:
            body["parameters"] = parameters
        return UpstreamCall(DASHSCOPE_RERANK_PATH, client_json(body))

    def parse(self, answer: Answer, request: RerankRequest, target: Target, step: Followup | None) -> RerankResult:
        parsed = json_object(answer.body, self.vendor)
        code = parsed.get("code")
        if code:
            message = parsed.get("message")
            detail = message if isinstance(message, str) and message else "an error"
            raise GatewayError(ErrorKind.UPSTREAM, f"DashScope answered {code}: {detail}", code=str(code))
        output = parsed.get("output")
        items = output.get("results") if isinstance(output, dict) else None
        return RerankResult(hits=_hits(items, request, self.vendor), usage=_token_usage(parsed, request))

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


COHERE_RERANK_UP = CohereRerankUpstream()
JINA_RERANK_UP = JinaRerankUpstream()
VOYAGE_RERANK_UP = VoyageRerankUpstream()
DASHSCOPE_RERANK_UP = DashScopeRerankUpstream()
