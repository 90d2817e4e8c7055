"""Video task vendors, part A: Kling, Vidu, MiniMax Hailuo, Ark Seedance and Jimeng, each in its wire
format with its auth (``tasks_wires_a``; MiniMax and Ark as in ``media_wires``).

Timeline: the submit answers the vendor's first status; then ``pending_polls`` polls (default 2) are
in progress (the first queued, the rest running), and the next one succeeds (or fails: ``body_error``,
with ``message`` as the vendor's reason).  Before that, ``poll_faults`` are answered one per poll, in
order: ``"not_found"`` (the vendor's own no-such-task answer), ``"unknown"`` (a status no codec
knows: ``mock_unknown_state``), ``500`` (an HTML page), ``429`` (the vendor's JSON with
``Retry-After: 1``) or another status (the vendor's error JSON).  ``delay`` on a submit makes the task
first, then waits (a client that times out still left a task, as at the vendor).  ``fail`` / ``garbage``
refuse the submit as usual.  Results are ``/media/tasks/{token}/video.mp4`` (a real MP4 of the
duration made), ``cover.jpeg`` and ``last_frame.jpeg``: ``media_fetches`` (404 after that many
fetches) and ``media_ttl`` (404 that many seconds after the task finished) make them expire.
Polls take no directive from the queue.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
from aiohttp import web

from omnirouter.mock_upstream import media_video
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, Wire, begin, json_response, log_request
from omnirouter.mock_upstream.media_wires import ARK, MINIMAX
from omnirouter.mock_upstream.tasks_wires_a import JIMENG, KLING, RAW_BODY, VIDU

DEFAULT_PENDING = 2
UNKNOWN = "mock_unknown_state"
_HTML_500 = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500</h1></body></html>"


@dataclass(slots=True)
class VideoTask:
    """One video task at a mock vendor."""

    vendor: str
    task_id: str
    token: str
    seconds: float
    ratio: str
    pending: int
    faults: list[str | int]
    failure: tuple[str, str] | None
    fetches: int | None
    ttl: float | None
    created: float
    info: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    finished: float | None = None
    cancelled: bool = False


@dataclass(slots=True)
class Media:
    """The files of a finished task and when they stop being served."""

    width: int
    height: int
    seconds: float
    fetches_left: int | None
    ttl: float | None
    finished: float | None = None


def _media(request: web.Request, task: VideoTask, name: str) -> str:
    return f"{request.url.origin()}/media/tasks/{task.token}/{name}"


async def _submit(
    ex: Exchange, vendor: str, prompt: str, seconds: float, ratio: str, **info: Any
) -> VideoTask | web.StreamResponse:
    """The directive, a new task (before any ``delay``), or an early answer."""
    resolved = ex.resolve(prompt)
    if isinstance(resolved, web.Response):
        return resolved
    d, _ = resolved
    early = await ex.preamble(msgspec.structs.replace(d, delay=0.0), False)
    if early is not None:
        return early
    serial = ex.state.next_serial()
    token = f"{vendor}-{serial:08d}"
    failure = None
    if d.body_error not in (None, False):
        failure = ("" if d.body_error is True else str(d.body_error), d.message or "")
    task = VideoTask(
        vendor, info.pop("task_id", f"{serial:018d}"), token, seconds, ratio,
        d.pending_polls if d.pending_polls is not None else DEFAULT_PENDING, list(d.poll_faults), failure,
        d.media_fetches, d.media_ttl, time.time(), info,
    )  # fmt: skip
    ex.state.tasks[f"{vendor}:{task.task_id}"] = task
    if info.get("external"):  # Kling's external_task_id, a key to the task from now on
        ex.state.tasks[f"{vendor}-ext:{info['external']}"] = task.task_id
    width, height = media_video.ratio_size(ratio)
    ex.state.tasks[f"media:{token}"] = Media(width, height, seconds, d.media_fetches, d.media_ttl)
    if d.delay > 0:
        await asyncio.sleep(d.delay)
    return task


def _find(ex: Exchange, vendor: str, task_id: str) -> VideoTask | None:
    task = ex.state.tasks.get(f"{vendor}:{task_id}")
    return task if isinstance(task, VideoTask) else None


def _step(ex: Exchange, task: VideoTask | None, wire: Wire) -> str | web.Response:
    """Advance the timeline one poll: ``queued``, ``running``, ``done``, ``failed``, ``not_found``,
    ``unknown`` or an error answer."""
    if task is None:
        return "not_found"
    if task.cancelled:
        return "cancelled"
    task.polls += 1
    if task.faults:
        fault = task.faults.pop(0)
        if fault == 500:
            return web.Response(body=_HTML_500, status=500, content_type="text/html")
        if isinstance(fault, int):
            return wire.error(fault, "Mock fault on poll.", retry_after=1 if fault == 429 else None)
        return fault
    if task.pending > 0:
        task.pending -= 1
        return "queued" if task.polls == 1 and task.pending > 0 else "running"
    if task.finished is None:
        task.finished = time.time()
        media = ex.state.tasks.get(f"media:{task.token}")
        if isinstance(media, Media):
            media.finished = task.finished
    return "failed" if task.failure is not None else "done"


# ---------------------------------------------------------------- Kling


def _kling_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    raw = {"queued": "submitted", "running": "processing", "done": "succeed", "failed": "failed"}.get(status, status)
    data: dict[str, Any] = {
        "task_id": task.task_id, "task_status": UNKNOWN if status == "unknown" else raw,
        "task_info": {"external_task_id": task.info.get("external", "")},
        "created_at": int(task.created * 1000), "updated_at": int(time.time() * 1000),
    }  # fmt: skip
    if status == "failed" and task.failure is not None:
        data["task_status_msg"] = task.failure[1] or "Failure to pass the risk control system"
    if status == "done":
        video = {"id": f"{task.task_id}-0", "url": _media(request, task, "video.mp4"), "duration": str(task.seconds)}
        data["task_result"] = {"videos": [video]}
        data["final_unit_deduction"] = str(task.seconds / 5)
    return {"code": 0, "message": "SUCCEED", "request_id": "mock-request", "data": data}


async def kling_submit(request: web.Request) -> web.StreamResponse:
    """``POST /v1/videos/{text2video|image2video}``."""
    ex = await begin(request, KLING)
    if not isinstance(ex, Exchange):
        return ex
    body, action = ex.body, request.path.rsplit("/", 1)[-1]
    if not isinstance(body.get("prompt"), str) and action == "text2video":
        return KLING.error(400, "prompt is required", code="1201")
    if action == "image2video" and not body.get("image"):
        return KLING.error(400, "image is required", code="1201")
    duration = str(body.get("duration", "5"))
    if duration not in ("5", "10"):
        return KLING.error(400, "duration must be 5 or 10", code="1201")
    ratio = str(body.get("aspect_ratio") or "16:9")
    external = str(body.get("external_task_id") or "")
    got = await _submit(ex, "kling", str(body.get("prompt") or ""), float(duration), ratio, external=external)
    if not isinstance(got, VideoTask):
        return got
    return json_response(_kling_object(request, got, "queued"))


async def kling_query(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos/{action}/{task_id or external_task_id}``."""
    ex = await begin(request, KLING)
    if not isinstance(ex, Exchange):
        return ex
    key = request.match_info["id"]
    task = _find(ex, "kling", key) or _find(ex, "kling", str(ex.state.tasks.get(f"kling-ext:{key}", "")))
    status = _step(ex, task, KLING)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return KLING.error(404, "task not found", code="1203")
    return json_response(_kling_object(request, task, status))


