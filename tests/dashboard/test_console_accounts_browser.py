"""The console's accounts pages in a real browser (Playwright driving Debian's chromium): the admin creates a user
with a password and edits it, a group and its multiplier, a key for the user, tops the key up (its credits shown),
creates a batch of redemption codes (shown once: copied and downloaded), disables one; the key holder redeems a
code in the portal (the balance moves by exactly the code's worth); the user signs in with its name and password
and sees only its keys. No secret (admin key, client key, password, code) is left in the browser; no page logs
an error (a CSP violation would).

``OMNIROUTER_SCREENSHOTS=1`` also writes each page's screenshot into docs/console/ (docs/console.md shows them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from playwright.async_api import expect

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.console_browser import ConsolePage, chromium_page, no_secret_in_browser, screenshot, usd_text
from tests.helpers.gateway_harness import RunningGateway, make_config, running_gateway

PRICES = {"gpt-4o-mini": {"input": 15, "output": 60}}  # USD per 1M tokens
PASSWORD = "a reseller's customer password"


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    db_path = tmp_path_factory.mktemp("console-accounts") / "gw.db"
    config = make_config(
        mock_upstream.url, db_path, admin_key=ADMIN_KEY, reload_interval=0.2, prices=PRICES, groups={"internal": 0}
    )
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        yield gateway, Http(session, gateway.url)


@pytest.fixture
async def console() -> AsyncIterator[ConsolePage]:
    async with chromium_page(permissions=("clipboard-read", "clipboard-write")) as opened:
        yield opened


async def _sign_in(console: ConsolePage, secret: str, user: str = "") -> None:
    page = console.page
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.fill("#user", user)
    await page.fill("#key", secret)
    await page.click("#sign-in-form button[type=submit]")
    await expect(page.locator("#bar")).to_be_visible()


async def test_users_groups_top_ups_codes_redeeming_and_a_users_sign_in(
    served: Any, console: ConsolePage, tmp_path: Path
) -> None:
    gateway: RunningGateway = served[0]
    http: Http = served[1]
    page = console.page
    await page.goto(f"{gateway.url}/dashboard")
    await _sign_in(console, ADMIN_KEY)

    # Users: create one with a password, edit its email; create another and disable it.
    await page.click("nav a[data-page=users]")
    await page.fill("#create-user input[name=name]", "reseller-customer")
    await page.fill("#create-user input[name=email]", "old@example.com")
    await page.fill("#create-user input[name=password]", PASSWORD)
    await page.click("#create-user button[type=submit]")
    customer = page.locator("#user-list tr", has_text="reseller-customer")
    await expect(customer).to_contain_text("set")
    await customer.get_by_role("button", name="Edit").click()
    await page.fill("#edit-user input[name=email]", "customer@example.com")
    await page.click("#edit-user button[type=submit]")
    await expect(customer).to_contain_text("customer@example.com")
    await page.fill("#create-user input[name=name]", "short-lived")
    await page.click("#create-user button[type=submit]")
    short = page.locator("#user-list tr", has_text="short-lived")
    await expect(short).to_contain_text("none")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await short.get_by_role("button", name="Disable").click()
    await expect(short).to_contain_text("disabled")
    _, users = await http.admin("GET", "/admin/users")
    found = {u["name"]: u for u in users["data"]}
    assert found["reseller-customer"]["email"] == "customer@example.com" and found["reseller-customer"]["has_password"]
    assert found["short-lived"]["status"] == "disabled" and not found["short-lived"]["has_password"]
    assert PASSWORD not in await page.content()
    await screenshot(page, "users", tmp_path)

    # Groups: create one, change its multiplier; the config file's group is read-only.
    await page.click("nav a[data-page=groups]")
    await page.fill("#create-group input[name=name]", "vip")
    await page.fill("#create-group input[name=multiplier]", "0.5")
    await page.click("#create-group button[type=submit]")
    vip = page.locator("#group-list tr", has_text="vip")
    await expect(vip.locator("input[name=multiplier]")).to_have_value("0.5")
    await vip.locator("input[name=multiplier]").fill("0.8")
    async with page.expect_response(lambda r: r.request.method == "PATCH" and "/admin/groups/vip" in r.url):
        await vip.get_by_role("button", name="Save").click()
    await expect(vip.locator("input[name=multiplier]")).to_have_value("0.8")
    _, group = await http.admin("GET", "/admin/groups/vip")
    assert group["multiplier"] == 0.8
    internal = page.locator("#group-list tr", has_text="internal")
    await expect(internal).to_contain_text("config file")
    assert await internal.locator("input, button").count() == 0
    await screenshot(page, "groups", tmp_path)

    # Keys: a key for the user, in the group, with a $2 quota; top it up by $3 and read its credits.
    await page.click("nav a[data-page=keys]")
    await page.fill("#create-key input[name=name]", "customer-key")
    await page.select_option("#create-key select[name=user_id]", label="reseller-customer")
    await page.fill("#create-key input[name=quota_usd]", "2")
    await page.fill("#create-key input[name=group]", "vip")
    await page.click("#create-key-button")
    secret = (await page.locator("#new-key-secret").inner_text()).strip()
    assert secret.startswith("sk-")
    row = page.locator("#key-list tr", has_text="customer-key")
    await expect(row).to_contain_text("reseller-customer")
    await row.get_by_role("button", name="Balance").click()
    await expect(page.locator("#balance-quota")).to_have_text("$2.00")
    await page.fill("#top-up input[name=usd]", "3")
    await page.fill("#top-up input[name=note]", "invoice 7")
    await page.click("#top-up button[type=submit]")
    await expect(page.locator("#balance-quota")).to_have_text("$5.00")
    await expect(page.locator("#balance-remaining")).to_have_text("$5.00")
    await expect(page.locator("#credits tbody tr")).to_have_count(2)
    await expect(page.locator("#credits")).to_contain_text("invoice 7")
    await expect(page.locator("#credits-total")).to_have_text("Total credited: $5.00")
    await expect(row).to_contain_text("$5.00")
    _, keys = await http.admin("GET", "/admin/keys")
    key = next(k for k in keys["data"] if k["name"] == "customer-key")
    _, credits = await http.admin("GET", f"/admin/keys/{key['id']}/credits")
    assert (key["quota_usd"], credits["total_nano"]) == (5, 5_000_000_000)
    assert [(c["source"], c["amount_nano"]) for c in credits["data"]] == [("quota", 2 * 10**9), ("top_up", 3 * 10**9)]
    tester = page.locator("#key-list tr", has_text="tester")
    await expect(tester).to_contain_text("config file")
    await tester.get_by_role("button", name="Balance").click()
    await expect(page.locator("#balance")).to_contain_text("config-file key")
    assert await page.locator("#top-up").count() == 0
    await row.get_by_role("button", name="Balance").click()
    await expect(page.locator("#balance-quota")).to_have_text("$5.00")
    await screenshot(page, "balance", tmp_path, mask=[page.locator("#new-key-secret")])

    # Codes: a batch of three, shown once (copied, downloaded); disable one.
    await page.click("nav a[data-page=codes]")
    await page.fill("#create-codes input[name=name]", "launch")
    await page.fill("#create-codes input[name=count]", "3")
    await page.fill("#create-codes input[name=usd]", "1.25")
    await page.click("#create-codes button[type=submit]")
    await expect(page.locator("#new-codes code")).to_have_count(3)
    codes = [text.strip() for text in await page.locator("#new-codes code").all_inner_texts()]
    assert all(code.startswith("rc-") for code in codes) and len(set(codes)) == 3
    await page.click("#copy-codes")
    await expect(page.locator("#codes-box")).to_contain_text("Copied.")
    assert await page.evaluate("() => navigator.clipboard.readText()") == "\n".join(codes) + "\n"
    async with page.expect_download() as download_info:
        await page.click("#download-codes")
    download = await download_info.value
    assert download.suggested_filename == "launch-codes.txt"
    saved = await download.path()
    assert await asyncio.to_thread(Path(saved).read_text) == "\n".join(codes) + "\n"
    await expect(page.locator("#code-list tbody tr")).to_have_count(3)
    await expect(page.locator("#code-list")).not_to_contain_text(codes[0])  # prefixes only
    await screenshot(page, "codes", tmp_path, mask=[page.locator("#new-codes")])
    _, listed = await http.admin("GET", "/admin/redemptions?batch=launch")
    by_prefix = {c["prefix"]: c for c in listed["data"]}
    third = next(c for prefix, c in by_prefix.items() if codes[2].startswith(prefix.rstrip("…")))
    third_row = page.locator("#code-list tr", has_text=third["prefix"])
    await third_row.get_by_role("button", name="Disable").click()
    await expect(third_row).to_contain_text("disabled")
    await page.click("text=Done")
    await expect(page.locator("#new-codes")).to_have_count(0)
    await page.select_option("#code-filters select[name=state]", "unused")
    await page.click("#code-filters button[type=submit]")
    await expect(page.locator("#code-list tbody tr")).to_have_count(2)

    # The key is used once (the openai SDK), so that it has spent something.
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=secret, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": "hello from a customer"}]
        )
        request_id = raw.headers["x-request-id"]
    [entry] = await http.ledger_rows(key["id"], 1)
    assert entry["request_id"] == request_id and entry["cost_usd"] > 0
    await no_secret_in_browser(page, ADMIN_KEY, secret, PASSWORD, *codes)

    # The key holder redeems a code: the balance moves by exactly its worth; a used or disabled code is refused.
    await page.click("#sign-out")
    await _sign_in(console, secret)
    _, before = await http.call("GET", "/v1/key", secret)
    await expect(page.locator("#remaining")).to_have_text(usd_text(before["remaining_usd"]))
    await page.fill("#redeem input[name=code]", codes[0])
    await page.click("#redeem button[type=submit]")
    await expect(page.locator("#redeem-result")).to_contain_text("Added $1.25")
    _, after = await http.call("GET", "/v1/key", secret)
    assert Decimal(str(after["remaining_usd"])) == Decimal(str(before["remaining_usd"])) + Decimal("1.25")
    assert Decimal(str(after["quota_usd"])) == Decimal("6.25")
    await expect(page.locator("#remaining")).to_have_text(usd_text(after["remaining_usd"]))
    await expect(page.locator("#quota")).to_have_text("$6.25")
    await expect(page.locator("#redeem input[name=code]")).to_have_value("")
    await screenshot(page, "redeem", tmp_path)
    for used_or_disabled in (codes[0], codes[2]):
        await page.fill("#redeem input[name=code]", used_or_disabled)
        await page.click("#redeem button[type=submit]")
        await expect(page.locator("#redeem-result.error")).to_contain_text("redemption code")
    await expect(page.locator("#quota")).to_have_text("$6.25")
    _, credits = await http.admin("GET", f"/admin/keys/{key['id']}/credits")
    assert credits["total_nano"] == 6_250_000_000
    _, spent = await http.admin("GET", f"/admin/ledger?key_id={key['id']}")
    used_nano = sum(round(Decimal(str(e["cost_usd"])) * 10**9) for e in spent["data"])
    assert round(Decimal(str(after["remaining_usd"])) * 10**9) == credits["total_nano"] - used_nano
    await no_secret_in_browser(page, ADMIN_KEY, secret, *codes)

    # The user signs in with a name and password and sees its keys (and only them), then one key's portal.
    await page.click("#sign-out")
    await _sign_in(console, PASSWORD, user="reseller-customer")
    await expect(page.locator("nav a.active")).to_have_text("My keys")
    await expect(page.locator("nav a")).to_have_count(1)
    await expect(page.locator("#who")).to_have_text("user: reseller-customer")
    mine = page.locator("#user-keys tr", has_text="customer-key")
    await expect(page.locator("#user-keys tbody tr")).to_have_count(1)
    await expect(mine).to_contain_text(usd_text(after["used_usd"]))
    await expect(mine).to_contain_text(usd_text(after["remaining_usd"]))
    await expect(page.locator("#user-requests")).to_have_text("1")
    await screenshot(page, "account", tmp_path)
    await mine.get_by_role("link", name="customer-key").click()
    await expect(page.locator("#recent")).to_contain_text(request_id)
    await expect(page.locator("#quota")).to_have_text("$6.25")
    refused = await page.evaluate("() => fetch('/admin/keys').then((r) => r.status)")
    assert refused == 403
    await no_secret_in_browser(page, ADMIN_KEY, secret, PASSWORD, *codes)
    assert console.problems == []
    session = f"{gateway.url}/dashboard/api/session"
    redeem = f"{gateway.url}/v1/key/redeem"
    assert console.failed == [
        ("GET", session, 401),  # the first page load, before anyone signed in
        ("POST", redeem, 409),  # the used code
        ("POST", redeem, 409),  # the disabled code
        ("GET", f"{gateway.url}/admin/keys", 403),  # the user's session asking for an admin route
    ]
