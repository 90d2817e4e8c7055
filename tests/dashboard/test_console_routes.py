"""The API routes the console reads that did not exist before it: ``/admin/usage/series``,
``/admin/ledger/{id}``, the ledger's ``request_id`` / ``status`` filters, and the key holder's
``/v1/key/requests`` and ``/v1/key/models``; on SQLite and PostgreSQL (percentiles differ per backend)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import numpy as np
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.gateway_harness import make_config, running_gateway

PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.6}, "gpt-test-1": {"input": 2, "output": 8}}


class Served:
    def __init__(self, http: Http, keys: dict[str, dict[str, Any]], ledger: dict[str, list[dict[str, Any]]]) -> None:
        self.http, self.keys, self.ledger = http, keys, ledger


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[Served]:
    """New keys with traffic: ``plain`` 5 answers and 2 failures, ``vip`` (group 0.5, one model) 2 answers,
    ``owned`` (a user's) 1 answer."""
    config = make_config(
        mock_upstream.url, tmp_path_factory.mktemp("routes") / "gw.db", admin_key=ADMIN_KEY, reload_interval=0.2,
        prices=PRICES, groups={"vip": 0.5},
    )  # fmt: skip
    if request.param == "postgresql":
        config.database_url = gateway_postgres_url
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        http = Http(session, gateway.url)
        _, plain = await http.admin("POST", "/admin/keys", {"name": "series-plain"})
        _, vip = await http.admin(
            "POST", "/admin/keys", {"name": "series-vip", "group": "vip", "models": ["gpt-4o-mini"]}
        )
        for i in range(5):
            model = "gpt-4o-mini" if i % 2 else "gpt-test-1"
            assert (await http.chat(plain["key"], model, "word " * (i * 7 + 1)))[0] == 200
        for _ in range(2):
            assert (await http.chat(plain["key"], "no-such-model"))[0] == 404
        for _ in range(2):
            assert (await http.chat(vip["key"]))[0] == 200
        _, user = await http.admin("POST", "/admin/users", {"name": f"series-user-{request.param}"})
        _, owned = await http.admin("POST", "/admin/keys", {"name": "series-owned", "user_id": user["id"]})
        assert (await http.chat(owned["key"]))[0] == 200
        ledger = {
            "plain": await http.ledger_rows(plain["id"], 7),
            "vip": await http.ledger_rows(vip["id"], 2),
            "owned": await http.ledger_rows(owned["id"], 1),
        }
        yield Served(http, {"plain": plain, "vip": vip, "owned": owned}, ledger)


def _usd_sum(values: list[float]) -> Decimal:
    return sum((Decimal(str(v)) for v in values), Decimal(0))


async def test_hourly_series_sums_are_the_ledger_and_percentiles_its_latencies(served: Served) -> None:
    key, rows = served.keys["plain"], served.ledger["plain"]
    status, series = await served.http.admin("GET", f"/admin/usage/series?key_id={key['id']}")
    assert status == 200 and series["bucket"] == "hour"
    points = series["data"]
    assert len(points) == 24  # the last 24 hours, empty hours included
    times = [datetime.fromisoformat(p["time"]) for p in points]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))
    busy = [p for p in points if p["requests"]]
    hours = {datetime.fromisoformat(r["created_at"]).replace(minute=0, second=0, microsecond=0) for r in rows}
    assert {datetime.fromisoformat(p["time"]) for p in busy} == hours
    assert sum(p["requests"] for p in points) == len(rows) == 7
    assert sum(p["errors"] for p in points) == sum(r["status_code"] >= 400 for r in rows) == 2
    assert sum(p["input_tokens"] for p in points) == sum(r["input_tokens"] for r in rows)
    assert sum(p["output_tokens"] for p in points) == sum(r["output_tokens"] for r in rows)
    assert sum(p["total_tokens"] for p in points) == sum(r["input_tokens"] + r["output_tokens"] for r in rows)
    assert _usd_sum([p["cost_usd"] for p in points]) == _usd_sum([r["cost_usd"] for r in rows]) > 0
    for point in busy:
        start = datetime.fromisoformat(point["time"])
        latencies = [
            r["latency_ms"]
            for r in rows
            if start <= datetime.fromisoformat(r["created_at"]) < start + timedelta(hours=1)
        ]
        for q in (50, 95, 99):
            expected = float(np.percentile(latencies, q))  # linear, as percentile_cont
            assert point[f"latency_p{q}_ms"] == pytest.approx(expected, rel=1e-9), q
    assert all(p["latency_p50_ms"] is None and p["cost_usd"] == 0 for p in points if not p["requests"])