# ---------------------------------------------------------------- Vidu


def _vidu_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    raw = {"queued": "queueing", "running": "processing", "done": "success"}.get(status, status)
    obj: dict[str, Any] = {"id": task.task_id, "state": UNKNOWN if status == "unknown" else raw, "err_code": ""}
    obj["credits"] = int(task.seconds * 4) if status == "done" else 0
    obj["payload"], obj["creations"] = "", []
    if status == "failed" and task.failure is not None:
        obj["err_code"] = task.failure[0] or "AuditSubmitIllegal"
    if status == "done":
        creation = {"id": f"{task.task_id}-0", "url": _media(request, task, "video.mp4")}
        creation |= {"cover_url": _media(request, task, "cover.jpeg"), "watermarked_url": ""}
        obj["creations"] = [creation]
    return obj


async def vidu_submit(request: web.Request) -> web.StreamResponse:
    """``POST /ent/v2/{text2video,img2video,start-end2video,reference2video}``."""
    ex = await begin(request, VIDU)
    if not isinstance(ex, Exchange):
        return ex
    body, mode = ex.body, request.path.rsplit("/", 1)[-1]
    images = body.get("images") or []
    needed = {"text2video": (0, 0), "img2video": (1, 1), "start-end2video": (2, 2), "reference2video": (1, 7)}[mode]
    if not isinstance(images, list) or not needed[0] <= len(images) <= needed[1]:
        return VIDU.error(400, f"{mode} takes {needed[0]}-{needed[1]} images", code="InvalidParameter")
    if not isinstance(body.get("model"), str):
        return VIDU.error(400, "model is required", code="InvalidParameter")
    duration = body.get("duration", 5 if str(body["model"]).startswith("viduq1") else 4)
    ratio = str(body.get("aspect_ratio") or "16:9")
    got = await _submit(ex, "vidu", str(body.get("prompt") or ""), float(duration), ratio)
    if not isinstance(got, VideoTask):
        return got
    answer = {"task_id": got.task_id, "state": "created", "model": body["model"], "prompt": body.get("prompt", "")}
    answer |= {"duration": duration, "seed": body.get("seed", 0), "created_at": "2025-01-01T00:00:00Z"}
    return json_response(answer)


