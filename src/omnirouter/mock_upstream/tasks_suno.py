"""A mock Suno-API server (github.com/Suno-API/Suno-API, the upstream of new-api's Suno channel) in its wire
format: ``Authorization: Bearer`` (a missing key or one starting ``bad``/``invalid`` is refused), answers
in the ``{code: "success", message, data}`` envelope, errors as ``{code, message, data: null}``.

``POST /suno/submit/{music|lyrics}`` → ``data``: the task id; ``GET /suno/fetch/{id}`` → ``data``: the task;
``POST /suno/fetch {ids}`` → ``data``: the tasks found.  A task ``{task_id, action, status, fail_reason,
submit_time, start_time, finish_time, progress, data}`` moves on the shared timeline of ``tasks_video``
(scripted by the prompt's directive: ``pending_polls``, ``poll_faults``, ``body_error`` + ``message``,
``delay``, ``media_fetches``, ``media_ttl``); statuses ``SUBMITTED``, ``IN_PROGRESS``, ``SUCCESS``,
``FAILURE``.  A music task's ``data`` is two clips, each with a real MP3 (``audio_url``) and a JPEG cover
(``image_url``) served keyless at ``/suno/media/{token}/{clip}.{mp3|jpeg}``; a lyrics task's ``data`` is
``{id, text, title, status}``.  A batch fetch advances each task as one poll would.  A ``continue_clip_id``
must be one of its own finished clips (``{task id}-clip{n}``; another is a 400), as Suno knows only its own.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream import media_bytes, media_video
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, begin, json_response, log_request
from omnirouter.mock_upstream.media_wires import VendorWire
from omnirouter.mock_upstream.tasks_video import UNKNOWN, VideoTask, advance, find, new_task, script, status_of

CLIP_SECONDS = 2.0
"""The length of each mock clip's MP3."""
_CLIPS = 2
_STATUS = {"queued": "SUBMITTED", "running": "IN_PROGRESS", "succeeded": "SUCCESS", "failed": "FAILURE"}