async def test_daily_series_and_its_window(served: Served) -> None:
    key, rows = served.keys["vip"], served.ledger["vip"]
    status, series = await served.http.admin("GET", f"/admin/usage/series?bucket=day&key_id={key['id']}")
    assert status == 200 and len(series["data"]) == 30
    assert sum(p["requests"] for p in series["data"]) == len(rows) == 2
    assert _usd_sum([p["cost_usd"] for p in series["data"]]) == _usd_sum([r["cost_usd"] for r in rows])
    today = datetime.now(UTC).date().isoformat()
    status, one = await served.http.admin("GET", f"/admin/usage/series?bucket=day&from={today}&key_id={key['id']}")
    assert status == 200 and len(one["data"]) == 1 and one["data"][0]["requests"] == 2
    assert one["data"][0]["time"].startswith(today)


@pytest.mark.parametrize(
    ("query", "param"),
    [("bucket=week", "bucket"), ("from=2026-01-02&to=2026-01-01", "from"), ("from=2020-01-01&to=2026-01-01", "from"),
     ("from=yesterday", "from")],
)  # fmt: skip
async def test_series_refusals_name_the_parameter(served: Served, query: str, param: str) -> None:
    status, body = await served.http.admin("GET", f"/admin/usage/series?{query}")
    assert (status, body["error"]["param"]) == (400, param)


async def test_a_ledger_record_with_its_attempts_and_the_new_filters(served: Served) -> None:
    key, rows = served.keys["plain"], served.ledger["plain"]
    ok = next(r for r in rows if r["status_code"] == 200)
    status, detail = await served.http.admin("GET", f"/admin/ledger/{ok['id']}")
    assert status == 200
    assert {k: v for k, v in detail.items() if k != "attempt_log"} == ok
    assert [a["channel"] for a in detail["attempt_log"]] == ["mock-openai"]
    assert detail["attempt_log"][0]["status"] == 200
    for missing in ("999999999", "abc", "-1"):
        status, body = await served.http.admin("GET", f"/admin/ledger/{missing}")
        assert status == 404, missing
    status, found = await served.http.admin("GET", f"/admin/ledger?request_id={ok['request_id']}")
    assert [r["id"] for r in found["data"]] == [ok["id"]]
    status, errors = await served.http.admin("GET", f"/admin/ledger?key_id={key['id']}&status=error")
    assert sorted(r["id"] for r in errors["data"]) == sorted(r["id"] for r in rows if r["status_code"] >= 400)
    status, oks = await served.http.admin("GET", f"/admin/usage?key_id={key['id']}&status=ok")
    assert oks["totals"]["requests"] == 5 and oks["totals"]["errors"] == 0
    status, body = await served.http.admin("GET", "/admin/ledger?status=maybe")
    assert (status, body["error"]["param"]) == (400, "status")


async def test_key_holder_sees_only_its_own_requests_without_channels(served: Served) -> None:
    for name in ("plain", "vip"):
        key, rows = served.keys[name], served.ledger[name]
        status, own = await served.http.call("GET", "/v1/key/requests?limit=200", key["key"])
        assert status == 200
        assert [r["request_id"] for r in own["data"]] == [r["request_id"] for r in rows]  # newest first, only its own
        assert all("channel" not in r and "key_name" not in r and "upstream_model" not in r for r in own["data"])
        assert _usd_sum([r["cost_usd"] for r in own["data"]]) == _usd_sum([r["cost_usd"] for r in rows])
    status, two = await served.http.call("GET", "/v1/key/requests?limit=2", served.keys["plain"]["key"])
    assert len(two["data"]) == 2
    for bad in ("0", "201", "x"):
        status, body = await served.http.call("GET", f"/v1/key/requests?limit={bad}", served.keys["plain"]["key"])
        assert (status, body["error"]["param"]) == (400, "limit")


