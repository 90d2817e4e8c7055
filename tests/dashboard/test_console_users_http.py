"""Users with passwords in the console, over real HTTP (SQLite and PostgreSQL): signing in with a name and
password, the user's session seeing its own keys (``GET /v1/user/keys``, the key holder's routes with
``?key_id=``) and nothing else — no admin route, no other user's key, no client route —, CSRF on its state
changes (redeeming a code), and the session ending when the password changes or the user is disabled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY
from tests.helpers.console_client import ConsoleGateway, console_gateway
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway

PRICES = {"gpt-4o-mini": {"input": 15, "output": 60}}  # a 16k-token reservation fits a $5 quota
PASSWORD = "correct horse battery staple"


class Served(ConsoleGateway):
    """The console's gateway, and the users and keys made on it (``ids`` and key ``secrets`` by name)."""

    def __init__(self, gateway: RunningGateway, session: aiohttp.ClientSession, config: GatewayConfig) -> None:
        super().__init__(gateway, session, config)
        self.ids: dict[str, int] = {}
        self.secrets: dict[str, str] = {}

    async def user(self, name: str, password: str | None = PASSWORD) -> int:
        body: dict[str, Any] = {"name": name} if password is None else {"name": name, "password": password}
        status, user = await self.http.admin("POST", "/admin/users", body)
        assert status == 201, user
        self.ids[name] = user["id"]
        return int(user["id"])

    async def key(self, name: str, user: str, **limits: Any) -> int:
        status, key = await self.http.admin("POST", "/admin/keys", {"name": name, "user_id": self.ids[user], **limits})
        assert status == 201, key
        self.ids[name], self.secrets[name] = key["id"], key["key"]
        return int(key["id"])

    async def ledger(self, key: str, count: int) -> list[dict[str, Any]]:
        return await self.http.ledger_rows(self.ids[key], count)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest, mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
) -> AsyncIterator[Served]:  # fmt: skip
    """One gateway per backend with two users with passwords (alice: two keys and a revoked one; bob: one key)
    and one without (carol)."""
    db_path = tmp_path_factory.mktemp("console-users") / "gw.db"
    config = make_config(mock_upstream.url, db_path, admin_key=ADMIN_KEY, reload_interval=0.2, prices=PRICES)
    async with console_gateway(config, request.param, postgres_url) as console:
        served = Served(console.gateway, console.session, config)
        await served.user("alice")
        await served.user("bob", "bob's own password")
        await served.user("carol", None)
        await served.key("alice-metered", "alice", quota_usd="10")
        await served.key("alice-open", "alice")
        await served.key("alice-gone", "alice")
        await served.key("bob-key", "bob", quota_usd=5)
        assert (await served.http.admin("DELETE", f"/admin/keys/{served.ids['alice-gone']}"))[0] == 200
        for _ in range(2):
            assert (await served.http.chat(served.secrets["alice-metered"]))[0] == 200
        assert (await served.http.chat(served.secrets["alice-open"]))[0] == 200
        assert (await served.http.chat(served.secrets["bob-key"]))[0] == 200
        await served.ledger("alice-metered", 2)
        await served.ledger("alice-open", 1)
        await served.ledger("bob-key", 1)
        yield served


async def test_a_user_signs_in_with_name_and_password(served: Served) -> None:
    browser = served.browser()
    status, body = await browser.sign_in_user("alice", PASSWORD)
    assert status == 200, body
    assert (body["kind"], body["name"], body["key_id"], body["user_id"]) == ("user", "alice", None, served.ids["alice"])
    cookie = browser.set_cookie or ""
    assert cookie.startswith("omnirouter_console=")
    assert {"httponly", "samesite=strict", "path=/"} <= {part.strip().lower() for part in cookie.split(";")[1:]}
    assert PASSWORD not in cookie and PASSWORD not in str(body)
    status, current = await browser.call("GET", "/dashboard/api/session")
    assert (status, current["kind"], current["user_id"]) == (200, "user", served.ids["alice"])
    assert current["csrf_token"] == body["csrf_token"]


async def test_wrong_passwords_unknown_users_and_users_without_one_get_the_same_refusal(served: Served) -> None:
    refusals = []
    for user, password in (("alice", "not her password"), ("nobody-here", PASSWORD), ("carol", PASSWORD),
                           ("bob", PASSWORD), ("ALICE", PASSWORD)):  # fmt: skip
        browser = served.browser()
        status, body = await browser.sign_in_user(user, password)
        refusals.append((status, body["error"]["code"], body["error"]["message"]))
        assert browser.cookie is None and browser.set_cookie is None
    assert set(refusals) == {(401, "invalid_password", "That user name and password do not match.")}
    browser = served.browser()
    for body in ({"user": "alice"}, {"user": "", "password": PASSWORD}, {"key": CLIENT_KEY, "user": "alice"},
                 {"user": "alice", "password": ""}):  # fmt: skip
        status, answer, _ = await browser.request("POST", "/dashboard/api/session", body)
        assert status == 400 and answer["error"]["code"] in ("missing_password", "invalid_body"), body


