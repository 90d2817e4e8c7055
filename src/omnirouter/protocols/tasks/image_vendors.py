"""Image vendors as task codecs (``TaskKind.IMAGE``), for Omni-Image's asynchronous tasks.

* ``InlineImageTask``: a vendor whose image API is synchronous (OpenAI, Gemini, Ark Seedream) wrapped as a
  task codec.  It has no task at the vendor to poll or find: the engine's image runs
  (``tasks/image_runs.py``) make the vendor's synchronous call (with its codec ``upstream``) in the
  background once the task row is written, and keep the images it answers.  ``find`` is None: a task whose
  call was cut off by a crash is refunded by the reconciler.
* ``BflImageTask``: Black Forest Labs FLUX — submit ``POST /v1/{model}`` → ``{id, polling_url}``, polled by
  the poller (``Pending`` / ``Queued`` / ``Processing`` / ``Running``; ``Ready`` gives ``result.sample``;
  ``Request Moderated`` / ``Content Moderated`` / ``Error`` / ``Failed`` end it).  One image per task:
  ``n`` above 1 is a 400.  The upstream id is the polling URL when FLUX gives an absolute one.
* ``WanxImageTask``: DashScope wanx — submit with ``X-DashScope-Async: enable`` → ``output.task_id``, polled
  at ``GET /api/v1/tasks/{id}`` (``PENDING`` / ``RUNNING``; ``SUCCEEDED`` gives ``output.results[].url``
  and ``usage.image_count``; ``FAILED`` / ``CANCELED`` end it; ``UNKNOWN`` is polled again).

The wire facts are the synchronous codecs' (``protocols/media/vendor_images.py``), shared, not copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from omnirouter.ir import ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import ImageRequest, ImageResult
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, MediaUpstream, Target, UpstreamCall, json_object
from omnirouter.protocols.media.images import invalid
from omnirouter.protocols.media.vendor_images import (
    BFL_RUNNING,
    WANX_RUNNING,
    bfl_poll_call,
    bfl_sample,
    bfl_submit,
    wanx_error,
    wanx_poll_call,
    wanx_submit,
    wanx_urls,
)
from omnirouter.protocols.openai_chat.errors import decode_error
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.omni_image import image_request

__all__ = [
    "BFL_IMAGE_TASK",
    "IMAGE_REQUEST_CODECS",
    "WANX_IMAGE_TASK",
    "BflImageTask",
    "InlineImageTask",
    "WanxImageTask",
]

IMAGE_TIMING: Final = TaskTiming(first_poll=2.0, max_poll=10.0, deadline=30 * 60.0)


class _NoPoll:
    """What a codec without a vendor-side task answers to the engine's look-ups."""

    def find(self, target: TaskTarget, request: TaskRequest | None = None) -> UpstreamCall | None:
        return None

    def parse_find(self, answer: Answer, target: TaskTarget, request: TaskRequest | None = None) -> str | None:
        return None

    def cancel(self, upstream_id: str, target: TaskTarget) -> UpstreamCall | None:
        return None

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        return None

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


class InlineImageTask(_NoPoll):
    """A synchronous image vendor as a task codec: its calls are ``upstream``'s, made by the image runs."""

    kind = TaskKind.IMAGE
    timing = IMAGE_TIMING

    def __init__(self, upstream: MediaUpstream[ImageRequest, ImageResult]) -> None:
        self.upstream = upstream

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        return self.upstream.build(image_request(request), _media_target(target))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        raise GatewayError(ErrorKind.INTERNAL, "a synchronous image vendor's call is made by the image runs")

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        raise GatewayError(ErrorKind.INTERNAL, "a synchronous image vendor has no task to poll")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        raise GatewayError(ErrorKind.INTERNAL, "a synchronous image vendor has no task to poll")

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return self.upstream.decode_error(status, body)


def _media_target(target: TaskTarget) -> Target:
    return Target(target.upstream_model, target.options, target.upstream_key, target.base_url)


