"""The console over real HTTP: static files (CSP, ETag, content types, no traversal), sign-in with either
key, cookie flags, CSRF refusals, session scope (a client key's session never reaches admin routes),
sign-out, expiry, rotation, sessions shared by two gateways on one database, and keys never echoed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiohttp
import msgspec
import pytest
from sqlalchemy import update

from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import console_sessions_table
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.console_client import Browser, ConsoleGateway, console_gateway
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, raw_connection, running_gateway


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
) -> AsyncIterator[ConsoleGateway]:
    """One gateway per backend (the module's own PostgreSQL database: the sessions table starts empty)."""
    db_path = tmp_path_factory.mktemp("console") / "gw.db"
    config = make_config(mock_upstream.url, db_path, admin_key=ADMIN_KEY, reload_interval=0.2)
    async with console_gateway(config, request.param, postgres_url) as served:
        yield served


def _csp_script_sources(csp: str) -> list[str]:
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    return directives.get("script-src", directives.get("default-src", []))


def _assert_console_headers(headers: object) -> None:
    csp = headers["content-security-policy"]  # type: ignore[index]
    sources = _csp_script_sources(csp)
    assert sources == ["'self'"], csp  # no 'unsafe-inline', no hashes or nonces, no 'unsafe-eval'
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert "frame-ancestors 'none'" in csp


async def test_page_and_files_have_types_etags_and_the_csp(served: ConsoleGateway) -> None:
    browser = served.browser()
    for path, content_type in (
        ("/dashboard", "text/html; charset=utf-8"),
        ("/dashboard/", "text/html; charset=utf-8"),
        ("/dashboard/js/main.js", "text/javascript; charset=utf-8"),
        ("/dashboard/js/pages/overview.js", "text/javascript; charset=utf-8"),
        ("/dashboard/vendor/uPlot.esm.js", "text/javascript; charset=utf-8"),
        ("/dashboard/app.css", "text/css; charset=utf-8"),
    ):
        status, body, headers = await browser.request("GET", path)
        assert status == 200, path
        assert headers["content-type"] == content_type
        _assert_console_headers(headers)
        etag = headers["etag"]
        status, again, headers = await browser.request("GET", path, if_none_match=etag)
        assert (status, again) == (304, "")
        _assert_console_headers(headers)
        status, _, headers = await browser.request("GET", path, if_none_match='"something-else"')
        assert status == 200
        status, head_body, headers = await browser.request("HEAD", path)
        assert (status, head_body, int(headers["content-length"])) == (200, "", len(body.encode()))
    index = (await browser.request("GET", "/dashboard"))[1]
    assert 'type="password"' in index and 'src="/dashboard/js/main.js"' in index


async def test_errors_under_dashboard_carry_the_csp_too(served: ConsoleGateway) -> None:
    browser = served.browser()
    for method, path, status in (
        ("GET", "/dashboard/nope.js", 404),
        ("POST", "/dashboard", 405),
        ("PUT", "/dashboard/js/main.js", 405),
        ("PATCH", "/dashboard/api/session", 405),
        ("GET", "/dashboard/api/session", 401),
    ):
        got, body, headers = await browser.request(method, path)
        assert got == status, (method, path)
        assert body["error"]["message"]
        _assert_console_headers(headers)


def test_shipped_html_and_scripts_hold_no_inline_script() -> None:
    """The CSP forbids inline script; the files must not need it (no <script> body, no on* attributes)."""
    static = resources.files("omnirouter.dashboard").joinpath("static")
    html = static.joinpath("index.html").read_text()
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert tag.strip() == ""
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert not re.search(r"\son[a-z]+\s*=", html)
    own = [p for p in static.joinpath("js").iterdir() if p.name.endswith(".js")]
    own += [p for p in static.joinpath("js", "pages").iterdir()]
    for script in own:
        text = script.read_text()
        assert "innerHTML" not in text and "eval(" not in text and "localStorage" not in text, script.name
        assert "sessionStorage" not in text and "document.cookie" not in text, script.name


@pytest.mark.parametrize(
    "target",
    [
        "/dashboard/../pyproject.toml",
        "/dashboard/%2e%2e/%2e%2e/pyproject.toml",
        "/dashboard/js/../../app.py",
        "/dashboard/..%2fsessions.py",
        "/dashboard/..%5csessions.py",
        "/dashboard//etc/passwd",
        "/dashboard/%2fetc%2fpasswd",
        "/dashboard/static_files.py",
        "/dashboard/static/index.html",
        "/dashboard/js/%2e%2e/%2e%2e/__init__.py",
    ],
)
async def test_no_path_reaches_outside_the_shipped_files(served: ConsoleGateway, target: str) -> None:
    async with raw_connection(served.gateway.port) as (reader, writer):
        writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await reader.read()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert status in (400, 404), (target, head)
    assert b"import " not in body and b"root:" not in body and b"[project]" not in body
    if status == 404:
        assert b"content-security-policy: default-src 'none'; script-src 'self';" in head.lower()


async def test_admin_sign_in_sets_a_strict_http_only_cookie_and_never_echoes_the_key(served: ConsoleGateway) -> None:
    browser = served.browser()
    status, body = await browser.sign_in(ADMIN_KEY)
    assert status == 200
    assert (body["kind"], body["name"], body["key_id"]) == ("admin", "admin", None)
    cookie = browser.set_cookie or ""
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert cookie.startswith("omnirouter_console=")
    assert {"httponly", "samesite=strict", "path=/"} <= set(attributes)
    assert "secure" not in attributes  # plain HTTP here; see the HTTPS test
    assert ADMIN_KEY not in cookie and ADMIN_KEY not in str(body)
    assert len((browser.cookie or "").split("=", 1)[1]) >= 43  # 256 random bits
    status, current = await browser.call("GET", "/dashboard/api/session")
    assert status == 200 and current["csrf_token"] == body["csrf_token"]


async def test_over_https_the_cookie_is_secure_and_host_prefixed(served: ConsoleGateway) -> None:
    browser = served.browser()
    status, _ = await browser.sign_in(ADMIN_KEY, x_forwarded_proto="https")  # uvicorn trusts loopback proxies
    assert status == 200
    cookie = browser.set_cookie or ""
    assert cookie.startswith("__Host-omnirouter_console=")
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]
    assert (await browser.call("GET", "/admin/keys"))[0] == 200  # the __Host- cookie opens the session too


