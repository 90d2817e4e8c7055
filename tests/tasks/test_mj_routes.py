"""The midjourney-proxy routes through the gateway against the mock proxy, on SQLite and PostgreSQL, over
real HTTP (httpx: midjourney-proxy has no official SDK): the chain imagine → U1 → vary → zoom pressed with
the parent's buttons on the parent's channel (the vendor gets its own ids), a MODAL zoom completed by a
``modal`` submit and one whose MODAL wait lapses (refunded), every submit route and the mode prefixes,
``mj-api-secret`` auth, another key's tasks invisible and its buttons unusable, bad input answered with the
proxy's codes (4, 24) and nothing charged, ``notifyHook`` deliveries carrying the task object, and every
task's ledger row exactly its action's per-call price."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.media_bytes import image as png_bytes
from tests.helpers.billing import KeySpend, assert_books_balance, ledger
from tests.helpers.gateway_harness import CLIENT_KEY, RunningGateway
from tests.helpers.task_gateway import OTHER_KEY, task_config, task_gateway_of, until
from tests.helpers.webhook_receiver import webhook_receiver

UPSTREAM_SECRET = "mj-upstream-secret"
PRICES = {"mj_imagine": 0.04, "mj_upscale": 0.02, "mj_variation": 0.03, "mj_low_variation": 0.031,
          "mj_high_variation": 0.032, "mj_reroll": 0.033, "mj_zoom": 0.035, "mj_custom_zoom": 0.036,
          "mj_pan": 0.037, "mj_inpaint": 0.038, "mj_describe": 0.01, "mj_blend": 0.05, "mj_shorten": 0.011,
          "mj_modal": 0.012, "mj_edits": 0.06, "mj_video": 0.2, "swap_face": 0.07, "mj_upload": 0.001}  # fmt: skip
PNG = "data:image/png;base64," + base64.b64encode(png_bytes("png", 64, 64, 1)).decode()
OTHER_PNG = "data:image/png;base64," + base64.b64encode(png_bytes("png", 64, 64, 2)).decode()


def nano(model: str) -> int:
    return round(PRICES[model] * 1e9)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def mj(
    request: pytest.FixtureRequest,
    mock_upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_postgres_url: str,
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """A gateway with two Midjourney channels on the mock (every ``mj_*`` model, per-call prices), one of them
    in fast mode, and the database URL it writes to.  Shared by the module's tests: each awaits the end of
    the tasks it makes, and asserts money per task or as a key's delta (``KeySpend``)."""
    url = mock_upstream.url
    raw: dict[str, Any] = task_config(url, tmp_path_factory.mktemp("mj"))
    raw["channels"] += [
        {"name": "mj-main", "provider": "midjourney", "base_url": url, "api_keys": [UPSTREAM_SECRET],
         "models": ["mj_*", "swap_face"]},
        {"name": "mj-fast", "provider": "midjourney", "base_url": url, "api_keys": [UPSTREAM_SECRET],
         "models": ["mj_*"], "options": {"mode": "fast"}},
    ]  # fmt: skip
    raw["prices"] |= {model: {"per_call": price} for model, price in PRICES.items()}
    async with task_gateway_of(raw, request.param, gateway_postgres_url) as got:
        yield got


@pytest.fixture
async def spend(mj: tuple[RunningGateway, str]) -> KeySpend:
    """The test key's spending from here on."""
    return await KeySpend(mj[1]).begin()


class Client:
    """One client key on the gateway, sending it in ``mj-api-secret`` (as midjourney-proxy clients do)."""

    def __init__(self, http: httpx.AsyncClient, base: str, key: str = CLIENT_KEY) -> None:
        self.http, self.base, self.key = http, base, key

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        response = await self.http.post(self.base + path, json=body, headers={"mj-api-secret": self.key})
        return response.status_code, response.json() if response.content else None

    async def get(self, path: str) -> tuple[int, Any]:
        response = await self.http.get(self.base + path, headers={"mj-api-secret": self.key})
        return response.status_code, response.json() if response.content else None

    async def submit(self, action: str, body: Any, prefix: str = "") -> str:
        path = "/mj/insight-face/swap" if action == "swap_face" else f"/mj/submit/{action}"
        status, answer = await self.post(prefix + path, body)
        assert status == 200 and answer["code"] in (1, 21), answer
        result: str = answer["result"]
        return result

    async def until(self, task_id: str, *statuses: str) -> dict[str, Any]:
        async def reached() -> Any:
            status, task = await self.get(f"/mj/task/{task_id}/fetch")
            assert status == 200, task
            return task if task["status"] in statuses else None

        found: dict[str, Any] = await until(reached, within=20)
        return found


