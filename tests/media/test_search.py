"""The search relay (serper.dev's ``/search``, ``/images``, ``/news``) through the real gateway over HTTP
(httpx: serper has no official SDK, and LangChain's ``GoogleSerperAPIWrapper`` hard-codes
``https://google.serper.dev``, so it cannot be pointed at a gateway; its wire, a ``POST`` with the
parameters in the query string, is driven here with httpx) against the mock serper, on SQLite and
PostgreSQL.

Proved: bodies reach serper byte for byte with the channel's key in ``X-API-KEY`` and never the client's;
answers come back as serper wrote them and never hold the upstream key; each success is one ledger row of
exactly ``per_call`` × its queries; an upstream failure, a bad key and bad input cost nothing and send
nothing (bad input: a 4xx in serper's ``{"message", "statusCode"}`` naming the field); a channel whose key
serper refuses is failed over; the key's spent quota is the ledger's sum with nothing left reserved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson
import pytest

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.billing import assert_books_balance, key_row, ledger
from tests.helpers.gateway_harness import UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.postgres import reset_postgres

PAYER = "sk-search-payer-0001"
OTHER = "sk-search-other-0002"
POOR = "sk-search-poor-0003"  # a quota below one search
PRICES = {"serper-search": 0.001, "serper-images": 0.002, "serper-news": 0.0015}  # USD a call
NANO = {model: round(usd * 1e9) for model, usd in PRICES.items()}
MODELS = list(PRICES)


def _channel(name: str, mock_url: str, key: str) -> dict[str, Any]:
    return {"name": name, "provider": "serper", "base_url": mock_url, "api_keys": [key], "models": MODELS}


def _config(mock_url: str, database_url: str, **extra: Any) -> GatewayConfig:
    raw: dict[str, Any] = {
        "database_url": database_url,
        "usage_flush_interval": 0.05,
        "channels": [_channel("serper-main", mock_url, UPSTREAM_KEY)],
        "keys": [
            {"name": "payer", "key": PAYER, "quota_usd": 5.0},
            {"name": "other", "key": OTHER},
            {"name": "poor", "key": POOR, "quota_usd": 0.0005},
        ],
        "prices": {model: {"per_call": usd} for model, usd in PRICES.items()},
        "breaker": {"failures": 100},  # the failure tests fail one channel many times in a row
        **extra,
    }
    return msgspec.convert(raw, GatewayConfig)


@pytest.fixture(params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest, mock_upstream: MockUpstream, tmp_path: Path, gateway_postgres_url: str
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """A gateway with one serper channel on the mock, and the database URL its ledger is in."""
    if request.param == "postgresql":
        url = await reset_postgres(gateway_postgres_url)
    else:
        url = f"sqlite:///{tmp_path / 'gw.db'}"
    mock_upstream.clear_script()
    mock_upstream.clear_requests()
    async with running_gateway(_config(mock_upstream.url, url)) as running:
        yield running, url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def _serper_calls(mock: MockUpstream) -> list[Any]:
    return [r for r in mock.requests if r.provider == "serper"]


async def _settled(running: RunningGateway) -> None:
    await running.app.gateway.recorder.flush()


async def test_each_endpoint_relays_serper_answers_and_charges_one_call_each(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream, http: httpx.AsyncClient
) -> None:
    running, db = served
    key = {"X-API-KEY": PAYER}
    body = b'{"q": "apple inc", "gl": "us", "hl": "en", "num": 5, "tbs": "qdr:w"}'
    found = await http.post(f"{running.url}/search", content=body, headers={**key, "content-type": "application/json"})
    assert found.status_code == 200, found.text
    answer = found.json()
    assert answer["searchParameters"] == {"q": "apple inc", "gl": "us", "hl": "en", "num": 5, "tbs": "qdr:w",
                                          "type": "search", "engine": "google"}  # fmt: skip
    assert [item["position"] for item in answer["organic"]] == [1, 2, 3, 4, 5]
    assert answer["knowledgeGraph"]["title"] == "Apple Inc" and answer["credits"] == 1
    [sent] = _serper_calls(mock_upstream)
    assert sent.method == "POST" and sent.path == "/search"
    assert orjson.dumps(sent.body) == orjson.dumps(orjson.loads(body))  # the client's body, untouched
    assert sent.headers["x-api-key"] == UPSTREAM_KEY and PAYER not in orjson.dumps(sent.headers).decode()
    assert sent.query == {}

    pictures = await http.post(f"{running.url}/images", json={"q": "red fox", "num": 3}, headers=key)
    assert pictures.status_code == 200, pictures.text
    assert [p["imageUrl"] for p in pictures.json()["images"]] == [
        f"https://images.example.com/red-fox/{n}.jpg" for n in (1, 2, 3)
    ]
    stories = await http.post(f"{running.url}/news", json={"q": "elections"}, headers=key)
    assert stories.status_code == 200, stories.text
    assert stories.json()["searchParameters"]["type"] == "news" and len(stories.json()["news"]) == 10
    # serper's GET form, the key as ?apiKey= (read as the client key, never forwarded)
    got = await http.get(f"{running.url}/search", params={"q": "oslo weather", "num": "2", "apiKey": PAYER})
    assert got.status_code == 200, got.text
    assert got.json()["searchParameters"]["num"] == 2 and len(got.json()["organic"]) == 2
    # LangChain's wire: POST, no body, the parameters in the query string
    lc = await http.post(f"{running.url}/news", params={"q": "rain", "gl": "us", "hl": "en", "num": "4"}, headers=key)
    assert lc.status_code == 200, lc.text
    assert len(lc.json()["news"]) == 4
    # a batch: one answer a query, one call a query
    batch = [{"q": "one"}, {"q": "two", "num": 2}, {"q": "three", "page": 2}]
    many = await http.post(f"{running.url}/search", json=batch, headers=key)
    assert many.status_code == 200, many.text
    assert [a["searchParameters"]["q"] for a in many.json()] == ["one", "two", "three"]
    calls = _serper_calls(mock_upstream)
    assert [c.path for c in calls] == ["/search", "/images", "/news", "/search", "/news", "/search"]
    assert calls[3].body == {"q": "oslo weather", "num": 2} and calls[3].query == {}
    assert calls[4].body == {"q": "rain", "gl": "us", "hl": "en", "num": 4}
    for call in calls:
        assert call.headers["x-api-key"] == UPSTREAM_KEY
    for answer_text in (found.text, pictures.text, stories.text, got.text, lc.text, many.text):
        assert UPSTREAM_KEY not in answer_text

    await _settled(running)
    payer = await key_row(db, "payer")
    rows = await ledger(db, payer.id)
    assert [(r.model, r.calls, r.status_code) for r in rows] == [
        ("serper-search", 1, 200), ("serper-images", 1, 200), ("serper-news", 1, 200),
        ("serper-search", 1, 200), ("serper-news", 1, 200), ("serper-search", 3, 200),
    ]  # fmt: skip
    for row in rows:
        assert row.cost_nano == row.calls * NANO[row.model]
        assert row.inbound_protocol == "serper" and row.provider == "serper" and row.channel == "serper-main"
    key_after, _ = await assert_books_balance(db, "payer")
    assert key_after.used_nano == 5 * NANO["serper-search"] + NANO["serper-images"] + 2 * NANO["serper-news"]


async def test_upstream_failures_cost_nothing_and_answer_in_serpers_shape(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream, http: httpx.AsyncClient
) -> None:
    running, db = served
    key = {"X-API-KEY": PAYER}
    broken = await http.post(f"{running.url}/search", json={"q": 'x [[mock {"fail": 500}]]'}, headers=key)
    assert 500 <= broken.status_code < 600
    assert set(broken.json()) == {"message", "statusCode"} and broken.json()["statusCode"] == broken.status_code
    garbage = await http.post(f"{running.url}/images", json={"q": 'y [[mock {"garbage": true}]]'}, headers=key)
    assert garbage.status_code >= 500 and garbage.json()["statusCode"] == garbage.status_code, garbage.text
    assert "not JSON" in garbage.json()["message"], garbage.text
    # last: a drained account rests the channel's key (no_credit_cooldown)
    mock_upstream.script({"fail": 400, "message": "Not enough credits"})
    poor = await http.post(f"{running.url}/news", json={"q": "anything"}, headers=key)
    assert poor.status_code == 400
    assert poor.json() == {"message": "serper: Not enough credits", "statusCode": 400}
    assert len(_serper_calls(mock_upstream)) >= 3
    for text in (broken.text, poor.text, garbage.text):
        assert UPSTREAM_KEY not in text
    await _settled(running)
    payer = await key_row(db, "payer")
    rows = await ledger(db, payer.id)
    assert len(rows) == 3 and all(row.cost_nano == 0 and row.status_code >= 400 for row in rows)
    key_after, _ = await assert_books_balance(db, "payer")
    assert key_after.used_nano == 0


BAD_INPUT: list[tuple[str, str, bytes, int, str]] = [  # method, path, body, status, field named in the message
    ("POST", "/search", b'{"gl": "us"}', 400, "'q'"),
    ("POST", "/search", b'{"q": ""}', 400, "'q'"),
    ("POST", "/images", b'{"q": 42}', 400, "'q'"),
    ("POST", "/search", b'{"q": "x", "num": "ten"}', 400, "'num'"),
    ("POST", "/news", b'{"q": "x", "num": 1000}', 400, "'num'"),
    ("POST", "/search", b'{"q": "x", "page": 0}', 400, "'page'"),
    ("POST", "/search", b'{"q": "x", "gl": 1}', 400, "'gl'"),
    ("POST", "/search", b'{"q": "x", "autocorrect": "yes"}', 400, "'autocorrect'"),
    ("POST", "/search", b'{"q": "x", "type": "images"}', 400, "'type'"),
    ("POST", "/search", b'{"q": "' + b"w" * 3000 + b'"}', 400, "'q'"),
    ("POST", "/search", b"[]", 400, "batch"),
    ("POST", "/search", b'[{"q": "a"}, "b"]', 400, "'[1]'"),
    ("POST", "/search", b'[{"q": "a"}, {"q": "b", "num": -1}]', 400, "'num'"),
    ("POST", "/search", b"{not json", 400, "JSON"),
    ("POST", "/search", b'"just a string"', 400, "query object"),
    ("POST", "/search", b'{"q": "' + b"x" * 300_000 + b'"}', 413, ""),
    ("GET", "/search?gl=us", b"", 400, "'q'"),
    ("GET", "/news?q=x&num=many", b"", 400, "'num'"),
    ("GET", "/search?q=x&autocorrect=maybe", b"", 400, "'autocorrect'"),
]


async def test_bad_input_is_a_4xx_naming_the_field_with_nothing_sent_or_charged(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream, http: httpx.AsyncClient
) -> None:
    running, db = served
    for method, path, body, status, field in BAD_INPUT:
        answer = await http.request(method, f"{running.url}{path}", content=body or None,
                                    headers={"X-API-KEY": PAYER, "content-type": "application/json"})  # fmt: skip
        assert answer.status_code == status, (path, body[:60], answer.text)
        parsed = answer.json()
        assert set(parsed) == {"message", "statusCode"} and parsed["statusCode"] == status
        assert field in parsed["message"], (field, parsed)
    assert _serper_calls(mock_upstream) == []
    await _settled(running)
    payer = await key_row(db, "payer")
    assert all(row.cost_nano == 0 for row in await ledger(db, payer.id))
    key_after, _ = await assert_books_balance(db, "payer")
    assert key_after.used_nano == 0


async def test_client_keys_in_every_place_serper_clients_put_them(
    served: tuple[RunningGateway, str], mock_upstream: MockUpstream, http: httpx.AsyncClient
) -> None:
    running, db = served
    url = f"{running.url}/search"
    for headers in ({"X-API-KEY": OTHER}, {"x-api-key": OTHER}, {"Authorization": f"Bearer {OTHER}"}):
        ok = await http.post(url, json={"q": "keys"}, headers=headers)
        assert ok.status_code == 200, (headers, ok.text)
    missing = await http.post(url, json={"q": "keys"})
    wrong = await http.post(url, json={"q": "keys"}, headers={"X-API-KEY": "sk-not-a-key"})
    wrong_query = await http.get(url, params={"q": "keys", "apiKey": "sk-not-a-key"})
    for refused in (missing, wrong, wrong_query):
        assert refused.status_code == 401
        assert set(refused.json()) == {"message", "statusCode"} and refused.json()["statusCode"] == 401
    assert len(_serper_calls(mock_upstream)) == 3
    assert all(call.headers["x-api-key"] == UPSTREAM_KEY for call in _serper_calls(mock_upstream))
    poor = await http.post(url, json={"q": "keys"}, headers={"X-API-KEY": POOR})
    assert 400 <= poor.status_code < 500 and set(poor.json()) == {"message", "statusCode"}, poor.text
    assert len(_serper_calls(mock_upstream)) == 3  # refused before serper
    unknown = await http.post(f"{running.url}/search/nothing", json={"q": "x"}, headers={"X-API-KEY": OTHER})
    assert unknown.status_code == 404
    await _settled(running)
    other = await key_row(db, "other")
    rows = await ledger(db, other.id)
    assert [r.cost_nano for r in rows] == [NANO["serper-search"]] * 3
    await assert_books_balance(db, "other")
    poor_key, _ = await assert_books_balance(db, "poor")
    assert poor_key.used_nano == 0


async def test_a_channel_whose_key_serper_refuses_fails_over_and_is_not_charged(
    mock_upstream: MockUpstream, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    config = _config(mock_upstream.url, url)
    refused = msgspec.structs.replace(config.channels[0], name="serper-revoked", api_keys=["bad-revoked"], priority=5)
    config = msgspec.structs.replace(config, channels=[refused, *config.channels])
    mock_upstream.clear_requests()
    async with running_gateway(config) as running:
        answer = await http.post(f"{running.url}/images", json={"q": "failover"}, headers={"X-API-KEY": PAYER})
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-omnirouter-attempts"] == "2"
        first, second = _serper_calls(mock_upstream)
        assert first.headers["x-api-key"] == "bad-revoked" and second.headers["x-api-key"] == UPSTREAM_KEY
        await _settled(running)
        [row] = await ledger(url, (await key_row(url, "payer")).id)
        assert row.channel == "serper-main" and row.calls == 1 and row.cost_nano == NANO["serper-images"]
        await assert_books_balance(url, "payer")


async def test_the_mock_refuses_keys_as_serper_does(mock_upstream: MockUpstream, http: httpx.AsyncClient) -> None:
    """The mock's own wire: a missing or bad key is serper's 403, a drained account its 400."""
    missing = await http.post(f"{mock_upstream.url}/search", json={"q": "x"})
    bad = await http.get(f"{mock_upstream.url}/news", params={"q": "x", "apiKey": "bad-key"})
    assert missing.status_code == bad.status_code == 403
    assert missing.json() == bad.json() == {"message": "Unauthorized.", "statusCode": 403}
    drained = await http.post(f"{mock_upstream.url}/images", json={"q": "x"}, headers={"X-API-KEY": "broke-1"})
    assert drained.status_code == 400 and drained.json() == {"message": "Not enough credits", "statusCode": 400}
    ok = await http.get(f"{mock_upstream.url}/search", params={"q": "x y", "apiKey": "good"})
    assert ok.status_code == 200 and ok.json()["organic"][0]["link"] == "https://example.com/x-y/1"
