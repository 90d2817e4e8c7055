"""Video tasks of DashScope Wan, Tencent Cloud Hunyuan (VCLM) and PixVerse in their wire formats, on the
timeline and result files of ``tasks_video``.  Their results are signed-URL style links (``/media/tasks/…``
with a signature-like query, no key).

Tencent checks the TC3-HMAC-SHA256 signature: the mock's SecretKey for a SecretId ``X`` is ``X-secret``
(a SecretId starting with ``bad``/``invalid`` is unknown); errors come in HTTP 200 ``Response.Error``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import time
from typing import Any

import orjson
from aiohttp import web
from PIL import Image

from omnirouter.mock_upstream.core import STATE_KEY, Exchange, Wire, begin, json_response, log_request
from omnirouter.mock_upstream.media_common import FormExchange, begin_media
from omnirouter.mock_upstream.media_wires import DASHSCOPE, VendorWire
from omnirouter.mock_upstream.tasks_video import (
    UNKNOWN,
    advance,
    find,
    media_url,
    new_task,
    progress,
    script,
    status_of,
)

# ---------------------------------------------------------------- DashScope Wan

_WAN_SIZES = {
    "832*480", "480*832", "624*624", "1280*720", "720*1280", "960*960", "1088*832", "832*1088",
    "1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632",
}  # fmt: skip
_WAN_TIERS = {"480P": (832, 480), "720P": (1280, 720), "1080P": (1920, 1080)}
_WAN_STATUS = {"queued": "PENDING", "running": "RUNNING", "succeeded": "SUCCEEDED", "failed": "FAILED"}
_WAN_STATUS |= {"cancelled": "CANCELED", "unknown": UNKNOWN}


def _wan_durations(model: str) -> tuple[int, ...]:
    return (5, 10, 15) if model.startswith("wan2.6") else (5, 10) if model.startswith("wan2.5") else (5,)


async def wan_submit(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/services/aigc/video-generation/video-synthesis`` (``X-DashScope-Async: enable``)."""
    ex = await begin(request, DASHSCOPE)
    if not isinstance(ex, Exchange):
        return ex
    if request.headers.get("X-DashScope-Async", "").lower() != "enable":
        return DASHSCOPE.error(403, "current user api does not support synchronous calls", code="AccessDenied")
    body = ex.body if isinstance(ex.body, dict) else {}
    model = body.get("model")
    raw_inp, raw_params = body.get("input"), body.get("parameters")
    inp: dict[str, Any] = raw_inp if isinstance(raw_inp, dict) else {}
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    if not isinstance(model, str) or not model.startswith(("wan", "wanx")):
        return DASHSCOPE.error(400, "Model not exist.", code="InvalidParameter")
    image_model = "i2v" in model or "kf2v" in model
    if image_model and not (inp.get("img_url") or inp.get("first_frame_url")):
        return DASHSCOPE.error(400, "Field required: input.img_url", code="InvalidParameter")
    prompt = inp.get("prompt")
    if not image_model and (not isinstance(prompt, str) or not prompt):
        return DASHSCOPE.error(400, "Field required: input.prompt", code="InvalidParameter")
    seconds = params.get("duration", 5)
    if seconds not in _wan_durations(model):
        return DASHSCOPE.error(400, f"The duration {seconds} is not supported by {model}.", code="InvalidParameter")
    size = params.get("size")
    if size is not None and (image_model or size not in _WAN_SIZES):
        return DASHSCOPE.error(400, f"The size {size} is not supported.", code="InvalidParameter")
    resolution = params.get("resolution")
    if resolution is not None and (not image_model or resolution not in _WAN_TIERS):
        return DASHSCOPE.error(400, f"The resolution {resolution} is not supported.", code="InvalidParameter")
    got = await script(ex, prompt if isinstance(prompt, str) else "")
    if not isinstance(got, tuple):
        return got
    d, clean = got
    width, height = tuple(int(v) for v in size.split("*")) if size else _WAN_TIERS.get(resolution or "", (1920, 1080))
    task = await new_task(
        ex, d, "dashscope", model=model, prompt=clean, seconds=float(seconds), size=(width, height), prefix="wan-task-"
    )
    return json_response({"output": {"task_status": "PENDING", "task_id": task.id}, "request_id": f"req-{task.id}"})


