"""The task codec of the mock upstream's generic video vendor (``mock_upstream/media_tasks.py``): a real
``TaskVendor`` over a wire we control, so the engine's tests script every poll answer.

Submit ``POST /mockvideo/tasks`` (our external id in ``external_id``; vendor-native ``extra`` fields such
as ``timeline`` pass through), poll ``GET /mockvideo/tasks/{id}``, find ``GET /mockvideo/tasks?external_id=``.
Durations are made as asked; 5 s when none is asked (the mock's default).
Errors are OpenAI-shaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, json_object
from omnirouter.protocols.openai_chat.errors import decode_error
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming

__all__ = ["MOCK_VIDEO", "MockVideoVendor"]

_VENDOR = "mock video vendor"
_STATUSES = {
    "queued": TaskStatus.QUEUED,
    "running": TaskStatus.RUNNING,
    "succeeded": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
}


def _body(answer: Answer) -> dict[str, Any]:
    body = json_object(answer.body, _VENDOR)
    error = body.get("error")
    if isinstance(error, dict):  # an error inside a 2xx answer: transient for the engine
        raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR}: {error.get('message', 'error')}")
    return body


class MockVideoVendor:
    """``TaskVendor`` of the mock video vendor."""

    kind = TaskKind.VIDEO
    timing = TaskTiming(first_poll=5.0, max_poll=30.0, deadline=3600.0)
    default_seconds = 5.0

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """The asked seconds (the mock makes any length), else its default."""
        return request.seconds if request.seconds is not None else self.default_seconds

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        if not request.prompt:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'prompt' is required.", param="prompt")
        if "seconds" in request.extra:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'seconds' is the request's own field.", param="seconds")
        body: dict[str, Any] = {**request.extra, "model": target.upstream_model, "prompt": request.prompt}
        if request.seconds is not None:
            body["seconds"] = request.seconds
        body["external_id"] = target.external_id
        return UpstreamCall("/mockvideo/tasks", orjson.dumps(body))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        task_id = _body(answer).get("id")
        if not isinstance(task_id, str) or not task_id:
            raise GatewayError(ErrorKind.UPSTREAM, f"{_VENDOR} answered a submit without a task id")
        return Submitted(task_id, TaskState(status=TaskStatus.QUEUED, vendor_status="queued"))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        return UpstreamCall(f"/mockvideo/tasks/{quote(upstream_id, safe='')}", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        body = _body(answer)
        raw = str(body.get("status", ""))
        status = _STATUSES.get(raw, TaskStatus.RUNNING)  # undocumented: still running
        progress = body.get("progress")
        state = TaskState(status=status, vendor_status=raw, progress=progress if isinstance(progress, int) else None)
        if status is TaskStatus.SUCCEEDED:
            auth = body.get("files_need_key") is True  # the vendor's files need the channel's key
            outputs = [TaskOutput(kind="video", url=str(body["video_url"]), mime="video/mp4", auth=auth)]
            if isinstance(body.get("thumbnail_url"), str):
                outputs.append(TaskOutput(kind="thumbnail", url=body["thumbnail_url"], mime="image/jpeg", auth=auth))
            seconds = body.get("seconds")
            state.outputs = outputs
            state.seconds = float(seconds) if isinstance(seconds, int | float) else None
            tokens = body.get("output_tokens")
            if isinstance(tokens, int):
                state.usage = Usage(output_tokens=tokens)
        elif status is TaskStatus.FAILED:
            error = body.get("failure") or {}
            state.failure = str(error.get("message", "failed")) if isinstance(error, dict) else "failed"
            state.failure_code = str(error.get("code")) if isinstance(error, dict) and error.get("code") else None
        return state

    def find(self, target: TaskTarget, request: TaskRequest | None = None) -> UpstreamCall | None:
        return UpstreamCall(f"/mockvideo/tasks?external_id={quote(target.external_id, safe='')}", method="GET")

    def parse_find(self, answer: Answer, target: TaskTarget, request: TaskRequest | None = None) -> str | None:
        data = _body(answer).get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("id"), str):
            return str(data[0]["id"])
        return None

    def cancel(self, upstream_id: str, target: TaskTarget) -> UpstreamCall | None:
        return None

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


MOCK_VIDEO = MockVideoVendor()
