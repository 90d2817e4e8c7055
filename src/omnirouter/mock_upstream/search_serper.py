"""serper.dev (``google.serper.dev``): ``POST /search``, ``/images`` and ``/news`` with a JSON query object,
or an array of them (a batch, answered by an array), or the parameters in the query string (``GET``, or
a ``POST`` without a body as LangChain sends it).

The key is ``X-API-KEY`` (or serper's ``?apiKey=``); a missing key or one starting with ``bad``/``invalid``
is refused as serper refuses it: ``403 {"message": "Unauthorized.", "statusCode": 403}``; a key starting
with ``broke`` has run out of credits: ``400 {"message": "Not enough credits", "statusCode": 400}``.
Answers are deterministic in the query: ``searchParameters`` echoes it (with ``type`` and ``engine``),
then ``knowledgeGraph``, ``organic`` (``num`` results, default 10), ``peopleAlsoAsk``, ``relatedSearches``
for a search; ``images`` or ``news`` for those; ``credits`` last.  A ``[[mock {...}]]`` directive in ``q``
(or a queued one) fails or delays the call like any other vendor.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream.core import STATE_KEY, Exchange, json_response, log_request
from omnirouter.mock_upstream.media_wires import VendorWire

__all__ = ["SERPER", "images", "news", "search"]

_INTEGERS = ("num", "page")


class SerperWire(VendorWire):
    """serper.dev: ``X-API-KEY`` (or ``?apiKey=``); ``{"message", "statusCode"}``; 403 on a bad key."""

    name = "serper"
    missing = "Unauthorized."
    invalid = "Unauthorized."
    auth_status = 403

    def key(self, request: web.Request) -> str:
        """``X-API-KEY``, else the ``apiKey`` query parameter."""
        return request.headers.get("x-api-key", "").strip() or request.query.get("apiKey", "").strip()

    def check_auth(self, request: web.Request) -> web.Response | None:
        refused = super().check_auth(request)
        if refused is None and self.key(request).startswith("broke"):
            return self.error(400, "Not enough credits")
        return refused

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"message", "statusCode"}``."""
        return {"message": message, "statusCode": status}


SERPER = SerperWire()


def _query_object(request: web.Request) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, value in request.query.items():
        if name == "apiKey" or name in item:
            continue
        if name in _INTEGERS and value.isdigit():
            item[name] = int(value)
        elif name == "autocorrect":
            item[name] = value == "true"
        else:
            item[name] = value
    return item


def _words(q: str) -> list[str]:
    return [w for w in q.replace("+", " ").split() if w] or ["query"]


def _seed(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12]


def _slug(q: str) -> str:
    return "-".join(w.lower() for w in _words(q))[:60]


def _parameters(item: dict[str, Any], kind: str) -> dict[str, Any]:
    echoed: dict[str, Any] = {
        k: item[k] for k in ("q", "gl", "hl", "num", "page", "location", "tbs", "autocorrect") if k in item
    }
    return {**echoed, "type": kind, "engine": "google"}


def _organic(q: str, count: int, page: int) -> list[dict[str, Any]]:
    slug, results = _slug(q), []
    for n in range(count):
        position = (page - 1) * count + n + 1
        item: dict[str, Any] = {
            "title": f"{q.title()} - result {position}",
            "link": f"https://example.com/{slug}/{position}",
            "snippet": f"Everything about {q} (result {position}, mock {_seed(q, str(position))}).",
        }
        if position == 1:
            item["sitelinks"] = [{"title": "About", "link": f"https://example.com/{slug}/about"}]
        item["position"] = position
        results.append(item)
    return results


def _asked(q: str, title: str) -> dict[str, str]:
    return {
        "question": f"What is {q}?",
        "snippet": f"{title} is a mock answer.",
        "title": f"About {title}",
        "link": f"https://example.com/{_slug(q)}/faq",
    }


def _search(item: dict[str, Any], count: int, page: int) -> dict[str, Any]:
    q = item["q"]
    title = q.title()
    return {
        "searchParameters": _parameters(item, "search"),
        "knowledgeGraph": {
            "title": title,
            "type": "Topic",
            "website": f"https://example.com/{_slug(q)}",
            "imageUrl": f"https://images.example.com/{_seed(q)}.jpg",
            "description": f"{title} is what the mock knows about {q}.",
            "descriptionSource": "Wikipedia",
            "descriptionLink": f"https://en.wikipedia.org/wiki/{_slug(q)}",
            "attributes": {"Query": q, "Words": str(len(_words(q)))},
        },
        "organic": _organic(q, count, page),
        "peopleAlsoAsk": [_asked(q, title)],
        "relatedSearches": [{"query": f"{q} {extra}"} for extra in ("meaning", "history", "news")],
        "credits": 1,
    }


