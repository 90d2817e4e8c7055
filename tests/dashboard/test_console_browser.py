"""The console in a real browser (Playwright driving Debian's chromium, no browser download): sign in as
the admin, read the overview, create a key and call the gateway with it through the openai SDK, find the
request in the logs and its attempts and on the overview's split chart, edit the key (move it to a user,
change every limit), test the channels, then sign in with the new key and read its portal.
No key is ever left in the page, the URL, the cookies or the browser's storage; no page logs an error
(a Content-Security-Policy violation would).

``OMNIROUTER_SCREENSHOTS=1`` also writes each page's screenshot into docs/console/ (docs/console.md shows them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from playwright.async_api import Page, expect

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.console_browser import ConsolePage, chromium_page, no_secret_in_browser, screenshot, usd_text
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway, make_config, running_gateway

PRICES = {"gpt-4o-mini": {"input": 150, "output": 600}}  # USD per 1M tokens: visible cents on a few tokens


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    db_path = tmp_path_factory.mktemp("console-browser") / "gw.db"
    config = make_config(
        mock_upstream.url, db_path, admin_key=ADMIN_KEY, reload_interval=0.2, prices=PRICES, groups={"vip": 0.5}
    )
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        yield gateway, Http(session, gateway.url)


@pytest.fixture
async def console() -> AsyncIterator[ConsolePage]:
    async with chromium_page() as opened:
        yield opened


async def _shot(page: Page, name: str, tmp_path: Path) -> None:
    await screenshot(page, name, tmp_path, mask=[page.locator("#new-key-secret")])  # a key shown once stays out


async def test_admin_console_and_key_holder_portal_in_chromium(
    served: Any, console: ConsolePage, tmp_path: Path, mock_upstream: MockUpstream
) -> None:
    gateway: RunningGateway = served[0]
    page = console.page
    http: Http = served[1]

    _, owner = await http.admin("POST", "/admin/users", {"name": "browser-owner"})

    # A wrong key is refused in the form; the admin key opens the overview.
    await page.goto(f"{gateway.url}/dashboard")
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.fill("#key", "sk-wrong-key")
    await page.click("#sign-in-form button[type=submit]")
    await expect(page.locator("#sign-in-error")).to_have_text("That key is not valid here.")
    await expect(page.locator("#key")).to_have_value("")
    await page.fill("#key", ADMIN_KEY)
    await page.click("#sign-in-form button[type=submit]")
    await expect(page.locator("#total-requests")).to_be_visible()
    await expect(page.locator("nav a.active")).to_have_text("Overview")
    assert await page.locator(".chart").count() == 4
    await no_secret_in_browser(page, ADMIN_KEY)

    # Create a key with limits; its secret is shown once.
    await page.click("nav a[data-page=keys]")
    await page.fill("#create-key input[name=name]", "browser-key")
    await page.fill("#create-key input[name=quota_usd]", "5")
    await page.fill("#create-key input[name=rpm]", "120")
    await page.fill("#create-key input[name=models]", "gpt-4o-mini")
    await page.click("#create-key-button")
    secret = (await page.locator("#new-key-secret").inner_text()).strip()
    assert secret.startswith("sk-")
    row = page.locator("#key-list tr", has_text="browser-key")
    await expect(row).to_contain_text("$5.00")
    await expect(row).to_contain_text("120 / — / —")
    await _shot(page, "keys", tmp_path)

    # Use it with the openai SDK.
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=secret, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": "hello from the browser test"}]
        )
        request_id = raw.headers["x-request-id"]
        assert raw.parse().choices[0].message.content
    _, keys = await http.admin("GET", "/admin/keys")
    key_id = next(k["id"] for k in keys["data"] if k["name"] == "browser-key")
    [entry] = await http.ledger_rows(key_id, 1)
    assert entry["request_id"] == request_id and entry["cost_usd"] > 0

    # The request in the logs, with its full id, and its detail with the attempt log.
    await page.click("nav a[data-page=logs]")
    await page.fill("#log-filters input[name=key_id]", str(key_id))
    await page.click("#log-filters button[type=submit]")
    await expect(page.locator("#ledger")).to_have_attribute("data-count", "1")
    await expect(page.locator("#ledger")).to_contain_text(request_id)
    await _shot(page, "logs", tmp_path)
    await page.locator("#ledger tr", has_text=request_id).click()
    await expect(page.locator("#page h1")).to_have_text(f"Request {request_id}")
    await expect(page.locator("#attempts")).to_contain_text("mock-openai")
    await _shot(page, "request", tmp_path)
    await no_secret_in_browser(page, ADMIN_KEY, secret)

    # The overview counts it: its totals are the ledger's.
    await page.click("nav a[data-page=overview]")
    _, usage = await http.admin("GET", "/admin/usage")
    await expect(page.locator("#total-requests")).to_have_text(f"{usage['totals']['requests']:,}")
    await expect(page.locator("#total-cost")).to_have_text(usd_text(usage["totals"]["cost_usd"]))
    requests_chart = page.locator(".chart", has_text="Requests and errors")
    await expect(requests_chart).to_have_attribute(
        "data-total", str(usage["totals"]["requests"] + usage["totals"]["errors"])
    )
    await _shot(page, "overview", tmp_path)
    tester = next(k["id"] for k in keys["data"] if k["name"] == "tester")  # the config key: no request yet
    await page.fill("#overview-filters input[name=key_id]", str(tester))
    await page.click("#overview-filters button[type=submit]")
    await expect(page.locator("#total-requests")).to_have_text("0")
    await page.fill("#overview-filters input[name=key_id]", str(key_id))
    await page.select_option("#overview-filters select[name=bucket]", "day")
    await expect(page.locator("#total-requests")).to_have_text("1")
    assert page.url.endswith(f"#/overview/day?key_id={key_id}")

    # The request on the split chart: cost by key (the chart's data and its legend's totals are the ledger's),
    # then requests by model; the config key makes some traffic too (two answers and a refusal).
    for model in ("gpt-4o-mini", "gpt-4o-mini", "no-such-model"):
        await http.chat(CLIENT_KEY, model, "traffic for the overview")
    await http.ledger_rows(tester, 3)
    await page.fill("#overview-filters input[name=key_id]", "")
    await page.select_option("#overview-filters select[name=bucket]", "hour")
    await page.select_option("#split-form select[name=split]", "key")
    await page.select_option("#split-form select[name=figure]", "cost")
    await expect(page.locator("#split-chart")).to_have_attribute("data-split", "key")
    await expect(page.locator("#split-chart")).to_have_attribute("data-figure", "cost")
    plotted = await page.evaluate("() => document.querySelector('#split-chart').chartData")
    _, by_key = await http.admin("GET", "/admin/usage?by=key")
    assert {s["label"] for s in plotted["series"]} == {"browser-key", "tester"} == {g["label"] for g in by_key["data"]}
    [line] = [s for s in plotted["series"] if s["label"] == "browser-key"]
    assert Decimal(str(line["total"])) == Decimal(str(entry["cost_usd"]))  # one request: no float sum to round
    assert len(plotted["xs"]) == 24 and sum(v is not None and v > 0 for v in line["values"]) == 1
    legend = page.locator("#split-legend tr", has=page.locator(f"[data-group='{key_id}']"))
    await expect(legend).to_contain_text("browser-key")
    await expect(legend.locator("td").nth(1)).to_have_text("1")
    await expect(legend.locator("td").nth(4)).to_have_text(usd_text(entry["cost_usd"]))
    await expect(page.locator("#split-chart .u-legend")).to_contain_text("browser-key")  # uPlot's own legend
    await expect(page.locator("#top-keys")).to_contain_text("browser-key")
    await _shot(page, "overview-split", tmp_path)
    await page.select_option("#split-form select[name=split]", "model")
    await page.select_option("#split-form select[name=figure]", "requests")
    await expect(page.locator("#split-chart")).to_have_attribute("data-split", "model")
    await expect(page.locator("#split-chart")).to_have_attribute("data-figure", "requests")
    _, by_model = await http.admin("GET", "/admin/usage?by=model")
    plotted = await page.evaluate("() => document.querySelector('#split-chart').chartData")
    assert {s["label"]: s["total"] for s in plotted["series"]} == {g["group"]: g["requests"] for g in by_model["data"]}

    # Edit the key: move it to a user and change every limit; an emptied field removes its limit.
    await page.click("nav a[data-page=keys]")
    row = page.locator("#key-list tr", has_text="browser-key")
    await row.get_by_role("button", name="Edit").click()
    edit = page.locator("#edit-key")
    await expect(edit.locator("input[name=quota_usd]")).to_have_value("5")
    await edit.locator("select[name=user_id]").select_option(str(owner["id"]))
    await edit.locator("input[name=quota_usd]").fill("7.5")
    await edit.locator("input[name=rpm]").fill("")
    await edit.locator("input[name=tpm]").fill("90000")
    await edit.locator("input[name=max_concurrent]").fill("4")
    await edit.locator("input[name=models]").fill("gpt-4o-mini, gpt-test-*")
    await edit.locator("input[name=ip_allow]").fill("127.0.0.1, ::1")
    await edit.locator("input[name=group]").fill("vip")
    await edit.locator("input[name=expires_at]").fill("2031-06-30T12:00")
    await _shot(page, "key-edit", tmp_path)
    await edit.locator("button[type=submit]").click()
    await expect(page.locator("#edit-key")).to_have_count(0)
    await expect(row).to_contain_text("browser-owner")
    await expect(row).to_contain_text("$7.50")
    await expect(row).to_contain_text("— / 90000 / 4")
    _, edited = await http.admin("GET", f"/admin/keys/{key_id}")
    assert {k: edited[k] for k in ("user_id", "quota_usd", "rpm", "tpm", "max_concurrent", "models", "ip_allow",
                                   "group", "expires_at", "status", "name")} == {
        "user_id": owner["id"], "quota_usd": 7.5, "rpm": None, "tpm": 90000, "max_concurrent": 4,
        "models": ["gpt-4o-mini", "gpt-test-*"], "ip_allow": ["127.0.0.1", "::1"], "group": "vip",
        "expires_at": "2031-06-30T12:00:00Z", "status": "active", "name": "browser-key",
    }  # fmt: skip
    _, credits = await http.admin("GET", f"/admin/keys/{key_id}/credits")
    assert Decimal(str(credits["total_usd"])) == Decimal("7.5")  # the quota set, then raised by 2.5
    # Saving an unchanged form sends nothing; disabling and enabling again go through the same form.
    await row.get_by_role("button", name="Edit").click()
    await page.locator("#edit-key select[name=status]").select_option("disabled")
    await page.click("#edit-key button[type=submit]")
    await expect(row).to_contain_text("disabled")
    await row.get_by_role("button", name="Edit").click()
    await expect(page.locator("#edit-key input[name=expires_at]")).to_have_value("2031-06-30T12:00")
    await page.locator("#edit-key select[name=status]").select_option("active")
    await page.click("#edit-key button[type=submit]")
    await expect(row.locator("td").nth(3)).to_have_text("active")
    _, again = await http.admin("GET", f"/admin/keys/{key_id}/credits")
    assert again == credits

    # Channels: create an API channel on the mock, test it alone, then test all; disable it.
    await page.click("nav a[data-page=channels]")
    await expect(page.locator("#channel-list")).to_contain_text("mock-openai")
    await page.fill("#create-channel input[name=name]", "console-made")
    await page.select_option("#create-channel select[name=provider]", "openai")
    await page.fill("#create-channel input[name=base_url]", f"{mock_upstream.url}/v1")
    await page.fill("#create-channel input[name=api_key]", "sk-upstream-made-in-the-console")
    await page.fill("#create-channel input[name=models]", "console-model")
    await page.click("#create-channel button[type=submit]")
    made = page.locator("#channel-list tr", has_text="console-made")
    await expect(made).to_contain_text("api")
    await expect(made).to_contain_text("closed")  # routed: this worker reports its breaker
    await made.get_by_role("button", name="Test").click()
    await expect(page.locator("#probe-results tbody tr")).to_have_count(1)
    await expect(page.locator("#probe-results")).to_contain_text("console-model")
    await expect(page.locator("#probe-results")).to_contain_text("ok")
    await page.click("#test-all")
    await expect(page.locator("#probe-results tbody tr")).to_have_count(2)
    await expect(page.locator("#probe-results .badge.bad")).to_have_count(0)
    _, probes = await http.admin("POST", "/admin/channels/test")
    assert sorted(p["channel"] for p in probes) == ["console-made", "mock-openai"] and all(p["ok"] for p in probes)
    await _shot(page, "channels", tmp_path)
    assert "sk-upstream-made-in-the-console" not in await page.content()  # upstream keys are masked
    await made.get_by_role("button", name="Edit").click()
    await page.fill("#edit-channel input[name=models]", "console-model, console-model-2")
    await page.fill("#edit-channel input[name=weight]", "3")
    await page.click("#edit-channel button[type=submit]")
    await expect(made).to_contain_text("console-model, console-model-2")
    await expect(made).to_contain_text("0 / 3")
    await expect(page.locator("#edit-channel")).to_have_count(0)
    _, settings = await http.admin("GET", "/admin/channels/console-made")
    assert (settings["models"], settings["weight"]) == (["console-model", "console-model-2"], 3)
    assert settings["api_keys"] != ["sk-upstream-made-in-the-console"]  # kept, and shown masked
    await made.get_by_role("button", name="Disable").click()
    await expect(made).to_contain_text("disabled")
    _, settings = await http.admin("GET", "/admin/channels/console-made")
    assert settings["status"] == "disabled"

    # Sign out; the key holder signs in with the new key and sees its own portal.
    await page.click("#sign-out")
    await expect(page.locator("#sign-in")).to_be_visible()
    assert (await http.call("GET", "/v1/key", secret))[0] == 200
    await page.fill("#key", secret)
    await page.click("#sign-in-form button[type=submit]")
    await expect(page.locator("nav a.active")).to_have_text("My usage")
    _, own = await http.call("GET", "/v1/key", secret)
    assert own["used_usd"] == entry["cost_usd"] > 0
    assert Decimal(str(own["remaining_usd"])) == Decimal("7.5") - Decimal(str(own["used_usd"]))
    await expect(page.locator("#spent")).to_have_text(usd_text(own["used_usd"]))
    await expect(page.locator("#remaining")).to_have_text(usd_text(own["remaining_usd"]))
    await expect(page.locator("#recent")).to_contain_text(request_id)
    await expect(page.locator("#models")).to_contain_text("gpt-4o-mini")
    await expect(page.locator("nav a")).to_have_count(1)  # no admin page for a key holder
    await _shot(page, "portal", tmp_path)
    await no_secret_in_browser(page, ADMIN_KEY, secret)
    assert console.problems == []
    # The only refusals: the first page load asking for a session before anyone signed in, and the wrong key.
    session = f"{gateway.url}/dashboard/api/session"
    assert console.failed == [("GET", session, 401), ("POST", session, 401)]