def _button(task: dict[str, Any], label_or_part: str) -> str:
    custom_id: str = next(b["customId"] for b in task["buttons"] if label_or_part in (b["label"], b["customId"]) or
                          label_or_part in b["customId"])  # fmt: skip
    return custom_id


def _submits(mock: MockUpstream) -> list[Any]:
    return [r for r in mock.requests if r.method == "POST" and "/submit/" in r.path]


async def _costs(url: str, *task_ids: str) -> dict[str, int]:
    """Each task's ledger sum, once every one of them has its row (written when it ends)."""

    async def settled() -> Any:
        rows = [row for row in await ledger(url) if row.request_id in task_ids]
        return rows if {row.request_id for row in rows} == set(task_ids) else None

    rows = await until(settled, within=20)
    return {task_id: sum(row.cost_nano for row in rows if row.request_id == task_id) for task_id in task_ids}


async def test_chain_imagine_upscale_vary_zoom_with_buttons_on_the_parents_channel(
    mj: tuple[RunningGateway, str], spend: KeySpend, mock_upstream: MockUpstream
) -> None:
    running, url = mj
    mock_upstream.requests.clear()
    async with httpx.AsyncClient(timeout=30) as http:
        me = Client(http, running.url)
        imagine = await me.submit("imagine", {"prompt": "a red fox", "state": "my-ref", "botType": "MID_JOURNEY"})
        grid = await me.until(imagine, "SUCCESS")
        assert grid["action"] == "IMAGINE" and grid["state"] == "my-ref" and grid["progress"] == "100%"
        assert grid["prompt"] == "a red fox" and grid["properties"]["finalPrompt"] == "a red fox"
        assert grid["submitTime"] <= grid["finishTime"] and grid["failReason"] == ""
        assert [b["label"] for b in grid["buttons"]][:4] == ["U1", "U2", "U3", "U4"]
        assert set(grid["buttons"][0]) == {"customId", "label", "emoji", "style", "type"}
        assert grid["imageUrl"].startswith(f"{running.url}/v1/videos/{imagine}/content?")
        assert mock_upstream.url not in str(grid) and UPSTREAM_SECRET not in str(grid)
        image = await http.get(grid["imageUrl"])  # signed: no key needed
        assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (1024, 1024)
        served = await http.get(f"{running.url}/mj/image/{imagine}", headers={"mj-api-secret": CLIENT_KEY})
        assert served.status_code == 200 and served.content == image.content
        assert (await http.get(f"{running.url}/mj/image/{imagine}")).status_code == 401

        upscale = await me.submit("action", {"taskId": imagine, "customId": _button(grid, "U1")})
        single = await me.until(upscale, "SUCCESS")
        assert single["action"] == "UPSCALE" and single["prompt"] == "a red fox"
        assert Image.open(io.BytesIO((await http.get(single["imageUrl"])).content)).size == (512, 512)
        vary = await me.submit("action", {"taskId": upscale, "customId": _button(single, "low_variation")})
        varied = await me.until(vary, "SUCCESS")
        zoom = await me.submit("action", {"taskId": vary, "customId": _button(varied, "V1")})
        zoomed = await me.until(zoom, "SUCCESS")
        assert varied["action"] == "LOW_VARIATION" and zoomed["action"] == "VARIATION" and zoomed["buttons"]
        out = await me.submit("action", {"taskId": upscale, "customId": _button(single, "Outpaint::50")})
        assert (await me.until(out, "MODAL"))["action"] == "ZOOM"  # the mock's zoom asks for its dialog
        confirm = await me.submit("modal", {"taskId": out})
        assert (await me.until(out, "SUCCESS"))["imageUrl"] and (await me.until(confirm, "SUCCESS"))["imageUrl"]

        status, listed = await me.post("/mj/task/list-by-condition", {"ids": [zoom, "nope", imagine]})
        assert status == 200 and [task["id"] for task in listed] == [zoom, imagine]
    sent = _submits(mock_upstream)
    base = sent[0].path.removesuffix("/submit/imagine")  # either channel; the chain stays on it
    assert [r.path for r in sent] == [f"{base}/submit/imagine", *[f"{base}/submit/action"] * 4, f"{base}/submit/modal"]
    assert all(r.headers["mj-api-secret"] == UPSTREAM_SECRET for r in sent)
    vendor_ids = [str(r.body["taskId"]) for r in sent[1:]]
    assert not any(task_id in vendor_ids for task_id in (imagine, upscale, vary, out))  # the vendor's ids, not ours
    assert sent[0].body == {"prompt": "a red fox", "botType": "MID_JOURNEY"}  # state stays with the gateway
    costs = await _costs(url, imagine, upscale, vary, zoom, out, confirm)
    assert costs == {imagine: nano("mj_imagine"), upscale: nano("mj_upscale"), vary: nano("mj_low_variation"),
                     zoom: nano("mj_variation"), out: nano("mj_zoom"), confirm: nano("mj_modal")}  # fmt: skip
    assert await spend.spent() == sum(costs.values())
    await assert_books_balance(url, "tester")


