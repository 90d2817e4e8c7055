"""A mock midjourney-proxy (the open ``novicezk/midjourney-proxy`` and its "plus" API, as new-api relays them):
its core — tasks, timelines, buttons, polls; the plus API's edits, video, face swap, upload and image
seed are in ``tasks_midjourney_plus``.  Every route is also served under ``/mj-fast``, ``/mj-turbo`` and
``/mj-relax`` (the proxy's mode prefixes).

Auth: header ``mj-api-secret`` (a missing one, or one starting with ``bad``/``invalid``, is the plus API's
401 ``Authorization header missing.``; one starting with ``cdn`` makes a proxy with
``EnableFillOfficialCdn``: ``imageUrls`` on grids).  Every submit
(``/mj/submit/{imagine,blend,describe,shorten,change,simple-change,action,modal}``) answers ``{code,
description, result, properties}``: ``1`` submitted, ``22`` queued (directive ``code: "22"``), ``23`` a
full queue (``code: "23"``), ``21`` for an action that needs a dialog (a zoom, an inpaint, a remix: the
task waits in ``MODAL`` until ``/mj/submit/modal`` completes it), ``24`` a banned prompt (``code:
"24"``), ``4`` a validation error.

A prompt's ``[[mock {...}]]`` directive scripts its task: ``pending_polls`` (default 2) reads in progress
(``SUBMITTED``, then ``IN_PROGRESS`` with growing ``progress``), then ``SUCCESS`` — or ``FAILURE`` with
``failReason`` = ``message`` when ``body_error`` is set; ``poll_faults`` HTTP statuses answer polls
first; ``fail`` / ``garbage`` refuse the submit.  ``GET /mj/task/{id}/fetch`` and ``POST
/mj/task/list-by-condition {ids}`` read (and move) tasks.  A task with a ``notifyHook`` moves by the clock
instead and its object is POSTed to the hook on each change.  ``GET /mj/image/{id}`` (no key, like the
Discord CDN) serves the result PNG: a 2x2 grid for imagine / variation / reroll / blend / zoom / pan /
edit, one image for an upscale or a face swap (``/mj/image/{id}/{0-3}``: one image of a grid).  Buttons
carry real-looking ``customId``s (``MJ::JOB::upsample::1::<hash>``; an upscale's
``MJ::JOB::animate_high::1::<hash>::SOLO`` makes a video).
"""

from __future__ import annotations

import asyncio
import functools
import io
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image

from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, begin, json_response, log_request
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.media_wires import VendorWire

__all__ = [
    "GRID_SIZE",
    "NOTIFY_STEP",
    "PREFIXES",
    "WIRE",
    "MjTask",
    "MjWire",
    "answer",
    "create_task",
    "find_task",
    "routes",
    "submit_route",
    "submitted",
]

GRID_SIZE = 512
"""The side of one image of the grid (the grid PNG is twice that)."""
PREFIXES = ("", "/mj-fast", "/mj-turbo", "/mj-relax")
"""The proxy's mode prefixes: the same API under ``/mj``, ``/mj-fast/mj``, ``/mj-turbo/mj``, ``/mj-relax/mj``."""
NOTIFY_STEP = 0.1
"""Seconds between the timeline steps of a task with a ``notifyHook``."""
_DEFAULT_PENDING = 2
_ENDS = ("SUCCESS", "FAILURE", "CANCEL")
_MODAL_PREFIXES = ("MJ::Inpaint::", "MJ::CustomZoom::", "MJ::Outpaint::")
_GRID_ACTIONS = ("IMAGINE", "VARIATION", "REROLL", "BLEND", "ZOOM", "PAN", "EDIT")