async def test_wrong_keys_and_bad_requests_are_refused(served: ConsoleGateway) -> None:
    browser = served.browser()
    status, body = await browser.sign_in("sk-not-a-key")
    assert (status, body["error"]["code"]) == (401, "invalid_key")
    assert browser.cookie is None and browser.set_cookie is None
    status, body, _ = await browser.request(
        "POST", "/dashboard/api/session", None, content_type="application/x-www-form-urlencoded"
    )
    assert (status, body["error"]["code"]) == (400, "invalid_body")
    status, body = await browser.sign_in(ADMIN_KEY, origin="https://evil.example")
    assert (status, body["error"]["code"]) == (403, "cross_site")
    assert browser.cookie is None


async def test_admin_session_reads_freely_and_changes_state_only_with_the_csrf_token(served: ConsoleGateway) -> None:
    browser = served.browser()
    await browser.sign_in(ADMIN_KEY)
    status, keys = await browser.call("GET", "/admin/keys")
    assert status == 200
    before = len(keys["data"])
    for csrf in (False, "wrong-token", (browser.csrf or "")[:-1]):
        status, body = await browser.call("POST", "/admin/keys", {"name": "csrf-probe"}, csrf=csrf)
        assert (status, body["error"]["code"]) == (403, "csrf_token_invalid")
    assert len((await browser.call("GET", "/admin/keys"))[1]["data"]) == before  # nothing was created
    other = served.browser()
    await other.sign_in(ADMIN_KEY)
    status, _ = await browser.call("POST", "/admin/keys", {"name": "csrf-probe"}, csrf=other.csrf or "")
    assert status == 403  # another session's token is not this session's
    status, created = await browser.call("POST", "/admin/keys", {"name": "csrf-ok"}, csrf=True)
    assert status == 201 and created["key"].startswith("sk-")
    assert len((await browser.call("GET", "/admin/keys"))[1]["data"]) == before + 1
    status, _ = await browser.call("POST", "/admin/channels/test", {"name": "mock-openai"}, csrf=True)
    assert status == 200


