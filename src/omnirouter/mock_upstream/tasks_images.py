"""Image task vendors in their wire formats, on the timeline of ``tasks_video`` (scripted by the prompt's
directive: ``pending_polls``, ``poll_faults``, ``body_error`` + ``message``, ``delay``, ``media_fetches``,
``media_ttl``):

* Kling: ``POST /v1/images/generations`` (told from OpenAI's images by its JWT bearer: ``images_generations``)
  and ``POST /v1/images/omni-image``; ``GET /v1/images/{generations|omni-image}/{task_id or
  external_task_id}`` → ``data.task_result.images[{index, url}]``: ``n`` PNGs.  JWT checked as for Kling
  video (``tasks_wires_a.KLING``); a ``callback_url`` has the task objects pushed there.
* Tencent Cloud MPS: ``POST /`` with ``X-TC-Action`` ``CreateAigcImageTask`` (Version ``2019-06-12``;
  ``SceneType 3d_panorama`` for ``ModelName Hunyuan``: a 2:1 JPEG) and ``DescribeAigcImageTask`` →
  ``Status``/``ImageUrls``/``Message``; TC3 signature checked as for Hunyuan video.

Result images are served keyless at ``/media/task-images/{token}/{index}.{png|jpeg}`` (signed-URL style),
small (the longer side ``EDGE`` pixels) in the shape asked, and expire as ``tasks_video`` files do.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream import media_bytes, media_openai
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, begin, json_response, log_request
from omnirouter.mock_upstream.media_wires import bearer
from omnirouter.mock_upstream.tasks_callbacks import push_timeline
from omnirouter.mock_upstream.tasks_video import (
    UNKNOWN,
    VideoTask,
    advance,
    find,
    new_task,
    polling,
    script,
    status_of,
)
from omnirouter.mock_upstream.tasks_video_b_vendors import TENCENT, tc3_check, tc_answer, tc_error
from omnirouter.mock_upstream.tasks_wires_a import KLING

EDGE = 96
"""The longer side of a result image, in pixels (small: tests decode many)."""
_KLING_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
_KLING_RESOLUTIONS = {"generations": ("1k", "2k"), "omni-image": ("1k", "2k", "4k")}
_KLING = "kling-image"
_MPS = "mps-image"
_MPS_VERSION = "2019-06-12"
_TC_STATUS = {"queued": "WAIT", "running": "RUN", "succeeded": "DONE", "failed": "FAIL", "unknown": UNKNOWN}


def _is_jwt(token: str) -> bool:
    return token.startswith("eyJ") and token.count(".") == 2


async def images_generations(request: web.Request) -> web.StreamResponse:
    """``POST /v1/images/generations``: Kling's image task when the bearer is a JWT, else OpenAI's images."""
    if _is_jwt(bearer(request)):
        return await kling_submit(request)
    return await media_openai.images_generations(request)


def image_url(request: web.Request, task: VideoTask, index: int) -> str:
    """The keyless URL of result image ``index`` of ``task``."""
    return f"{request.url.origin()}/media/task-images/{task.token}/{index}.{task.info['fmt']}"


async def task_image(request: web.Request) -> web.StreamResponse:
    """``GET /media/task-images/{token}/{index}.{fmt}``: one result image (404 once expired or unknown)."""
    log_request(request, "media", None)
    task = request.app[STATE_KEY].tasks.get(f"media:{request.match_info['token']}")
    name = request.match_info["file"]
    stem, _, fmt = name.partition(".")
    missing = web.json_response({"error": "no such media"}, status=404)
    if not isinstance(task, VideoTask) or "fmt" not in task.info or status_of(task) != "succeeded":
        return missing
    assert task.finished is not None  # status_of set it
    if fmt != task.info["fmt"] or not stem.isdigit() or int(stem) >= int(task.info["n"]):
        return missing
    if task.ttl is not None and time.time() > task.finished + task.ttl:
        return web.json_response({"error": "the link has expired"}, status=404)
    served = task.served.get(name, 0)
    if task.fetches is not None and served >= task.fetches:
        return web.json_response({"error": "the link has expired"}, status=404)
    task.served[name] = served + 1
    body = media_bytes.image(fmt, task.width, task.height, task.seed + int(stem))
    return web.Response(body=body, content_type=media_bytes.IMAGE_TYPES[fmt])


# ---------------------------------------------------------------- Kling


def _kling_object(request: web.Request, task: VideoTask, status: str) -> dict[str, Any]:
    raw = {"queued": "submitted", "running": "processing", "succeeded": "succeed", "failed": "failed"}.get(
        status, status
    )
    data: dict[str, Any] = {
        "task_id": task.id, "task_status": UNKNOWN if status == "unknown" else raw, "task_status_msg": "",
        "task_info": {"external_task_id": task.info.get("external", "")},
        "created_at": int(task.created * 1000), "updated_at": int(time.time() * 1000),
    }  # fmt: skip
    if status == "failed":
        data["task_status_msg"] = task.reason("Failure to pass the risk control system")
    if status == "succeeded":
        images = [{"index": i, "url": image_url(request, task, i)} for i in range(int(task.info["n"]))]
        data["task_result"] = {"images": images}
        data["final_unit_deduction"] = str(int(task.info["n"]))
    return {"code": 0, "message": "SUCCEED", "request_id": "mock-request", "data": data}


def _kling_check(body: dict[str, Any], endpoint: str) -> str | None:
    """What Kling would refuse in ``body`` (its 1201 message), or None."""
    if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
        return "prompt is required"
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 9:
        return "n must be an integer from 1 to 9"
    if body.get("resolution", "1k") not in _KLING_RESOLUTIONS[endpoint]:
        return f"resolution must be one of {', '.join(_KLING_RESOLUTIONS[endpoint])}"
    ratios = _KLING_RATIOS + (("auto",) if endpoint == "omni-image" else ())
    if body.get("aspect_ratio", ratios[0]) not in ratios:
        return "aspect_ratio is invalid"
    if endpoint == "omni-image":
        images = body.get("image_list", [])
        if not isinstance(images, list) or len(images) > 10:
            return "image_list must hold at most 10 images"
        if any(not isinstance(item, dict) or not isinstance(item.get("image"), str) for item in images):
            return "image_list items must be {image}"
        if "negative_prompt" in body or "image" in body:
            return "unknown field for omni-image"
    else:
        if "image" in body and not isinstance(body["image"], str):
            return "image must be a URL or base64 string"
        if "image" in body and "negative_prompt" in body:
            return "negative_prompt is not supported with an image"
        if "image_list" in body:
            return "unknown field image_list"
    return None


async def kling_submit(request: web.Request) -> web.StreamResponse:
    """``POST /v1/images/{generations|omni-image}``."""
    ex = await begin(request, KLING)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    endpoint = "omni-image" if request.path.endswith("/omni-image") else "generations"
    refused = _kling_check(body, endpoint)
    if refused is not None:
        return KLING.error(400, refused, code="1201")
    got = await script(ex, body["prompt"])
    if not isinstance(got, tuple):
        return got
    d, clean = got
    ratio = body.get("aspect_ratio", "1:1" if endpoint == "omni-image" else "16:9")
    size = media_bytes.ratio_size("1:1" if ratio == "auto" else ratio, EDGE)
    external = str(body.get("external_task_id") or "")
    task = await new_task(
        ex, d, _KLING, model=str(body.get("model_name", "")), prompt=clean, seconds=0.0, size=size, digits=18,
        alias=external, external=external, n=body.get("n", 1), fmt="png", endpoint=endpoint,
    )  # fmt: skip
    callback = body.get("callback_url")
    if isinstance(callback, str) and callback:
        push_timeline(request, task, callback, lambda status: _kling_object(request, task, status)["data"])
    return json_response(_kling_object(request, task, "queued"))


async def kling_query(request: web.Request) -> web.StreamResponse:
    """``GET /v1/images/{generations|omni-image}/{task_id or external_task_id}``."""
    ex = await begin(request, KLING)
    if not isinstance(ex, Exchange):
        return ex
    endpoint = request.path.rsplit("/", 2)[-2]
    task = find(request, _KLING, request.match_info["id"])
    if task is not None and task.info.get("endpoint") != endpoint:
        task = None  # a task of the other image API is not found here
    async with polling(task):
        status = advance(task, KLING)
    if isinstance(status, web.Response):
        return status
    if task is None or status == "not_found":
        return KLING.error(404, "task not found", code="1203")
    return json_response(_kling_object(request, task, status))


# ---------------------------------------------------------------- Tencent Cloud MPS


def is_mps_image(request: web.Request) -> bool:
    """Whether a ``POST /`` is one of MPS's AIGC image actions."""
    return request.headers.get("X-TC-Action", "") in ("CreateAigcImageTask", "DescribeAigcImageTask")


