"""The console's operations routes over real HTTP: the price table's export and import (every row checked,
all or nothing, errors named per row, the new prices billed); the playground's way onto the chat routes
(an admin session, its CSRF token and the key to bill in ``X-Omnirouter-Console-Key``), in all four
protocols, plain and streamed, billed exactly to the chosen key, every refusal in the route's protocol;
the admin task answers' signed result links, force-poll and cancel from the session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY
from tests.helpers.billing import assert_books_balance, ledger
from tests.helpers.console_client import Browser, ConsoleGateway, console_gateway
from tests.helpers.gateway_harness import CLIENT_KEY, make_config
from tests.helpers.task_gateway import KLING_MODEL, call, task_gateway, until

PAYER_KEY = "sk-console-payer-0003"
PRICES = {"gpt-4o-mini": {"input": 150.0, "output": 600.0}}  # USD per 1M tokens (the config file's)
CONSOLE = "x-omnirouter-console-key"


class Served(ConsoleGateway):
    """The console's gateway, and its keys' ids by name."""

    async def key_id(self, name: str) -> int:
        _, keys = await self.http.admin("GET", "/admin/keys")
        return int(next(k["id"] for k in keys["data"] if k["name"] == name))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
) -> AsyncIterator[Served]:
    db_path = tmp_path_factory.mktemp("console-ops") / "gw.db"
    keys = [{"name": "tester", "key": CLIENT_KEY}, {"name": "payer", "key": PAYER_KEY, "quota_usd": 50.0}]
    config = make_config(mock_upstream.url, db_path, admin_key=ADMIN_KEY, reload_interval=0.2, prices=PRICES, keys=keys)
    async with console_gateway(config, request.param, postgres_url) as served:
        yield Served(served.gateway, served.session, config)


async def _rows(url: str, key_id: int, count: int) -> list[Any]:
    for _ in range(300):
        rows = await ledger(url, key_id)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"the ledger did not reach {count} rows")


def _nano(row: Any, price: dict[str, float]) -> int:
    """A row's cost at ``price`` (USD per 1M tokens, whole nano-USD a token here)."""
    per_input, per_output = (round(price[part] * 1000) for part in ("input", "output"))
    return int(row.input_tokens * per_input + row.output_tokens * per_output)


# -- the price table ---------------------------------------------------------------------------------------


async def test_export_lists_every_row_and_import_round_trips(served: Served) -> None:
    http = served.http
    status, _ = await http.admin("POST", "/admin/prices", {"model": "gpt-test-exp", "input": 1.5, "output": 3})
    assert status == 201
    status, table = await http.admin("GET", "/admin/price-table")
    assert status == 200 and table["object"] == "price_table"
    rows = {(p["model"], p["channel"]): p for p in table["prices"]}
    assert rows[("gpt-4o-mini", "")]["source"] == "config" and rows[("gpt-4o-mini", "")]["input"] == 150.0
    assert rows[("gpt-test-exp", "")]["source"] == "api" and rows[("gpt-test-exp", "")]["output"] == 3.0
    _, listing = await http.admin("GET", "/admin/prices")
    assert table["prices"] == listing["data"]  # the whole table, as the listing gives it

    # The export imported back changes nothing: the API row is rewritten, the config row skipped.
    status, result = await http.admin("POST", "/admin/price-table", table)
    assert status == 200, result
    assert result == {"created": 0, "updated": len(rows) - 1, "skipped": 1, "deleted": 0}
    _, again = await http.admin("GET", "/admin/price-table")
    assert again == table
    await http.admin("DELETE", "/admin/prices/gpt-test-exp")


