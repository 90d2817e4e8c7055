"""Video tasks of OpenAI Sora and Google Veo (Gemini API) in their wire formats, on the timeline and
result files of ``tasks_video``.  Their results are fetched with the key: Sora's ``GET
/v1/videos/{id}/content?variant=``, Veo's ``GET /v1beta/files/{id}:download``.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream import gemini, openai_chat
from omnirouter.mock_upstream.core import Exchange, as_int, begin, json_response
from omnirouter.mock_upstream.media_common import begin_media
from omnirouter.mock_upstream.tasks_video import (
    UNKNOWN,
    VideoTask,
    advance,
    find,
    forget,
    new_task,
    progress,
    script,
    serve,
    status_of,
    tasks_of,
)

SORA_SECONDS = ("4", "8", "12")
SORA_SIZES = {"sora-2": ("720x1280", "1280x720")}
SORA_PRO_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
_SORA_FILES = {"video": "video.mp4", "thumbnail": "thumbnail.webp", "spritesheet": "spritesheet.jpeg"}


# ---------------------------------------------------------------- OpenAI Sora


def _sora_object(task: VideoTask, status: str) -> dict[str, Any]:
    done = status in ("completed", "failed")
    obj: dict[str, Any] = {
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": status,
        "progress": progress(task),
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
        obj["error"] = {"code": task.failure_code("moderation_blocked"), "message": task.reason("mock task failure")}
    return obj


_SORA_STATUS = {"queued": "queued", "running": "in_progress", "succeeded": "completed", "failed": "failed"}
_SORA_STATUS |= {"unknown": UNKNOWN, "cancelled": "failed"}
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
    got = await script(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    width, height = (int(v) for v in size.split("x"))
    task = await new_task(
        ex, d, "sora", model=str(model), prompt=clean, seconds=float(seconds), size=(width, height), prefix="video_"
    )
    return json_response(_sora_object(task, "queued"))


def _sora_missing(video_id: str) -> web.Response:
    return SORA_WIRE.error(404, f"Video with id '{video_id}' not found.", "invalid_request_error", code="not_found")


async def sora_retrieve(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos/{id}``: the object, as the task's timeline says."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "sora", request.match_info["video_id"])
    state = advance(task, SORA_WIRE)
    if isinstance(state, web.Response):
        return state
    if task is None or state == "not_found":
        return _sora_missing(request.match_info["video_id"])
    return json_response(_sora_object(task, _SORA_STATUS[state]))


async def sora_content(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet`` with the key."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "sora", request.match_info["video_id"])
    if task is None:
        return _sora_missing(request.match_info["video_id"])
    variant = request.query.get("variant", "video")
    if variant not in _SORA_FILES:
        return _sora_invalid(f"Invalid value: '{variant}'.")
    if status_of(task) != "succeeded":
        return SORA_WIRE.error(400, "Video is not ready yet, use GET /v1/videos/{id} to check status.")
    return serve(task, _SORA_FILES[variant])


async def sora_delete(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/videos/{id}``."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "sora", request.match_info["video_id"])
    if task is None:
        return _sora_missing(request.match_info["video_id"])
    forget(request, task)
    return json_response({"id": task.id, "object": "video.deleted", "deleted": True})


async def sora_list(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos``: every mock video, newest first."""
    ex = await begin(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    data = [_sora_object(t, _SORA_STATUS[status_of(t)]) for t in reversed(tasks_of(request, "sora"))]
    limit = as_int(request.query.get("limit")) or 20
    data = data[:limit]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return json_response({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False})


async def sora_remix(request: web.Request) -> web.StreamResponse:
    """``POST /v1/videos/{id}/remix`` ``{prompt}``: a new video from a completed one."""
    ex = await begin_media(request, SORA_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    source = find(request, "sora", request.match_info["video_id"])
    if source is None:
        return _sora_missing(request.match_info["video_id"])
    prompt = ex.body.get("prompt") if isinstance(ex.body, dict) else None
    if not isinstance(prompt, str) or not prompt:
        return SORA_WIRE.error(400, "Missing required parameter: 'prompt'.", "invalid_request_error")
    if status_of(source) != "succeeded":
        return SORA_WIRE.error(400, "Only completed videos can be remixed.", "invalid_request_error")
    got = await script(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    size = (source.width, source.height)
    task = await new_task(
        ex, d, "sora", model=source.model, prompt=clean, seconds=source.seconds, size=size, prefix="video_",
        remixed_from=source.id,
    )  # fmt: skip
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
    got = await script(ex, prompt if isinstance(prompt, str) else "")
    if not isinstance(got, tuple):
        return got
    d, clean = got
    lines = _VEO_LINES[resolution]
    size = (lines * 16 // 9, lines) if ratio == "16:9" else (lines, lines * 16 // 9)
    samples = as_int(params.get("sampleCount")) or 1
    task = await new_task(
        ex, d, "veo", model=model, prompt=clean, seconds=float(seconds), size=size, prefix="op", samples=samples
    )
    return json_response({"name": f"models/{model}/operations/{task.id}"})


async def veo_operation(request: web.Request) -> web.StreamResponse:
    """``GET /v1beta/models/{model}/operations/{id}``: ``{name}`` until done, then the samples' URIs."""
    ex = await begin(request, GEMINI_WIRE)
    if not isinstance(ex, Exchange):
        return ex
    name = f"models/{request.match_info['model']}/operations/{request.match_info['op']}"
    task = find(request, "veo", request.match_info["op"])
    state = advance(task, GEMINI_WIRE)
    if isinstance(state, web.Response):
        return state
    if task is None or state == "not_found":
        return GEMINI_WIRE.error(404, f"Operation {name} not found.", "NOT_FOUND")
    if state in ("queued", "running", "unknown"):
        return json_response({"name": name})
    result: dict[str, Any] = {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
    }
    if state in ("failed", "cancelled"):
        reasons = [task.reason("mock task failure")]
        result["generateVideoResponse"] = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": reasons}
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
    task = find(request, "veo", stem)
    if task is None or status_of(task) != "succeeded":
        return GEMINI_WIRE.error(404, "File not found.", "NOT_FOUND")
    return serve(task, request.match_info["name"].removesuffix(":download") + ".mp4")