async def mps(request: web.Request) -> web.StreamResponse:
    """``POST /`` with ``X-TC-Action`` ``CreateAigcImageTask`` or ``DescribeAigcImageTask``."""
    raw = await request.read()
    try:
        body: Any = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        body = None
    log_request(request, "tencent-mps", body if body is not None else raw[:2000].decode("utf-8", "replace"))
    denied = tc3_check(request, raw)
    if denied is not None:
        return denied
    if not isinstance(body, dict):
        return tc_error("InvalidParameter", "The request body is not valid JSON.")
    if request.headers.get("X-TC-Version") != _MPS_VERSION:
        return tc_error("InvalidParameter", "Version is not supported.")
    ex = Exchange(request, request.app[STATE_KEY], TENCENT, body)
    if request.headers.get("X-TC-Action") == "CreateAigcImageTask":
        return await _mps_create(ex, body)
    task = find(request, _MPS, str(body.get("TaskId", "")))
    async with polling(task):
        state = advance(task, TENCENT)
    if isinstance(state, web.Response):
        return state
    if task is None or state == "not_found":
        return tc_error("ResourceNotFound.TaskNotExist", "The task does not exist.")
    answer: dict[str, Any] = {"Status": _TC_STATUS[state], "ImageUrls": [], "Message": ""}
    if state == "failed":
        answer["Message"] = task.reason("The content failed the moderation check.")
    elif state == "succeeded":
        answer["ImageUrls"] = [image_url(request, task, 0) + "?sign=mock"]
    return tc_answer(answer)