async def test_a_client_key_session_opens_the_portal_and_never_the_admin_api(served: ConsoleGateway) -> None:
    browser = served.browser()
    status, body = await browser.sign_in(CLIENT_KEY)
    assert status == 200
    assert (body["kind"], body["name"]) == ("key", "tester")
    assert CLIENT_KEY not in (browser.set_cookie or "") and CLIENT_KEY not in str(body)
    for method, path in (("GET", "/admin/keys"), ("GET", "/admin/usage"), ("GET", "/admin/ledger"),
                         ("GET", "/admin/no-such-route")):  # fmt: skip
        status, answer = await browser.call(method, path)
        assert (status, answer["error"]["code"]) == (403, "not_admin_session"), path
    status, answer = await browser.call("POST", "/admin/keys", {"name": "x"}, csrf=True)
    assert (status, answer["error"]["code"]) == (403, "not_admin_session")
    status, key = await browser.call("GET", "/v1/key")
    assert (status, key["name"]) == (200, "tester")
    assert (await browser.call("GET", "/v1/key/models"))[0] == 200
    assert (await browser.call("GET", "/v1/dashboard/billing/usage"))[0] == 200


async def test_an_admin_session_is_no_key_holder(served: ConsoleGateway) -> None:
    browser = served.browser()
    await browser.sign_in(ADMIN_KEY)
    status, answer = await browser.call("GET", "/v1/key")
    assert (status, answer["error"]["code"]) == (401, "not_key_session")


async def test_sign_out_needs_the_token_and_ends_the_session_everywhere(served: ConsoleGateway) -> None:
    browser = served.browser()
    await browser.sign_in(ADMIN_KEY)
    status, answer = await browser.call("DELETE", "/dashboard/api/session")
    assert (status, answer["error"]["code"]) == (403, "csrf_token_invalid")
    assert (await browser.call("GET", "/admin/keys"))[0] == 200  # still signed in
    status, _, headers = await browser.request("DELETE", "/dashboard/api/session", csrf=True)
    assert status == 200
    assert "max-age=0" in headers["set-cookie"].lower()
    status, answer = await browser.call("GET", "/admin/keys")  # the old cookie, replayed
    assert (status, answer["error"]["code"]) == (401, "session_expired")
    assert (await browser.call("GET", "/dashboard/api/session"))[0] == 401


