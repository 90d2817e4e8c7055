"""Asynchronous video tasks of OpenAI Sora and Google Veo (and the timeline every mock video vendor shares).

A submit makes a ``VideoTask`` whose timeline the submit's directive scripts; polls take no directive.
Each poll answers, in order: ``task_not_found_polls`` not-found answers, one answer per entry of
``task_poll_errors`` (``500html``: an HTML 500 page; ``429``: the vendor's rate-limit error with
``Retry-After: 1``; ``500``/``502``/``503``: its JSON error), ``task_unknown_status`` answers with a status
the vendor does not document (true = one), then queued on the first poll and running with progress until
``task_polls`` polls (default 2) have passed, then success — or the vendor's terminal failure with the
``task_fail`` reason.  With ``task_result_expires`` each result file answers 404 after its first fetch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream import gemini, media_video, openai_chat
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, Wire, as_int, begin, json_response
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.media_common import begin_media, directive

DEFAULT_POLLS = 2
SORA_SECONDS = ("4", "8", "12")
SORA_SIZES = {"sora-2": ("720x1280", "1280x720")}
SORA_PRO_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
_HTML_500 = (
    b"<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>"
)


@dataclass(slots=True)
class VideoTask:
    """One mock video task and its scripted timeline."""

    vendor: str
    id: str
    model: str
    prompt: str
    seconds: float
    width: int
    height: int
    created: float
    polls_left: int
    not_found: int = 0
    errors: list[str] = field(default_factory=list)
    unknown: int = 0
    fail: str | None = None
    expires: bool = False
    polls_done: int = 0
    finished: float | None = None
    fetched: set[str] = field(default_factory=set)
    info: dict[str, Any] = field(default_factory=dict)


def new_task(
    ex: Exchange, d: Directive, vendor: str, prefix: str, model: str, prompt: str, seconds: float, size: tuple[int, int]
) -> VideoTask:
    """Register a task for ``vendor`` scripted by ``d``."""
    serial = ex.state.next_serial()
    fail = d.task_fail if isinstance(d.task_fail, str) else ("mock task failure" if d.task_fail else None)
    unknown = d.task_unknown_status
    task = VideoTask(
        vendor=vendor,
        id=f"{prefix}{serial:08d}",
        model=model,
        prompt=prompt,
        seconds=seconds,
        width=size[0],
        height=size[1],
        created=time.time(),
        polls_left=d.task_polls if d.task_polls is not None else DEFAULT_POLLS,
        not_found=d.task_not_found_polls or 0,
        errors=list(d.task_poll_errors),
        unknown=(1 if unknown is True else int(unknown or 0)),
        fail=fail,
        expires=d.task_result_expires,
    )
    ex.state.tasks[task.id] = task
    return task


def advance(task: VideoTask) -> str:
    """What this poll answers: ``not_found``, an error token, ``unknown``, ``queued``, ``running``,
    ``failed`` or ``succeeded`` (a terminal task stays so)."""
    if task.not_found > 0:
        task.not_found -= 1
        return "not_found"
    if task.errors:
        return task.errors.pop(0)
    if task.unknown > 0:
        task.unknown -= 1
        return "unknown"
    return peek(task, step=True)


def peek(task: VideoTask, step: bool = False) -> str:
    """The task's status now (``step``: one poll passes)."""
    if task.polls_left > 0:
        if step:
            task.polls_left -= 1
            task.polls_done += 1
        return "queued" if task.polls_done <= 1 else "running"
    if task.finished is None:
        task.finished = time.time()
    return "failed" if task.fail is not None else "succeeded"