async def vidu_creations(request: web.Request) -> web.StreamResponse:
    """``GET /ent/v2/tasks/{id}/creations``."""
    ex = await begin(request, VIDU)
    if not isinstance(ex, Exchange):
        return ex
    task = _find(ex, "vidu", request.match_info["id"])
    status = _step(ex, task, VIDU)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return VIDU.error(404, "task not found", code="TaskNotFound")
    return json_response(_vidu_object(request, task, status))


# ---------------------------------------------------------------- MiniMax Hailuo

_MINIMAX_OK = {"status_code": 0, "status_msg": "success"}


async def minimax_submit(request: web.Request) -> web.StreamResponse:
    """``POST /v1/video_generation`` → ``{task_id, base_resp}``."""
    ex = await begin(request, MINIMAX)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    if not isinstance(body.get("model"), str):
        return MINIMAX.error(200, "invalid params, model is required", code="2013")
    duration = body.get("duration", 6)
    if duration not in (6, 10):
        return MINIMAX.error(200, "invalid params, duration must be 6 or 10", code="2013")
    got = await _submit(ex, "minimax", str(body.get("prompt") or ""), float(duration), "16:9")
    if not isinstance(got, VideoTask):
        return got
    return json_response({"task_id": got.task_id, "base_resp": _MINIMAX_OK})


async def minimax_query(request: web.Request) -> web.StreamResponse:
    """``GET /v1/query/video_generation?task_id=``."""
    ex = await begin(request, MINIMAX)
    if not isinstance(ex, Exchange):
        return ex
    task = _find(ex, "minimax", request.query.get("task_id", ""))
    status = _step(ex, task, MINIMAX)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return MINIMAX.error(200, "invalid params, task not found", code="2013")
    raw = {"queued": "Queueing", "running": "Processing", "done": "Success", "failed": "Fail"}.get(status, UNKNOWN)
    answer: dict[str, Any] = {"task_id": task.task_id, "status": raw, "file_id": "", "base_resp": _MINIMAX_OK}
    if status == "done":
        width, height = media_video.ratio_size(task.ratio)
        answer |= {"file_id": f"file-{task.task_id}", "video_width": width, "video_height": height}
        ex.state.tasks[f"minimax-file:file-{task.task_id}"] = task
    if status == "failed" and task.failure is not None:
        code = int(task.failure[0]) if task.failure[0].isdigit() else 1026
        answer["base_resp"] = {"status_code": code, "status_msg": task.failure[1] or "input sensitive content"}
    return json_response(answer)