async def test_import_writes_every_unit_and_the_new_price_is_billed(served: Served) -> None:
    http = served.http
    await http.admin("POST", "/admin/prices", {"model": "gpt-test-old", "input": 9, "output": 9})
    await http.admin("POST", "/admin/prices", {"model": "gpt-test-bill", "input": 1, "output": 1, "per_call": 5})
    every = {
        "model": "gpt-test-every", "channel": "mock-openai", "input": 1.25, "output": 5, "cached_input": 0.125,
        "cache_write": 1.5, "cache_write_1h": 2.5, "reasoning": 6, "image_input": 2, "image_output": 40,
        "audio_input": 3, "audio_output": 12, "per_image": 0.04, "per_image_tiers": {"1024x1024/high": 0.17},
        "per_second": 0.1, "per_1k_characters": 0.015, "per_call": 0.002, "above_tokens": 200_000,
        "above": {"input": 2.5, "output": 10.0, "cached_input": 0.25, "cache_write": None, "cache_write_1h": None,
                  "reasoning": None},
    }  # fmt: skip
    bill = {"model": "gpt-test-bill", "input": 2000.0, "output": 4000.0}  # replaces the row: per_call cleared
    status, result = await http.admin("POST", "/admin/price-table", {"prices": [every, bill], "replace": True})
    assert status == 200, result
    assert (result["created"], result["updated"], result["skipped"]) == (1, 1, 0)
    assert result["deleted"] >= 1  # gpt-test-old (and any other API row the file does not list)
    _, table = await http.admin("GET", "/admin/price-table")
    api_rows = {p["model"]: p for p in table["prices"] if p["source"] == "api"}
    assert set(api_rows) == {"gpt-test-every", "gpt-test-bill"}
    written = api_rows["gpt-test-every"]
    assert {name: written[name] for name in every} == every
    assert api_rows["gpt-test-bill"]["per_call"] is None and api_rows["gpt-test-bill"]["input"] == 2000.0
    assert any(p["model"] == "gpt-4o-mini" and p["source"] == "config" for p in table["prices"])  # kept

    # The imported price is the one a request pays (the table reloaded on this worker).
    tester = await served.key_id("tester")
    before = len(await ledger(served.config.database_url, tester))
    status, answer = await http.chat(CLIENT_KEY, model="gpt-test-bill", text="price me")
    assert status == 200, answer
    row = (await _rows(served.config.database_url, tester, before + 1))[-1]
    assert row.model == "gpt-test-bill" and row.cost_nano == _nano(row, bill) > 0


async def test_a_bad_import_names_each_row_and_writes_nothing(served: Served) -> None:
    http = served.http
    _, before = await http.admin("GET", "/admin/price-table")
    rows: list[Any] = [
        {"model": "gpt-test-fine", "input": 1, "output": 2},
        {"model": "gpt-test-neg", "input": -1, "output": 2},
        {"model": "gpt-test-typo", "inptu": 1},
        "not an object",
        {"model": "gpt-test-fine", "input": 3, "output": 4},
        {"model": "gpt-4o-mini", "input": 1, "output": 1},
        {"model": "gpt-test-long", "input": 1, "output": 1, "above_tokens": 1000},
        {"input": 1, "output": 1},
        {"model": "gpt-test-src", "input": 1, "output": 1, "source": "config"},
    ]
    status, error = await http.admin("POST", "/admin/price-table", {"prices": rows})
    assert status == 400 and error["error"]["code"] == "invalid_rows"
    assert error["error"]["message"] == "8 rows are invalid; nothing was imported."
    named = {e["row"]: e for e in error["error"]["rows"]}
    assert sorted(named) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert (named[1]["model"], named[1]["param"]) == ("gpt-test-neg", "input")
    assert (named[2]["param"], named[2]["message"]) == ("inptu", "Unknown field 'inptu' (no such setting here).")
    assert named[3]["model"] is None and named[3]["message"] == "A row must be a JSON object."
    assert named[4]["message"] == "Row 0 already sets this model and channel."
    assert "config file" in named[5]["message"] and named[5]["model"] == "gpt-4o-mini"
    assert "above" in named[6]["message"]
    assert named[7]["param"] == "model" and named[7]["model"] is None
    assert named[8]["param"] == "source"
    _, after = await http.admin("GET", "/admin/price-table")
    assert after == before  # all or nothing: not even row 0
    status, error = await http.admin("POST", "/admin/price-table", {"rows": []})
    assert status == 400 and error["error"]["code"] == "unknown_field"