async def test_a_user_session_never_reaches_the_admin_api_or_the_client_routes(served: Served) -> None:
    browser = served.browser()
    await browser.sign_in_user("alice", PASSWORD)
    for path in ("/admin/keys", "/admin/users", "/admin/usage", "/admin/ledger", "/admin/redemptions",
                 f"/admin/keys/{served.ids['alice-metered']}/credits"):  # fmt: skip
        status, answer = await browser.call("GET", path)
        assert (status, answer["error"]["code"]) == (403, "not_admin_session"), path
    for method, path, body in (("POST", "/admin/keys", {"name": "sneaky"}),
                               ("POST", f"/admin/keys/{served.ids['alice-metered']}/top-up", {"usd": 100}),
                               ("POST", "/admin/redemptions", {"name": "sneaky", "count": 1, "usd": 100})):  # fmt: skip
        status, answer = await browser.call(method, path, body, csrf=True)
        assert (status, answer["error"]["code"]) == (403, "not_admin_session"), path
    _, key = await served.http.admin("GET", f"/admin/keys/{served.ids['alice-metered']}")
    assert key["quota_usd"] == 10  # nothing was topped up
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    status, answer = await browser.call("POST", "/v1/chat/completions", body, csrf=True)
    assert status == 401 and answer["error"]["code"] == "missing_api_key"  # a session is no client key
    status, answer = await browser.call("GET", "/v1/key")  # the key holder's routes: only with ?key_id=
    assert (status, answer["error"]["code"]) == (400, "key_id_required")


async def test_the_user_sees_its_own_keys_with_exact_spend_and_requests(served: Served) -> None:
    browser = served.browser()
    await browser.sign_in_user("alice", PASSWORD)
    status, mine = await browser.call("GET", "/v1/user/keys")
    assert status == 200
    assert mine["user"] == {"id": served.ids["alice"], "name": "alice", "email": None}
    assert [k["name"] for k in mine["data"]] == ["alice-metered", "alice-open"]  # not revoked, not bob's
    used = Decimal(0)
    for key in mine["data"]:
        entries = await served.ledger(key["name"], 1)
        spent = sum(Decimal(str(e["cost_usd"])) for e in entries)
        assert spent > 0 and Decimal(str(key["used_usd"])) == spent
        assert (key["requests"], key["errors"]) == (len(entries), 0)
        assert key["last_request_at"] is not None
        used += spent
        assert "key" not in key and "key_hash" not in key
    metered = mine["data"][0]
    assert Decimal(str(metered["remaining_usd"])) == 10 - Decimal(str(metered["used_usd"]))
    assert (metered["requests"], mine["data"][1]["remaining_usd"]) == (2, None)
    assert mine["totals"] == {"used_usd": float(used), "requests": 3, "errors": 0}
    text = str(mine)
    assert all(secret not in text for secret in served.secrets.values())


async def test_the_key_holder_routes_serve_only_the_users_own_active_keys(served: Served) -> None:
    browser = served.browser()
    await browser.sign_in_user("alice", PASSWORD)
    own = served.ids["alice-metered"]
    status, key = await browser.call("GET", f"/v1/key?key_id={own}")
    assert (status, key["id"], key["name"]) == (200, own, "alice-metered")
    status, recent = await browser.call("GET", f"/v1/key/requests?key_id={own}&limit=10")
    ledger = await served.ledger("alice-metered", 2)
    assert [r["request_id"] for r in recent["data"]] == [e["request_id"] for e in ledger]
    assert (await browser.call("GET", f"/v1/key/models?key_id={own}"))[0] == 200
    assert (await browser.call("GET", f"/v1/dashboard/billing/usage?key_id={own}"))[0] == 200
    _, keys = await served.http.admin("GET", "/admin/keys")
    tester = next(k["id"] for k in keys["data"] if k["name"] == "tester")
    for other in (served.ids["bob-key"], tester, 999_999):  # another user's key, a config key, no key
        for path in ("/v1/key", "/v1/key/requests", "/v1/key/models", "/v1/dashboard/billing/usage"):
            status, answer = await browser.call("GET", f"{path}?key_id={other}")
            assert (status, answer["error"]["code"]) == (404, "key_not_found"), (path, other)
            assert "bob-key" not in str(answer)
    status, answer = await browser.call("GET", f"/v1/key?key_id={served.ids['alice-gone']}")
    assert (status, answer["error"]["code"]) == (403, "key_inactive")  # her own, but revoked
    for bad in ("", "abc", "-1", "0", "99999999999999999999"):
        status, answer = await browser.call("GET", f"/v1/key?key_id={bad}")
        assert (status, answer["error"]["code"]) == (400, "key_id_required"), bad


