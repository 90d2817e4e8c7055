"""The console's operations pages in a real browser (Playwright driving Debian's chromium): edit a price
inline, add and delete one, export the table as a download and import it back (and a bad file, its rows
named); force-poll a task to its end and open its signed result link, cancel another and see it refunded;
run the playground in all four protocols, streamed, and read the rendered answer and the raw wire events,
the requests billed to the chosen key.

``OMNIROUTER_SCREENSHOTS=1`` also writes each page's screenshot into docs/console/.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from playwright.async_api import Page, expect

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.billing import assert_books_balance, ledger
from tests.helpers.console_browser import ConsolePage, chromium_page, no_secret_in_browser, screenshot
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, running_gateway
from tests.helpers.task_gateway import KLING_MODEL, call, task_config, until

PAYER_KEY = "sk-console-payer-0004"
CHAT_PRICE = {"input": 150.0, "output": 600.0}


@pytest.fixture(scope="module")
async def served(mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    db_dir = tmp_path_factory.mktemp("console-ops-browser")
    raw = task_config(mock_upstream.url, db_dir, poll_first=600, poll_max=600)  # tasks move when forced only
    raw["channels"].append({"name": "mock-openai", "provider": "openai", "base_url": f"{mock_upstream.url}/v1",
                            "api_keys": [UPSTREAM_KEY], "models": ["gpt-4o-mini"]})  # fmt: skip
    raw["prices"]["gpt-4o-mini"] = CHAT_PRICE
    raw["keys"].append({"name": "payer", "key": PAYER_KEY, "quota_usd": 20.0})
    raw["reload_interval"] = 0.2
    config = msgspec.convert(raw, GatewayConfig)
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        gateway.app.gateway.task_poller.interval = 0.02
        yield gateway, Http(session, gateway.url), config


@pytest.fixture
async def console() -> AsyncIterator[ConsolePage]:
    async with chromium_page() as opened:
        yield opened


@pytest.fixture
def page(console: ConsolePage) -> Page:
    return console.page


async def _sign_in(page: Page, gateway: RunningGateway) -> None:
    await page.goto(f"{gateway.url}/dashboard")
    await page.fill("#key", ADMIN_KEY)
    await page.click("#sign-in-form button[type=submit]")
    await expect(page.locator("#total-requests")).to_be_visible()


async def test_prices_edit_add_delete_export_and_import(
    served: Any, console: ConsolePage, page: Page, tmp_path: Path
) -> None:
    gateway, http, _ = served
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await _sign_in(page, gateway)
    await page.click("nav a[data-page=prices]")
    config_row = page.locator("#price-list tr[data-model='gpt-4o-mini']")
    await expect(config_row).to_contain_text("config file")  # read-only
    assert await config_row.locator("input[name=input]").is_disabled()

    # Add a price, then edit it inline: a cache write and long-context tiers.
    await page.fill("#add-price input[name=model]", "gpt-ui-model")
    await page.fill("#add-price input[name=input]", "2")
    await page.fill("#add-price input[name=output]", "8")
    await page.click("#add-price button[type=submit]")
    row = page.locator("#price-list tr[data-model='gpt-ui-model']")
    await expect(row.locator("input[name=output]")).to_have_value("8")
    await row.locator("input[name=cache_write_1h]").fill("4.5")
    await row.locator("input[name=per_call]").fill("0.01")
    await row.locator("input[name=above_tokens]").fill("200000")
    await row.locator("input[name=above]").fill('{"input": 4, "output": 16}')
    await row.get_by_role("button", name="Save").click()
    await expect(page.locator("#price-status")).to_have_text("Saved gpt-ui-model.")
    _, saved = await http.admin("GET", "/admin/prices/gpt-ui-model")
    assert (saved["input"], saved["output"], saved["cache_write_1h"], saved["per_call"]) == (2.0, 8.0, 4.5, 0.01)
    assert saved["above_tokens"] == 200_000 and (saved["above"]["input"], saved["above"]["output"]) == (4.0, 16.0)
    await page.evaluate("document.getElementById('price-list').scrollLeft = 0")
    await screenshot(page, "prices", tmp_path)
    await row.locator("input[name=above]").fill("{not json")
    await row.get_by_role("button", name="Save").click()
    await expect(page.locator("#price-error")).to_have_text("above: not valid JSON.")

    # Export: a download of the whole table, equal to the admin API's.
    async with page.expect_download() as downloading:
        await page.click("#export-prices")
    download = await downloading.value
    assert download.suggested_filename == "omnirouter-prices.json"
    exported = json.loads(await asyncio.to_thread(Path(await download.path()).read_text))
    _, table = await http.admin("GET", "/admin/price-table")
    assert exported == table and any(p["model"] == "gpt-ui-model" for p in exported["prices"])

    # Import it back changed: one price edited, one added.
    for price in exported["prices"]:
        if price["model"] == "gpt-ui-model":
            price["output"] = 9.5
    exported["prices"].append({"model": "gpt-ui-imported", "input": 1, "output": 3, "per_second": 0.2})
    good = tmp_path / "prices.json"
    good.write_text(json.dumps(exported))
    await page.set_input_files("#import-file", str(good))
    await page.click("#import-prices")
    await expect(page.locator("#price-status")).to_contain_text("1 added")
    await expect(page.locator("#price-list tr[data-model='gpt-ui-imported'] input[name=per_second]")).to_have_value(
        "0.2"
    )
    await expect(row.locator("input[name=output]")).to_have_value("9.5")
    _, imported = await http.admin("GET", "/admin/prices/gpt-ui-imported")
    assert (imported["input"], imported["output"], imported["per_second"]) == (1.0, 3.0, 0.2)

    # A bad file: every bad row named, nothing written.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"prices": [{"model": "gpt-ui-x", "input": -2, "output": 1}, {"model": "gpt-ui-y"},
                                          {"model": "gpt-ui-z", "output": 1, "colour": "red"}]}))  # fmt: skip
    await page.set_input_files("#import-file", str(bad))
    await page.click("#import-prices")
    await expect(page.locator("#price-error")).to_have_text("2 rows are invalid; nothing was imported.")
    errors = page.locator("#import-errors li")
    await expect(errors).to_have_count(2)
    await expect(errors.nth(0)).to_contain_text("Row 1 (gpt-ui-x), input:")
    await expect(errors.nth(1)).to_contain_text("Row 3 (gpt-ui-z), colour: Unknown field 'colour'")
    assert (await http.admin("GET", "/admin/prices/gpt-ui-y"))[0] == 404

    # Delete the imported one.
    await page.locator("#price-list tr[data-model='gpt-ui-imported']").get_by_role("button", name="Delete").click()
    await expect(page.locator("#price-list tr[data-model='gpt-ui-imported']")).to_have_count(0)
    assert (await http.admin("GET", "/admin/prices/gpt-ui-imported"))[0] == 404
    await no_secret_in_browser(page, ADMIN_KEY)
    assert console.problems == []


async def test_tasks_force_poll_results_and_cancel(
    served: Any, console: ConsolePage, page: Page, tmp_path: Path, mock_upstream: MockUpstream
) -> None:
    gateway, http, config = served
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    session = http.session
    kling = f"{gateway.url}/kling/v1/videos/text2video"
    body = {"model_name": KLING_MODEL, "prompt": "a kingfisher", "duration": "5"}
    mock_upstream.script({"pending_polls": 0}, times=1)  # done at its first poll
    _, made = await call(session, "POST", kling, body=body)
    quick = made["data"]["task_id"]
    mock_upstream.script({"pending_polls": 10_000}, times=1)  # never done
    _, made = await call(session, "POST", kling, body=body)
    slow = made["data"]["task_id"]

    await _sign_in(page, gateway)
    await page.click("nav a[data-page=tasks]")
    await expect(page.locator("#task-list")).to_have_attribute("data-count", "2")
    await expect(page.locator("#tasks-live")).to_have_text("2")
    await page.locator("#task-list tr", has_text=quick).click()
    await expect(page.locator("#page h1")).to_have_text(f"Task {quick}")
    await expect(page.locator("#task-polls")).to_have_text("0")  # the first poll is ten minutes away

    # Poll now: the poller polls it at once, the vendor is done, the result stored.
    await page.click("#force-poll")
    await expect(page.locator("#task-error")).to_have_text("")

    async def succeeded() -> Any:
        _, task = await http.admin("GET", f"/admin/tasks/{quick}")
        return task if task["status"] == "succeeded" else None

    await until(succeeded)
    await page.click("#refresh-task")
    await expect(page.locator("#task-state")).to_have_text("succeeded")
    link = page.locator("#task-results a", has_text="video")
    href = await link.get_attribute("href")
    assert href and href.startswith(f"{gateway.url}/v1/videos/{quick}/content?") and "signature=" in href
    async with session.get(href) as response:  # no key: signed
        assert response.status == 200 and len(await response.read()) > 0
    await expect(page.locator("#force-poll")).to_be_disabled()
    await screenshot(page, "task", tmp_path)

    # Cancel and refund the other.
    await page.goto(f"{gateway.url}/dashboard#/tasks/{slow}")
    await expect(page.locator("#task-state")).to_have_text(re.compile("^(queued|running)$"))
    await page.click("#cancel-task")
    await expect(page.locator("#task-state")).to_have_text("cancelled")
    await expect(page.locator("#task-cost")).to_have_text("$0.00")
    _, cancelled = await http.admin("GET", f"/admin/tasks/{slow}")
    assert cancelled["status"] == "cancelled" and cancelled["failure_code"] == "cancelled"

    await page.goto(f"{gateway.url}/dashboard#/tasks?status=cancelled")
    await expect(page.locator("#task-list")).to_have_attribute("data-count", "1")
    await expect(page.locator("#task-list")).to_contain_text(slow)
    await page.goto(f"{gateway.url}/dashboard#/tasks")
    await expect(page.locator("#task-list")).to_have_attribute("data-count", "2")
    await screenshot(page, "tasks", tmp_path)
    key, rows = await assert_books_balance(config.database_url, "tester")  # nothing held; spend is the ledger's
    assert key.used_nano == sum(row.cost_nano for row in rows) == round((await succeeded())["cost_usd"] * 1e9) > 0
    assert console.problems == []


async def test_playground_streams_in_every_protocol_billed_to_the_chosen_key(
    served: Any, console: ConsolePage, page: Page, tmp_path: Path
) -> None:
    gateway, http, config = served
    await _sign_in(page, gateway)
    _, keys = await http.admin("GET", "/admin/keys")
    payer = next(k["id"] for k in keys["data"] if k["name"] == "payer")
    before = len(await ledger(config.database_url, payer))
    await page.click("nav a[data-page=playground]")
    form = page.locator("#playground")
    await form.locator("select[name=key_id]").select_option(str(payer))
    await form.locator("input[name=model]").fill("gpt-4o-mini")
    answers = {}
    protocols = (  # the first and the last raw event each protocol's stream shows
        ("openai_chat", "data: {", "data: [DONE]"),
        ("anthropic", "event: message_start", "event: message_stop"),
        ("openai_responses", "event: response.created", "event: response.completed"),
        ("gemini", "data: {", '"finishReason"'),
    )
    for protocol, first_event, last_event in protocols:
        words = f"the {protocol} playground answers in pieces"
        await form.locator("select[name=protocol]").select_option(protocol)
        await form.locator("textarea[name=message]").fill(f'[[mock {{"text": "{words}", "chunks": 4}}]] hi')
        await page.click("#play-send")
        await expect(page.locator("#play-answer")).to_have_attribute("data-done", "true")
        await expect(page.locator("#play-answer")).to_have_text(words)
        raw = page.locator("#play-raw pre.raw-event")
        assert await raw.count() >= 4  # one per wire event, shown as they came
        assert (await raw.first.inner_text()).startswith(first_event)
        await expect(page.locator("#play-status")).to_contain_text("HTTP 200 · request ")
        status = await page.locator("#play-status").inner_text()
        answers[protocol] = status.rsplit(" ", 1)[1]
        await expect(raw.last).to_contain_text(last_event)
        if protocol == "anthropic":
            await screenshot(page, "playground", tmp_path)

    # A model that does not exist: the gateway's error, in the protocol's shape, shown.
    await form.locator("input[name=model]").fill("no-such-model")
    await page.click("#play-send")
    await expect(page.locator("#play-error")).to_contain_text("no-such-model")

    # Not streamed: one raw answer, its text rendered.
    await form.locator("input[name=model]").fill("gpt-4o-mini")
    await form.locator("input[name=stream]").uncheck()
    await form.locator("select[name=protocol]").select_option("openai_responses")
    await form.locator("textarea[name=message]").fill('[[mock {"text": "one whole answer"}]] hi')
    await page.click("#play-send")
    await expect(page.locator("#play-answer")).to_have_attribute("data-done", "true")
    await expect(page.locator("#play-answer")).to_have_text("one whole answer")
    await expect(page.locator("#play-raw pre.raw-event")).to_have_count(1)
    whole = json.loads(await page.locator("#play-raw pre.raw-event").inner_text())
    assert whole["object"] == "response" and whole["status"] == "completed"
    plain_id = await page.locator("#play-request").inner_text()

    for _ in range(200):
        rows = (await ledger(config.database_url, payer))[before:]
        if len(rows) >= 6:
            break
        await asyncio.sleep(0.05)
    served_rows = rows[:4]
    [plain] = [row for row in rows if row.request_id == plain_id]
    assert not plain.stream and plain.status_code == 200 and plain.inbound_protocol == "openai_responses"
    assert [row.status_code for row in rows if row.model == "no-such-model"] == [404]
    assert [row.request_id for row in served_rows] == [answers[protocol] for protocol, _, _ in protocols]
    assert [row.inbound_protocol for row in served_rows] == [protocol for protocol, _, _ in protocols]
    assert all(row.stream and row.status_code == 200 for row in served_rows)
    nano = {part: round(CHAT_PRICE[part] * 1000) for part in ("input", "output")}
    assert all(
        r.cost_nano == r.input_tokens * nano["input"] + r.output_tokens * nano["output"] > 0 for r in served_rows
    )
    await assert_books_balance(config.database_url, "payer")
    # The request id links to the request in the logs.
    await page.click("#play-request")
    await expect(page.locator("#ledger")).to_have_attribute("data-count", "1")
    await expect(page.locator("#ledger")).to_contain_text(plain_id)
    await no_secret_in_browser(page, ADMIN_KEY, PAYER_KEY, CLIENT_KEY)
    assert console.problems == []
