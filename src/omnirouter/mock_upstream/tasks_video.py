"""The timeline and result files every mock video task vendor shares (Kling, Vidu, MiniMax Hailuo, Ark
Seedance and Jimeng in ``tasks_video_a``; Sora and Veo in ``tasks_video_b``; DashScope Wan, Tencent
Hunyuan and PixVerse in ``tasks_video_b_vendors``).

A submit's directive scripts its task; polls take none.  Each poll answers, in order: one ``poll_faults``
entry (``"not_found"``: the vendor's no-such-task answer; ``"unknown"``: a status the vendor does not
document; ``500``: an HTML error page; ``429``: the vendor's rate-limit error with ``Retry-After: 1``;
another HTTP status: the vendor's error JSON), then ``pending_polls`` polls in progress (default 2: the
first queued, the rest running with growing progress), then success — or the vendor's terminal failure
when ``body_error`` is set (true, or the vendor's failure code; ``message`` is its reason).  ``delay``
makes the task first, then waits (a client that timed out still left a task, as at the vendor); ``fail``
/ ``garbage`` refuse the submit as usual.  Result files (``/media/tasks/{token}/{file}`` without a key,
or a vendor's keyed download route) answer 404 after ``media_fetches`` fetches each, or ``media_ttl``
seconds after the task finished.  A task submitted with a callback URL moves by the clock instead and
is pushed to it (``tasks_callbacks``).  ``poll_delay`` holds each poll that long before it answers; every
poll is counted while in flight (``VideoTask.most_in_flight``: the most polls of one task at once) and its
arrival time kept (``polled_at``) — for the replica tests and the scale benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from omnirouter.mock_upstream import media_video
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, Wire, log_request
from omnirouter.mock_upstream.directives import Directive

DEFAULT_PENDING = 2
UNKNOWN = "mock_unknown_state"
"""The status a poll answers for the ``"unknown"`` fault where the vendor's status is a string."""
FILES = ("video.mp4", "cover.jpeg", "last_frame.jpeg")
"""The files ``/media/tasks/{token}/…`` serves (keyed vendor routes name their own)."""
_HTML_500 = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500</h1></body></html>"


@dataclass(slots=True)
class VideoTask:
    """One video task at a mock vendor and its scripted timeline; ``width`` x ``height`` is the size the
    vendor reports (the MP4 is a scaled-down frame of that shape)."""

    vendor: str
    id: str
    token: str
    model: str
    prompt: str
    seconds: float
    width: int
    height: int
    created: float
    pending: int
    faults: list[str | int]
    failure: tuple[str, str] | None  # (the vendor's code, the reason): "" where the directive named none
    fetches: int | None
    ttl: float | None
    seed: int
    info: dict[str, Any] = field(default_factory=dict)
    polls: int = 0  # polls the task has spent in progress
    finished: float | None = None
    cancelled: bool = False
    served: dict[str, int] = field(default_factory=dict)
    callback: str | None = None  # where the vendor pushes states (``tasks_callbacks``): the clock moves it
    pushes: list[tuple[str, int]] = field(default_factory=list)  # (state, the callback answer's status)
    poll_delay: float = 0.0
    in_flight: int = 0  # polls of this task being answered now
    most_in_flight: int = 0
    polled_at: list[float] = field(default_factory=list)

    def failure_code(self, default: str) -> str:
        """The vendor's failure code the directive named, else ``default``."""
        return (self.failure[0] if self.failure else "") or default

    def reason(self, default: str) -> str:
        """The failure reason the directive gave (``message``), else ``default``."""
        return (self.failure[1] if self.failure else "") or default


async def script(ex: Exchange, text: str) -> tuple[Directive, str] | web.StreamResponse:
    """The submit's directive and the cleaned prompt, or its early answer (``fail``, ``garbage``);
    ``delay`` waits in ``new_task``, after the task exists."""
    resolved = ex.resolve(text)
    if isinstance(resolved, web.Response):
        return resolved
    d, clean = resolved
    early = await ex.preamble(msgspec.structs.replace(d, delay=0.0), False)
    return early if early is not None else (d, clean)


async def new_task(
    ex: Exchange,
    d: Directive,
    vendor: str,
    *,
    model: str,
    prompt: str,
    seconds: float,
    size: tuple[int, int],
    prefix: str = "",
    digits: int = 8,
    alias: str | None = None,
    **info: Any,
) -> VideoTask:
    """Register a task of ``vendor`` scripted by ``d`` (id ``prefix`` + a serial of ``digits``; ``alias``
    another id that finds it, as Kling's ``external_task_id``), then wait ``delay``."""
    serial = ex.state.next_serial()
    failure = None
    if d.body_error not in (None, False):
        failure = ("" if d.body_error is True else str(d.body_error), d.message or "")
    task = VideoTask(
        vendor, f"{prefix}{serial:0{digits}d}", f"{vendor}-{serial:08d}", model, prompt, seconds, size[0], size[1],
        time.time(), d.pending_polls if d.pending_polls is not None else DEFAULT_PENDING, list(d.poll_faults),
        failure, d.media_fetches, d.media_ttl, serial % 16, info,
    )  # fmt: skip
    task.poll_delay = d.poll_delay
    ex.state.tasks[f"{vendor}:{task.id}"] = task
    ex.state.tasks[f"media:{task.token}"] = task
    if alias:
        ex.state.tasks[f"{vendor}-alias:{alias}"] = task
    if d.delay > 0:
        await asyncio.sleep(d.delay)
    return task


