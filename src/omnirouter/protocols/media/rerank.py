"""Rerank clients: ``POST /v1/rerank`` (Cohere v1 / Jina shape, what most rerank clients speak) and
``POST /v2/rerank`` (Cohere v2).

``/v1/rerank`` takes string or object documents and answers ``{id?, model, results: [{index,
relevance_score, document?}], usage?: {total_tokens}, meta?: {billed_units: {search_units}}}``: both the
Cohere SDK (``results``, ``meta``) and Jina/LangChain clients (``results``, ``usage``) read it.
``document`` is the client's own document (a string as ``{text}``, an object as sent); it is there when
the client asked ``return_documents: true``, absent when it asked ``false``, and when it did not say, there
when the upstream's own default returned documents (Jina yes, Cohere and Voyage no).

``/v2/rerank`` requires the model, takes strings only (an object is a 400 naming ``documents[i]``) and
never answers documents.  ``top_n`` and ``return_documents`` are never invented: absent means the
vendor's default (all documents).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, GatewayError
from omnirouter.ir.media import RerankRequest, RerankResult
from omnirouter.protocols.limits import INT32_MAX, Bounds, number_field
from omnirouter.protocols.media.base import invalid, required_model
from omnirouter.protocols.openai_chat.errors import encode_error

__all__ = [
    "COHERE_V2_RERANK_IN",
    "RERANK_IN",
    "RerankInbound",
    "chunk_bound",
    "document_text",
    "encode_rerank_error",
    "search_units",
]

MAX_DOCUMENTS = 10_000
CHUNK_TOKENS = 500
"""Cohere splits a document longer than this many tokens (with the query) into chunks, each billed as a
document."""
POSITIVE = Bounds(1, INT32_MAX, True)


def search_units(documents: int) -> int:
    """Cohere's search units for one query: one per started 100 documents."""
    return max(1, math.ceil(documents / 100))


def chunk_bound(request: RerankRequest) -> int:
    """The most documents Cohere can count: each document's chunks of ``CHUNK_TOKENS`` less the query's
    tokens, with a token taken as at least one UTF-8 byte (so never fewer chunks than Cohere makes)."""
    room = max(CHUNK_TOKENS - len(request.query.encode()), 1)
    texts = (document_text(document, request.rank_fields) for document in request.documents)
    return sum(max(1, math.ceil(len(text.encode()) / room)) for text in texts)


def _yaml_value(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def document_text(document: str | dict[str, Any], rank_fields: list[str] | None = None) -> str:
    """A document as the text a strings-only vendor ranks.

    Objects: with ``rank_fields``, those fields as ``key: value`` lines (in that order, YAML-like as Cohere
    advises for structured data); else the ``text`` field when it is a string; else every field as
    ``key: value`` lines.
    """
    if isinstance(document, str):
        return document
    if rank_fields:
        return "\n".join(f"{key}: {_yaml_value(document[key])}" for key in rank_fields if key in document)
    text = document.get("text")
    if isinstance(text, str):
        return text
    return "\n".join(f"{key}: {_yaml_value(value)}" for key, value in document.items())


def _documents(value: Any, objects: bool) -> list[str | dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise invalid("'documents' must be a non-empty array.", "documents")
    if len(value) > MAX_DOCUMENTS:
        raise invalid(f"'documents' may hold at most {MAX_DOCUMENTS} items.", "documents")
    for index, item in enumerate(value):
        if isinstance(item, str) or (objects and isinstance(item, dict)):
            continue
        kind = "a string or an object" if objects else "a string (v2 takes strings only)"
        raise invalid(f"'documents[{index}]' must be {kind}.", f"documents[{index}]")
    return value


def _rank_fields(parsed: dict[str, Any]) -> list[str] | None:
    value = parsed.get("rank_fields")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(f, str) and f for f in value):
        raise invalid("'rank_fields' must be a non-empty array of field names.", "rank_fields")
    return value


def encode_rerank_error(error: GatewayError) -> tuple[int, bytes]:
    """OpenAI's error object with a top-level ``message`` too (what Cohere's and Jina's clients print)."""
    status, body = encode_error(error)
    parsed = orjson.loads(body)
    return status, orjson.dumps({"message": parsed["error"]["message"], **parsed})


class RerankInbound:
    """A client of ``/v1/rerank`` (``v2=False``) or Cohere's ``/v2/rerank`` (``v2=True``)."""

    protocol: str

    def __init__(self, *, v2: bool) -> None:
        self.v2 = v2
        self.protocol = "cohere_v2" if v2 else "rerank"

    def decode(self, body: bytes, content_type: str, model: str | None) -> RerankRequest:
        parsed = parse_json_object(body)
        name = required_model(parsed)
        query = parsed.get("query")
        if not isinstance(query, str) or not query:
            raise invalid("'query' is required and must be a non-empty string.", "query")
        if "documents" not in parsed:
            raise invalid("'documents' is required.", "documents")
        documents = _documents(parsed["documents"], objects=not self.v2)
        returned = None if self.v2 else parsed.get("return_documents")
        if returned is not None and not isinstance(returned, bool):
            raise invalid("'return_documents' must be a boolean.", "return_documents")
        return RerankRequest(
            model=name,
            query=query,
            documents=documents,
            top_n=number_field(parsed, "top_n", POSITIVE, "top_n"),
            return_documents=returned,
            rank_fields=None if self.v2 else _rank_fields(parsed),
            max_chunks_per_doc=None if self.v2 else number_field(parsed, "max_chunks_per_doc", POSITIVE,
                                                                 "max_chunks_per_doc"),
            max_tokens_per_doc=number_field(parsed, "max_tokens_per_doc", POSITIVE, "max_tokens_per_doc"),
        )  # fmt: skip

    def budget(self, request: RerankRequest, body_size: int) -> Budget:
        """The body's tokens, no output, and the search units the documents may cost (Cohere's count)."""
        return Budget(input_bytes=body_size, max_output=0, calls=search_units(chunk_bound(request)))

    def encode(self, result: RerankResult, request: RerankRequest, public_model: str) -> tuple[bytes, bytes]:
        results: list[dict[str, Any]] = []
        for hit in result.hits:
            item: dict[str, Any] = {"index": hit.index, "relevance_score": hit.score}
            if not self.v2 and self._with_document(request, hit.document is not None):
                document = request.documents[hit.index]
                item["document"] = {"text": document} if isinstance(document, str) else document
            results.append(item)
        answer: dict[str, Any] = {"results": results}
        if result.id is not None:
            answer = {"id": result.id, **answer}
        if not self.v2:
            answer["model"] = public_model
            if result.usage.input_tokens:
                answer["usage"] = {"total_tokens": result.usage.input_tokens}
        if result.search_units is not None:
            answer["meta"] = {"billed_units": {"search_units": result.search_units}}
        return orjson.dumps(answer), b"application/json"

    @staticmethod
    def _with_document(request: RerankRequest, upstream_returned: bool) -> bool:
        return upstream_returned if request.return_documents is None else request.return_documents

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_rerank_error(error)


RERANK_IN = RerankInbound(v2=False)
COHERE_V2_RERANK_IN = RerankInbound(v2=True)
