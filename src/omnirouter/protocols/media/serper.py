"""serper.dev (Google search through one API) on both sides: the client's ``/search``, ``/images`` and
``/news`` (docs/media.md, "Search") and the ``serper`` upstream.  Pure: the relay does the I/O.

The gateway reads of a request only what it must check and price: ``q`` (required, a non-empty string
of at most ``MAX_QUERY_CHARS``), ``num`` and ``page`` (integers), ``type`` (when given, the route's own),
and the string options ``gl``/``hl``/``location``/``tbs`` and boolean ``autocorrect`` for their types.
A JSON body goes upstream byte for byte; a JSON array is serper's batch (one query object per item, each
charged a call).  A request whose parameters come in the query string (``GET /search?q=…``, or an empty
``POST`` as LangChain's ``GoogleSerperAPIWrapper`` sends) is turned into the JSON body serper takes; the
``apiKey`` parameter (serper's GET form of the key) is the client's key and is never forwarded.

The answer is relayed as serper wrote it (``searchParameters``, ``organic``, ``images``, ``news``,
``credits``…): the gateway only checks that it is a JSON object (an array of them for a batch).  Errors
are serper's ``{"message", "statusCode"}``.  Billing: ``calls`` = the queries served (price ``per_call``).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple
from urllib.parse import parse_qsl

import orjson

from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage, kind_for_status
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, invalid

__all__ = [
    "KEY_PARAM",
    "MAX_BATCH",
    "MAX_NUM",
    "MAX_QUERY_CHARS",
    "SEARCH_MODELS",
    "SERPER_UP",
    "SearchRequest",
    "SearchResult",
    "SerperInbound",
    "encode_serper_error",
]

SEARCH_MODELS: Final[dict[str, str]] = {
    "search": "serper-search",
    "images": "serper-images",
    "news": "serper-news",
}
"""Each endpoint and the model that serves it (what channels list and prices name)."""

MAX_QUERY_CHARS = 2048
"""Google's own limit on a query's length."""
MAX_NUM = 100
"""The most results a page may ask for (``num``)."""
MAX_BATCH = 100
"""The most queries one batch may hold."""
KEY_PARAM = "apiKey"
"""serper's query parameter for the key (GET form); the gateway reads it as the client's key."""

_STRINGS = ("gl", "hl", "location", "tbs")
_INTEGERS = {"num": (1, MAX_NUM), "page": (1, 10_000)}


class SearchRequest(NamedTuple):
    """One search call: its ``endpoint`` (``search``, ``images``, ``news``), the model that serves it, the
    JSON body serper gets and how many queries it holds (a batch holds several)."""

    model: str
    endpoint: str
    body: bytes
    queries: int


class SearchResult(NamedTuple):
    """serper's answer as it came, and its usage (one call a query)."""

    body: bytes
    usage: Usage


def encode_serper_error(error: GatewayError) -> tuple[int, bytes]:
    """serper's error shape: ``{"message", "statusCode"}``."""
    return error.status, orjson.dumps({"message": error.message, "statusCode": error.status})