async def test_key_holder_models_are_its_allowed_ones_at_its_group_price(served: Served) -> None:
    status, vip = await served.http.call("GET", "/v1/key/models", served.keys["vip"]["key"])
    assert status == 200
    nothing = dict.fromkeys(("cached_input", "per_image", "per_second", "per_1k_characters", "per_call"))
    assert vip["data"] == [{"id": "gpt-4o-mini", "priced": True, "input": 0.075, "output": 0.3, **nothing}]
    status, plain = await served.http.call("GET", "/v1/key/models", served.keys["plain"]["key"])
    _, listed = await served.http.call("GET", "/v1/models", served.keys["plain"]["key"])
    assert [m["id"] for m in plain["data"]] == [m["id"] for m in listed["data"]]  # an unrestricted key: every model
    by_id = {m["id"]: m for m in plain["data"]}
    assert (by_id["gpt-4o-mini"]["input"], by_id["gpt-4o-mini"]["output"]) == (0.15, 0.6)
    status, _ = await served.http.call("GET", "/v1/key/models", "sk-wrong")
    assert status == 401


async def _window_rows(http: Http, series: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ledger record in the series' window (paged)."""
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        _, page = await http.admin("GET", f"/admin/ledger?from={series['start']}&to={series['end']}&limit=1000{cursor}")
        rows += page["data"]
        if not page["has_more"]:
            return rows
        cursor = f"&before={page['next_before']}"


_GROUP = {"model": "model", "channel": "channel", "key": "key_id", "user": "user_id"}
_RANK = {
    "cost": lambda rs: (_usd_sum([r["cost_usd"] for r in rs]), len(rs)),
    "requests": lambda rs: (len(rs), _usd_sum([r["cost_usd"] for r in rs])),
    "tokens": lambda rs: (sum(r["input_tokens"] + r["output_tokens"] for r in rs), len(rs)),
    "errors": lambda rs: (sum(r["status_code"] >= 400 for r in rs), len(rs)),
}


def _check_split(series: dict[str, Any], rows: list[dict[str, Any]], by: str, top: int, rank: str) -> None:
    """Each series, bucket by bucket, is exactly its group's ledger records (the rest: ``other``); the series
    of a bucket sum to the bucket's total; percentiles are numpy's over the same records."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[_GROUP[by]], []).append(row)
    order = sorted(groups, key=lambda g: (tuple(-v for v in _RANK[rank](groups[g])), str(g)))
    kept, rest = order[:top], order[top:]
    assert series["by"] == by
    assert [(s["group"], s["other"]) for s in series["series"]] == [(g, False) for g in kept] + (
        [(None, True)] if rest else []
    )
    expected = [groups[g] for g in kept] + ([[r for g in rest for r in groups[g]]] if rest else [])
    for line, records in zip(series["series"], expected, strict=True):
        assert line["requests"] == len(records)
        assert line["errors"] == sum(r["status_code"] >= 400 for r in records)
        assert _usd_sum([line["cost_usd"]]) == _usd_sum([r["cost_usd"] for r in records])
        assert len(line["data"]) == len(series["data"])
        for point in line["data"]:
            start = datetime.fromisoformat(point["time"])
            step = timedelta(hours=1) if series["bucket"] == "hour" else timedelta(days=1)
            inside = [r for r in records if start <= datetime.fromisoformat(r["created_at"]) < start + step]
            assert point["requests"] == len(inside)
            assert point["errors"] == sum(r["status_code"] >= 400 for r in inside)
            assert point["input_tokens"] == sum(r["input_tokens"] for r in inside)
            assert point["output_tokens"] == sum(r["output_tokens"] for r in inside)
            assert _usd_sum([point["cost_usd"]]) == _usd_sum([r["cost_usd"] for r in inside])
            if inside:
                for q in (50, 95, 99):
                    expected_ms = float(np.percentile([r["latency_ms"] for r in inside], q))
                    assert point[f"latency_p{q}_ms"] == pytest.approx(expected_ms, rel=1e-9)
            else:
                assert point["latency_p50_ms"] is None
    for i, total in enumerate(series["data"]):
        for name in ("requests", "errors", "input_tokens", "output_tokens", "total_tokens"):
            assert sum(line["data"][i][name] for line in series["series"]) == total[name]
        assert _usd_sum([line["data"][i]["cost_usd"] for line in series["series"]]) == _usd_sum([total["cost_usd"]])


@pytest.mark.parametrize(
    ("by", "top", "rank"),
    [("model", 5, "cost"), ("model", 1, "requests"), ("key", 1, "requests"), ("key", 2, "errors"),
     ("channel", 1, "tokens"), ("user", 5, "cost"), ("user", 1, "requests")],
)  # fmt: skip
async def test_series_split_by_a_dimension_is_the_ledger_group_by_group(
    served: Served, by: str, top: int, rank: str
) -> None:
    for bucket in ("hour", "day"):
        status, series = await served.http.admin(
            "GET", f"/admin/usage/series?bucket={bucket}&by={by}&top={top}&rank={rank}"
        )
        assert status == 200, series
        rows = await _window_rows(served.http, series)
        assert sum(p["requests"] for p in series["data"]) == len(rows) >= 9
        _check_split(series, rows, by, top, rank)


async def test_series_split_labels_and_other(served: Served) -> None:
    plain, vip = served.keys["plain"], served.keys["vip"]
    query = "/admin/usage/series?by=key&top=1&rank=requests&model=gpt-4o-mini"
    status, series = await served.http.admin("GET", query)
    assert status == 200
    by_group = {s["group"]: s for s in series["series"] if not s["other"]}
    # gpt-4o-mini: plain's 2 answers, vip's 2, maybe other modules' keys: the top one is named by its key name
    [(group, line)] = by_group.items()
    _, key = await served.http.admin("GET", f"/admin/keys/{group}")
    assert line["label"] == key["name"]
    other = [s for s in series["series"] if s["other"]]
    assert len(other) == 1 and other[0]["label"] == "other" and other[0]["group"] is None
    only_vip = f"/admin/usage/series?by=model&key_id={vip['id']}"
    _, mine = await served.http.admin("GET", only_vip)
    assert [(s["group"], s["label"], s["requests"]) for s in mine["series"]] == [("gpt-4o-mini", "gpt-4o-mini", 2)]
    _, plain_split = await served.http.admin("GET", f"/admin/usage/series?by=model&key_id={plain['id']}&rank=errors")
    assert plain_split["series"][0]["group"] == "no-such-model" and plain_split["series"][0]["errors"] == 2
    owned = served.keys["owned"]
    _, users = await served.http.admin("GET", f"/admin/usage/series?by=user&key_id={owned['id']}")
    [line] = users["series"]
    _, user = await served.http.admin("GET", f"/admin/users/{owned['user_id']}")
    assert (line["group"], line["label"], line["requests"]) == (user["id"], user["name"], 1)
    assert user["name"].startswith("series-user-")
    _, unsplit = await served.http.admin("GET", "/admin/usage/series")
    assert unsplit["by"] is None and unsplit["series"] is None


@pytest.mark.parametrize(
    ("query", "param"), [("by=day", "by"), ("by=model&top=0", "top"), ("by=model&top=21", "top"), ("rank=x", "rank")]
)
async def test_series_split_refusals(served: Served, query: str, param: str) -> None:
    status, body = await served.http.admin("GET", f"/admin/usage/series?{query}")
    assert (status, body["error"]["param"]) == (400, param)