async def minimax_file(request: web.Request) -> web.StreamResponse:
    """``GET /v1/files/retrieve?file_id=`` → ``{file: {download_url, ...}, base_resp}``."""
    ex = await begin(request, MINIMAX)
    if not isinstance(ex, Exchange):
        return ex
    file_id = request.query.get("file_id", "")
    task = ex.state.tasks.get(f"minimax-file:{file_id}")
    if not isinstance(task, VideoTask):
        return MINIMAX.error(200, "file not found", code="1000")
    file = {"file_id": file_id, "bytes": len(_video_bytes(ex, task.token)), "created_at": int(task.created)}
    file |= {
        "filename": "output.mp4",
        "purpose": "video_generation",
        "download_url": _media(request, task, "video.mp4"),
    }
    return json_response({"file": file, "base_resp": _MINIMAX_OK})


def _video_bytes(ex: Exchange, token: str) -> bytes:
    media = ex.state.tasks.get(f"media:{token}")
    if not isinstance(media, Media):
        return b""
    return media_video.mp4(media.seconds, media.width, media.height)


# ---------------------------------------------------------------- Ark Seedance


def _ark_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    raw = {"done": "succeeded", "unknown": UNKNOWN}.get(status, status)
    obj: dict[str, Any] = {"id": task.task_id, "model": task.info.get("model", ""), "status": raw}
    obj |= {"created_at": int(task.created), "updated_at": int(time.time()), "seed": 42}
    obj |= {"resolution": task.info.get("resolution", "720p"), "ratio": task.ratio, "duration": int(task.seconds)}
    if status == "failed" and task.failure is not None:
        code = task.failure[0] or "OutputVideoSensitiveContentDetected"
        obj["error"] = {"code": code, "message": task.failure[1] or "The output video may contain sensitive content."}
    if status == "done":
        obj["content"] = {"video_url": _media(request, task, "video.mp4")}
        if task.info.get("last_frame"):
            obj["content"]["last_frame_url"] = _media(request, task, "last_frame.jpeg")
        tokens = int(task.seconds * 20_000)
        obj["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
        obj["framespersecond"] = media_video.FPS
    return obj


async def ark_submit(request: web.Request) -> web.StreamResponse:
    """``POST /api/v3/contents/generations/tasks`` → ``{id}``."""
    ex = await begin(request, ARK)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    content = body.get("content")
    if not isinstance(body.get("model"), str) or not isinstance(content, list) or not content:
        return ARK.error(400, "The parameter `content` specified in the request is not valid.", code="MissingParameter")
    prompt = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict) and c.get("type") == "text")
    ratio = str(body.get("ratio") or "16:9").replace("adaptive", "16:9")
    info = {"model": body["model"], "resolution": body.get("resolution"), "last_frame": body.get("return_last_frame")}
    got = await _submit(
        ex, "ark", prompt, float(body.get("duration", 5)), "16:9" if ratio == "adaptive" else ratio, **info
    )
    if not isinstance(got, VideoTask):
        return got
    return json_response({"id": got.task_id})


async def ark_task(request: web.Request) -> web.StreamResponse:
    """``GET …/tasks/{id}`` (the task object) and ``DELETE …/tasks/{id}`` (cancel a queued task)."""
    ex = await begin(request, ARK)
    if not isinstance(ex, Exchange):
        return ex
    task = _find(ex, "ark", request.match_info["id"])
    if request.method == "DELETE":
        if task is None:
            return ARK.error(404, "The specified task is not found.", code="ResourceNotFound")
        if task.polls > 1 and task.finished is None:
            return ARK.error(400, "Only a queued task can be cancelled.", code="InvalidAction")
        task.cancelled = True
        return json_response({})
    status = _step(ex, task, ARK)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return ARK.error(404, "The specified task is not found.", code="ResourceNotFound")
    return json_response(_ark_object(request, task, status))


