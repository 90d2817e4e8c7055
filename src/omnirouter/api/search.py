"""The search relay: serper.dev's ``POST /search``, ``/images``, ``/news`` (and their ``GET`` forms) on the
one media lifecycle, routed to ``serper`` channels by the model each path names (``serper-search``,
``serper-images``, ``serper-news``).  Errors come in serper's ``{"message", "statusCode"}``.

The client key comes as serper's clients send it (``X-API-KEY``), in the gateway's other places, or as
serper's GET parameter ``apiKey`` (read here as if it were ``X-API-KEY``; never forwarded).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from omnirouter.api.lifecycle import serve
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send
from omnirouter.http.routes import Auth, ErrorEncoder, Handler, QueryParam, Route, RouteDoc
from omnirouter.ir import GatewayError
from omnirouter.protocols.media.serper import KEY_PARAM, SEARCH_MODELS, SerperInbound, encode_serper_error
from omnirouter.providers import Capability
from omnirouter.relay.media import MediaOperation

__all__ = ["SEARCH_BODY_LIMIT", "SERPER_ERRORS", "search_routes"]

SEARCH_BODY_LIMIT = 256 * 1024
"""The most a search body may be: a batch of a hundred long queries fits with room to spare."""

_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)
_QUERY = (
    QueryParam("q", "The query (required when the body is empty)."),
    QueryParam("num", "Results a page (1-100).", "integer"),
    QueryParam("page", "The page of results.", "integer"),
    QueryParam("gl", "Country, lower case (us)."),
    QueryParam("hl", "Interface language, lower case (en)."),
    QueryParam("location", "Where the search is made from."),
    QueryParam("tbs", "Time filter (qdr:h, qdr:d, qdr:w, qdr:m, qdr:y)."),
    QueryParam("apiKey", "The client key (serper's GET form), instead of the X-API-KEY header."),
)


def _encode(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    return encode_serper_error(error)


SERPER_ERRORS = ErrorEncoder("Serper", _encode)
"""serper's ``{"message", "statusCode"}``."""


def _with_query_key(scope: Scope) -> Scope:
    """``scope`` with an ``apiKey`` query parameter as ``X-API-KEY`` when no key header came."""
    query: bytes = scope.get("query_string", b"")
    if KEY_PARAM.encode() + b"=" not in query:
        return scope
    names = {name for name, _ in scope["headers"]}
    if names & {b"authorization", b"x-api-key", b"x-goog-api-key", b"api-key"}:
        return scope
    for name, value in parse_qsl(query.decode("latin-1")):
        if name == KEY_PARAM and value:
            return {**scope, "headers": [*scope["headers"], (b"x-api-key", value.encode("latin-1"))]}
    return scope


def search_handler(gateway: Gateway, endpoint: str) -> Handler:
    """The handler of one serper endpoint (body or query string)."""
    client = gateway.client
    keepalive = gateway.config.routing.keepalive_interval

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"")
        inbound = SerperInbound(endpoint, query.decode("latin-1"))
        operation = MediaOperation(
            Capability.SEARCH, inbound, client, body_limit=SEARCH_BODY_LIMIT, keepalive_interval=keepalive
        )
        await serve(gateway, operation, _with_query_key(scope), receive, send)

    return handle


def search_routes(gateway: Gateway) -> list[Route]:
    """``POST`` and ``GET`` of ``/search``, ``/images`` and ``/news``."""
    routes: list[Route] = []
    for endpoint, model in SEARCH_MODELS.items():
        handler = search_handler(gateway, endpoint)
        post = RouteDoc(body=None, body_required=False, query=_QUERY, errors=_ERRORS, tag="search")
        get = RouteDoc(body_required=False, query=_QUERY, errors=_ERRORS, tag="search")
        summary = f"serper.dev {endpoint} (model {model})"
        routes += [
            Route("POST", f"/{endpoint}", handler, SERPER_ERRORS, summary, Auth.CLIENT_KEY, auth_in_handler=True,
                  doc=post),
            Route("GET", f"/{endpoint}", handler, SERPER_ERRORS, f"{summary}, parameters in the query string",
                  Auth.CLIENT_KEY, auth_in_handler=True, doc=get),
        ]  # fmt: skip
    return routes