async def _mps_create(ex: Exchange, body: dict[str, Any]) -> web.StreamResponse:
    model, scene = body.get("ModelName"), body.get("SceneType")
    if model not in ("Hunyuan", "Qwen", "Vidu", "Kling"):
        return tc_error("InvalidParameterValue.ModelName", "ModelName is not supported.")
    if scene not in (None, "3d_panorama") or (scene == "3d_panorama" and model != "Hunyuan"):
        return tc_error("InvalidParameterValue.SceneType", "SceneType 3d_panorama is supported by Hunyuan only.")
    prompt, images = body.get("Prompt"), body.get("ImageInfos", [])
    if not isinstance(images, list) or any(
        not isinstance(i, dict) or not str(i.get("ImageUrl", "")).startswith("http") for i in images
    ):
        return tc_error("InvalidParameterValue.ImageInfos", "ImageInfos must hold {ImageUrl} items.")
    if scene == "3d_panorama" and (bool(prompt) == bool(images) or len(images) > 1):
        return tc_error("InvalidParameterValue", "A panorama takes either Prompt or one image, not both.")
    if not prompt and not images:
        return tc_error("MissingParameter", "The request is missing a required parameter `Prompt`.")
    if prompt is not None and not isinstance(prompt, str):
        return tc_error("InvalidParameterValue.Prompt", "Prompt must be a string.")
    got = await script(ex, prompt or "")
    if not isinstance(got, tuple):
        return got
    d, clean = got
    size = (2 * EDGE, EDGE) if scene == "3d_panorama" else (EDGE, EDGE)
    task = await new_task(
        ex, d, _MPS, model=f"{model}:{body.get('ModelVersion', '')}", prompt=clean, seconds=0.0, size=size,
        prefix="4-AigcImage-", digits=12, n=1, fmt="jpeg", scene=scene or "",
    )  # fmt: skip
    return tc_answer({"TaskId": task.id})