# ---------------------------------------------------------------- Jimeng


async def jimeng(request: web.Request) -> web.StreamResponse:
    """``POST /?Action=CVSync2AsyncSubmitTask|CVSync2AsyncGetResult&Version=2022-08-31``."""
    raw = request[RAW_BODY] = await request.read()  # the signature covers it: ``begin`` could not re-read it
    try:
        parsed: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    log_request(request, JIMENG.name, parsed if parsed is not None else raw.decode("utf-8", "replace"))
    denied = JIMENG.check_auth(request)
    if denied is not None:
        return denied
    if not isinstance(parsed, dict):
        return JIMENG.error(400, "the body must be a JSON object", code="50400")
    ex = Exchange(request, request.app[STATE_KEY], JIMENG, parsed)
    action, body = request.query.get("Action"), ex.body
    if request.query.get("Version") != "2022-08-31" or action not in (
        "CVSync2AsyncSubmitTask",
        "CVSync2AsyncGetResult",
    ):
        return JIMENG.error(400, "unknown Action or Version", code="50400")
    if not isinstance(body.get("req_key"), str):
        return JIMENG.error(400, "req_key is required", code="50400")
    if action == "CVSync2AsyncSubmitTask":
        frames = body.get("frames", 121)
        if frames not in (121, 241):
            return JIMENG.error(400, "frames must be 121 or 241", code="50400")
        ratio = str(body.get("aspect_ratio") or "16:9")
        got = await _submit(ex, "jimeng", str(body.get("prompt") or ""), 5.0 if frames == 121 else 10.0, ratio)
        if not isinstance(got, VideoTask):
            return got
        return json_response(_jimeng({"task_id": got.task_id}))
    task = _find(ex, "jimeng", str(body.get("task_id", "")))
    status = _step(ex, task, JIMENG)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return json_response(_jimeng({"status": "not_found", "video_url": ""}))
    if status == "failed" and task.failure is not None:
        code = int(task.failure[0]) if task.failure[0].isdigit() else 50511
        return json_response({"code": code, "message": task.failure[1] or "Post Img Risk Not Pass", "data": None})
    state_name = {"queued": "in_queue", "running": "generating", "done": "done"}.get(status, UNKNOWN)
    data = {"status": state_name, "video_url": _media(request, task, "video.mp4") if status == "done" else ""}
    return json_response(_jimeng(data))


def _jimeng(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 10000, "message": "Success", "request_id": "mock-request", "status": 10000, "data": data}


# ---------------------------------------------------------------- results


async def task_media(request: web.Request) -> web.StreamResponse:
    """``GET /media/tasks/{token}/{video.mp4|cover.jpeg|last_frame.jpeg}`` (no auth; 404 once expired)."""
    log_request(request, "media", None)
    media = request.app[STATE_KEY].tasks.get(f"media:{request.match_info['token']}")
    name = request.match_info["file"]
    if (
        not isinstance(media, Media)
        or media.finished is None
        or name not in ("video.mp4", "cover.jpeg", "last_frame.jpeg")
    ):
        return web.json_response({"error": "no such media"}, status=404)
    if media.ttl is not None and time.time() > media.finished + media.ttl:
        return web.json_response({"error": "the link has expired"}, status=404)
    if media.fetches_left is not None:
        if media.fetches_left <= 0:
            return web.json_response({"error": "the link has expired"}, status=404)
        media.fetches_left -= 1
    if name == "video.mp4":
        return web.Response(body=media_video.mp4(media.seconds, media.width, media.height), content_type="video/mp4")
    return web.Response(body=media_video.still("jpeg", media.width, media.height, 3), content_type="image/jpeg")