async def test_expired_sessions_are_refused(served: ConsoleGateway) -> None:
    browser = served.browser()
    await browser.sign_in(ADMIN_KEY)
    async with served.gateway.app.gateway.db.engine.begin() as conn:
        await conn.execute(update(console_sessions_table).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    status, answer = await browser.call("GET", "/admin/keys")
    assert (status, answer["error"]["code"]) == (401, "session_expired")


async def test_rotating_or_revoking_a_key_ends_its_sessions(served: ConsoleGateway) -> None:
    http = served.http
    for action in ("rotate", "revoke"):
        _, key = await http.admin("POST", "/admin/keys", {"name": f"to-{action}"})
        browser = served.browser()
        assert (await browser.sign_in(key["key"]))[0] == 200
        assert (await browser.call("GET", "/v1/key"))[0] == 200
        if action == "rotate":
            assert (await http.admin("POST", f"/admin/keys/{key['id']}/rotate"))[0] == 200
        else:
            assert (await http.admin("DELETE", f"/admin/keys/{key['id']}"))[0] == 200
        status, answer = await browser.call("GET", "/v1/key")
        assert (status, answer["error"]["code"]) == (401, "session_expired"), action


async def test_a_key_header_still_wins_over_a_cookie(served: ConsoleGateway) -> None:
    """API clients are unchanged: a request with a key is checked as a key request, cookie or not."""
    browser = served.browser()
    await browser.sign_in(CLIENT_KEY)
    status, _, _ = await browser.request("GET", "/admin/keys", authorization=f"Bearer {ADMIN_KEY}")
    assert status == 200
    status, body, _ = await browser.request("GET", "/admin/keys", authorization="Bearer wrong")
    assert (status, body["error"]["code"]) == (401, "invalid_admin_key")


async def test_sessions_work_across_gateways_sharing_a_database(served: ConsoleGateway) -> None:
    """A second gateway on the same database (a replica) honours the first one's session and CSRF token,
    and a sign-out on one ends the session on both."""
    async with running_gateway(msgspec.structs.replace(served.config)) as replica:
        first = served.browser()
        await first.sign_in(ADMIN_KEY)
        second = Browser(served.session, replica)
        second.cookie, second.csrf = first.cookie, first.csrf
        status, created = await second.call("POST", "/admin/keys", {"name": "via-replica"}, csrf=True)
        assert (status, created["name"]) == (201, "via-replica")
        assert (await second.call("DELETE", "/dashboard/api/session", csrf=True))[0] == 200
        assert (await first.call("GET", "/admin/keys"))[0] == 401


async def test_no_answer_of_a_signed_in_console_holds_a_key(served: ConsoleGateway) -> None:
    """Every page file and every JSON route the pages read, for both sessions: neither key appears."""
    admin, holder = served.browser(), served.browser()
    await admin.sign_in(ADMIN_KEY)
    await holder.sign_in(CLIENT_KEY)
    await served.http.chat(CLIENT_KEY)
    static = resources.files("omnirouter.dashboard").joinpath("static")
    files = ["/dashboard"] + [f"/dashboard/{p}" for p in ("app.css", "js/main.js", "js/api.js", "js/dom.js")]
    files += [f"/dashboard/js/pages/{p.name}" for p in static.joinpath("js", "pages").iterdir()]
    admin_reads = ["/dashboard/api/session", "/admin/keys", "/admin/ledger", "/admin/usage", "/admin/usage/series",
                   "/admin/channels", "/admin/channel-settings"]  # fmt: skip
    holder_reads = ["/dashboard/api/session", "/v1/key", "/v1/key/requests", "/v1/key/models",
                    "/v1/dashboard/billing/usage"]  # fmt: skip
    for browser, paths in ((admin, files + admin_reads), (holder, files + holder_reads)):
        for path in paths:
            status, body, headers = await browser.request("GET", path)
            assert status == 200, path
            text = str(body) + str(dict(headers))
            assert ADMIN_KEY not in text and CLIENT_KEY not in text, path


async def test_sign_ins_in_parallel_each_get_their_own_session(served: ConsoleGateway) -> None:
    browsers = [served.browser() for _ in range(5)]
    await asyncio.gather(*(b.sign_in(ADMIN_KEY) for b in browsers))
    assert len({b.cookie for b in browsers}) == 5 and len({b.csrf for b in browsers}) == 5
    for b in browsers:
        assert (await b.call("GET", "/admin/keys"))[0] == 200


async def test_failed_sign_ins_are_throttled_per_address(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    """After 10 wrong keys within a minute, every sign-in from that address is refused for a while (the right
    key too: else the throttle would still answer which guess was right)."""
    config = make_config(mock_upstream.url, tmp_path / "gw.db", admin_key=ADMIN_KEY)
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        browser = Browser(session, gateway)
        for attempt in range(10):
            assert (await browser.sign_in(f"sk-guess-{attempt}"))[0] == 401
        status, body, headers = await browser.request("POST", "/dashboard/api/session", {"key": ADMIN_KEY})
        assert (status, body["error"]["code"]) == (429, "too_many_sign_ins")
        assert 1 <= int(headers["retry-after"]) <= 60
        _assert_console_headers(headers)
        status, body = await browser.sign_in(ADMIN_KEY)
        assert status == 429 and browser.cookie is None
        assert (await served_admin(session, gateway)) == 200  # the admin API itself is unaffected


async def served_admin(session: aiohttp.ClientSession, gateway: RunningGateway) -> int:
    return (await Http(session, gateway.url).admin("GET", "/admin/keys"))[0]
