"""Vendor image generation: Volcengine Ark Seedream (sync), Black Forest Labs FLUX and DashScope wanx (async).

Asynchronous tasks report pending ``pending_polls`` times (directive, default 2) and then finish;
a ``body_error`` directive on the submit makes the task end in the vendor's failure state.
Polls need the vendor's key but do not take directives from the script queue.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.core import Exchange, as_int, begin, json_response
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.media_common import directive, image_url, seed_of
from omnirouter.mock_upstream.media_wires import ARK, BFL, DASHSCOPE

DEFAULT_PENDING = 2
_PRESETS = {"1k": (1024, 1024), "2k": (2048, 2048), "3k": (3072, 3072), "4k": (4096, 4096)}


@dataclass(slots=True)
class Task:
    """One asynchronous generation: how many polls stay pending and what it ends with."""

    vendor: str
    pending: int
    created: float
    final: dict[str, Any]


def _pending(d: Directive) -> int:
    return d.pending_polls if d.pending_polls is not None else DEFAULT_PENDING


async def ark(request: web.Request) -> web.StreamResponse:
    """``POST /api/v3/images/generations``: ``{model, created, data: [{url|b64_json, size}], usage}``."""
    ex = await begin(request, ARK)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    model, prompt = body.get("model"), body.get("prompt")
    if not isinstance(model, str) or not model:
        return ARK.error(400, "The parameter `model` specified in the request is not valid.", code="MissingParameter")
    if not isinstance(prompt, str) or not prompt:
        return ARK.error(400, "The parameter `prompt` specified in the request is not valid.", code="MissingParameter")
    size = str(body.get("size") or "2048x2048")
    width, height = _PRESETS.get(size.lower()) or media_bytes.parse_size(size, (2048, 2048))
    count = 1
    if body.get("sequential_image_generation") == "auto":
        options = body.get("sequential_image_generation_options")
        asked = as_int(options.get("max_images")) if isinstance(options, dict) else None
        count = max(1, min(15, asked or 15))
    fmt = "png" if body.get("output_format") == "png" else "jpeg"
    got = await directive(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    seed = seed_of(clean) % 16
    data: list[dict[str, Any]] = []
    for i in range(count):
        if body.get("response_format") == "b64_json":
            blob = media_bytes.padded(media_bytes.image(fmt, width, height, (seed + i) % 16), fmt, d.media_bytes)
            data.append({"b64_json": base64.b64encode(blob).decode(), "size": f"{width}x{height}"})
        else:
            url = image_url(request, fmt, width, height, (seed + i) % 16, d.media_bytes)
            data.append({"url": url, "size": f"{width}x{height}"})
    if d.body_error not in (None, False):  # the last image of the set failed moderation
        code = "OutputImageSensitiveContentDetected" if d.body_error is True else str(d.body_error)
        message = d.message or "The request failed because the output image may contain sensitive information."
        data[-1] = {"error": {"code": code, "message": message}}
    generated = sum(1 for item in data if "error" not in item)
    tokens = generated * (width * height // 256)
    usage = {"generated_images": generated, "output_tokens": tokens, "total_tokens": tokens}
    return json_response({"model": model, "created": int(time.time()), "data": data, "usage": usage})


async def bfl_submit(request: web.Request) -> web.StreamResponse:
    """``POST /v1/flux-*``: ``{id, polling_url}``; poll ``GET /v1/get_result?id=``."""
    ex = await begin(request, BFL)
    if not isinstance(ex, Exchange):
        return ex
    prompt = ex.body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return json_response(
            {"detail": [{"type": "missing", "loc": ["body", "prompt"], "msg": "Field required", "input": None}]},
            status=422,
        )
    got = await directive(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    serial = ex.state.next_serial()
    task_id = f"mock-flux-{serial:08d}"
    fmt = "jpeg" if ex.body.get("output_format") == "jpeg" else "png"
    width, height = media_bytes.ratio_size(ex.body.get("aspect_ratio") or "1:1")
    now = time.time()
    if d.body_error not in (None, False):
        status = "Content Moderated" if d.body_error is True else str(d.body_error)
        final: dict[str, Any] = {"id": task_id, "status": status, "result": None, "progress": None}
        final["details"] = {"Moderation Reasons": [d.message or "Derivative Works Filter"]}
    else:
        sample = image_url(request, fmt, width, height, seed_of(clean) % 16, d.media_bytes)
        result = {"sample": sample, "prompt": clean, "seed": seed_of(clean), "start_time": now, "end_time": now + 1}
        final = {"id": task_id, "status": "Ready", "result": {**result, "duration": 1.0}, "progress": None}
    ex.state.tasks[task_id] = Task("bfl", _pending(d), now, final)
    polling = f"{request.url.origin()}/v1/get_result?id={task_id}"
    return json_response({"id": task_id, "polling_url": polling, "cost": 4.0, "input_mp": 0, "output_mp": 1.0})


async def bfl_result(request: web.Request) -> web.StreamResponse:
    """``GET /v1/get_result?id=``: ``Pending`` a few times, then ``Ready`` with ``result.sample``."""
    ex = await begin(request, BFL)
    if not isinstance(ex, Exchange):
        return ex
    task_id = request.query.get("id", "")
    task = ex.state.tasks.get(task_id)
    if not isinstance(task, Task) or task.vendor != "bfl":
        return json_response({"id": task_id, "status": "Task not found", "result": None, "progress": None})
    if task.pending > 0:
        task.pending -= 1
        return json_response({"id": task_id, "status": "Pending", "result": None, "progress": 0.5})
    return json_response(task.final)


async def wanx_submit(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/services/aigc/text2image/image-synthesis`` (``X-DashScope-Async: enable``): a task."""
    ex = await begin(request, DASHSCOPE)
    if not isinstance(ex, Exchange):
        return ex
    if request.headers.get("X-DashScope-Async", "").lower() != "enable":
        return DASHSCOPE.error(403, "current user api does not support synchronous calls", code="AccessDenied")
    body = ex.body
    inp = body.get("input") if isinstance(body.get("input"), dict) else {}
    params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    prompt = inp.get("prompt")
    if not isinstance(body.get("model"), str) or not isinstance(prompt, str) or not prompt:
        return DASHSCOPE.error(400, "Required parameter(s) missing or invalid: model, input.prompt")
    n = as_int(params.get("n")) or 1
    if not 1 <= n <= 4:
        return DASHSCOPE.error(400, "The n parameter must be between 1 and 4.")
    width, height = media_bytes.parse_size(str(params.get("size") or "1024*1024").replace("*", "x"))
    got = await directive(ex, prompt)
    if not isinstance(got, tuple):
        return got
    d, clean = got
    serial = ex.state.next_serial()
    task_id = f"mock-task-{serial:08d}"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    times = {"submit_time": stamp, "scheduled_time": stamp, "end_time": stamp}
    if d.body_error not in (None, False):
        code = DASHSCOPE.body_code if d.body_error is True else str(d.body_error)
        output: dict[str, Any] = {"task_id": task_id, "task_status": "FAILED", **times, "code": code}
        output["message"] = d.message or "Mock task failure."
        final: dict[str, Any] = {"request_id": f"mock-{serial:012d}", "output": output}
    else:
        seed = seed_of(clean) % 16
        results = [
            {
                "orig_prompt": clean,
                "actual_prompt": clean,
                "url": image_url(request, "png", width, height, (seed + i) % 16, d.media_bytes),
            }
            for i in range(n)
        ]
        output = {"task_id": task_id, "task_status": "SUCCEEDED", **times, "results": results}
        output["task_metrics"] = {"TOTAL": n, "SUCCEEDED": n, "FAILED": 0}
        final = {"request_id": f"mock-{serial:012d}", "output": output, "usage": {"image_count": n}}
    ex.state.tasks[task_id] = Task("dashscope", _pending(d), time.time(), final)
    return json_response(
        {"output": {"task_status": "PENDING", "task_id": task_id}, "request_id": f"mock-{serial:012d}"}
    )


async def dashscope_task(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/tasks/{task_id}``: PENDING, RUNNING..., then SUCCEEDED (or FAILED)."""
    ex = await begin(request, DASHSCOPE)
    if not isinstance(ex, Exchange):
        return ex
    task_id = request.match_info["task_id"]
    task = ex.state.tasks.get(task_id)
    if not isinstance(task, Task) or task.vendor != "dashscope":
        return json_response({"request_id": "mock", "output": {"task_id": task_id, "task_status": "UNKNOWN"}})
    if task.pending > 0:
        task.pending -= 1
        status = "RUNNING" if task.pending == 0 else "PENDING"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(task.created))
        output = {"task_id": task_id, "task_status": status, "submit_time": stamp}
        return json_response({"request_id": "mock", "output": output})
    return json_response(task.final)