class SunoWire(VendorWire):
    """Suno-API: Bearer; errors ``{code, message, data: null}``."""

    name = "suno"
    missing = "token is required"
    invalid = "invalid token"
    body_code = "error"

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{code, message, data}``."""
        return {"code": code or ("unauthorized" if error_type == "auth" else "error"), "message": message, "data": None}


SUNO = SunoWire()


def _ok(data: Any) -> web.Response:
    return json_response({"code": "success", "message": "", "data": data})


async def submit(request: web.Request) -> web.StreamResponse:
    """``POST /suno/submit/{music|lyrics}``."""
    ex = await begin(request, SUNO)
    if not isinstance(ex, Exchange):
        return ex
    action = request.match_info["action"].lower()
    body = ex.body
    prompt = body.get("prompt") if action == "lyrics" else body.get("prompt") or body.get("gpt_description_prompt")
    if not isinstance(prompt, str) or not prompt:
        return SUNO.error(400, "prompt is required", code="invalid_request")
    if action == "music" and "continue_clip_id" in body and not isinstance(body.get("continue_at"), int | float):
        return SUNO.error(400, "continue_at is required to continue a clip", code="invalid_request")
    clip = body.get("continue_clip_id")
    if action == "music" and clip is not None and not _known_clip(request, clip):
        return SUNO.error(400, f"clip {clip} not found", code="invalid_request")
    got = await script(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    fields = {k: body.get(k) for k in ("mv", "title", "tags", "make_instrumental", "continue_at", "continue_clip_id")}
    task = await new_task(
        ex, d, "suno", model=str(body.get("mv") or "chirp-v3-5"), prompt=clean, seconds=CLIP_SECONDS,
        size=(512, 512), prefix="suno-", action=action.upper(), fields=fields,
    )  # fmt: skip
    return _ok(task.id)


def _known_clip(request: web.Request, clip_id: Any) -> bool:
    """Whether ``clip_id`` is a clip this server made (``{task id}-clip{n}`` of a succeeded task)."""
    task_id, _, clip = str(clip_id).rpartition("-")
    task = find(request, "suno", task_id)
    clips = {f"clip{index}" for index in range(_CLIPS)}
    return task is not None and clip in clips and status_of(task) == "succeeded"


def _clip(request: web.Request, task: VideoTask, index: int) -> dict[str, Any]:
    fields: dict[str, Any] = task.info["fields"]
    base = f"{request.url.origin()}/suno/media/{task.token}/clip{index}"
    return {
        "id": f"{task.id}-clip{index}", "status": "complete", "title": fields.get("title") or "Untitled",
        "audio_url": f"{base}.mp3", "image_url": f"{base}.jpeg", "image_large_url": f"{base}.jpeg", "video_url": "",
        "model_name": task.model, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(task.created)),
        "metadata": {"tags": fields.get("tags") or "", "prompt": task.prompt, "type": "gen",
                     "duration": CLIP_SECONDS, "continue_at": fields.get("continue_at"),
                     "continue_clip_id": fields.get("continue_clip_id")},
    }  # fmt: skip


def _task_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    submitted = int(task.created)
    obj: dict[str, Any] = {
        "task_id": task.id, "notify_hook": "", "action": task.info["action"],
        "status": _STATUS.get(status, UNKNOWN), "fail_reason": "", "submit_time": submitted,
        "start_time": submitted if status != "queued" else 0, "finish_time": 0, "progress": "0%", "data": None,
    }  # fmt: skip
    if status == "running":
        obj["progress"] = "50%"
    if status in ("succeeded", "failed"):
        obj["finish_time"] = int(task.finished or time.time())
        obj["progress"] = "100%"
    if status == "failed":
        obj["fail_reason"] = task.reason("Unable to generate: the prompt was flagged")
    elif status == "succeeded" and task.info["action"] == "LYRICS":
        text = f"[Verse]\n{task.prompt}\n[Chorus]\n{task.prompt}"
        obj["data"] = {"id": f"{task.id}-lyrics", "text": text, "title": task.prompt[:30], "status": "complete"}
    elif status == "succeeded":
        obj["data"] = [_clip(request, task, index) for index in range(_CLIPS)]
    return obj


async def fetch_one(request: web.Request) -> web.StreamResponse:
    """``GET /suno/fetch/{id}``."""
    ex = await begin(request, SUNO)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "suno", request.match_info["id"])
    status = advance(task, SUNO)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return SUNO.error(404, "task_not_exist", code="task_not_exist")
    return _ok(_task_object(request, task, status))


async def fetch_many(request: web.Request) -> web.StreamResponse:
    """``POST /suno/fetch {ids}``: the tasks found, each advanced as one poll would (absent ids left out)."""
    ex = await begin(request, SUNO)
    if not isinstance(ex, Exchange):
        return ex
    ids = ex.body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return SUNO.error(400, "ids must be a list of task ids", code="invalid_request")
    tasks: list[dict[str, Any]] = []
    for task_id in ids:
        task = find(request, "suno", task_id)
        status = advance(task, SUNO)
        if isinstance(status, web.Response):
            return status
        if task is not None and status != "not_found":
            tasks.append(_task_object(request, task, status))
    return _ok(tasks)


async def media(request: web.Request) -> web.StreamResponse:
    """``GET /suno/media/{token}/clip{n}.{mp3|jpeg}`` (keyless, as Suno's CDN), 404 once expired."""
    log_request(request, "media", None)
    task = request.app[STATE_KEY].tasks.get(f"media:{request.match_info['token']}")
    name = request.match_info["file"]
    stem, _, ext = name.partition(".")
    clips = {f"clip{index}" for index in range(_CLIPS)}
    if not isinstance(task, VideoTask) or stem not in clips or ext not in ("mp3", "jpeg"):
        return web.json_response({"error": "no such media"}, status=404)
    if status_of(task) != "succeeded":
        return web.json_response({"error": "no such media"}, status=404)
    expired = task.ttl is not None and task.finished is not None and time.time() > task.finished + task.ttl
    served = task.served.get(name, 0)
    if expired or (task.fetches is not None and served >= task.fetches):
        return web.json_response({"error": "the link has expired"}, status=404)
    task.served[name] = served + 1
    if ext == "mp3":
        return web.Response(body=media_bytes.audio("mp3", CLIP_SECONDS), content_type="audio/mpeg")
    return web.Response(body=media_video.still("jpeg", 512, 512, task.seed), content_type="image/jpeg")


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the Suno-API routes."""
    router.add_post("/suno/submit/{action:music|lyrics|MUSIC|LYRICS}", submit)
    router.add_get("/suno/fetch/{id}", fetch_one)
    router.add_post("/suno/fetch", fetch_many)
    router.add_get("/suno/media/{token}/{file}", media)