def find(request: web.Request, vendor: str, task_id: str) -> VideoTask | None:
    """The task of ``vendor`` whose id (or alias) is ``task_id``, if any."""
    tasks = request.app[STATE_KEY].tasks
    task = tasks.get(f"{vendor}:{task_id}") or tasks.get(f"{vendor}-alias:{task_id}")
    return task if isinstance(task, VideoTask) else None


def tasks_of(request: web.Request, vendor: str) -> list[VideoTask]:
    """Every task of ``vendor``, oldest first."""
    return [
        t for k, t in request.app[STATE_KEY].tasks.items() if k.startswith(f"{vendor}:") and isinstance(t, VideoTask)
    ]


def forget(request: web.Request, task: VideoTask) -> None:
    """Delete ``task`` (its files go with it)."""
    tasks = request.app[STATE_KEY].tasks
    tasks.pop(f"{task.vendor}:{task.id}", None)
    tasks.pop(f"media:{task.token}", None)


@contextlib.asynccontextmanager
async def polling(task: VideoTask | None) -> AsyncIterator[None]:
    """One poll of ``task`` in flight: counted (``in_flight``, ``most_in_flight``), its arrival kept
    (``polled_at``), held ``poll_delay`` seconds before it answers."""
    if task is None:
        yield
        return
    task.in_flight += 1
    task.most_in_flight = max(task.most_in_flight, task.in_flight)
    task.polled_at.append(time.time())
    try:
        if task.poll_delay > 0:
            await asyncio.sleep(task.poll_delay)
        yield
    finally:
        task.in_flight -= 1


def advance(task: VideoTask | None, wire: Wire) -> str | web.Response:
    """One poll: ``not_found``, ``unknown``, ``queued``, ``running``, ``succeeded``, ``failed`` or
    ``cancelled`` — or the answer of a scripted HTTP fault."""
    if task is None:
        return "not_found"
    if task.faults and not task.cancelled:
        fault = task.faults.pop(0)
        if fault == 500:
            return web.Response(body=_HTML_500, status=500, content_type="text/html")
        if fault == 429:
            return wire.error(429, "Rate limit reached for requests", retry_after=1)
        if isinstance(fault, int):
            return wire.error(fault, "The server had an error while processing your request.")
        return fault
    return status_of(task, step=task.callback is None)  # a task with a callback moves by the clock


def status_of(task: VideoTask, *, step: bool = False) -> str:
    """The task's status now (``step``: a poll passes): ``queued``, ``running``, ``succeeded``, ``failed``
    or ``cancelled`` (a terminal task stays so)."""
    if task.cancelled:
        return "cancelled"
    if task.pending > 0:
        if step:
            task.pending -= 1
            task.polls += 1
        return "queued" if task.polls <= 1 else "running"
    if task.finished is None:
        task.finished = time.time()
    return "failed" if task.failure is not None else "succeeded"


def progress(task: VideoTask) -> int:
    """A percentage that grows with the polls (100 once finished)."""
    if task.finished is not None:
        return 100
    return min(99, task.polls * 100 // (task.polls + task.pending + 1))


def media_url(request: web.Request, task: VideoTask, name: str) -> str:
    """The keyless URL of result file ``name`` (one of ``FILES``)."""
    return f"{request.url.origin()}/media/tasks/{task.token}/{name}"


def serve(task: VideoTask, name: str) -> web.Response:
    """Result file ``name`` of a finished ``task`` (``*.mp4``: the video; ``*.webp``/``*.jpeg``: a still),
    or 404 once it expired (``media_fetches`` per file, ``media_ttl``)."""
    expired = web.json_response({"error": "the link has expired"}, status=404)
    if task.ttl is not None and task.finished is not None and time.time() > task.finished + task.ttl:
        return expired
    served = task.served.get(name, 0)
    if task.fetches is not None and served >= task.fetches:
        return expired
    task.served[name] = served + 1
    if name.endswith(".mp4"):
        body = media_video.mp4(task.seconds, task.width, task.height, task.seed)
        return web.Response(body=body, content_type="video/mp4")
    fmt = "webp" if name.endswith(".webp") else "jpeg"
    return web.Response(body=media_video.still(fmt, task.width, task.height, task.seed), content_type=f"image/{fmt}")


async def task_media(request: web.Request) -> web.StreamResponse:
    """``GET /media/tasks/{token}/{video.mp4|cover.jpeg|last_frame.jpeg}`` (signed-URL style: no key;
    the query is ignored)."""
    log_request(request, "media", None)
    task = request.app[STATE_KEY].tasks.get(f"media:{request.match_info['token']}")
    name = request.match_info["file"]
    if not isinstance(task, VideoTask) or name not in FILES or status_of(task) != "succeeded":
        return web.json_response({"error": "no such media"}, status=404)
    return serve(task, name)
