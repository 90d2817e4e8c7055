"""Video task vendors, part A: Kling, Vidu, MiniMax Hailuo, Ark Seedance and Jimeng, each in its wire
format with its auth (``tasks_wires_a``; MiniMax and Ark as in ``media_wires``), on the timeline and
result files of ``tasks_video`` (scripted by ``pending_polls``, ``poll_faults``, ``body_error`` +
``message``, ``delay``, ``media_fetches``, ``media_ttl``).  The ``"unknown"`` fault answers the status
``mock_unknown_state``.  A submit with a ``callback_url`` (Kling, Vidu, MiniMax after its challenge, Ark)
has its states pushed there (``tasks_callbacks``).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream import media_video
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, begin, json_response, log_request
from omnirouter.mock_upstream.media_wires import ARK, MINIMAX
from omnirouter.mock_upstream.tasks_callbacks import BodyOf, challenge_echoed, push_timeline
from omnirouter.mock_upstream.tasks_video import (
    UNKNOWN,
    VideoTask,
    advance,
    find,
    media_url,
    new_task,
    polling,
    script,
    status_of,
    tasks_of,
)
from omnirouter.mock_upstream.tasks_wires_a import JIMENG, KLING, RAW_BODY, VIDU


async def _submit(
    ex: Exchange, vendor: str, prompt: str, seconds: float, ratio: str, model: str = "", **info: Any
) -> VideoTask | web.StreamResponse:
    """A new task of ``vendor`` (id: 18 digits) in the shape of ``ratio`` at 720p, or an early answer."""
    got = await script(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    size = media_video.ratio_size(ratio)
    return await new_task(
        ex, d, vendor, model=model, prompt=clean, seconds=seconds, size=size, digits=18, ratio=ratio, **info
    )


def _callbacks(request: web.Request, task: VideoTask, body: dict[str, Any], body_of: BodyOf) -> None:
    """Push ``task``'s states to the submit's ``callback_url``, if it named one (``tasks_callbacks``)."""
    url = body.get("callback_url")
    if isinstance(url, str) and url:
        push_timeline(request, task, url, body_of)


# ---------------------------------------------------------------- Kling


def _kling_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    raw = {"queued": "submitted", "running": "processing", "succeeded": "succeed", "failed": "failed"}.get(
        status, status
    )
    data: dict[str, Any] = {
        "task_id": task.id, "task_status": UNKNOWN if status == "unknown" else raw,
        "task_info": {"external_task_id": task.info.get("external", "")},
        "created_at": int(task.created * 1000), "updated_at": int(time.time() * 1000),
    }  # fmt: skip
    if status == "failed":
        data["task_status_msg"] = task.reason("Failure to pass the risk control system")
    if status == "succeeded":
        video = {"id": f"{task.id}-0", "url": media_url(request, task, "video.mp4"), "duration": str(task.seconds)}
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
    prompt = str(body.get("prompt") or "")
    got = await _submit(ex, "kling", prompt, float(duration), ratio, alias=external, external=external)
    if not isinstance(got, VideoTask):
        return got
    _callbacks(request, got, body, lambda status: _kling_object(request, got, status)["data"])
    return json_response(_kling_object(request, got, "queued"))


async def kling_query(request: web.Request) -> web.StreamResponse:
    """``GET /v1/videos/{action}/{task_id or external_task_id}``."""
    ex = await begin(request, KLING)
    if not isinstance(ex, Exchange):
        return ex
    key = request.match_info["id"]
    task = find(request, "kling", key)
    async with polling(task):
        status = advance(task, KLING)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return KLING.error(404, "task not found", code="1203")
    return json_response(_kling_object(request, task, status))


# ---------------------------------------------------------------- Vidu


def _vidu_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    raw = {"queued": "queueing", "running": "processing", "succeeded": "success"}.get(status, status)
    obj: dict[str, Any] = {"id": task.id, "state": UNKNOWN if status == "unknown" else raw, "err_code": ""}
    obj["credits"] = int(task.seconds * 4) if status == "succeeded" else 0
    obj["payload"], obj["creations"] = "", []
    if status == "failed":
        obj["err_code"] = task.failure_code("AuditSubmitIllegal")
    if status == "succeeded":
        creation = {"id": f"{task.id}-0", "url": media_url(request, task, "video.mp4")}
        creation |= {"cover_url": media_url(request, task, "cover.jpeg"), "watermarked_url": ""}
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
    _callbacks(request, got, body, lambda status: _vidu_object(request, got, status))
    answer = {"task_id": got.id, "state": "created", "model": body["model"], "prompt": body.get("prompt", "")}
    answer |= {"duration": duration, "seed": body.get("seed", 0), "created_at": "2025-01-01T00:00:00Z"}
    return json_response(answer)


async def vidu_creations(request: web.Request) -> web.StreamResponse:
    """``GET /ent/v2/tasks/{id}/creations``."""
    ex = await begin(request, VIDU)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "vidu", request.match_info["id"])
    status = advance(task, VIDU)
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
    url = body.get("callback_url")
    if isinstance(url, str) and url:
        got.info["challenge"] = "echoed" if await challenge_echoed(url) else "failed"
        if got.info["challenge"] == "echoed":
            push_timeline(request, got, url, lambda status: _minimax_push(got, status))
    return json_response({"task_id": got.id, "base_resp": _MINIMAX_OK})


def _minimax_push(task: VideoTask, status: str) -> dict[str, Any]:
    """A MiniMax status push: shaped like the query answer, with the callbacks' lower-case statuses."""
    raw = {"queued": "processing", "running": "processing", "succeeded": "success"}.get(status, "failed")
    push: dict[str, Any] = {"task_id": task.id, "status": raw, "file_id": "", "base_resp": _MINIMAX_OK}
    if status == "succeeded":
        push["file_id"] = f"file-{task.id}"
    return push


