"""A generic asynchronous video vendor with scripted timelines, for the task engine's tests (and any
test that needs a task vendor whose every poll answer is chosen).

Wire (OpenAI-style bearer auth and errors):

* ``POST /mockvideo/tasks`` ``{model, prompt, seconds?, external_id?, timeline?, file_failures?,
  file_failure_status?, files_need_key?, file_redirect?}`` →
  ``{id, status: "queued"}``; an ``external_id`` already seen answers the same task (the vendor dedupes);
  a scripted directive (``fail``, ``delay``, …) applies to the submit.
* ``GET /mockvideo/tasks/{id}`` → ``{id, status, progress, seconds?, video_url?, thumbnail_url?, failure?}``:
  each poll takes the next step of ``timeline`` (the last one repeats).  Steps: ``queued``,
  ``running:<percent>``, ``succeeded``, ``failed``, ``unknown`` (a status nobody documented),
  ``500`` (an HTML error page), ``429:<seconds>`` (with ``Retry-After``), ``not_found`` (404),
  ``error200`` (an error inside a 200 body), ``slow:<seconds>`` (``queued``, that much later).
  Default: ``queued``, ``running:50``, ``succeeded``.
* ``GET /mockvideo/tasks?external_id=…`` → ``{data: [{id, status}]}`` (empty when none).
* ``GET /mockvideo/files/{id}/{video|thumbnail}`` → the result bytes (no auth: a signed vendor link);
  the first ``file_failures`` fetches of a task's files answer ``file_failure_status`` (default 500).
  With ``files_need_key`` the poll says so (``files_need_key: true``: the codec sends the channel's key
  with the fetch); with
  ``file_redirect`` a fetch is redirected (302) to the same file on another origin (``localhost``
  instead of the address asked).  The ``Authorization`` header of every fetch is kept in ``file_auth``.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream.core import STATE_KEY, Exchange, as_int, begin, json_response
from omnirouter.mock_upstream.media_common import directive
from omnirouter.mock_upstream.openai_chat import WIRE

DEFAULT_TIMELINE = ("queued", "running:50", "succeeded")
DEFAULT_SECONDS = 5.0


@dataclass(slots=True)
class VideoTask:
    """One scripted task: its timeline, how far it got, and what it makes."""

    id: str
    external_id: str | None
    timeline: list[str]
    seconds: float
    file_failures: int
    file_failure_status: int = 500
    files_need_key: bool = False
    file_redirect: bool = False
    file_auth: list[str | None] = field(default_factory=list)
    polls: int = 0
    fetches: int = 0
    steps: list[str] = field(default_factory=list)


def file_bytes(task_id: str, variant: str) -> bytes:
    """The bytes a task's result file holds (deterministic, so tests can compare what was stored)."""
    seed = hashlib.sha256(f"{task_id}/{variant}".encode()).digest()
    return (b"\x00\x00\x00\x18ftypmp42" if variant == "video" else b"\xff\xd8\xff\xe0") + seed * 8


def _tasks(request: web.Request) -> dict[str, Any]:
    return request.app[STATE_KEY].tasks


async def submit(request: web.Request) -> web.StreamResponse:
    """``POST /mockvideo/tasks``."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return WIRE.error(400, "'prompt' is required.", "invalid_request_error", code="missing_prompt")
    got = await directive(ex, prompt)  # a queued or inline directive: fail, delay, ...
    if not isinstance(got, tuple):
        return got
    external = body.get("external_id")
    tasks = _tasks(request)
    if isinstance(external, str):
        for task in tasks.values():
            if isinstance(task, VideoTask) and task.external_id == external:
                return json_response({"id": task.id, "status": "queued"})
    timeline = body.get("timeline")
    steps = [str(s) for s in timeline] if isinstance(timeline, list) and timeline else list(DEFAULT_TIMELINE)
    seconds = body.get("seconds")
    task = VideoTask(
        id=f"mv-{ex.state.next_serial():08d}",
        external_id=external if isinstance(external, str) else None,
        timeline=steps,
        seconds=float(seconds) if isinstance(seconds, int | float) and seconds > 0 else DEFAULT_SECONDS,
        file_failures=as_int(body.get("file_failures")) or 0,
        file_failure_status=as_int(body.get("file_failure_status")) or 500,
        files_need_key=body.get("files_need_key") is True,
        file_redirect=body.get("file_redirect") is True,
    )
    tasks[task.id] = task
    return json_response({"id": task.id, "status": "queued"})


async def find(request: web.Request) -> web.StreamResponse:
    """``GET /mockvideo/tasks?external_id=``."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    external = request.query.get("external_id")
    found = [
        {"id": t.id, "status": "queued"}
        for t in _tasks(request).values()
        if isinstance(t, VideoTask) and external and t.external_id == external
    ]
    return json_response({"data": found})


async def poll(request: web.Request) -> web.StreamResponse:
    """``GET /mockvideo/tasks/{id}``: the next step of the task's timeline."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = _tasks(request).get(request.match_info["task_id"])
    if not isinstance(task, VideoTask):
        return WIRE.error(404, "No such task.", "invalid_request_error", code="not_found")
    step = task.timeline[min(task.polls, len(task.timeline) - 1)]
    task.polls += 1
    task.steps.append(step)
    name, _, arg = step.partition(":")
    answer: dict[str, Any] = {"id": task.id, "status": name, "progress": 0}
    if name == "slow":
        await asyncio.sleep(float(arg or 1))
        answer["status"] = "queued"
    elif name == "500":
        return web.Response(status=500, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
    if name == "429":
        return WIRE.error(429, "Slow down.", "rate_limit_error", retry_after=float(arg or 1))
    if name == "not_found":
        return WIRE.error(404, "No such task.", "invalid_request_error", code="not_found")
    if name == "error200":
        return json_response({"error": {"code": "internal", "message": "try again"}})
    if name == "unknown":
        answer["status"] = "warming_up"
    elif name == "running":
        answer["progress"] = int(arg or 50)
    elif name == "succeeded":
        origin = request.url.origin()
        answer.update(
            progress=100,
            seconds=task.seconds,
            video_url=f"{origin}/mockvideo/files/{task.id}/video",
            thumbnail_url=f"{origin}/mockvideo/files/{task.id}/thumbnail",
        )
        if task.files_need_key:
            answer["files_need_key"] = True
    elif name == "failed":
        answer["failure"] = {"code": "content_policy", "message": "The prompt was refused."}
    return json_response(answer)


async def file(request: web.Request) -> web.StreamResponse:
    """``GET /mockvideo/files/{id}/{variant}``."""
    task = _tasks(request).get(request.match_info["task_id"])
    variant = request.match_info["variant"]
    if not isinstance(task, VideoTask) or variant not in ("video", "thumbnail"):
        return web.Response(status=404, text="not found")
    task.file_auth.append(request.headers.get("Authorization"))
    if task.file_redirect and request.url.host != "localhost":
        raise web.HTTPFound(request.url.with_host("localhost").human_repr())
    task.fetches += 1
    if task.fetches <= task.file_failures:
        return web.Response(status=task.file_failure_status, text="<html>storage hiccup</html>",
                            content_type="text/html")  # fmt: skip
    mime = "video/mp4" if variant == "video" else "image/jpeg"
    return web.Response(body=file_bytes(task.id, variant), content_type=mime)


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the mock video vendor's routes."""
    router.add_post("/mockvideo/tasks", submit)
    router.add_get("/mockvideo/tasks", find)
    router.add_get("/mockvideo/tasks/{task_id}", poll)
    router.add_get("/mockvideo/files/{task_id}/{variant}", file)