class MjWire(VendorWire):
    """midjourney-proxy: ``mj-api-secret``; errors as ``{code, description}``."""

    name = "midjourney"

    def key(self, request: web.Request) -> str:
        """The ``mj-api-secret`` header."""
        return request.headers.get("mj-api-secret", "")

    def check_auth(self, request: web.Request) -> web.Response | None:
        """A missing secret, or one starting with ``bad``/``invalid``: the plus API's 401, plain text
        ``Authorization header missing.`` (its ``SimpleAuthMiddleware`` for a token of no user)."""
        key = self.key(request)
        if key and not key.startswith(("bad", "invalid")):
            return None
        return web.Response(status=401, text="Authorization header missing.")

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"code": 4|9, "description"}`` (4: the request was wrong, 9: the proxy failed)."""
        return {"code": 4 if status < 500 else 9, "description": message, "result": None}


WIRE = MjWire()


@dataclass(slots=True)
class MjTask:
    """One task at the mock proxy and its scripted timeline."""

    id: str
    action: str
    prompt: str
    pending: int
    faults: list[str | int]
    fail_reason: str | None
    hash: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "NOT_START"
    polls: int = 0
    submit_time: int = field(default_factory=lambda: int(time.time() * 1000))
    start_time: int | None = None
    finish_time: int | None = None
    parent: str | None = None
    index: int = 1
    state: str | None = None
    description: str = "Submit success"
    notify: str | None = None
    pushes: list[tuple[str, int]] = field(default_factory=list)  # (status, the hook's HTTP status; 0: none)
    final_prompt: str | None = None
    batch: int = 4  # a video's number of clips
    cdn: bool = False  # the proxy fills imageUrls / videoUrls (its EnableFillOfficialCdn)
    seed: str | None = None  # known once image-seed asked for it

    def step(self) -> None:
        """One poll (or clock tick) passes: the next state of the timeline."""
        if self.status in _ENDS or self.status == "MODAL":
            return
        if self.pending > 0:
            self.pending -= 1
            self.polls += 1
            self.status = "SUBMITTED" if self.polls <= 1 else "IN_PROGRESS"
            if self.status == "IN_PROGRESS" and self.start_time is None:
                self.start_time = int(time.time() * 1000)
            return
        self.start_time = self.start_time or int(time.time() * 1000)
        self.finish_time = int(time.time() * 1000)
        self.status = "FAILURE" if self.fail_reason is not None else "SUCCESS"

    def progress(self) -> str:
        """``"0%"`` … ``"100%"``."""
        if self.status == "SUCCESS":
            return "100%"
        if self.status in ("NOT_START", "SUBMITTED", "MODAL", "FAILURE"):
            return "0%"
        return f"{min(99, self.polls * 100 // (self.polls + self.pending + 1))}%"

    def buttons(self) -> list[dict[str, Any]]:
        """The buttons a finished task shows (none before, none for describe / shorten)."""
        if self.status != "SUCCESS" or self.action in ("DESCRIBE", "SHORTEN", "SWAP_FACE"):
            return []
        h = self.hash
        if self.action == "VIDEO" and self.batch > 1:
            rows = [(f"MJ::JOB::video_virtual_upscale::{i}::{h}", f"U{i}", "") for i in range(1, self.batch + 1)]
            rows.append((f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄"))
        elif self.action == "VIDEO":
            rows = [
                (f"MJ::JOB::animate_high_extend::1::{h}", "Extend (High motion)", "🎞️"),
                (f"MJ::JOB::animate_low_extend::1::{h}", "Extend (Low motion)", "🎞️"),
            ]
        elif self.action == "UPSCALE":
            rows = [
                (f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
                (f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
                (f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
                (f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
                (f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍"),
                (f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
                (f"MJ::JOB::pan_left::1::{h}::SOLO", "", "⬅️"),
                (f"MJ::JOB::pan_right::1::{h}::SOLO", "", "➡️"),
                (f"MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)", "🎞️"),
                (f"MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)", "🎞️"),
            ]
        else:
            rows = [(f"MJ::JOB::upsample::{i}::{h}", f"U{i}", "") for i in range(1, 5)]
            rows.append((f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄"))
            rows += [(f"MJ::JOB::variation::{i}::{h}", f"V{i}", "") for i in range(1, 5)]
        return [{"customId": c, "label": label, "emoji": e, "style": 2, "type": 2} for c, label, e in rows]

    def media(self, origin: str) -> dict[str, Any]:
        """``imageUrl`` (a video's first clip, as the plus API gives it), and with ``cdn`` the plus API's
        ``imageUrls`` (a grid's four images; a video's clips) and ``videoUrls`` (``{url, thumbnail}``)."""
        if self.status != "SUCCESS" or self.action in ("DESCRIBE", "SHORTEN"):
            return {"imageUrl": None}
        if self.action == "VIDEO":
            clips = [
                {"url": f"{origin}/mj/video/{self.id}/{i}.mp4", "thumbnail": f"{origin}/mj/video/{self.id}/{i}.webp"}
                for i in range(self.batch)
            ]
            media: dict[str, Any] = {"imageUrl": clips[0]["url"]}
            if self.cdn:
                media |= {"videoUrl": clips[0]["url"], "videoUrls": clips, "imageUrls": clips}
            return media
        media = {"imageUrl": f"{origin}/mj/image/{self.id}"}
        if self.cdn and self.action in _GRID_ACTIONS:
            tiles = [f"{origin}/mj/image/{self.id}/{i}" for i in range(4)]
            media["imageUrls"] = [{"url": url, "thumbnail": url} for url in tiles]
        return media

    def to_json(self, origin: str) -> dict[str, Any]:
        """The task object the proxy answers (and pushes)."""
        return {
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "prompt": self.prompt,
            "promptEn": self.prompt,
            "description": self.description,
            "state": self.state,
            "submitTime": self.submit_time,
            "startTime": self.start_time,
            "finishTime": self.finish_time,
            "progress": self.progress(),
            **self.media(origin),
            "failReason": self.fail_reason if self.status == "FAILURE" else None,
            "buttons": self.buttons(),
            "seed": self.seed,
            "properties": {"finalPrompt": self.final_prompt or self.prompt, "discordInstanceId": "mock-instance"},
        }


def _tasks(request: web.Request) -> dict[str, Any]:
    return request.app[STATE_KEY].tasks


def find_task(request: web.Request, task_id: object) -> MjTask | None:
    """The proxy's task ``task_id`` (None: no such task)."""
    task = _tasks(request).get(f"mj:{task_id}") if isinstance(task_id, str) else None
    return task if isinstance(task, MjTask) else None


def answer(code: int, description: str, result: Any = None, **props: Any) -> web.Response:
    """The proxy's ``SubmitResultVO``: ``{code, description, result, properties}`` (HTTP 200)."""
    return json_response({"code": code, "description": description, "result": result, "properties": props})


async def _begin_submit(request: web.Request, prompt_of: str) -> tuple[Exchange, Directive, str] | web.StreamResponse:
    """The exchange, the directive of the body's ``prompt_of`` field and the cleaned text (or the answer
    that ends the submit early: auth, a scripted fault, code 23 for a full queue)."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    text = ex.body.get(prompt_of) if isinstance(ex.body, dict) else None
    resolved = ex.resolve(text if isinstance(text, str) else "")
    if isinstance(resolved, web.Response):
        return resolved
    d, clean = resolved
    early = await ex.preamble(d, False)
    if early is None and d.code == "23":
        early = answer(23, "队列已满，请稍后尝试 (the queue is full)", None, numberOfQueues=10)
    return early if early is not None else (ex, d, clean)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Submit = Callable[[Exchange, Directive, str], Awaitable[web.StreamResponse]]
"""A submit's own part: ``(exchange, directive, cleaned text)`` to its answer."""


def submit_route(prompt_of: str) -> Callable[[Submit], Handler]:
    """A submit route from its own part: the prologue every submit shares (``_begin_submit`` on the body's
    ``prompt_of`` field; its early answer ends the submit) runs first."""

    def wrap(submit: Submit) -> Handler:
        @functools.wraps(submit)
        async def route(request: web.Request) -> web.StreamResponse:
            got = await _begin_submit(request, prompt_of)
            if not isinstance(got, tuple):
                return got
            return await submit(*got)

        return route

    return wrap


def create_task(ex: Exchange, d: Directive, action: str, prompt: str, **kw: Any) -> MjTask:
    """A new task on the timeline ``d`` scripts (its ``state`` and ``notifyHook`` from the body)."""
    serial = ex.state.next_serial()
    failure = None
    if d.body_error not in (None, False):
        failure = d.message or "Banned prompt detected by the mock"
    pending = d.pending_polls if d.pending_polls is not None else _DEFAULT_PENDING
    task = MjTask(f"{1700000000000 + serial}", action, prompt, pending, list(d.poll_faults), failure, **kw)
    body = ex.body if isinstance(ex.body, dict) else {}
    task.state = body.get("state") if isinstance(body.get("state"), str) else None
    task.cdn = WIRE.key(ex.request).startswith("cdn")
    hook = body.get("notifyHook")
    ex.state.tasks[f"mj:{task.id}"] = task
    if isinstance(hook, str) and hook:
        task.notify = hook
        _push(ex.request, task)
    return task


def submitted(task: MjTask, d: Directive) -> web.Response:
    """The submit's answer: code 1, or 22 (queued) when ``d`` says ``code: "22"``."""
    if d.code == "22":
        return answer(22, "In queue, there are 1 tasks ahead", task.id, numberOfQueues=1)
    return answer(1, "Submit success", task.id, discordInstanceId="mock-instance")


@submit_route("prompt")
async def imagine(ex: Exchange, d: Directive, clean: str) -> web.StreamResponse:
    """``POST /mj/submit/imagine {prompt, base64Array?}``."""
    if not clean:
        return answer(4, "prompt不能为空 (prompt must not be empty)")
    if d.code == "24":
        return answer(24, "可能包含敏感词 (may contain banned words)", None, promptEn=clean, bannedWord="banned")
    return submitted(create_task(ex, d, "IMAGINE", clean), d)


@submit_route("state")
async def blend(ex: Exchange, d: Directive, _clean: str) -> web.StreamResponse:
    """``POST /mj/submit/blend {base64Array[2..5], dimensions}``."""
    images = ex.body.get("base64Array")
    if not isinstance(images, list) or not 2 <= len(images) <= 5:
        return answer(4, "base64List参数错误 (base64Array must hold 2 to 5 images)")
    return submitted(create_task(ex, d, "BLEND", ""), d)


@submit_route("state")
async def describe(ex: Exchange, d: Directive, _clean: str) -> web.StreamResponse:
    """``POST /mj/submit/describe {base64}``: four prompts in ``properties.finalPrompt`` once done."""
    if not isinstance(ex.body.get("base64"), str) or not ex.body["base64"]:
        return answer(4, "base64参数错误 (base64 is required)")
    task = create_task(ex, d, "DESCRIBE", "")
    task.final_prompt = "1️⃣ a mock cat --ar 1:1\n\n2️⃣ a mock dog\n\n3️⃣ a mock bird\n\n4️⃣ a mock fish"
    return submitted(task, d)


@submit_route("prompt")
async def shorten(ex: Exchange, d: Directive, clean: str) -> web.StreamResponse:
    """``POST /mj/submit/shorten {prompt}``."""
    if not clean:
        return answer(4, "prompt不能为空 (prompt must not be empty)")
    task = create_task(ex, d, "SHORTEN", clean)
    task.final_prompt = " ".join(clean.split()[:5])
    return submitted(task, d)


async def _follow_up(ex: Exchange, d: Directive, parent: MjTask | None, action: str, index: int) -> web.Response:
    if parent is None:
        return answer(3, "关联任务不存在或已失效 (the task does not exist)")
    if parent.status != "SUCCESS":
        return answer(4, "关联任务状态错误 (the task has not succeeded)")
    if not 1 <= index <= 4 and action != "REROLL":
        return answer(4, "index must be 1 to 4")
    task = create_task(ex, d, action, parent.prompt, parent=parent.id, index=index)
    return submitted(task, d)


@submit_route("state")
async def change(ex: Exchange, d: Directive, _clean: str) -> web.StreamResponse:
    """``POST /mj/submit/change {taskId, action UPSCALE|VARIATION|REROLL, index}``."""
    action, index = ex.body.get("action"), ex.body.get("index")
    if action not in ("UPSCALE", "VARIATION", "REROLL"):
        return answer(4, "action参数错误 (action must be UPSCALE, VARIATION or REROLL)")
    index = index if isinstance(index, int) else 0
    return await _follow_up(ex, d, find_task(ex.request, ex.body.get("taskId")), str(action), index)


@submit_route("state")
async def simple_change(ex: Exchange, d: Directive, _clean: str) -> web.StreamResponse:
    """``POST /mj/submit/simple-change {content: "<taskId> U2"}``."""
    parts = str(ex.body.get("content") or "").split()
    actions = {"U": "UPSCALE", "V": "VARIATION", "R": "REROLL"}
    if len(parts) != 2 or not parts[1] or parts[1][0].upper() not in actions:
        return answer(4, "content参数错误 (content is '<taskId> U1..U4|V1..V4|R')")
    code = parts[1].upper()
    index = int(code[1:]) if code[1:].isdigit() else 0
    return await _follow_up(ex, d, find_task(ex.request, parts[0]), actions[code[0]], index)


def _action_of(custom_id: str) -> tuple[str, int]:
    parts = custom_id.split("::")
    kind = parts[2] if len(parts) > 2 and parts[1] == "JOB" else parts[1] if len(parts) > 1 else ""
    index = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 1
    actions = {"upsample": "UPSCALE", "variation": "VARIATION", "high_variation": "VARIATION"}
    actions |= {"low_variation": "VARIATION", "reroll": "REROLL", "Outpaint": "ZOOM", "CustomZoom": "ZOOM"}
    actions |= {"Inpaint": "INPAINT", "video_virtual_upscale": "VIDEO"}
    if kind.startswith("animate_"):
        return "VIDEO", index
    return actions.get(kind, "PAN" if kind.startswith("pan_") else "ACTION"), index


@submit_route("state")
async def action(ex: Exchange, d: Directive, _clean: str) -> web.StreamResponse:
    """``POST /mj/submit/action {taskId, customId, enableRemix?}``: code 21 and a ``MODAL`` task for a
    button that opens a dialog (zoom, inpaint) or a remix."""
    parent, custom_id = find_task(ex.request, ex.body.get("taskId")), ex.body.get("customId")
    if parent is None:
        return answer(3, "关联任务不存在或已失效 (the task does not exist)")
    if not isinstance(custom_id, str) or custom_id not in {b["customId"] for b in parent.buttons()}:
        return answer(4, "customId参数错误 (customId is not a button of the task)")
    kind, index = _action_of(custom_id)
    task = create_task(ex, d, kind, parent.prompt, parent=parent.id, index=index)
    task.batch = 1 if "::video_virtual_upscale::" in custom_id else 4
    if custom_id.startswith(_MODAL_PREFIXES) or ex.body.get("enableRemix") is True:
        task.status = "MODAL"
        task.description = "Waiting for window confirm"
        return answer(21, "Waiting for window confirm", task.id, finalPrompt=parent.prompt, remix=True)
    return submitted(task, d)


@submit_route("prompt")
async def modal(ex: Exchange, d: Directive, clean: str) -> web.StreamResponse:
    """``POST /mj/submit/modal {taskId, prompt, maskBase64}``: a ``MODAL`` task goes on."""
    task = find_task(ex.request, ex.body.get("taskId"))
    if task is None:
        return answer(3, "关联任务不存在或已失效 (the task does not exist)")
    if task.status != "MODAL":
        return answer(4, "任务状态错误 (the task is not waiting for a dialog)")
    if task.action == "INPAINT" and not ex.body.get("maskBase64"):
        return answer(4, "maskBase64不能为空 (an inpaint needs maskBase64)")
    task.status = "SUBMITTED"
    task.description = "Submit success"
    task.prompt = clean or task.prompt
    if d.body_error not in (None, False):
        task.fail_reason = d.message or "mock failure"
    return answer(1, "Submit success", task.id)


def _poll(request: web.Request, task: MjTask) -> web.Response | None:
    """One read of ``task``: a scripted fault's answer, or None after moving it on."""
    if task.faults:
        fault = task.faults.pop(0)
        if isinstance(fault, int):
            return WIRE.error(fault, "mock poll fault", retry_after=1 if fault == 429 else None)
    if task.notify is None:
        task.step()
    return None


async def fetch(request: web.Request) -> web.StreamResponse:
    """``GET /mj/task/{id}/fetch``: the task object (``null`` when there is none, as the proxy answers)."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = find_task(request, request.match_info["id"])
    if task is None:
        return web.Response(body=b"null", content_type="application/json")
    fault = _poll(request, task)
    return fault or json_response(task.to_json(str(request.url.origin())))


async def list_by_condition(request: web.Request) -> web.StreamResponse:
    """``POST /mj/task/list-by-condition {ids}``: the tasks found, in the order asked."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    ids = ex.body.get("ids")
    if not isinstance(ids, list):
        return WIRE.error(400, "ids must be a list")
    found = [t for t in (find_task(request, i) for i in ids) if t is not None]
    for task in found:
        fault = _poll(request, task)
        if fault is not None:
            return fault
    return json_response([t.to_json(str(request.url.origin())) for t in found])


def _png(width: int, height: int, seed: int, grid: bool) -> bytes:
    if not grid:
        return media_bytes.image("png", width, height, seed)
    canvas = Image.new("RGB", (2 * width, 2 * height))
    for i in range(4):
        tile = Image.open(io.BytesIO(media_bytes.image("png", width, height, seed + i)))
        canvas.paste(tile, ((i % 2) * width, (i // 2) * height))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return buf.getvalue()


async def image(request: web.Request) -> web.StreamResponse:
    """``GET /mj/image/{id}`` (no key): the finished task's PNG; ``/mj/image/{id}/{0-3}`` one image of
    its grid (the plus API's ``imageUrls``)."""
    log_request(request, WIRE.name, None)
    task = find_task(request, request.match_info["id"])
    tile = request.match_info.get("tile")
    if task is None or task.status != "SUCCESS" or task.action in ("DESCRIBE", "SHORTEN", "VIDEO"):
        return web.json_response({"error": "no such image"}, status=404)
    seed = int(task.id) % 16
    if tile is None:
        body = _png(GRID_SIZE, GRID_SIZE, seed, task.action in _GRID_ACTIONS)
    elif tile in ("0", "1", "2", "3") and task.action in _GRID_ACTIONS:
        body = _png(GRID_SIZE, GRID_SIZE, seed + int(tile), False)
    else:
        return web.json_response({"error": "no such image"}, status=404)
    return web.Response(body=body, content_type="image/png")


def _push(request: web.Request, task: MjTask) -> None:
    background = request.app[STATE_KEY].background
    origin = str(request.url.origin())
    job = asyncio.create_task(_notify(task, origin), name=f"mock-mj-notify-{task.id}")
    background.add(job)
    job.add_done_callback(background.discard)


async def _notify(task: MjTask, origin: str) -> None:
    assert task.notify is not None
    last = (task.status, task.progress())
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as session:
        while task.status not in _ENDS:
            await asyncio.sleep(NOTIFY_STEP)
            task.step()
            now = (task.status, task.progress())
            if now == last:
                continue
            last = now
            try:
                async with session.post(task.notify, json=task.to_json(origin)) as response:
                    await response.read()
                    task.pushes.append((task.status, response.status))
            except (aiohttp.ClientError, TimeoutError):
                task.pushes.append((task.status, 0))


def routes(router: web.UrlDispatcher) -> None:
    """Register the proxy's routes."""
    submits = {"imagine": imagine, "blend": blend, "describe": describe, "shorten": shorten, "change": change}
    submits |= {"simple-change": simple_change, "action": action, "modal": modal}
    for prefix in PREFIXES:
        for name, handler in submits.items():
            router.add_post(f"{prefix}/mj/submit/{name}", handler)
        router.add_get(f"{prefix}/mj/task/{{id}}/fetch", fetch)
        router.add_post(f"{prefix}/mj/task/list-by-condition", list_by_condition)
    router.add_get("/mj/image/{id}", image)
    router.add_get("/mj/image/{id}/{tile}", image)