async def test_the_console_session_imports_only_with_its_csrf_token(served: Served) -> None:
    browser = served.browser()
    await browser.sign_in(ADMIN_KEY)
    status, table = await browser.call("GET", "/admin/price-table")
    assert status == 200
    status, error = await browser.call("POST", "/admin/price-table", table)
    assert (status, error["error"]["code"]) == (403, "csrf_token_invalid")
    status, _ = await browser.call("POST", "/admin/price-table", table, csrf=True)
    assert status == 200
    key_browser = served.browser()
    await key_browser.sign_in(CLIENT_KEY)
    status, error = await key_browser.call("GET", "/admin/price-table")
    assert (status, error["error"]["code"]) == (403, "not_admin_session")


# -- the playground ----------------------------------------------------------------------------------------


def _ask(protocol: str, text: str, stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The path, body and headers of one chat request in ``protocol`` (as the playground page sends it)."""
    model = "gpt-4o-mini"
    if protocol == "openai_chat":
        return "/v1/chat/completions", {"model": model, "stream": stream,
                                        "messages": [{"role": "user", "content": text}]}, {}  # fmt: skip
    if protocol == "responses":
        return "/v1/responses", {"model": model, "input": text, "stream": stream}, {}
    if protocol == "anthropic":
        body = {"model": model, "max_tokens": 100, "stream": stream, "messages": [{"role": "user", "content": text}]}
        return "/v1/messages", body, {"anthropic-version": "2023-06-01"}
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{model}:{verb}", {"contents": [{"role": "user", "parts": [{"text": text}]}]}, {}


def _text(protocol: str, raw: str, stream: bool) -> str:
    """The answer's text, read from the wire as the page reads it (every streamed event's delta, joined)."""
    if not stream:
        return _answer_text(protocol, msgspec.json.decode(raw))
    pieces = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].strip() for line in block.split("\n") if line.startswith("data:"))
        if not data or data == "[DONE]":
            continue
        event = msgspec.json.decode(data)
        if protocol == "openai_chat":
            pieces += [c["delta"].get("content") or "" for c in event["choices"]]
        elif protocol == "responses" and event["type"] == "response.output_text.delta":
            pieces.append(event["delta"])
        elif protocol == "anthropic" and event["type"] == "content_block_delta":
            pieces.append(event["delta"].get("text", ""))
        elif protocol == "gemini":
            pieces += [p.get("text", "") for c in event.get("candidates", []) for p in c["content"]["parts"]]
    return "".join(pieces)


def _answer_text(protocol: str, body: Any) -> str:
    if protocol == "openai_chat":
        return str(body["choices"][0]["message"]["content"])
    if protocol == "responses":
        return "".join(p["text"] for item in body["output"] if item["type"] == "message" for p in item["content"])
    if protocol == "anthropic":
        return "".join(b["text"] for b in body["content"] if b["type"] == "text")
    return "".join(p["text"] for c in body["candidates"] for p in c["content"]["parts"])


async def _play(
    served: Served, browser: Browser, protocol: str, text: str, stream: bool, key: int | str | None, **extra: Any
) -> tuple[int, str, Any]:
    path, body, headers = _ask(protocol, text, stream)
    sent = {**headers, **({CONSOLE: str(key)} if key is not None else {})}
    sent.update({name.replace("_", "-"): value for name, value in extra.items()})
    if browser.cookie:
        sent["cookie"] = browser.cookie
    async with served.session.post(served.gateway.url + path, json=body, headers=sent) as response:
        return response.status, await response.text(), response.headers


@pytest.mark.parametrize("protocol", ["openai_chat", "responses", "anthropic", "gemini"])
async def test_the_admin_session_chats_in_every_protocol_billed_to_the_chosen_key(
    served: Served, protocol: str
) -> None:
    browser = served.browser()
    await browser.sign_in(ADMIN_KEY)
    payer = await served.key_id("payer")
    url = served.config.database_url
    before = len(await ledger(url, payer))
    said = {}
    for stream in (False, True):
        words = f"console {protocol} {'streamed' if stream else 'plain'} answer"
        text = f'[[mock {{"text": "{words}", "chunks": 3}}]] hello'
        status, raw, headers = await _play(served, browser, protocol, text, stream, payer, x_csrf_token=browser.csrf)
        assert status == 200, raw
        assert headers["content-type"].startswith("text/event-stream" if stream else "application/json")
        said[stream] = (_text(protocol, raw, stream), headers["x-request-id"], words)
    for stream, (got, _, words) in said.items():
        assert got == words, (stream, got)
    rows = (await _rows(url, payer, before + 2))[before:]
    assert [row.request_id for row in rows] == [said[False][1], said[True][1]]
    assert all(row.key_id == payer and row.status_code == 200 for row in rows)
    assert all(row.cost_nano == _nano(row, PRICES["gpt-4o-mini"]) > 0 for row in rows)
    await assert_books_balance(url, "payer")  # the key's spend is its ledger's sum, nothing held


async def test_the_playground_is_refused_without_each_of_its_conditions(served: Served) -> None:
    admin = served.browser()
    await admin.sign_in(ADMIN_KEY)
    payer = await served.key_id("payer")
    url = served.config.database_url
    before = len(await ledger(url))

    async def refused(protocol: str, browser: Browser, key: int | str | None, **extra: Any) -> tuple[int, Any]:
        status, raw, _ = await _play(served, browser, protocol, "hi", False, key, **extra)
        return status, msgspec.json.decode(raw)

    # No CSRF token, or a wrong one: 403 in the route's own protocol (Anthropic's, Gemini's, OpenAI's).
    status, body = await refused("anthropic", admin, payer)
    assert status == 403 and body["type"] == "error" and body["error"]["type"] == "permission_error"
    status, body = await refused("gemini", admin, payer, x_csrf_token="forged")
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"
    # The cookie without the console header is no key: the usual 401.
    status, body = await refused("openai_chat", admin, None, x_csrf_token=admin.csrf)
    assert (status, body["error"]["code"]) == (401, "missing_api_key")
    # A key id that is not an active key.
    for key in ("999999", "abc", "-1"):
        status, body = await refused("openai_chat", admin, key, x_csrf_token=admin.csrf)
        assert (status, body["error"]["code"]) == (400, "console_key_not_found"), key
    # Another site's page.
    status, body = await refused("openai_chat", admin, payer, x_csrf_token=admin.csrf, origin="https://evil.example")
    assert (status, body["error"]["code"]) == (403, "cross_site")
    # A client key's console session is not the admin's.
    holder = served.browser()
    await holder.sign_in(PAYER_KEY)
    status, body = await refused("openai_chat", holder, payer, x_csrf_token=holder.csrf)
    assert (status, body["error"]["code"]) == (403, "not_admin_session")
    # A header without a session.
    status, body = await refused("openai_chat", served.browser(), payer)
    assert (status, body["error"]["code"]) == (401, "missing_api_key")
    # A key in the request wins: it is checked as a key request, the console header ignored.
    status, raw, _ = await _play(served, admin, "openai_chat", "hi", False, payer, authorization="Bearer sk-wrong")
    assert (status, msgspec.json.decode(raw)["error"]["code"]) == (401, "invalid_api_key")
    # Signed out: the session is gone.
    await admin.call("DELETE", "/dashboard/api/session", csrf=True)
    status, body = await refused("openai_chat", admin, payer, x_csrf_token=admin.csrf)
    assert (status, body["error"]["code"]) == (401, "session_expired")
    await asyncio.sleep(0.3)  # past a usage flush: a request refused before it has a key leaves no row
    assert len(await ledger(url)) == before


async def test_a_revoked_key_cannot_be_billed(served: Served) -> None:
    http = served.http
    status, made = await http.admin("POST", "/admin/keys", {"name": "short-lived"})
    assert status == 201
    admin = served.browser()
    await admin.sign_in(ADMIN_KEY)
    for _ in range(100):  # the worker's key table reloads
        status, _, _ = await _play(served, admin, "openai_chat", "hi", False, made["id"], x_csrf_token=admin.csrf)
        if status == 200:
            break
        await asyncio.sleep(0.05)
    assert status == 200
    await http.admin("DELETE", f"/admin/keys/{made['id']}")
    status, raw, _ = await _play(served, admin, "openai_chat", "hi", False, made["id"], x_csrf_token=admin.csrf)
    assert (status, msgspec.json.decode(raw)["error"]["code"]) == (400, "console_key_not_found")


# -- tasks -------------------------------------------------------------------------------------------------


async def test_admin_task_answers_link_results_with_signed_urls_and_the_session_polls_and_cancels(
    mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_gateway(mock, tmp_path) as running, aiohttp.ClientSession() as session:
        kling = f"{running.url}/kling/v1/videos/text2video"
        body = {"model_name": KLING_MODEL, "prompt": "a heron", "duration": "5"}
        _, done = await call(session, "POST", kling, body=body)
        done_id = done["data"]["task_id"]

        async def finished() -> Any:
            _, task = await call(session, "GET", f"{running.url}/admin/tasks/{done_id}", key=ADMIN_KEY)
            return task if task["status"] == "succeeded" else None

        task = await until(finished)
        [video] = [o for o in task["outputs"] if o["kind"] == "video"]
        parts = urlsplit(video["url"])
        assert f"{parts.scheme}://{parts.netloc}" == running.url and parts.path == f"/v1/videos/{done_id}/content"
        async with session.get(video["url"]) as response:  # no key: the signature is the permission
            assert response.status == 200
            signed = await response.read()
        async with session.get(f"{running.url}/v1/videos/{done_id}/content?variant=video",
                               headers={"authorization": f"Bearer {CLIENT_KEY}"}) as response:  # fmt: skip
            assert response.status == 200 and await response.read() == signed and signed
        tampered = video["url"].replace("variant=video", "variant=thumbnail")
        async with session.get(tampered) as response:
            assert response.status in (401, 403)
        _, page = await call(session, "GET", f"{running.url}/admin/tasks?status=succeeded", key=ADMIN_KEY)
        assert page["data"][0]["outputs"] == task["outputs"]  # the listing links them too

        # An unfinished task: the console session polls it now and cancels it, only with its CSRF token.
        mock.script({"pending_polls": 10_000}, times=1)
        _, slow = await call(session, "POST", kling, body=body)
        slow_id = slow["data"]["task_id"]
        browser = Browser(session, running)
        await browser.sign_in(ADMIN_KEY)
        base = f"/admin/tasks/{slow_id}"
        status, error = await browser.call("POST", f"{base}/poll")
        assert (status, error["error"]["code"]) == (403, "csrf_token_invalid")
        status, polled = await browser.call("POST", f"{base}/poll", csrf=True)
        assert status == 202 and polled["status"] in ("pending", "queued", "running")
        status, error = await browser.call("POST", f"{base}/cancel")
        assert (status, error["error"]["code"]) == (403, "csrf_token_invalid")
        status, cancelled = await browser.call("POST", f"{base}/cancel", csrf=True)
        assert status == 200 and cancelled["status"] == "cancelled" and cancelled["cost_usd"] == 0
    key, rows = await assert_books_balance(f"sqlite:///{tmp_path / 'gw.db'}", "tester")
    assert key.used_nano == sum(row.cost_nano for row in rows) == round(task["cost_usd"] * 1e9)
