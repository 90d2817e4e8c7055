"""Admin API for users and client keys, over real HTTP: CRUD, secrets shown once, rotate, revoke, reload, replicas."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.gateway_harness import CLIENT_KEY, make_config, running_gateway
from tests.helpers.postgres import postgres_database


@pytest.fixture
async def http(mock_upstream: MockUpstream, tmp_path: Path) -> AsyncIterator[Http]:
    config = make_config(mock_upstream.url, tmp_path / "gw.db", admin_key=ADMIN_KEY, reload_interval=0.2)
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        yield Http(session, gateway.url)


async def eventually(check: Any) -> None:
    """Wait (up to 5 s) until ``await check()`` is true."""
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met within 5 s")


async def test_key_created_with_every_field_is_shown_once_and_stored_hashed(http: Http, tmp_path: Path) -> None:
    status, user = await http.admin("POST", "/admin/users", {"name": "alice", "email": "a@example.com"})
    assert status == 201 and user["name"] == "alice" and user["status"] == "active" and user["keys"] == 0
    status, group = await http.admin("POST", "/admin/groups", {"name": "vip", "multiplier": 0.8})
    assert status == 201 and group == {"name": "vip", "multiplier": 0.8, "description": None, "source": "api"}
    body = {
        "name": "alice-laptop",
        "user_id": user["id"],
        "group": "vip",
        "quota_usd": "5.25",
        "models": ["gpt-4o*", "gpt-test*"],
        "ip_allow": ["127.0.0.0/8", "::1"],
        "rpm": 60,
        "tpm": 100000,
        "max_concurrent": 4,
        "expires_at": "2099-01-01T00:00:00Z",
        "metadata": {"team": "search"},
    }
    status, created = await http.admin("POST", "/admin/keys", body)
    assert status == 201, created
    secret = created.pop("key")
    assert secret.startswith("sk-or-") and created["prefix"] == secret[:8] + "…"
    assert created["quota_usd"] == 5.25 and created["used_usd"] == 0 and created["remaining_usd"] == 5.25
    assert created["models"] == ["gpt-4o*", "gpt-test*"] and created["ip_allow"] == ["127.0.0.0/8", "::1"]
    assert (created["rpm"], created["tpm"], created["max_concurrent"]) == (60, 100000, 4)
    assert created["group"] == "vip" and created["user_id"] == user["id"] and created["source"] == "api"
    assert created["expires_at"].startswith("2099-01-01T00:00:00") and created["metadata"] == {"team": "search"}
    # The new key works at once on this gateway (its own write reloads it).
    status, answer = await http.chat(secret)
    assert status == 200, answer
    # Shown once: reads never carry the secret or the hash.
    status, fetched = await http.admin("GET", f"/admin/keys/{created['id']}")
    assert status == 200 and fetched == created
    status, listed = await http.admin("GET", f"/admin/keys?user_id={user['id']}")
    assert status == 200 and listed["object"] == "list" and listed["data"] == [created]
    status, everything = await http.admin("GET", "/admin/keys")
    assert [k["name"] for k in everything["data"]] == ["tester", "alice-laptop"]
    assert everything["data"][0]["source"] == "config"
    assert secret not in str(everything) and "key_hash" not in str(everything)
    status, revoked = await http.admin("GET", "/admin/keys?status=revoked")
    assert status == 200 and revoked["data"] == []
    status, owner = await http.admin("GET", f"/admin/users/{user['id']}")
    assert owner["keys"] == 1
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        rows = conn.execute("select * from api_keys where id = ?", (created["id"],)).fetchall()
        key_hash, quota = conn.execute(
            "select key_hash, quota_nano from api_keys where id = ?", (created["id"],)
        ).fetchone()
    assert key_hash == hashlib.sha256(secret.encode()).hexdigest() and quota == 5_250_000_000
    assert secret not in str(rows)


async def test_patch_models_rotate_and_revoke(http: Http) -> None:
    status, created = await http.admin("POST", "/admin/keys", {"name": "bob"})
    assert status == 201 and created["quota_usd"] is None and created["models"] is None
    key_id, secret = created["id"], created["key"]
    assert (await http.chat(secret, "gpt-test-1"))[0] == 200

    status, patched = await http.admin("PATCH", f"/admin/keys/{key_id}", {"models": ["gpt-4o-mini"], "rpm": 10})
    assert status == 200 and patched["models"] == ["gpt-4o-mini"] and patched["rpm"] == 10 and patched["name"] == "bob"
    status, refused = await http.chat(secret, "gpt-test-1")
    assert status == 403 and refused["error"]["code"] == "model_not_allowed"
    assert (await http.chat(secret, "gpt-4o-mini"))[0] == 200
    status, cleared = await http.admin("PATCH", f"/admin/keys/{key_id}", {"models": None, "quota_usd": 1})
    assert status == 200 and cleared["models"] is None and cleared["quota_usd"] == 1.0 and cleared["rpm"] == 10
    assert (await http.chat(secret, "gpt-test-1"))[0] == 200

    status, rotated = await http.admin("POST", f"/admin/keys/{key_id}/rotate")
    assert status == 200 and rotated["id"] == key_id and rotated["key"] != secret
    assert rotated["prefix"] == rotated["key"][:8] + "…"
    status, refused = await http.chat(secret)
    assert status == 401 and refused["error"]["code"] == "invalid_api_key"
    assert (await http.chat(rotated["key"]))[0] == 200

    status, paused = await http.admin("PATCH", f"/admin/keys/{key_id}", {"status": "disabled"})
    assert status == 200 and paused["status"] == "disabled"
    assert (await http.chat(rotated["key"]))[0] == 401
    await http.admin("PATCH", f"/admin/keys/{key_id}", {"status": "active"})
    assert (await http.chat(rotated["key"]))[0] == 200

    status, expired = await http.admin("PATCH", f"/admin/keys/{key_id}", {"expires_at": "2001-01-01T00:00:00"})
    assert status == 200 and expired["expires_at"].startswith("2001-01-01T00:00:00")
    status, refused = await http.chat(rotated["key"])
    assert status == 401 and refused["error"]["code"] == "key_expired"
    await http.admin("PATCH", f"/admin/keys/{key_id}", {"expires_at": None})

    status, revoked = await http.admin("DELETE", f"/admin/keys/{key_id}")
    assert status == 200 and revoked["status"] == "revoked"
    assert (await http.chat(rotated["key"]))[0] == 401
    assert (await http.admin("DELETE", f"/admin/keys/{key_id}"))[0] == 200  # idempotent
    for method, path, body in (
        ("PATCH", f"/admin/keys/{key_id}", {"rpm": 1}),
        ("POST", f"/admin/keys/{key_id}/rotate", None),
    ):
        status, error = await http.admin(method, path, body)
        assert status == 409 and error["error"]["code"] == "key_revoked"


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"name": "x", "colour": "red"}, "colour", "Unknown field 'colour'"),
        ({}, "name", "Missing required field 'name'"),
        ({"name": "x", "rpm": "many"}, "rpm", "'rpm'"),
        ({"name": "x", "rpm": 0}, "rpm", ">= 1"),
        ({"name": "x", "quota_usd": -1}, "quota_usd", "non-negative"),
        ({"name": "x", "quota_usd": "lots"}, "quota_usd", "US dollars"),
        ({"name": "x", "ip_allow": ["10.0.0.0/8", "nonsense"]}, "ip_allow[1]", "CIDR"),
        ({"name": "x", "user_id": 999}, "user_id", "no user"),
        ({"name": "x", "group": "nope"}, "group", "no group"),
        ({"name": "x", "expires_at": "soon"}, "expires_at", "expires_at"),
        ({"name": "x", "status": "revoked"}, "status", "status"),
        ({"name": ""}, "name", "name"),
    ],
)
async def test_key_bad_input_is_400_naming_the_field(
    http: Http, body: dict[str, Any], param: str, fragment: str
) -> None:
    status, error = await http.admin("POST", "/admin/keys", body)
    assert status == 400, error
    assert error["error"]["param"] == param and fragment in error["error"]["message"]
    assert error["error"]["type"] == "invalid_request_error"


async def test_key_errors_unknown_ids_config_keys_auth_and_methods(http: Http) -> None:
    for raw in (b"", b"{not json", b"[1, 2]"):
        status, error = await http.admin("POST", "/admin/keys", raw=raw)
        assert status == 400 and error["error"]["message"], raw
    for path in ("/admin/keys/999", "/admin/keys/abc", "/admin/users/999"):
        status, error = await http.admin("GET", path)
        assert status == 404 and error["error"]["type"] == "not_found_error", path
    assert (await http.admin("PATCH", "/admin/keys/999", {"rpm": 1}))[0] == 404
    assert (await http.admin("POST", "/admin/keys/999/rotate"))[0] == 404
    _, listing = await http.admin("GET", "/admin/keys")
    config_key = next(k for k in listing["data"] if k["source"] == "config")
    for method, suffix, body in (("PATCH", "", {"rpm": 5}), ("DELETE", "", None), ("POST", "/rotate", None)):
        status, error = await http.admin(method, f"/admin/keys/{config_key['id']}{suffix}", body)
        assert status == 409 and error["error"]["code"] == "config_managed"
        assert "config file" in error["error"]["message"]
    assert (await http.chat(CLIENT_KEY))[0] == 200
    for key in (None, "wrong", CLIENT_KEY):
        for method, path in (("GET", "/admin/keys"), ("GET", "/admin/keys/1"), ("POST", "/admin/users")):
            status, error = await http.call(method, path, key, {})
            assert status == 401 and error["error"]["type"] == "authentication_error", (key, path)
    status, error = await http.admin("PUT", "/admin/keys/1", {})
    assert status == 405 and "PATCH" in error["error"]["message"]
    status, error = await http.admin("GET", "/admin/nothing-here")
    assert status == 404 and error["error"]["code"] == "unknown_endpoint"
    status, error = await http.admin("GET", "/admin/keys?status=lost")
    assert status == 400 and error["error"]["param"] == "status"


async def test_users_crud_and_disabling_a_user_stops_their_keys(http: Http) -> None:
    status, user = await http.admin("POST", "/admin/users", {"name": "carol", "metadata": {"plan": "pro"}})
    assert status == 201 and user["metadata"] == {"plan": "pro"}
    status, error = await http.admin("POST", "/admin/users", {"name": "carol"})
    assert status == 409 and error["error"]["code"] == "user_exists"
    status, error = await http.admin("POST", "/admin/users", {"name": "dave", "status": "sleeping"})
    assert status == 400 and error["error"]["param"] == "status"
    _, key = await http.admin("POST", "/admin/keys", {"name": "carol-1", "user_id": user["id"]})
    assert (await http.chat(key["key"]))[0] == 200

    status, patched = await http.admin("PATCH", f"/admin/users/{user['id']}", {"email": "c@example.com"})
    assert status == 200 and patched["email"] == "c@example.com" and patched["metadata"] == {"plan": "pro"}
    status, listed = await http.admin("GET", "/admin/users")
    assert status == 200 and [u["name"] for u in listed["data"]] == ["carol"]

    status, disabled = await http.admin("DELETE", f"/admin/users/{user['id']}")
    assert status == 200 and disabled["status"] == "disabled"
    assert (await http.chat(key["key"]))[0] == 401
    _, active = await http.admin("GET", "/admin/users?status=active")
    assert active["data"] == []
    await http.admin("PATCH", f"/admin/users/{user['id']}", {"status": "active"})
    assert (await http.chat(key["key"]))[0] == 200


@contextlib.asynccontextmanager
async def _two_replicas(mock_upstream: MockUpstream, tmp_path: Path, backend: str) -> AsyncIterator[tuple[Http, Http]]:
    """Two gateways on one database (SQLite file or PostgreSQL), reloading every 0.2 s: an admin client of each."""
    async with contextlib.AsyncExitStack() as stack:
        url = f"sqlite:///{tmp_path}/shared.db"
        if backend == "postgresql":
            url = await stack.enter_async_context(postgres_database())
        config = make_config(
            mock_upstream.url, tmp_path / "unused.db", database_url=url, admin_key=ADMIN_KEY, reload_interval=0.2
        )
        first = await stack.enter_async_context(running_gateway(config))
        second = await stack.enter_async_context(running_gateway(config))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield Http(session, first.url), Http(session, second.url)


async def _key_on_both(one: Http, two: Http, name: str) -> tuple[dict[str, Any], str]:
    """A key created on ``one``, once ``two`` serves it too: its admin view and its secret."""
    _, created = await one.admin("POST", "/admin/keys", {"name": name})
    secret: str = created["key"]

    async def works_on_second() -> bool:
        return (await two.chat(secret))[0] == 200

    await eventually(works_on_second)
    return created, secret


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_two_replicas_on_one_database_see_each_others_changes(
    mock_upstream: MockUpstream, tmp_path: Path, backend: str
) -> None:
    async with _two_replicas(mock_upstream, tmp_path, backend) as (one, two):
        created, secret = await _key_on_both(one, two, "roaming")
        await one.admin("DELETE", f"/admin/keys/{created['id']}")
        started = asyncio.get_running_loop().time()

        async def refused_on_second() -> bool:
            return (await two.chat(secret))[0] == 401

        await eventually(refused_on_second)
        assert asyncio.get_running_loop().time() - started < 2.0

        async def recorded() -> bool:
            return (await two.admin("GET", "/admin/usage?by=day"))[1]["totals"]["requests"] >= 1

        await eventually(recorded)  # the reports run on either backend
        _, by_day = await two.admin("GET", "/admin/usage?by=day")
        assert by_day["data"][0]["group"] == datetime.now(UTC).date().isoformat()
        _, page = await one.admin("GET", "/admin/ledger?limit=1")
        assert page["data"][0]["key_name"] == "roaming"


async def test_a_key_remembered_by_another_replica_is_refused_once_rotated(
    mock_upstream: MockUpstream, tmp_path: Path
) -> None:
    """Each worker remembers the keys it has seen (no hash per request): a rotate on one replica still
    refuses the old secret on the other within a reload, on PostgreSQL, and the new one works there."""
    async with _two_replicas(mock_upstream, tmp_path, "postgresql") as (one, two):
        created, secret = await _key_on_both(one, two, "remembered")
        assert (await two.chat(secret))[0] == 200  # found again: the remembered record
        _, rotated = await one.admin("POST", f"/admin/keys/{created['id']}/rotate")
        assert (await one.chat(secret))[0] == 401  # at once on the replica that rotated it
        started = asyncio.get_running_loop().time()

        async def refused_on_second() -> bool:
            status, body = await two.chat(secret)
            return status == 401 and body["error"]["code"] == "invalid_api_key"

        await eventually(refused_on_second)
        assert asyncio.get_running_loop().time() - started < 2.0
        assert (await two.chat(secret))[0] == 401  # and stays refused
        assert (await two.chat(rotated["key"]))[0] == 200