async def dashscope_video_task(request: web.Request) -> web.StreamResponse | None:
    """``GET /api/v1/tasks/{id}`` for a video task (None: not one of ours, the image tasks answer)."""
    task = find(request, "dashscope", request.match_info["task_id"])
    if task is None:
        return None
    ex = await begin(request, DASHSCOPE)
    if not isinstance(ex, Exchange):
        return ex
    state = advance(task, DASHSCOPE)
    if isinstance(state, web.Response):
        return state
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000", time.localtime(task.created))
    output: dict[str, Any] = {"task_id": task.id, "submit_time": stamp}
    if state == "not_found":  # DashScope's answer for a task it does not know
        return json_response({"request_id": "mock", "output": {"task_id": task.id, "task_status": "UNKNOWN"}})
    output["task_status"] = _WAN_STATUS[state]
    answer: dict[str, Any] = {"request_id": f"mock-{task.id}", "output": output}
    if state == "failed":
        message = task.reason("mock task failure")
        output.update(code=task.failure_code("DataInspectionFailed"), message=message, end_time=stamp)
    elif state == "succeeded":
        output.update(scheduled_time=stamp, end_time=stamp, orig_prompt=task.prompt)
        output["video_url"] = media_url(request, task, "video.mp4") + "?Expires=86400&Signature=mock"
        answer["usage"] = {"video_duration": task.seconds, "video_count": 1, "SR": task.height}
    return json_response(answer)