async def test_modal_waits_for_the_modal_submit_then_both_settle(
    mj: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = mj
    async with httpx.AsyncClient(timeout=30) as http:
        me = Client(http, running.url)
        imagine = await me.submit("imagine", {"prompt": "a lighthouse"})
        upscale = await me.submit("action", {"taskId": imagine, "customId": _button(await me.until(imagine, "SUCCESS"),
                                                                                     "U2")})  # fmt: skip
        single = await me.until(upscale, "SUCCESS")
        status, waiting = await me.post(
            "/mj/submit/action", {"taskId": upscale, "customId": _button(single, "CustomZoom")}
        )
        assert status == 200 and waiting["code"] == 21 and waiting["description"] == "Waiting for window confirm"
        zoom = waiting["result"]
        assert (await me.until(zoom, "MODAL"))["action"] == "CUSTOM_ZOOM"
        status, refused = await me.post("/mj/submit/modal", {"taskId": imagine, "prompt": "x"})
        assert status == 400 and refused["code"] == 4 and "MODAL" in refused["description"]
        modal = await me.submit("modal", {"taskId": zoom, "prompt": "a lighthouse --zoom 2"})
        done = await me.until(modal, "SUCCESS")
        assert done["action"] == "MODAL" and done["imageUrl"]
        assert (await me.until(zoom, "SUCCESS"))["imageUrl"]
    modal_call = _submits(mock_upstream)[-1]
    assert modal_call.path.endswith("/mj/submit/modal") and modal_call.body["prompt"] == "a lighthouse --zoom 2"
    assert modal_call.body["taskId"] not in (zoom, modal)
    costs = await _costs(url, imagine, upscale, zoom, modal)
    assert costs == {imagine: nano("mj_imagine"), upscale: nano("mj_upscale"), zoom: nano("mj_custom_zoom"),
                     modal: nano("mj_modal")}  # fmt: skip
    await assert_books_balance(url, "tester")


async def test_a_modal_wait_that_lapses_fails_and_is_refunded(mj: tuple[RunningGateway, str], spend: KeySpend) -> None:
    running, url = mj
    tasks_config = running.app.gateway.config.tasks
    before = tasks_config.modal_wait
    tasks_config.modal_wait = 0.5
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            me = Client(http, running.url)
            imagine = await me.submit("imagine", {"prompt": "a boat"})
            grid = await me.until(imagine, "SUCCESS")
            upscale = await me.submit("action", {"taskId": imagine, "customId": _button(grid, "U1")})
            single = await me.until(upscale, "SUCCESS")
            inpaint = await me.submit("action", {"taskId": upscale, "customId": _button(single, "Inpaint")})
            failed = await me.until(inpaint, "FAILURE")
            assert "MODAL" in failed["failReason"] and failed["action"] == "INPAINT"
            status, late = await me.post("/mj/submit/modal", {"taskId": inpaint, "maskBase64": PNG})
            assert status == 400 and late["code"] == 4
            costs = await _costs(url, imagine, upscale, inpaint)
    finally:
        tasks_config.modal_wait = before
    assert costs == {imagine: nano("mj_imagine"), upscale: nano("mj_upscale"), inpaint: 0}
    assert await spend.spent() == nano("mj_imagine") + nano("mj_upscale")
    await assert_books_balance(url, "tester")


async def test_every_submit_route_and_the_mode_prefixes(
    mj: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = mj
    mock_upstream.requests.clear()
    async with httpx.AsyncClient(timeout=30) as http:
        me = Client(http, running.url)
        ids = {
            "describe": await me.submit("describe", {"base64": PNG}),
            "shorten": await me.submit("shorten", {"prompt": "a very long and winding prompt about cats"}),
            "blend": await me.submit("blend", {"base64Array": [PNG, PNG], "dimensions": "SQUARE"}),
            "fast": await me.submit("imagine", {"prompt": "quick"}, prefix="/mj-fast"),
        }
        described = await me.until(ids["describe"], "SUCCESS")
        assert "mock cat" in described["properties"]["finalPrompt"] and described["imageUrl"] == ""
        assert (await me.until(ids["blend"], "SUCCESS"))["action"] == "BLEND"
        assert (await me.until(ids["shorten"], "SUCCESS"))["action"] == "SHORTEN"
        assert (await me.until(ids["fast"], "SUCCESS"))["imageUrl"]
        fast = await me.until(ids["fast"], "SUCCESS")
        ids["change"] = await me.submit("change", {"taskId": ids["fast"], "action": "UPSCALE", "index": 3})
        ids["simple"] = await me.submit("simple-change", {"content": f"{ids['fast']} V2"})
        ids["reroll"] = await me.submit("action", {"taskId": ids["fast"], "customId": _button(fast, "reroll")})
        for name in ("change", "simple", "reroll"):
            await me.until(ids[name], "SUCCESS")
        status, no_mode = await me.post("/mj-relax/mj/submit/imagine", {"prompt": "slow"})
        assert status == 400 and no_mode["code"] == 4 and "relax" in no_mode["description"]
        status, queued = await me.post("/mj/submit/imagine", {"prompt": 'wait [[mock {"code": "22"}]]'})
        assert status == 200 and queued["code"] == 22 and queued["properties"]["numberOfQueues"] >= 0, queued
        ids["queued"] = queued["result"]
        await me.until(ids["queued"], "SUCCESS")
        ids["edits"] = await me.submit("edits", {"prompt": "a hat", "image": PNG})
        ids["video"] = await me.submit("video", {"prompt": "it moves", "image": PNG})
        ids["swap"] = await me.submit("swap_face", {"sourceBase64": PNG, "targetBase64": OTHER_PNG})
        for name in ("edits", "video", "swap"):
            done = await me.until(ids[name], "SUCCESS")
            assert done["imageUrl"].startswith(running.url), done  # the gateway's copy, not the proxy's
        status, uploaded = await me.post("/mj/submit/upload-discord-images", {"base64Array": [PNG, OTHER_PNG]})
        assert status == 200 and uploaded["code"] == 1 and len(uploaded["result"]) == 2, uploaded
        assert all(link.startswith("http") for link in uploaded["result"])
        ids["upload"] = next(r.request_id for r in await ledger(url) if r.model == "mj_upload")
        status, seed = await me.get(f"/mj/task/{ids['fast']}/image-seed")
        assert status == 200 and seed["code"] == 1 and str(seed["result"]).isdigit(), seed
        status, unfinished = await me.get(f"/mj/task/{ids['edits']}x/image-seed")
        assert status == 404 and unfinished["code"] != 1
    sent = {r.path for r in _submits(mock_upstream)}
    assert "/mj-fast/mj/submit/imagine" in sent and {"describe", "shorten", "blend"} <= {p.split("/")[-1] for p in sent}
    change = next(r for r in _submits(mock_upstream) if r.path == "/mj-fast/mj/submit/change")
    assert change.body["action"] == "UPSCALE" and change.body["index"] == 3  # the parent's (fast) channel
    names = ("describe", "shorten", "blend", "fast", "change", "simple", "edits", "video", "swap", "upload", "queued")
    costs = await _costs(url, *(ids[name] for name in names))
    assert list(costs.values()) == [nano("mj_describe"), nano("mj_shorten"), nano("mj_blend"), nano("mj_imagine"),
                                    nano("mj_upscale"), nano("mj_variation"), nano("mj_edits"), nano("mj_video"),
                                    nano("swap_face"), nano("mj_upload"), nano("mj_imagine")]  # fmt: skip
    await assert_books_balance(url, "tester")


async def test_another_keys_tasks_and_buttons_are_unknown(
    mj: tuple[RunningGateway, str], mock_upstream: MockUpstream
) -> None:
    running, url = mj
    other_spend = await KeySpend(url, "other").begin()
    async with httpx.AsyncClient(timeout=30) as http:
        me, other = Client(http, running.url), Client(http, running.url, OTHER_KEY)
        imagine = await me.submit("imagine", {"prompt": "mine"})
        grid = await me.until(imagine, "SUCCESS")
        mock_upstream.requests.clear()
        assert await other.get(f"/mj/task/{imagine}/fetch") == (200, None)  # the proxy's answer to an unknown id
        assert await other.post("/mj/task/list-by-condition", {"ids": [imagine]}) == (200, [])
        status, error = await other.get(f"/mj/image/{imagine}")
        assert status == 404 and error["code"] == 4
        status, error = await other.get(f"/mj/task/{imagine}/image-seed")
        assert status == 404 and error["code"] == 4
        for action, body in (("action", {"taskId": imagine, "customId": _button(grid, "U1")}),
                             ("change", {"taskId": imagine, "action": "UPSCALE", "index": 1}),
                             ("simple-change", {"content": f"{imagine} U1"}),
                             ("modal", {"taskId": imagine, "prompt": "x"})):  # fmt: skip
            status, error = await other.post(f"/mj/submit/{action}", body)
            assert status == 400 and error["code"] == 4 and "task_not_found" in error["description"], error
        # The other key's own task cannot press my task's button either.
        theirs = await other.submit("imagine", {"prompt": "theirs"})
        await other.until(theirs, "SUCCESS")
        status, error = await other.post("/mj/submit/action", {"taskId": theirs, "customId": _button(grid, "U1")})
        assert status == 400 and error["code"] == 4 and "button" in error["description"]
    assert [r.path.split("/")[-1] for r in _submits(mock_upstream)] == ["imagine"]  # only their own imagine
    assert await other_spend.spent() == nano("mj_imagine")
    await assert_books_balance(url, "other")


@pytest.mark.parametrize(
    ("path", "body", "code", "words"),
    [
        ("imagine", {"prompt": "  "}, 4, "prompt"),
        ("imagine", {"prompt": 'x [[mock {"code": "24"}]]'}, 24, "banned"),
        ("imagine", {"prompt": "x", "notifyHook": "file:///etc/passwd"}, 4, "notifyHook"),
        ("blend", {"base64Array": [PNG]}, 4, "base64Array"),
        ("blend", {"base64Array": [PNG] * 6}, 4, "base64Array"),
        ("blend", {"base64Array": [PNG, PNG], "dimensions": "WIDE"}, 4, "dimensions"),
        ("describe", {}, 4, "base64"),
        ("change", {"taskId": "t", "action": "ZOOM", "index": 1}, 4, "action"),
        ("change", {"taskId": "t", "action": "UPSCALE", "index": 9}, 4, "index"),
        ("simple-change", {"content": "t U9"}, 4, "content"),
        ("action", {"taskId": "t", "customId": "MJ::JOB::bogus::1::abc"}, 4, "unknown action"),
        ("action", {"taskId": "t", "customId": "MJ::JOB::upsample::1::abc"}, 4, "task_not_found"),
        ("action", {"taskId": "t"}, 4, "customId"),
        ("modal", {"prompt": "x"}, 4, "taskId"),
    ],
)
async def test_bad_input_gets_the_proxys_code_and_costs_nothing(
    mj: tuple[RunningGateway, str], spend: KeySpend, path: str, body: Any, code: int, words: str
) -> None:
    running, url = mj
    async with httpx.AsyncClient(timeout=30) as http:
        status, error = await Client(http, running.url).post(f"/mj/submit/{path}", body)
    assert status == 400 and error["code"] == code and error["result"] is None, error
    assert words.lower() in error["description"].lower()
    assert await spend.spent() == 0
    await assert_books_balance(url, "tester")


async def test_mj_api_secret_is_a_client_key_on_these_routes_only(mj: tuple[RunningGateway, str]) -> None:
    running, _ = mj
    async with httpx.AsyncClient(timeout=30) as http:
        status, error = await Client(http, running.url, "sk-wrong").get("/mj/task/x/fetch")
        assert status == 401 and error["code"] == 4
        bearer = await http.get(f"{running.url}/mj/task/x/fetch", headers={"authorization": f"Bearer {CLIENT_KEY}"})
        assert bearer.status_code == 200 and bearer.json() is None
        fast = await http.post(f"{running.url}/mj-fast/mj/task/list-by-condition", json={"ids": []},
                               headers={"mj-api-secret": CLIENT_KEY})  # fmt: skip
        assert fast.status_code == 200 and fast.json() == []
        videos = await http.get(f"{running.url}/v1/videos", headers={"mj-api-secret": CLIENT_KEY})
        assert videos.status_code == 401


async def test_notify_hook_gets_the_task_object(mj: tuple[RunningGateway, str]) -> None:
    running, _ = mj
    async with webhook_receiver() as receiver, httpx.AsyncClient(timeout=30) as http:
        me = Client(http, running.url)
        task_id = await me.submit("imagine", {"prompt": "hooked", "notifyHook": receiver.url, "state": "s1"})
        await me.until(task_id, "SUCCESS")

        async def delivered() -> Any:
            return next((d.event for d in receiver.accepted() if d.event["type"] == "task.succeeded"), None)

        event = await until(delivered, within=20)
    task = event["data"]
    assert event["dialect"] == "midjourney" and task["id"] == task_id and task["status"] == "SUCCESS"
    assert task["state"] == "s1" and task["action"] == "IMAGINE" and len(task["buttons"]) == 9
    assert task["imageUrl"]