class BflImageTask(_NoPoll):
    """Black Forest Labs FLUX image tasks."""

    kind = TaskKind.IMAGE
    timing = IMAGE_TIMING

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        if request.n is not None and request.n > 1:
            raise invalid("FLUX makes one image per task: ask 'n' of 1 (or create several tasks).", "n")
        return bfl_submit(image_request(request), target.upstream_model)

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        task_id, call = bfl_poll_call(json_object(answer.body, "FLUX"), target.base_url)
        return Submitted(call.path if call.path.startswith("http") else task_id)

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        if upstream_id.startswith("http"):
            return bfl_poll_call({"id": upstream_id, "polling_url": upstream_id}, target.base_url)[1]
        return bfl_poll_call({"id": upstream_id}, target.base_url)[1]

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        parsed = json_object(answer.body, "FLUX")
        raw_status = parsed.get("status")
        status = raw_status if isinstance(raw_status, str) else ""
        if status == "Ready":
            output = TaskOutput(kind="image", url=bfl_sample(parsed))
            return TaskState(status=TaskStatus.SUCCEEDED, vendor_status=status, outputs=[output],
                             usage=Usage(images=1))  # fmt: skip
        if status in ("Request Moderated", "Content Moderated", "Error", "Failed"):
            details = parsed.get("details")
            return TaskState(status=TaskStatus.FAILED, vendor_status=status,
                             failure=f"FLUX task ended '{status}' ({details or 'no details'})",
                             failure_code=status.lower().replace(" ", "_"))  # fmt: skip
        progress = parsed.get("progress")
        shown = round(progress * 100) if isinstance(progress, float | int) and status in BFL_RUNNING else None
        return TaskState(status=TaskStatus.RUNNING, vendor_status=str(status), progress=shown)


class WanxImageTask(_NoPoll):
    """DashScope wanx text-to-image tasks."""

    kind = TaskKind.IMAGE
    timing = IMAGE_TIMING

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        return wanx_submit(image_request(request), target.upstream_model)

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        parsed = json_object(answer.body, "DashScope")
        wanx_error(parsed)
        output = parsed.get("output")
        task_id = output.get("task_id") if isinstance(output, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise GatewayError(ErrorKind.UPSTREAM, "DashScope returned no task id")
        return Submitted(task_id)

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        return wanx_poll_call(upstream_id)

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState:
        parsed = json_object(answer.body, "DashScope")
        raw = parsed.get("output")
        output: dict[str, Any] = raw if isinstance(raw, dict) else {}
        raw_status = output.get("task_status")
        status = raw_status if isinstance(raw_status, str) else "UNKNOWN"
        if status == "SUCCEEDED":
            urls = wanx_urls(output)
            usage_obj = parsed.get("usage")
            count = token_count(usage_obj.get("image_count")) if isinstance(usage_obj, dict) else 0
            return TaskState(status=TaskStatus.SUCCEEDED, vendor_status=status,
                             outputs=[TaskOutput(kind="image", url=url) for url in urls],
                             usage=Usage(images=count or len(urls)))  # fmt: skip
        if status in ("FAILED", "CANCELED"):
            reason = output.get("message") or output.get("code") or "no reason given"
            return TaskState(status=TaskStatus.FAILED, vendor_status=status,
                             failure=f"DashScope task ended {status}: {reason}",
                             failure_code=str(output.get("code") or status.lower()))  # fmt: skip
        wanx_error(parsed)
        progress = 50 if status in WANX_RUNNING else None
        return TaskState(status=TaskStatus.RUNNING, vendor_status=status, progress=progress)


BFL_IMAGE_TASK = BflImageTask()
WANX_IMAGE_TASK = WanxImageTask()
IMAGE_REQUEST_CODECS: Final = (InlineImageTask, BflImageTask, WanxImageTask)
"""The codecs that read the image request a task carries (``omni_image.image_request``); other image task
codecs (Kling's, Hunyuan's) read ``TaskRequest`` fields and merge ``extra``."""