async def dashscope_cancel(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/tasks/{id}/cancel`` (no body): only a task still ``PENDING``."""
    log_request(request, DASHSCOPE.name, None)
    denied = DASHSCOPE.check_auth(request)
    if denied is not None:
        return denied
    task = find(request, "dashscope", request.match_info["task_id"])
    if task is None or status_of(task) != "queued":
        message = "Failed to cancel the task, please confirm if the task is in PENDING status."
        return DASHSCOPE.error(400, message, code="UnsupportedOperation")
    task.cancelled = True
    return json_response({"request_id": f"mock-cancel-{task.id}"})


# ---------------------------------------------------------------- Tencent Cloud VCLM (Hunyuan)

_TC3 = re.compile(
    r"TC3-HMAC-SHA256 Credential=([^/]+)/([^/]+)/([^/]+)/tc3_request, SignedHeaders=([^,]+), Signature=(\w+)"
)
_TC_STATUS = {"queued": "WAIT", "running": "RUN", "succeeded": "DONE", "failed": "FAIL", "unknown": UNKNOWN}


def tc_answer(response: dict[str, Any], request_id: str = "mock-request") -> web.Response:
    """A Tencent Cloud answer: ``{"Response": {..., "RequestId"}}``."""
    return json_response({"Response": {**response, "RequestId": request_id}})


def tc_error(code: str, message: str) -> web.Response:
    """A Tencent Cloud error: HTTP 200 ``Response.Error {Code, Message}``."""
    return tc_answer({"Error": {"Code": code, "Message": message}})


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_check(request: web.Request, payload: bytes) -> web.Response | None:
    """The error answer for a missing, expired or wrong TC3-HMAC-SHA256 signature; None when it holds."""
    match = _TC3.fullmatch(request.headers.get("Authorization", ""))
    if match is None:
        return tc_error("AuthFailure.InvalidAuthorization", "Authorization header is missing or malformed.")
    secret_id, date, service, signed, signature = match.groups()
    if secret_id.startswith(("bad", "invalid")):
        return tc_error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    raw_stamp = request.headers.get("X-TC-Timestamp", "")
    stamp = int(raw_stamp) if raw_stamp.isdigit() else None
    if stamp is None or abs(time.time() - stamp) > 300:
        return tc_error("AuthFailure.SignatureExpire", "Signature expired.")
    if date != time.strftime("%Y-%m-%d", time.gmtime(stamp)):
        return tc_error("AuthFailure.SignatureFailure", "The credential date does not match X-TC-Timestamp.")
    names = signed.split(";")
    values = {name: request.headers.get(name, "").strip() for name in names}
    if "x-tc-action" in values:
        values["x-tc-action"] = values["x-tc-action"].lower()
    canonical_headers = "".join(f"{name}:{values[name]}\n" for name in names)
    canonical = f"POST\n{request.path}\n\n{canonical_headers}\n{signed}\n{hashlib.sha256(payload).hexdigest()}"
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _sign(_sign(_sign(f"TC3{secret_id}-secret".encode(), date), service), "tc3_request")
    if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature):
        return tc_error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
    return None


class _TencentWire(Wire):
    """Tencent Cloud API 3.0: every error is an HTTP 200 ``Response.Error`` (except transport faults)."""

    name = "tencent"

    def check_auth(self, request: web.Request) -> web.Response | None:
        return None  # checked with the body in ``tencent``

    def error(self, status: int, message: str, error_type: str | None = None, **_: Any) -> web.Response:
        code = "RequestLimitExceeded" if status == 429 else "InternalError"
        return tc_error(code, message)


TENCENT = _TencentWire()


async def tencent(request: web.Request) -> web.StreamResponse:
    """``POST /`` with ``X-TC-Action`` ``SubmitHunyuanToVideoJob`` or ``DescribeHunyuanToVideoJob``."""
    raw = await request.read()
    try:
        body: Any = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        body = None
    log_request(request, "tencent", body if body is not None else raw[:2000].decode("utf-8", "replace"))
    denied = tc3_check(request, raw)
    if denied is not None:
        return denied
    if not isinstance(body, dict):
        return tc_error("InvalidParameter", "The request body is not valid JSON.")
    if request.headers.get("X-TC-Version") != "2024-05-23":
        return tc_error("InvalidParameter", "Version is not supported.")
    if not request.headers.get("X-TC-Region"):
        return tc_error("MissingParameter", "The request is missing a required parameter `Region`.")
    action = request.headers.get("X-TC-Action", "")
    ex = Exchange(request, request.app[STATE_KEY], TENCENT, body)
    if action == "SubmitHunyuanToVideoJob":
        prompt = body.get("Prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return tc_error("MissingParameter", "The request is missing a required parameter `Prompt`.")
        if body.get("Resolution", "720p") != "720p":
            return tc_error("InvalidParameterValue", "Resolution only supports 720p.")
        got = await script(ex, prompt)
        if not isinstance(got, tuple):
            return got
        d, clean = got
        if len(clean.strip()) > 200:
            return tc_error("InvalidParameterValue", "Prompt exceeds 200 characters.")
        task = await new_task(
            ex, d, "tencent", model="hunyuan", prompt=clean, seconds=5.0, size=(1280, 720), prefix="13873"
        )
        return tc_answer({"JobId": task.id})
    if action == "DescribeHunyuanToVideoJob":
        job = find(request, "tencent", str(body.get("JobId", "")))
        state = advance(job, TENCENT)
        if isinstance(state, web.Response):
            return state
        if job is None or state == "not_found":
            return tc_error("ResourceNotFound", "The job does not exist.")
        answer = {"Status": _TC_STATUS[state], "ErrorCode": "", "ErrorMessage": "", "ResultVideoUrl": ""}
        if state == "failed":
            code = job.failure_code("FailedOperation.ModerationFailed")
            answer.update(ErrorCode=code, ErrorMessage=job.reason("mock task failure"))
        elif state == "succeeded":
            answer["ResultVideoUrl"] = media_url(request, job, "video.mp4") + "?sign=mock"
        return tc_answer(answer)
    return tc_error("InvalidAction", f"The action `{action}` is not supported.")


# ---------------------------------------------------------------- PixVerse


class _PixVerseWire(VendorWire):
    """PixVerse: ``API-KEY``; ``{ErrCode, ErrMsg}``."""

    name = "pixverse"
    missing = "API-KEY is required"
    invalid = "Invalid API key"

    def key(self, request: web.Request) -> str:
        return request.headers.get("API-KEY", "").strip()

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        errcode = 10005 if error_type == "auth" else 500043 if status == 429 else 500000 + status
        return {"ErrCode": errcode, "ErrMsg": message, "Resp": None}


PIXVERSE = _PixVerseWire()
_PV_QUALITIES = {"360p": 360, "540p": 540, "720p": 720, "1080p": 1080}
_PV_RATIOS = {"16:9": (16, 9), "4:3": (4, 3), "1:1": (1, 1), "3:4": (3, 4), "9:16": (9, 16)}
_PV_STATUS = {"queued": 5, "running": 5, "succeeded": 1, "unknown": 9}


def _pv_error(code: int, message: str) -> web.Response:
    return json_response({"ErrCode": code, "ErrMsg": message, "Resp": None})


def _pv_images(ex: Exchange) -> dict[int, dict[str, Any]]:
    """The images uploaded to the mock PixVerse by ``img_id``."""
    images: dict[int, dict[str, Any]] = ex.state.tasks.setdefault("pixverse-images", {})
    return images


async def pixverse_upload(request: web.Request) -> web.StreamResponse:
    """``POST /openapi/v2/image/upload``: multipart with the file ``image`` (a PNG, JPEG or WebP that
    decodes) or the field ``image_url``; ``{ErrCode: 0, Resp{img_id, img_url}}``.  A repeated ``Ai-trace-id``
    answers the earlier upload."""
    ex = await begin_media(request, PIXVERSE)
    if not isinstance(ex, Exchange):
        return ex
    trace = request.headers.get("Ai-trace-id", "")
    if not trace:
        return _pv_error(400017, "Ai-trace-id is required")
    images = _pv_images(ex)
    seen: dict[str, int] = ex.state.tasks.setdefault("pixverse-upload-traces", {})
    if trace not in seen:
        form = ex.form if isinstance(ex, FormExchange) else None
        files = form.files("image") if form is not None else []
        url = form.text("image_url") if form is not None else None
        if len(files) == 1 and not url:
            try:
                with Image.open(io.BytesIO(files[0].data)) as image:
                    image.load()
                    kind, (width, height) = image.format, image.size
            except (OSError, ValueError):
                return _pv_error(400017, "Invalid parameter: image is not a valid image")
            if kind not in ("PNG", "JPEG", "WEBP"):
                return _pv_error(400017, "Invalid parameter: image must be png, jpeg or webp")
            entry: dict[str, Any] = {"sha256": hashlib.sha256(files[0].data).hexdigest(), "size": (width, height)}
        elif not files and url and url.startswith(("https://", "http://")):
            entry = {"url": url}
        else:
            return _pv_error(400017, "Invalid parameter: one image file or image_url is required")
        seen[trace] = img_id = 40_000_000 + len(images) + 1
        images[img_id] = entry
    img_id = seen[trace]
    resp = {"img_id": img_id, "img_url": f"https://media.pixverse.ai/openapi/mock/{img_id}.png"}
    return json_response({"ErrCode": 0, "ErrMsg": "success", "Resp": resp})


async def pixverse_generate(request: web.Request) -> web.StreamResponse:
    """``POST /openapi/v2/video/{text,img}/generate``: ``{ErrCode: 0, Resp{video_id}}``; a repeated
    ``Ai-trace-id`` answers the earlier video."""
    ex = await begin(request, PIXVERSE)
    if not isinstance(ex, Exchange):
        return ex
    trace = request.headers.get("Ai-trace-id", "")
    if not trace:
        return _pv_error(400017, "Ai-trace-id is required")
    seen: dict[str, str] = ex.state.tasks.setdefault("pixverse-traces", {})
    if trace in seen:
        return json_response({"ErrCode": 0, "ErrMsg": "success", "Resp": {"video_id": int(seen[trace])}})
    body = ex.body if isinstance(ex.body, dict) else {}
    prompt, quality, ratio, seconds = (body.get(k) for k in ("prompt", "quality", "aspect_ratio", "duration"))
    if not isinstance(prompt, str) or not prompt or not isinstance(body.get("model"), str):
        return _pv_error(400017, "Invalid parameter: prompt and model are required")
    if quality not in _PV_QUALITIES or ratio not in _PV_RATIOS or seconds not in (5, 8):
        return _pv_error(400017, "Invalid parameter: duration, quality and aspect_ratio are required")
    if quality == "1080p" and seconds == 8:
        return _pv_error(400017, "Invalid parameter: 1080p does not support 8 seconds")
    if request.path.endswith("/img/generate") and body.get("img_id") not in _pv_images(ex):
        return _pv_error(400017, "Invalid parameter: img_id")  # only an image uploaded here
    got = await script(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    rw, rh = _PV_RATIOS[str(ratio)]
    lines = _PV_QUALITIES[str(quality)]
    size = (lines * rw // rh, lines) if rw >= rh else (lines, lines * rh // rw)
    model = str(body["model"])
    task = await new_task(ex, d, "pixverse", model=model, prompt=clean, seconds=float(seconds), size=size, prefix="3")
    if "img_id" in body:
        task.info["image"] = _pv_images(ex)[body["img_id"]]  # what tests check the video was made from
    seen[trace] = task.id
    return json_response({"ErrCode": 0, "ErrMsg": "success", "Resp": {"video_id": int(task.id)}})


async def pixverse_result(request: web.Request) -> web.StreamResponse:
    """``GET /openapi/v2/video/result/{id}``: status 5 while generating, then 1 (or 7/8)."""
    ex = await begin(request, PIXVERSE)
    if not isinstance(ex, Exchange):
        return ex
    task = find(request, "pixverse", request.match_info["video_id"])
    state = advance(task, PIXVERSE)
    if isinstance(state, web.Response):
        return state
    if task is None or state == "not_found":
        return _pv_error(400018, "video not found")
    if state in ("failed", "cancelled"):  # 7: moderation (the default), 8: generation failed
        code = task.failure_code("7")
        status = int(code) if code in ("7", "8") else 7
    else:
        status = _PV_STATUS[state]
    url = media_url(request, task, "video.mp4") if status == 1 else ""
    resp = {
        "id": int(task.id),
        "status": status,
        "url": url,
        "prompt": task.prompt,
        "outputWidth": task.width,
        "outputHeight": task.height,
        "progress": 100 if status == 1 else progress(task),
        "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(task.created)),
    }
    return json_response({"ErrCode": 0, "ErrMsg": "success", "Resp": resp})
