"""Users with passwords, on SQLite and PostgreSQL: set through the admin API over real HTTP, stored as Argon2id
hashes, never shown; ``verify_user_password`` (the console's sign-in) answers the user and their keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from omnirouter.accounts import verify_user_password
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import Database
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.gateway_harness import RunningGateway, make_config, running_gateway

SECRET = "correct horse battery staple"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def user_gateway(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[RunningGateway]:
    config = make_config(mock_upstream.url, tmp_path_factory.mktemp("users") / "gw.db", admin_key=ADMIN_KEY)
    if request.param == "postgresql":
        config.database_url = gateway_postgres_url
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
async def http(user_gateway: RunningGateway) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(session, user_gateway.url)


def database(gateway: RunningGateway) -> Database:
    db: Database = gateway.app.gateway.db
    return db


async def stored_hash(gateway: RunningGateway, user_id: int) -> str | None:
    async with database(gateway).engine.connect() as conn:
        query = text("SELECT password_hash FROM users WHERE id = :id")
        found: str | None = (await conn.execute(query, {"id": user_id})).scalar_one()
    return found


async def test_a_password_is_stored_hashed_never_shown_and_signs_the_user_in(
    http: Http, user_gateway: RunningGateway
) -> None:
    status, user = await http.admin("POST", "/admin/users", {"name": "reseller-customer", "password": SECRET})
    assert status == 201 and user["has_password"] is True, user
    assert "password" not in user and SECRET not in str(user)
    for path in (f"/admin/users/{user['id']}", "/admin/users"):
        status, shown = await http.admin("GET", path)
        assert status == 200 and SECRET not in str(shown) and "argon2" not in str(shown)
    encoded = await stored_hash(user_gateway, user["id"])
    assert encoded is not None and encoded.startswith("$argon2id$") and SECRET not in encoded
    assert PasswordHasher().verify(encoded, SECRET)

    _, first = await http.admin("POST", "/admin/keys", {"name": "laptop", "user_id": user["id"], "quota_usd": 5})
    _, second = await http.admin("POST", "/admin/keys", {"name": "server", "user_id": user["id"]})
    _, gone = await http.admin("POST", "/admin/keys", {"name": "old", "user_id": user["id"]})
    await http.admin("DELETE", f"/admin/keys/{gone['id']}")
    _, other = await http.admin("POST", "/admin/users", {"name": "someone-else", "password": "another password"})

    signed = await verify_user_password(database(user_gateway), "reseller-customer", SECRET)
    assert signed is not None and signed.user.id == user["id"] and signed.user.name == "reseller-customer"
    assert [k.id for k in signed.keys] == [first["id"], second["id"]] and signed.keys[0].quota_usd == 5.0
    assert not any(first["key"] in str(k) or second["key"] in str(k) for k in signed.keys)
    for name, password in (
        ("reseller-customer", SECRET + "!"),
        ("reseller-customer", "another password"),  # someone else's password
        ("nobody-by-this-name", SECRET),
        ("someone-else", SECRET),
        ("RESELLER-CUSTOMER", SECRET),
    ):
        assert await verify_user_password(database(user_gateway), name, password) is None, (name, password)
    assert (await verify_user_password(database(user_gateway), "someone-else", "another password")) is not None
    assert other["has_password"] is True


async def test_a_password_can_be_changed_removed_and_a_disabled_user_cannot_sign_in(
    http: Http, user_gateway: RunningGateway
) -> None:
    db = database(user_gateway)
    status, user = await http.admin("POST", "/admin/users", {"name": "changer"})
    assert status == 201 and user["has_password"] is False
    assert await verify_user_password(db, "changer", "") is None
    status, patched = await http.admin("PATCH", f"/admin/users/{user['id']}", {"password": "first password"})
    assert status == 200 and patched["has_password"] is True and "password" not in patched
    assert await verify_user_password(db, "changer", "first password") is not None
    await http.admin("PATCH", f"/admin/users/{user['id']}", {"password": "second password"})
    assert await verify_user_password(db, "changer", "first password") is None
    assert await verify_user_password(db, "changer", "second password") is not None
    status, patched = await http.admin("PATCH", f"/admin/users/{user['id']}", {"email": "c@example.com"})
    assert patched["has_password"] is True  # other changes leave it alone
    await http.admin("DELETE", f"/admin/users/{user['id']}")
    assert await verify_user_password(db, "changer", "second password") is None
    await http.admin("PATCH", f"/admin/users/{user['id']}", {"status": "active"})
    assert await verify_user_password(db, "changer", "second password") is not None
    status, patched = await http.admin("PATCH", f"/admin/users/{user['id']}", {"password": None})
    assert status == 200 and patched["has_password"] is False
    assert await stored_hash(user_gateway, user["id"]) is None
    assert await verify_user_password(db, "changer", "second password") is None


async def test_a_hash_with_old_parameters_is_replaced_at_sign_in(http: Http, user_gateway: RunningGateway) -> None:
    _, user = await http.admin("POST", "/admin/users", {"name": "old-hash"})
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("an old password")
    async with database(user_gateway).engine.begin() as conn:
        await conn.execute(text("UPDATE users SET password_hash = :h WHERE id = :id"), {"h": weak, "id": user["id"]})
    assert await verify_user_password(database(user_gateway), "old-hash", "an old password") is not None
    fresh = await stored_hash(user_gateway, user["id"])
    assert fresh is not None and fresh != weak and not PasswordHasher().check_needs_rehash(fresh)
    assert await verify_user_password(database(user_gateway), "old-hash", "an old password") is not None


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("POST", {"name": "short", "password": "1234567"}),
        ("POST", {"name": "long", "password": "x" * 1025}),
        ("POST", {"name": "number", "password": 12345678}),
        ("PATCH", {"password": "short"}),
    ],
)
async def test_bad_passwords_are_refused_naming_the_field(http: Http, method: str, body: dict[str, object]) -> None:
    path = "/admin/users"
    if method == "PATCH":
        _, user = await http.admin("POST", "/admin/users", {"name": f"patch-target-{id(body)}"})
        path = f"/admin/users/{user['id']}"
    status, error = await http.admin(method, path, body)
    assert status == 400 and error["error"]["param"] == "password", error
    assert str(body["password"]) not in error["error"]["message"]