def _images(item: dict[str, Any], count: int, page: int) -> dict[str, Any]:
    q, slug = item["q"], _slug(item["q"])
    found = []
    for n in range(count):
        position = (page - 1) * count + n + 1
        found.append({
            "title": f"{q.title()} picture {position}",
            "imageUrl": f"https://images.example.com/{slug}/{position}.jpg",
            "imageWidth": 1200, "imageHeight": 800,
            "thumbnailUrl": f"https://encrypted-tbn0.gstatic.com/images?q=tbn:{_seed(q, str(position))}",
            "thumbnailWidth": 275, "thumbnailHeight": 183,
            "source": "Example", "domain": "example.com",
            "link": f"https://example.com/{slug}/{position}",
            "googleUrl": f"https://www.google.com/imgres?imgurl=https://images.example.com/{slug}/{position}.jpg",
            "position": position,
        })  # fmt: skip
    return {"searchParameters": _parameters(item, "images"), "images": found, "credits": 1}


def _news(item: dict[str, Any], count: int, page: int) -> dict[str, Any]:
    q, slug = item["q"], _slug(item["q"])
    found = []
    for n in range(count):
        position = (page - 1) * count + n + 1
        found.append({
            "title": f"{q.title()}: story {position}",
            "link": f"https://news.example.com/{slug}/{position}",
            "snippet": f"The latest on {q} (story {position}).",
            "date": f"{position} hours ago",
            "source": "Example News",
            "imageUrl": f"https://news.example.com/{slug}/{position}.jpg",
            "position": position,
        })  # fmt: skip
    return {"searchParameters": _parameters(item, "news"), "news": found, "credits": 1}


_ANSWERS = {"search": _search, "images": _images, "news": _news}


def _answer(kind: str, item: Any, clean_q: str | None = None) -> dict[str, Any] | str:
    """One query's answer, or the message of a 400."""
    if not isinstance(item, dict):
        return "Query must be an object"
    q = item.get("q")
    if not isinstance(q, str) or not q.strip():
        return "Missing query parameter"
    num = item.get("num", 10)
    page = item.get("page", 1)
    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= 100:
        return "Invalid num parameter"
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        return "Invalid page parameter"
    shown = {**item, "q": clean_q} if clean_q is not None else item
    return _ANSWERS[kind](shown, num, page)


async def _serve(request: web.Request, kind: str) -> web.StreamResponse:
    raw = await request.read() if request.can_read_body else b""
    try:
        body: Any = orjson.loads(raw) if raw.strip() else _query_object(request)
    except orjson.JSONDecodeError:
        log_request(request, SERPER.name, raw.decode("utf-8", "replace"))
        return SERPER.error(400, "Invalid JSON body")
    log_request(request, SERPER.name, body)
    denied = SERPER.check_auth(request)
    if denied is not None:
        return denied
    batch = isinstance(body, list)
    items = body if batch else [body]
    if not items:
        return SERPER.error(400, "Empty batch")
    ex = Exchange(request, request.app[STATE_KEY], SERPER, body)
    first = items[0].get("q") if isinstance(items[0], dict) else None
    resolved = ex.resolve(first if isinstance(first, str) else "")
    if isinstance(resolved, web.Response):
        return resolved
    directive, clean = resolved
    early = await ex.preamble(directive, False)
    if early is not None:
        return early
    answers: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        got = _answer(kind, item, clean if index == 0 and clean else None)
        if isinstance(got, str):
            return SERPER.error(400, got)
        answers.append(got)
    return json_response(answers if batch else answers[0])


async def search(request: web.Request) -> web.StreamResponse:
    """``GET|POST /search``: organic results, knowledge graph, people also ask, related searches."""
    return await _serve(request, "search")


async def images(request: web.Request) -> web.StreamResponse:
    """``GET|POST /images``: ``images[]``."""
    return await _serve(request, "images")


async def news(request: web.Request) -> web.StreamResponse:
    """``GET|POST /news``: ``news[]``."""
    return await _serve(request, "news")