async def test_redeeming_for_a_users_key_needs_the_csrf_token_and_moves_money_exactly(served: Served) -> None:
    _, batch = await served.http.admin("POST", "/admin/redemptions", {"name": "user-redeem", "count": 2, "usd": "1.25"})
    codes = [c["code"] for c in batch["codes"]]
    browser = served.browser()
    await browser.sign_in_user("alice", PASSWORD)
    own, bobs = served.ids["alice-metered"], served.ids["bob-key"]
    _, before = await browser.call("GET", f"/v1/key?key_id={own}")
    for csrf in (False, "wrong-token"):
        status, answer = await browser.call("POST", f"/v1/key/redeem?key_id={own}", {"code": codes[0]}, csrf=csrf)
        assert (status, answer["error"]["code"]) == (403, "csrf_token_invalid")
    status, answer = await browser.call("POST", f"/v1/key/redeem?key_id={bobs}", {"code": codes[0]}, csrf=True)
    assert (status, answer["error"]["code"]) == (404, "key_not_found")  # not into another user's key
    _, listed = await served.http.admin("GET", "/admin/redemptions?batch=user-redeem&state=unused")
    assert len(listed["data"]) == 2  # nothing was redeemed so far
    status, done = await browser.call("POST", f"/v1/key/redeem?key_id={own}", {"code": codes[0]}, csrf=True)
    assert status == 200 and (done["key_id"], done["amount_usd"]) == (own, 1.25)
    _, after = await browser.call("GET", f"/v1/key?key_id={own}")
    assert Decimal(str(after["quota_usd"])) == Decimal(str(before["quota_usd"])) + Decimal("1.25")
    assert Decimal(str(after["remaining_usd"])) == Decimal(str(before["remaining_usd"])) + Decimal("1.25")
    _, credits = await served.http.admin("GET", f"/admin/keys/{own}/credits")
    assert credits["total_nano"] == 11_250_000_000  # 10 set at creation + 1.25 redeemed: the quota
    _, bob = await served.http.admin("GET", f"/admin/keys/{bobs}")
    assert bob["quota_usd"] == 5


async def test_only_a_users_session_opens_the_users_route(served: Served) -> None:
    holder, admin, nobody = served.browser(), served.browser(), served.browser()
    await holder.sign_in(served.secrets["alice-metered"])
    await admin.sign_in(ADMIN_KEY)
    for browser in (holder, admin):
        status, answer = await browser.call("GET", "/v1/user/keys")
        assert (status, answer["error"]["code"]) == (401, "not_user_session")
    status, answer = await nobody.call("GET", "/v1/user/keys")
    assert (status, answer["error"]["code"]) == (401, "not_signed_in")
    status, answer = await served.http.call("GET", "/v1/user/keys", served.secrets["alice-metered"])
    assert (status, answer["error"]["code"]) == (401, "not_signed_in")  # a key is no user


async def test_a_changed_password_or_a_disabled_user_ends_the_users_sessions(served: Served) -> None:
    user_id = await served.user("dave")
    first = served.browser()
    assert (await first.sign_in_user("dave", PASSWORD))[0] == 200
    assert (await first.call("GET", "/v1/user/keys"))[0] == 200
    assert (await served.http.admin("PATCH", f"/admin/users/{user_id}", {"password": "a brand new one"}))[0] == 200
    status, answer = await first.call("GET", "/v1/user/keys")
    assert (status, answer["error"]["code"]) == (401, "session_expired")
    assert (await first.sign_in_user("dave", PASSWORD))[0] == 401
    second = served.browser()
    assert (await second.sign_in_user("dave", "a brand new one"))[0] == 200
    assert (await served.http.admin("DELETE", f"/admin/users/{user_id}"))[0] == 200
    assert (await second.call("GET", "/dashboard/api/session"))[0] == 401
    assert (await second.sign_in_user("dave", "a brand new one"))[0] == 401  # disabled: refused like a wrong one
    assert (await served.http.admin("PATCH", f"/admin/users/{user_id}", {"status": "active"}))[0] == 200
    assert (await second.sign_in_user("dave", "a brand new one"))[0] == 200
    assert (await second.call("DELETE", "/dashboard/api/session", csrf=True))[0] == 200
    assert (await second.call("GET", "/v1/user/keys"))[0] == 401


async def test_wrong_passwords_count_towards_the_sign_in_throttle(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    """Guessing passwords is throttled like guessing keys: after 10 failures within a minute from one address,
    the right password is refused too (429), so the throttle tells nothing about which guess was right."""
    config = make_config(mock_upstream.url, tmp_path / "gw.db", admin_key=ADMIN_KEY)
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        served = Served(gateway, session, config)
        await served.user("erin")
        browser = served.browser()
        for attempt in range(10):
            assert (await browser.sign_in_user("erin", f"guess number {attempt}"))[0] == 401
        status, body = await browser.sign_in_user("erin", PASSWORD)
        assert (status, body["error"]["code"]) == (429, "too_many_sign_ins")
        assert browser.cookie is None
