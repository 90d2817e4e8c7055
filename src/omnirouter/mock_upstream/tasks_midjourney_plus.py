"""The mock midjourney-proxy's "plus" API calls (``trueai-org/midjourney-proxy``): edits, video, face swap,
the synchronous image upload and the image seed.  The proxy's core (tasks, timelines, auth, buttons) is
``tasks_midjourney``; this module adds routes on the same tasks.

* ``POST /mj/submit/edits {prompt, image}`` (also ``/edit``): an ``EDIT`` task, a 2x2 grid with U/V buttons.
* ``POST /mj/submit/video {prompt, motion, image, endImage, loop, action, index, taskId, videoType,
  batchSize}``: a ``VIDEO`` task of ``batchSize`` (1, 2 or 4; else 4) H.264 MP4 clips at
  ``/mj/video/{id}/{n}.mp4`` (``.webp`` their thumbnails); ``action: "extend"`` with ``taskId`` and
  ``index`` (0-3) extends a finished video.  ``imageUrl`` is the first clip (as the plus API sets it).
* ``POST /mj/insight-face/swap {sourceBase64|sourceUrl, targetBase64|targetUrl}``: a ``SWAP_FACE`` task,
  one PNG.
* ``POST /mj/submit/upload-discord-images {base64Array}``: synchronous, ``result`` the uploaded images'
  URLs (``/mj/attachments/{n}/{name}``, no key, like the Discord CDN) — no task.
* ``GET /mj/task/{id}/image-seed``: ``{code: 1, description: "成功", result: "<seed>"}`` for a finished
  task (the seed then shows in its object), HTTP 400 ``code 4`` for an unfinished one, 404 ``code 3``
  for an unknown one.

Directives script these tasks as the core's do (``prompt``, or ``state`` for the calls without one):
``code: "22"`` queued, ``"23"`` a full queue, ``"24"`` a banned prompt (edits, video), ``body_error``
a ``FAILURE`` with ``failReason``.  A secret starting with ``cdn`` makes the mock a proxy with
``EnableFillOfficialCdn``: ``imageUrls`` on grids, ``videoUrl`` / ``videoUrls`` / ``imageUrls`` on videos.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream import media_video
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, begin, log_request
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.tasks_midjourney import (
    PREFIXES,
    WIRE,
    MjTask,
    answer,
    create_task,
    find_task,
    submit_route,
    submitted,
)

__all__ = ["VIDEO_SECONDS", "VIDEO_SIDE", "routes"]

VIDEO_SECONDS = 2.0
"""The length of each mock clip (Midjourney's are 5 s; shorter keeps the mock quick)."""
VIDEO_SIDE = 480
"""The side of a clip's (square, 480p) frame before ``media_video`` scales it down."""
_VIDEO_TYPES = ("vid_1.1_i2v_480", "vid_1.1_i2v_720")
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_NOT_FOUND = "关联任务不存在或已失效 (the task does not exist)"


@dataclass(slots=True, frozen=True)
class Upload:
    """One image ``upload-discord-images`` took."""

    name: str
    mime: str
    data: bytes


def _banned(d: Directive, clean: str) -> web.Response | None:
    if d.code == "24":
        return answer(24, "可能包含敏感词 (may contain banned words)", None, promptEn=clean, bannedWord="banned")
    return None


def _data_url(value: object) -> tuple[str, bytes] | None:
    """``(mime, bytes)`` of a ``data:`` URL or bare base64 (taken as PNG, as the proxy does); None if bad."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    mime = "image/png"
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            return None
        mime = header[5:-7] or mime
    try:
        return mime, base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _image_field(value: object) -> bool:
    """Whether ``value`` is an image the proxy takes: an http(s) URL or base64 (``data:`` or bare)."""
    if isinstance(value, str) and value[:4].lower() == "http":
        return True
    return _data_url(value) is not None


@submit_route("prompt")
async def edits(ex: Exchange, d: Directive, clean: str) -> web.StreamResponse:
    """``POST /mj/submit/edits {prompt, image}``."""
    image = ex.body.get("image")
    if not clean or not isinstance(image, str) or not image.strip():
        return answer(4, "image或prompt不能为空 (image and prompt are required)")
    if not _image_field(image):
        return answer(4, "base64格式错误 (bad base64)")
    refused = _banned(d, clean)
    if refused is not None:
        return refused
    task = create_task(ex, d, "EDIT", clean)
    task.description = f"/edit {clean}"
    return submitted(task, d)


def _video_parent(request: web.Request, body: dict[str, Any]) -> MjTask | web.Response | None:
    """The task a video extends (None: a new video), or the proxy's refusal."""
    parent_id = body.get("taskId")
    if not isinstance(parent_id, str) or not parent_id.strip():
        return None
    if body.get("action") != "extend":
        return answer(4, "任务类型错误 (action must be 'extend' with a taskId)")
    parent = find_task(request, parent_id)
    if parent is None:
        return web.json_response({"code": 3, "description": _NOT_FOUND, "result": None, "properties": {}}, status=404)
    if parent.status != "SUCCESS" or parent.action != "VIDEO":
        return answer(4, "关联任务状态错误 (the task is not a finished video)")
    index = body.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < parent.batch:
        return answer(4, "index参数错误 (index is the video's 0-based place in its batch)")
    return parent


@submit_route("prompt")
async def video(ex: Exchange, d: Directive, clean: str) -> web.StreamResponse:
    """``POST /mj/submit/video``: a new video from ``image`` (``endImage`` optional), or an extension."""
    body: dict[str, Any] = ex.body
    if not clean:
        return answer(4, "Prompt 不能为空 (prompt is required)")
    parent = _video_parent(ex.request, body)
    if isinstance(parent, web.Response):
        return parent
    for name in ("image", "endImage"):
        value = body.get(name)
        if (value is not None and not _image_field(value)) or (name == "image" and parent is None and not value):
            return answer(4, f"base64格式错误 ({name} must be an image URL or base64)")
    if body.get("videoType", _VIDEO_TYPES[0]) not in _VIDEO_TYPES or body.get("motion", "low") not in ("low", "high"):
        return answer(4, "参数错误 (videoType or motion)")
    refused = _banned(d, clean)
    if refused is not None:
        return refused
    batch = body.get("batchSize")
    task = create_task(ex, d, "VIDEO", clean, parent=parent.id if parent else None)
    task.batch = batch if batch in (1, 2, 4) else 4
    task.index = body["index"] if parent is not None else 0
    task.description = f"/video {clean}"
    return submitted(task, d)


@submit_route("state")
async def swap_face(ex: Exchange, d: Directive, _clean: str) -> web.StreamResponse:
    """``POST /mj/insight-face/swap``: the source's face on the target image."""
    source = ex.body.get("sourceBase64") or ex.body.get("sourceUrl")
    target = ex.body.get("targetBase64") or ex.body.get("targetUrl")
    if not source:
        return answer(4, "人脸图片不能为空 (the face image is required)")
    if not target:
        return answer(4, "目标图片不能为空 (the target image is required)")
    if source == target:
        return answer(4, "人脸图片和目标图片不能相同 (the face and the target must differ)")
    if not _image_field(source):
        return answer(4, "人脸图片格式错误 (bad face image)")
    if not _image_field(target):
        return answer(4, "目标图片格式错误 (bad target image)")
    return submitted(create_task(ex, d, "SWAP_FACE", ""), d)


async def upload_discord_images(request: web.Request) -> web.StreamResponse:
    """``POST /mj/submit/upload-discord-images {base64Array}``: ``result`` is the images' URLs, at once."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    items = ex.body.get("base64Array")
    if not isinstance(items, list) or not items:
        return answer(4, "base64 参数错误 (base64Array is required)")
    decoded = [_data_url(item) for item in items]
    if any(item is None for item in decoded):
        return answer(4, "base64格式错误 (bad base64)")
    origin, urls = str(request.url.origin()), []
    for mime, data in (item for item in decoded if item is not None):
        serial = ex.state.next_serial()
        extension = _EXTENSIONS.get(mime, "png")
        name = f"{hashlib.sha256(data).hexdigest()[:16]}.{extension}"
        ex.state.tasks[f"mjup:{serial}"] = Upload(name, mime, data)
        urls.append(f"{origin}/mj/attachments/{serial}/{name}")
    return answer(1, "提交成功", urls)


async def attachment(request: web.Request) -> web.StreamResponse:
    """``GET /mj/attachments/{n}/{name}`` (no key): an uploaded image's bytes."""
    log_request(request, WIRE.name, None)
    found = request.app[STATE_KEY].tasks.get(f"mjup:{request.match_info['serial']}")
    if not isinstance(found, Upload) or found.name != request.match_info["name"]:
        return web.json_response({"error": "no such attachment"}, status=404)
    return web.Response(body=found.data, content_type=found.mime)


async def image_seed(request: web.Request) -> web.StreamResponse:
    """``GET /mj/task/{id}/image-seed``."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    task = find_task(request, request.match_info["id"])
    if task is None:
        return web.json_response({"code": 3, "description": _NOT_FOUND, "result": None, "properties": {}}, status=404)
    if task.status != "SUCCESS":
        body = {"code": 4, "description": "关联任务状态错误 (the task has not finished)", "result": None}
        return web.json_response(body | {"properties": {}}, status=400)
    task.seed = task.seed or str(int(hashlib.sha256(task.hash.encode()).hexdigest()[:8], 16))
    return answer(1, "成功", task.seed)


async def video_file(request: web.Request) -> web.StreamResponse:
    """``GET /mj/video/{id}/{n}.mp4`` (no key): clip ``n`` of a finished video; ``{n}.webp`` its thumbnail."""
    log_request(request, WIRE.name, None)
    task = find_task(request, request.match_info["id"])
    index, _, extension = request.match_info["file"].partition(".")
    if task is None or task.action != "VIDEO" or task.status != "SUCCESS" or not index.isdigit():
        return web.json_response({"error": "no such video"}, status=404)
    if int(index) >= task.batch or extension not in ("mp4", "webp"):
        return web.json_response({"error": "no such video"}, status=404)
    seed = (int(task.id) + int(index)) % 16
    if extension == "webp":
        body = media_video.still("webp", VIDEO_SIDE, VIDEO_SIDE, seed)
        return web.Response(body=body, content_type="image/webp")
    body = media_video.mp4(VIDEO_SECONDS, VIDEO_SIDE, VIDEO_SIDE, seed)
    return web.Response(body=body, content_type="video/mp4")


def routes(router: web.UrlDispatcher) -> None:
    """Register the plus API's routes (each submit under every mode prefix)."""
    for prefix in PREFIXES:
        base = f"{prefix}/mj"
        router.add_post(f"{base}/submit/edits", edits)
        router.add_post(f"{base}/submit/edit", edits)
        router.add_post(f"{base}/submit/video", video)
        router.add_post(f"{base}/submit/upload-discord-images", upload_discord_images)
        router.add_post(f"{base}/insight-face/swap", swap_face)
        router.add_get(f"{base}/task/{{id}}/image-seed", image_seed)
    router.add_get("/mj/video/{id}/{file}", video_file)
    router.add_get("/mj/attachments/{serial}/{name}", attachment)
