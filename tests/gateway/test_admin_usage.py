"""Usage aggregates, the ledger's pages, the key holders' endpoints and the admin OpenAPI document."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway

COST_NANO = 2_500_000  # 0.0025 USD a request, written into the ledger by the test


class Served:
    def __init__(self, gateway: RunningGateway, http: Http, db_path: Path) -> None:
        self.gateway, self.http, self.db_path = gateway, http, db_path


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """One gateway with some traffic: 3 requests of a new key (2 models), 2 of the config key, 1 failure."""
    db_path = tmp_path_factory.mktemp("usage") / "gw.db"
    config = make_config(mock_upstream.url, db_path, admin_key=ADMIN_KEY, reload_interval=0.2)
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        http = Http(session, gateway.url)
        _, user = await http.admin("POST", "/admin/users", {"name": "erin"})
        _, key = await http.admin("POST", "/admin/keys", {"name": "erin-key", "user_id": user["id"], "quota_usd": 2})
        for model in ("gpt-4o-mini", "gpt-4o-mini", "gpt-test-9"):
            assert (await http.chat(key["key"], model, "one two three"))[0] == 200
        for _ in range(2):
            assert (await http.chat(CLIENT_KEY))[0] == 200
        assert (await http.chat(CLIENT_KEY, "no-such-model"))[0] == 404
        for _ in range(100):
            with sqlite3.connect(db_path) as conn:
                if conn.execute("select count(*) from usage_records").fetchone()[0] == 6:
                    conn.execute("update usage_records set cost_nano = ? where status_code = 200", (COST_NANO,))
                    conn.execute(  # as an image model's row would be
                        "update usage_records set images = 2, seconds = 1.5, image_output_tokens = 3, "
                        "image_size = '1024x1024', cache_write_tokens = 10, cache_write_1h_tokens = 4 "
                        "where model = 'gpt-test-9'"
                    )
                    conn.execute("update api_keys set used_nano = 500000000 where id = ?", (key["id"],))
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("usage rows did not arrive")
        served = Served(gateway, http, db_path)
        served.key = key  # type: ignore[attr-defined]
        served.user = user  # type: ignore[attr-defined]
        yield served


async def test_usage_grouped_by_each_dimension_with_totals(served: Served) -> None:
    http, key = served.http, served.key  # type: ignore[attr-defined]
    status, report = await http.admin("GET", "/admin/usage?by=key")
    assert status == 200, report
    totals = report["totals"]
    assert totals["requests"] == 6 and totals["errors"] == 1
    assert totals["cost_usd"] == pytest.approx(5 * 0.0025)
    assert totals["total_tokens"] == totals["input_tokens"] + totals["output_tokens"] > 0
    by_key = {row["label"]: row for row in report["data"]}
    assert by_key["erin-key"]["requests"] == 3 and by_key["erin-key"]["group"] == key["id"]
    assert by_key["tester"]["requests"] == 3 and by_key["tester"]["errors"] == 1
    assert by_key["erin-key"]["cost_usd"] == pytest.approx(0.0075)
    assert (totals["images"], totals["seconds"], totals["image_output_tokens"]) == (2, 1.5, 3)
    assert (totals["characters"], totals["calls"], totals["audio_input_tokens"]) == (0, 0, 0)
    assert by_key["erin-key"]["images"] == 2 and by_key["tester"]["images"] == 0

    _, by_model = await http.admin("GET", "/admin/usage?by=model")
    assert {row["group"]: row["requests"] for row in by_model["data"]} == {
        "gpt-4o-mini": 4,
        "gpt-test-9": 1,
        "no-such-model": 1,
    }
    _, by_user = await http.admin("GET", "/admin/usage?by=user")
    assert {row["label"]: row["requests"] for row in by_user["data"]} == {"erin": 3, None: 3}
    _, by_channel = await http.admin("GET", "/admin/usage?by=channel")
    assert {row["group"]: row["requests"] for row in by_channel["data"]} == {"mock-openai": 5, None: 1}
    _, ledger = await http.admin("GET", "/admin/ledger?limit=100")
    for row in by_channel["data"]:  # the mean latency of the group's own ledger rows
        own = [entry["latency_ms"] for entry in ledger["data"] if entry["channel"] == row["group"]]
        assert row["avg_latency_ms"] == pytest.approx(sum(own) / len(own), abs=0.001)
    _, by_day = await http.admin("GET", "/admin/usage?by=day")
    today = datetime.now(UTC).date().isoformat()
    assert [(row["group"], row["requests"]) for row in by_day["data"]] == [(today, 6)]

    _, filtered = await http.admin("GET", f"/admin/usage?by=model&key_id={key['id']}&model=gpt-4o-mini")
    assert filtered["totals"]["requests"] == 2 and len(filtered["data"]) == 1
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    _, future = await http.admin("GET", f"/admin/usage?from={tomorrow}")
    assert future["data"] == [] and future["totals"]["requests"] == 0 and future["totals"]["cost_usd"] == 0
    assert future["totals"]["avg_latency_ms"] is None
    _, window = await http.admin("GET", f"/admin/usage?from={today}&to={tomorrow}T00:00:00Z")
    assert window["totals"]["requests"] == 6

    for query, param in (("by=colour", "by"), ("from=yesterday", "from"), ("key_id=abc", "key_id")):
        status, error = await http.admin("GET", f"/admin/usage?{query}")
        assert status == 400 and error["error"]["param"] == param


async def test_ledger_pages_newest_first(served: Served) -> None:
    http = served.http
    seen: list[dict[str, Any]] = []
    before = ""
    while True:
        status, page = await http.admin("GET", f"/admin/ledger?limit=4{before}")
        assert status == 200 and page["object"] == "list" and len(page["data"]) <= 4
        seen.extend(page["data"])
        if not page["has_more"]:
            assert page["next_before"] is None
            break
        before = f"&before={page['next_before']}"
    assert len(seen) == 6 and len({row["id"] for row in seen}) == 6
    stamps = [row["created_at"] for row in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert seen[0]["model"] == "no-such-model" and seen[0]["status_code"] == 404
    assert seen[-1]["cost_usd"] == pytest.approx(0.0025) and seen[-1]["key_name"] == "erin-key"
    [image_row] = [row for row in seen if row["model"] == "gpt-test-9"]
    assert (image_row["images"], image_row["seconds"], image_row["image_size"]) == (2, 1.5, "1024x1024")
    # Cache writes by Anthropic's TTL, under new-api's names: 10 writes of which 4 with the 1-hour TTL.
    assert (image_row["claude_cache_creation_5_m_tokens"], image_row["claude_cache_creation_1_h_tokens"]) == (6, 4)
    assert seen[0]["claude_cache_creation_5_m_tokens"] == seen[0]["claude_cache_creation_1_h_tokens"] == 0
    _, only = await http.admin("GET", f"/admin/ledger?key_id={served.key['id']}")  # type: ignore[attr-defined]
    assert len(only["data"]) == 3
    _, old = await http.admin("GET", "/admin/ledger?before=2000-01-01T00:00:00Z")
    assert old["data"] == [] and old["has_more"] is False
    for query, param in (("before=yesterday", "before"), ("limit=0", "limit"), ("limit=5000", "limit")):
        status, error = await http.admin("GET", f"/admin/ledger?{query}")
        assert status == 400 and error["error"]["param"] == param


async def test_key_holders_see_their_own_key_and_usage(served: Served) -> None:
    http, key = served.http, served.key  # type: ignore[attr-defined]
    status, own = await http.call("GET", "/v1/key", key["key"])
    assert status == 200, own
    assert own["object"] == "key" and own["id"] == key["id"] and own["name"] == "erin-key"
    assert own["quota_usd"] == 2.0 and own["used_usd"] == 0.5 and own["remaining_usd"] == 1.5
    assert own["user_id"] == served.user["id"] and own["models"] is None  # type: ignore[attr-defined]
    assert "key_hash" not in own and "key" not in own and key["key"] not in str(own)
    status, error = await http.call("GET", "/v1/key", None)
    assert status == 401 and error["error"]["code"] == "missing_api_key"
    assert (await http.call("GET", "/v1/key", "sk-wrong-key-000"))[0] == 401

    today = datetime.now(UTC).date()
    query = f"start_date={today.isoformat()}&end_date={(today + timedelta(days=1)).isoformat()}"
    status, usage = await http.call("GET", f"/v1/dashboard/billing/usage?{query}", key["key"])
    assert status == 200, usage
    assert usage["object"] == "list" and usage["total_usage"] == pytest.approx(0.75)  # cents
    [day] = usage["daily_costs"]
    assert day["timestamp"] == datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp()
    assert {item["name"]: item["cost"] for item in day["line_items"]} == pytest.approx(
        {"gpt-4o-mini": 0.5, "gpt-test-9": 0.25}
    )
    status, none = await http.call(
        "GET", "/v1/dashboard/billing/usage?start_date=2001-01-01&end_date=2001-02-01", key["key"]
    )
    assert status == 200 and none["total_usage"] == 0 and none["daily_costs"] == []
    for bad, param in (
        ("start_date=01/02/2024", "start_date"),
        ("start_date=2020-01-01&end_date=2021-01-01", "end_date"),
    ):
        status, error = await http.call("GET", f"/v1/dashboard/billing/usage?{bad}", key["key"])
        assert status == 400 and error["error"]["param"] == param and error["error"]["type"] == "invalid_request_error"
    status, subscription = await http.call("GET", "/v1/dashboard/billing/subscription", key["key"])
    assert status == 200 and subscription["hard_limit_usd"] == 2.0


async def test_openapi_document_lists_every_admin_route(served: Served) -> None:
    http = served.http
    status, document = await http.admin("GET", "/admin/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    assert (await http.call("GET", "/admin/openapi.json", None))[0] == 401
    paths = document["paths"]
    app = served.gateway.app
    admin = [route for route in app.routes.routes if route.path.startswith("/admin")]
    exact = {(route.method, route.path) for route in admin if "{" not in route.path}
    templated = {(route.method, route.path.replace(":path}", "}")) for route in admin}
    assert len(templated) >= 30 and exact <= templated
    for method, path in exact | templated:
        operation = paths[path][method.lower()]
        assert operation["summary"] and operation["responses"], (method, path)
        assert any(code.startswith("2") for code in operation["responses"])
    schemas = document["components"]["schemas"]
    assert schemas["KeyCreate"]["additionalProperties"] is False
    assert "quota_usd" in schemas["KeyCreate"]["properties"] and "key" in schemas["KeyWithSecret"]["properties"]
    assert paths["/admin/keys"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/KeyCreate"
    }

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for value in node.values() for r in refs(value)]
        return [r for value in node for r in refs(value)] if isinstance(node, list) else []

    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