def _field(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if not prefix else f"{prefix}.{name}"


def _check_query(item: dict[str, Any], endpoint: str, prefix: str) -> None:
    """A 400 naming the first field of one query object that serper could not take."""
    q = item.get("q")
    if not isinstance(q, str) or not q.strip():
        raise invalid("'q' is required and must be a non-empty string.", _field(prefix, "q"))
    if len(q) > MAX_QUERY_CHARS:
        raise invalid(f"'q' may be at most {MAX_QUERY_CHARS} characters long.", _field(prefix, "q"))
    for name, (low, high) in _INTEGERS.items():
        value = item.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(f"'{name}' must be an integer from {low} to {high}.", _field(prefix, name))
    for name in _STRINGS:
        if name in item and not isinstance(item[name], str):
            raise invalid(f"'{name}' must be a string.", _field(prefix, name))
    if "autocorrect" in item and not isinstance(item["autocorrect"], bool):
        raise invalid("'autocorrect' must be a boolean.", _field(prefix, "autocorrect"))
    kind = item.get("type")
    if kind is not None and kind != endpoint:
        raise invalid(f"'type' must be '{endpoint}' on /{endpoint} (or left out).", _field(prefix, "type"))


def _from_query(query: list[tuple[str, str]]) -> dict[str, Any]:
    """Query-string parameters as the JSON object serper takes (integers and booleans typed)."""
    item: dict[str, Any] = {}
    for name, value in query:
        if name == KEY_PARAM or name in item:
            continue
        if name in _INTEGERS:
            try:
                item[name] = int(value)
            except ValueError:
                raise invalid(f"'{name}' must be an integer.", name) from None
        elif name == "autocorrect":
            if value not in ("true", "false"):
                raise invalid("'autocorrect' must be true or false.", name)
            item[name] = value == "true"
        else:
            item[name] = value
    return item


class SerperInbound:
    """The client of one serper endpoint; ``query`` is the request's query string (read when the body is
    empty)."""

    protocol = "serper"

    def __init__(self, endpoint: str, query: str = "") -> None:
        self.endpoint = endpoint
        self.model = SEARCH_MODELS[endpoint]
        self.query = query

    def decode(self, body: bytes, content_type: str, model: str | None) -> SearchRequest:
        if not body.strip():
            item = _from_query(parse_qsl(self.query, keep_blank_values=True))
            _check_query(item, self.endpoint, "")
            return SearchRequest(self.model, self.endpoint, client_json(item), 1)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise invalid(f"The request body is not valid JSON: {exc}", "body") from None
        if isinstance(parsed, dict):
            _check_query(parsed, self.endpoint, "")
            return SearchRequest(self.model, self.endpoint, body, 1)
        if isinstance(parsed, list):
            if not 1 <= len(parsed) <= MAX_BATCH:
                raise invalid(f"A batch must hold from 1 to {MAX_BATCH} queries.", "body")
            for index, item in enumerate(parsed):
                if not isinstance(item, dict):
                    raise invalid(f"'[{index}]' must be a query object.", f"[{index}]")
                _check_query(item, self.endpoint, f"[{index}]")
            return SearchRequest(self.model, self.endpoint, body, len(parsed))
        raise invalid("The request body must be a query object or an array of them.", "body")

    def budget(self, request: SearchRequest, body_size: int) -> Budget:
        """No tokens: a call a query."""
        return Budget(input_bytes=0, max_output=0, calls=request.queries)

    def encode(self, result: SearchResult, request: SearchRequest, public_model: str) -> tuple[bytes, bytes]:
        return result.body, b"application/json"

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_serper_error(error)


class SerperUpstream:
    """``POST {base}/{endpoint}`` with the body as the client sent it (``X-API-KEY`` from the channel)."""

    vendor = "serper"

    def build(self, request: SearchRequest, target: Target) -> UpstreamCall:
        return UpstreamCall(f"/{request.endpoint}", request.body)

    def parse(self, answer: Answer, request: SearchRequest, target: Target, step: Followup | None) -> SearchResult:
        try:
            parsed = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            raise GatewayError(ErrorKind.UPSTREAM, "serper returned an answer that is not JSON") from None
        batch = request.queries > 1 or request.body.lstrip()[:1] == b"["
        if batch:
            shaped = isinstance(parsed, list) and len(parsed) == request.queries
            shaped = shaped and all(isinstance(item, dict) for item in parsed)
        else:
            shaped = isinstance(parsed, dict)
        if not shaped:
            raise GatewayError(ErrorKind.UPSTREAM, "serper returned an unexpected answer shape")
        return SearchResult(answer.body, Usage(calls=request.queries))

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """serper's ``{"message", "statusCode"}`` (``Not enough credits`` comes as a 400)."""
        message = ""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            message = parsed["message"]
        text = message or body[:300].decode("utf-8", "replace").strip() or f"HTTP {status}"
        kind = kind_for_status(status)
        if "credits" in message.lower():
            kind = ErrorKind.INSUFFICIENT_QUOTA
        return GatewayError(kind, f"serper: {text}", status=status if status < 500 else None)


SERPER_UP = SerperUpstream()