async def minimax_query(request: web.Request) -> web.StreamResponse:
    """``GET /v1/query/video_generation?task_id=``."""
    ex = await begin(request, MINIMAX)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "minimax", request.query.get("task_id", ""))
    status = advance(task, MINIMAX)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return MINIMAX.error(200, "invalid params, task not found", code="2013")
    raw = {"queued": "Queueing", "running": "Processing", "succeeded": "Success", "failed": "Fail"}.get(status, UNKNOWN)
    answer: dict[str, Any] = {"task_id": task.id, "status": raw, "file_id": "", "base_resp": _MINIMAX_OK}
    if status == "succeeded":
        answer |= {"file_id": f"file-{task.id}", "video_width": task.width, "video_height": task.height}
        ex.state.tasks[f"minimax-file:file-{task.id}"] = task
    if status == "failed":
        code = task.failure_code("1026")
        answer["base_resp"] = {"status_code": int(code) if code.isdigit() else 1026}
        answer["base_resp"]["status_msg"] = task.reason("input sensitive content")
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
    file = {
        "file_id": file_id,
        "bytes": len(media_video.mp4(task.seconds, task.width, task.height, task.seed)),
        "created_at": int(task.created),
    }
    file |= {
        "filename": "output.mp4",
        "purpose": "video_generation",
        "download_url": media_url(request, task, "video.mp4"),
    }
    return json_response({"file": file, "base_resp": _MINIMAX_OK})


# ---------------------------------------------------------------- Ark Seedance