def progress(task: VideoTask) -> int:
    """A percentage that grows with the polls."""
    total = task.polls_done + task.polls_left
    return min(99, task.polls_done * 100 // max(1, total + 1))


def error_answer(token: str, wire: Wire) -> web.Response:
    """The answer to a scripted poll error (``task_poll_errors``)."""
    if token == "500html":
        return web.Response(status=500, body=_HTML_500, content_type="text/html")
    if token == "429":
        return wire.error(429, "Rate limit reached for requests", retry_after=1)
    return wire.error(int(token), "The server had an error while processing your request.")


def video_task(request: web.Request, task_id: str, vendor: str) -> VideoTask | None:
    """The task ``task_id`` of ``vendor``, if any."""
    task = request.app[STATE_KEY].tasks.get(task_id)
    return task if isinstance(task, VideoTask) and task.vendor == vendor else None


def media_answer(task: VideoTask, variant: str) -> web.Response:
    """A result file of ``task`` (404 once fetched when its results expire)."""
    if task.expires and variant in task.fetched:
        return web.Response(status=404, text="NoSuchKey: the object has expired")
    task.fetched.add(variant)
    seed = int(task.id[-4:]) % 16 if task.id[-4:].isdigit() else 0
    if variant.startswith("video"):
        body = media_video.mp4(task.seconds, task.width, task.height, seed)
        return web.Response(body=body, content_type="video/mp4")
    fmt = "webp" if variant == "thumbnail" and task.vendor == "sora" else "jpeg"
    body = media_video.still(fmt, task.width, task.height, seed)
    return web.Response(body=body, content_type=f"image/{fmt}")


async def serve_video(request: web.Request) -> web.StreamResponse:
    """``GET /media/video/{task}.{mp4|jpg}``: a signed-URL style result (no key), as DashScope, Tencent and
    PixVerse hand out."""
    stem, _, ext = request.match_info["name"].rpartition(".")
    task = request.app[STATE_KEY].tasks.get(stem)
    if not isinstance(task, VideoTask) or peek(task) != "succeeded" or ext not in ("mp4", "jpg"):
        return web.Response(status=404, text="NoSuchKey")
    return media_answer(task, "video" if ext == "mp4" else "cover")


# ---------------------------------------------------------------- OpenAI Sora


def _sora_object(task: VideoTask, status: str) -> dict[str, Any]:
    done = status in ("completed", "failed")
    obj: dict[str, Any] = {
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": status,
        "progress": 100 if done else progress(task),
        "created_at": int(task.created),
        "completed_at": int(task.finished or time.time()) if done else None,
        "expires_at": int(task.created) + 86400 if status == "completed" else None,
        "prompt": task.prompt,
        "size": f"{task.width}x{task.height}",
        "seconds": str(int(task.seconds)),
        "remixed_from_video_id": task.info.get("remixed_from"),
        "error": None,
    }
    if status == "failed":
        obj["error"] = {"code": "moderation_blocked", "message": task.fail}
    return obj


_SORA_STATUS = {"queued": "queued", "running": "in_progress", "succeeded": "completed", "failed": "failed"}
SORA_WIRE = openai_chat.WIRE


def _sora_invalid(message: str) -> web.Response:
    return SORA_WIRE.error(400, message, "invalid_request_error", code="invalid_value")


async def sora_create(request: web.Request) -> web.StreamResponse:
    """``POST /v1/videos`` (JSON, or multipart with an ``input_reference`` file): a queued video object."""
    ex = await begin_media(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body if isinstance(ex.body, dict) else {}
    prompt, model = body.get("prompt"), body.get("model") or "sora-2"
    if not isinstance(prompt, str) or not prompt:
        return SORA_WIRE.error(400, "Missing required parameter: 'prompt'.", "invalid_request_error")
    seconds = str(body.get("seconds") or "4")
    if seconds not in SORA_SECONDS:
        return _sora_invalid(f"Invalid value: '{seconds}'. Supported values are: '4', '8', and '12'.")
    sizes = SORA_PRO_SIZES if str(model).startswith("sora-2-pro") else SORA_SIZES["sora-2"]
    size = str(body.get("size") or "720x1280")
    if size not in sizes:
        return _sora_invalid(f"Invalid value: '{size}'. Supported values are: {', '.join(sizes)}.")
    got = await directive(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    width, height = (int(v) for v in size.split("x"))
    task = new_task(ex, d, "sora", "video_", str(model), clean, float(seconds), (width, height))
    return json_response(_sora_object(task, "queued"))


def _sora_missing(video_id: str) -> web.Response:
    return SORA_WIRE.error(404, f"Video with id '{video_id}' not found.", "invalid_request_error", code="not_found")


async def sora_retrieve(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos/{id}``: the object, as the task's timeline says."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = video_task(request, request.match_info["video_id"], "sora")
    if task is None:
        return _sora_missing(request.match_info["video_id"])
    state = advance(task)
    if state == "not_found":
        return _sora_missing(task.id)
    if state not in _SORA_STATUS and state != "unknown":
        return error_answer(state, SORA_WIRE)
    return json_response(_sora_object(task, _SORA_STATUS.get(state, "processing")))


async def sora_content(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet`` with the key."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = video_task(request, request.match_info["video_id"], "sora")
    if task is None:
        return _sora_missing(request.match_info["video_id"])
    variant = request.query.get("variant", "video")
    if variant not in ("video", "thumbnail", "spritesheet"):
        return _sora_invalid(f"Invalid value: '{variant}'.")
    if peek(task) != "succeeded":
        return SORA_WIRE.error(400, "Video is not ready yet, use GET /v1/videos/{id} to check status.")
    return media_answer(task, variant)


async def sora_delete(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/videos/{id}``."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = video_task(request, request.match_info["video_id"], "sora")
    if task is None:
        return _sora_missing(request.match_info["video_id"])
    del ex.state.tasks[task.id]
    return json_response({"id": task.id, "object": "video.deleted", "deleted": True})


async def sora_list(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos``: every mock video, newest first."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    tasks = [t for t in ex.state.tasks.values() if isinstance(t, VideoTask) and t.vendor == "sora"]
    data = [_sora_object(t, _SORA_STATUS.get(peek(t), "in_progress")) for t in reversed(tasks)]
    limit = as_int(request.query.get("limit")) or 20
    data = data[:limit]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return json_response({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False})


async def sora_remix(request: web.Request) -> web.StreamResponse:
    """``POST /v1/videos/{id}/remix`` ``{prompt}``: a new video from a completed one."""
    ex = await begin_media(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    source = video_task(request, request.match_info["video_id"], "sora")
    if source is None:
        return _sora_missing(request.match_info["video_id"])
    prompt = ex.body.get("prompt") if isinstance(ex.body, dict) else None
    if not isinstance(prompt, str) or not prompt:
        return SORA_WIRE.error(400, "Missing required parameter: 'prompt'.", "invalid_request_error")
    if peek(source) != "succeeded":
        return SORA_WIRE.error(400, "Only completed videos can be remixed.", "invalid_request_error")
    got = await directive(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    task = new_task(ex, d, "sora", "video_", source.model, clean, source.seconds, (source.width, source.height))
    task.info["remixed_from"] = source.id
    return json_response(_sora_object(task, "queued"))


# ---------------------------------------------------------------- Google Veo (Gemini API)

GEMINI_WIRE = gemini.WIRE
_VEO_RESOLUTIONS = {"veo-3.1": ("720p", "1080p", "4k"), "veo-3": ("720p", "1080p"), "veo-2": ("720p",)}
_VEO_LINES = {"720p": 720, "1080p": 1080, "4k": 2160}


def _veo_bad(message: str) -> web.Response:
    return GEMINI_WIRE.error(400, message, "INVALID_ARGUMENT")


async def veo_submit(request: web.Request) -> web.StreamResponse:
    """``POST /v1beta/models/{model}:predictLongRunning``: ``{name: "models/{m}/operations/{id}"}``."""
    ex = await begin(request, GEMINI_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    model = request.match_info["name"].removesuffix(":predictLongRunning")
    if not model.startswith("veo-"):
        return GEMINI_WIRE.error(404, f"models/{model} is not found for API version v1beta.", "NOT_FOUND")
    body = ex.body if isinstance(ex.body, dict) else {}
    instances = body.get("instances")
    first = instances[0] if isinstance(instances, list) and instances else None
    instance: dict[str, Any] = first if isinstance(first, dict) else {}
    raw_params = body.get("parameters")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    prompt = instance.get("prompt")
    if not isinstance(prompt, str) and "image" not in instance:
        return _veo_bad("* GenerateVideoRequest.instances[0].prompt: a prompt or an image is required.")
    durations = (5, 6, 7, 8) if model.startswith("veo-2") else (4, 6, 8)
    seconds = params.get("durationSeconds", 8)
    if seconds not in durations:
        return _veo_bad(f"The number value for `durationSeconds` is out of bound: {seconds}. Allowed: {durations}.")
    ratio = params.get("aspectRatio", "16:9")
    if ratio not in ("16:9", "9:16"):
        return _veo_bad(f"Aspect ratio {ratio} is not supported.")
    family = next(key for key in (*_VEO_RESOLUTIONS, "veo-2") if model.startswith(key))
    resolution = params.get("resolution", "720p")
    if resolution not in _VEO_RESOLUTIONS[family]:
        return _veo_bad(f"Resolution {resolution} is not supported by {model}.")
    for key in ("seed", "generateAudio"):
        if key in params:
            return _veo_bad(f"{key} parameter is not supported in Gemini API.")
    got = await directive(ex, prompt if isinstance(prompt, str) else "")
    if not isinstance(got, tuple):
        return got
    d, clean = got
    lines = _VEO_LINES[resolution]
    size = (lines * 16 // 9, lines) if ratio == "16:9" else (lines, lines * 16 // 9)
    task = new_task(ex, d, "veo", "op", model, clean, float(seconds), size)
    task.info["samples"] = as_int(params.get("sampleCount")) or 1
    return json_response({"name": f"models/{model}/operations/{task.id}"})


async def veo_operation(request: web.Request) -> web.StreamResponse:
    """``GET /v1beta/models/{model}/operations/{id}``: ``{name}`` until done, then the samples' URIs."""
    ex = await begin(request, GEMINI_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    name = f"models/{request.match_info['model']}/operations/{request.match_info['op']}"
    task = video_task(request, request.match_info["op"], "veo")
    state = advance(task) if task is not None else "not_found"
    if task is None or state == "not_found":
        return GEMINI_WIRE.error(404, f"Operation {name} not found.", "NOT_FOUND")
    if state not in ("queued", "running", "succeeded", "failed", "unknown"):
        return error_answer(state, GEMINI_WIRE)
    if state in ("queued", "running", "unknown"):
        return json_response({"name": name})
    result: dict[str, Any] = {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
    }
    if state == "failed":
        result["generateVideoResponse"] = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [task.fail]}
    else:
        origin = request.url.origin()
        samples = [
            {"video": {"uri": f"{origin}/v1beta/files/{task.id}s{i}:download?alt=media"}}
            for i in range(task.info.get("samples", 1))
        ]
        result["generateVideoResponse"] = {"generatedSamples": samples}
    return json_response({"name": name, "done": True, "response": result})


async def veo_file(request: web.Request) -> web.StreamResponse:
    """``GET /v1beta/files/{id}:download?alt=media``: the video, with the key (header or ``?key=``)."""
    ex = await begin(request, GEMINI_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    stem = request.match_info["name"].removesuffix(":download").rpartition("s")[0]  # file ids: [a-z0-9]+
    task = video_task(request, stem, "veo")
    if task is None or peek(task) != "succeeded":
        return GEMINI_WIRE.error(404, "File not found.", "NOT_FOUND")
    return media_answer(task, "video:" + request.match_info["name"])