def _ark_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    raw = {"unknown": UNKNOWN}.get(status, status)
    obj: dict[str, Any] = {"id": task.id, "model": task.model, "status": raw}
    obj |= {"created_at": int(task.created), "updated_at": int(time.time()), "seed": 42}
    obj |= {
        "resolution": task.info.get("resolution", "720p"),
        "ratio": task.info["ratio"],
        "duration": int(task.seconds),
    }
    if status == "failed":
        reason = task.reason("The output video may contain sensitive content.")
        obj["error"] = {"code": task.failure_code("OutputVideoSensitiveContentDetected"), "message": reason}
    if status == "succeeded":
        obj["content"] = {"video_url": media_url(request, task, "video.mp4")}
        if task.info.get("last_frame"):
            obj["content"]["last_frame_url"] = media_url(request, task, "last_frame.jpeg")
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
    got = await _submit(ex, "ark", prompt, float(body.get("duration", 5)), ratio, **info)
    if not isinstance(got, VideoTask):
        return got
    _callbacks(request, got, body, lambda status: _ark_object(request, got, status))
    return json_response({"id": got.id})


async def ark_task(request: web.Request) -> web.StreamResponse:
    """``GET …/tasks/{id}`` (the task object) and ``DELETE …/tasks/{id}`` (cancel a queued task)."""
    ex = await begin(request, ARK)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "ark", request.match_info["id"])
    if request.method == "DELETE":
        if task is None:
            return ARK.error(404, "The specified task is not found.", code="ResourceNotFound")
        if status_of(task) != "queued":
            return ARK.error(400, "Only a queued task can be cancelled.", code="InvalidAction")
        task.cancelled = True
        return json_response({})
    status = advance(task, ARK)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return ARK.error(404, "The specified task is not found.", code="ResourceNotFound")
    return json_response(_ark_object(request, task, status))


async def ark_list(request: web.Request) -> web.StreamResponse:
    """``GET …/tasks?page_num&page_size&filter.task_ids=…`` (the id filter repeated per id) → ``{items,
    total}``, newest first.  Each task named is one poll on (a ``not_found`` fault leaves it out); a
    scripted HTTP fault of any named task answers for the whole list, and no task moves then."""
    ex = await begin(request, ARK)
    if not isinstance(ex, Exchange):
        return ex
    try:
        page_num, page_size = int(request.query.get("page_num", "1")), int(request.query.get("page_size", "10"))
    except ValueError:
        page_num = page_size = 0
    if not (1 <= page_num <= 500 and 1 <= page_size <= 500):
        return ARK.error(400, "page_num and page_size must be between 1 and 500.", code="InvalidParameter")
    wanted = list(dict.fromkeys(request.query.getall("filter.task_ids", [])))
    named = [task for task in (find(request, "ark", task_id) for task_id in wanted) if task is not None]
    for task in named:
        if task.faults and isinstance(task.faults[0], int) and not task.cancelled:
            fault = advance(task, ARK)
            assert isinstance(fault, web.Response)
            return fault
    found: list[tuple[VideoTask, str]] = []
    for task in named if wanted else tasks_of(request, "ark"):
        status = advance(task, ARK) if wanted else status_of(task)
        if isinstance(status, str) and status != "not_found":
            found.append((task, status))
    found.sort(key=lambda pair: pair[0].created, reverse=True)
    items = [_ark_object(request, task, status) for task, status in found]
    page = items[(page_num - 1) * page_size : page_num * page_size]
    return json_response({"items": page, "total": len(items)})


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
        return json_response(_jimeng({"task_id": got.id}))
    task = find(request, "jimeng", str(body.get("task_id", "")))
    status = advance(task, JIMENG)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return json_response(_jimeng({"status": "not_found", "video_url": ""}))
    if status == "failed":
        code = task.failure_code("50511")
        message = task.reason("Post Img Risk Not Pass")
        return json_response({"code": int(code) if code.isdigit() else 50511, "message": message, "data": None})
    state_name = {"queued": "in_queue", "running": "generating", "succeeded": "done"}.get(status, UNKNOWN)
    url = media_url(request, task, "video.mp4") if status == "succeeded" else ""
    data = {"status": state_name, "video_url": url}
    return json_response(_jimeng(data))


def _jimeng(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 10000, "message": "Success", "request_id": "mock-request", "status": 10000, "data": data}
