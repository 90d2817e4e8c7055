"""Suno music and lyrics tasks, upstream side: a Suno-API server (github.com/Suno-API/Suno-API, the
upstream new-api's Suno channel relays to).

Wire: ``POST /suno/submit/music`` with ``{prompt, gpt_description_prompt, mv, title, tags,
make_instrumental, continue_at, continue_clip_id}`` and ``POST /suno/submit/lyrics`` with ``{prompt}``
→ ``{code: "success", message, data: "<task id>"}`` (another ``code`` is an error inside a 2xx body);
poll ``GET /suno/fetch/{id}`` → ``{code, data: task}``, batch ``POST /suno/fetch {ids}`` →
``{code, data: [task]}`` (``BatchPoll``).  A task is ``{task_id, action, status, fail_reason,
submit_time, start_time, finish_time, data}`` where ``data`` is, for music, the list of clips (``{id,
status, title, audio_url, image_url, …}``) and, for lyrics, ``{id, text, title, status}``.  Auth: Bearer
(the channel's key).  No look-up by our id, no cancel, no callback.

Which action: ``request.mode`` (``music`` / ``lyrics``, set by the Suno dialect), else the upstream model's
name (``suno_lyrics`` → lyrics, any other → music).  ``mv`` (Suno's own model, ``chirp-v3-5``…) comes from
``extra`` as the client sent it; a continue is ``continue_clip_id`` + ``continue_at`` in ``extra``.

Statuses (Suno-API's, new-api's enum): ``NOT_START``/``SUBMITTED``/``QUEUED`` → queued, ``IN_PROGRESS`` → running,
``SUCCESS`` → succeeded, ``FAILURE`` → failed (reason ``fail_reason``); ``UNKNOWN`` and others → running (our deadline
ends a task that never finishes).  Outputs: each clip's ``audio_url`` (mp3, kind ``audio``) then its ``image_url``
(kind ``image``); lyrics, answered inline, one ``text`` output: a ``data:`` URL of ``{text, title}`` as JSON, which
the result store keeps like any file, and ``details["lyrics"]`` ``{text, title}`` for dialects to show.  Each
clip's own id goes to ``details["vendor_clip_ids"]`` (private).  Billing: ``per_call`` (one unit a task).
Timing: first poll 10 s, at most 20 s apart, deadline 30 min.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.video_common import NoCancel, NoFind, dump, parse_json, text, vendor_error

__all__ = ["LYRICS_MIME", "MUSIC_FIELDS", "SUNO_MUSIC", "VENDOR_CLIP_IDS", "SunoMusic", "suno_action", "suno_state"]

_VENDOR = "Suno"
LYRICS_MIME = "application/json"
"""A lyrics task's one output (kind ``text``): ``{text, title}`` as JSON."""
MUSIC_FIELDS = (
    "gpt_description_prompt",
    "mv",
    "title",
    "tags",
    "make_instrumental",
    "continue_at",
    "continue_clip_id",
    "task_id",
)
"""The music body's fields besides ``prompt`` (taken from ``TaskRequest.extra``)."""
VENDOR_CLIP_IDS = "vendor_clip_ids"
"""``TaskState.details`` key: Suno's own id of each clip, in the order of the ``audio`` outputs (private:
clients see ``{task id}-{index}``, which a continue's ``continue_clip_id`` is resolved back to)."""
_STATUS = {
    "NOT_START": TaskStatus.QUEUED,
    "SUBMITTED": TaskStatus.QUEUED,
    "QUEUED": TaskStatus.QUEUED,
    "IN_PROGRESS": TaskStatus.RUNNING,
    "SUCCESS": TaskStatus.SUCCEEDED,
    "FAILURE": TaskStatus.FAILED,
}


def suno_action(request: TaskRequest, upstream_model: str) -> str:
    """``music`` or ``lyrics``: what the task asks of Suno."""
    if request.mode in ("music", "lyrics"):
        return request.mode
    return "lyrics" if "lyrics" in upstream_model.lower() else "music"


def _envelope(raw: bytes) -> Any:
    """The ``data`` of a ``{code: "success", data}`` answer (an error inside a 2xx body raises)."""
    obj = parse_json(raw, _VENDOR)
    code = obj.get("code")
    if code != "success":
        message = text(obj.get("message")) or "failed"
        raise GatewayError(ErrorKind.UPSTREAM, f"Suno error {code}: {message}", code=str(code))
    return obj.get("data")


def suno_state(task: Mapping[str, Any]) -> TaskState:
    """One Suno-API task object as a state."""
    raw = text(task.get("status")) or ""
    status = _STATUS.get(raw, TaskStatus.RUNNING)
    if status is TaskStatus.FAILED:
        reason = text(task.get("fail_reason")) or "Suno reported the task failed"
        return TaskState(status=status, vendor_status=raw, failure=reason)
    outputs: list[TaskOutput] = []
    details: dict[str, Any] = {}
    if status is TaskStatus.SUCCEEDED:
        data = task.get("data")
        clips = data if isinstance(data, list) else []
        clip_ids: list[str] = []
        for clip in clips:
            if not isinstance(clip, dict):
                continue
            audio = text(clip.get("audio_url"))
            if audio is not None:
                outputs.append(TaskOutput(kind="audio", url=audio, mime="audio/mpeg"))
                clip_ids.append(text(clip.get("id")) or "")
            image = text(clip.get("image_url"))
            if image is not None:
                outputs.append(TaskOutput(kind="image", url=image, mime="image/jpeg"))
        if isinstance(data, dict):  # lyrics: the text inline, kept as a JSON file ``{text, title}``
            lyrics = {"text": text(data.get("text")) or "", "title": text(data.get("title")) or ""}
            details["lyrics"] = lyrics
            encoded = base64.b64encode(orjson.dumps(lyrics)).decode()
            outputs.append(TaskOutput(kind="text", url=f"data:application/json;base64,{encoded}", mime=LYRICS_MIME))
        if isinstance(data, list) and not outputs:
            raise GatewayError(ErrorKind.UPSTREAM, "Suno reported success without any clip's audio_url")
        if clip_ids:
            details[VENDOR_CLIP_IDS] = clip_ids
    return TaskState(status=status, vendor_status=raw, outputs=outputs, details=details)


class SunoMusic(NoFind, NoCancel):
    """A Suno-API server's ``/suno/submit`` and ``/suno/fetch``."""

    kind = TaskKind.MUSIC
    timing = TaskTiming(first_poll=10.0, max_poll=20.0, deadline=1800.0)
    batch_limit = 100

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """None: a song's length is Suno's to choose (billed per call)."""
        return None

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST /suno/submit/{music|lyrics}`` (a 400 names a missing or ill-typed field)."""
        action = suno_action(request, target.upstream_model)
        if action == "lyrics":
            if not request.prompt:
                raise invalid("Suno's lyrics need a 'prompt'.", "prompt")
            return UpstreamCall("/suno/submit/lyrics", dump({"prompt": request.prompt}))
        body: dict[str, Any] = {}
        if request.prompt is not None:
            body["prompt"] = request.prompt
        for field in MUSIC_FIELDS:
            if field in request.extra and request.extra[field] is not None:
                body[field] = request.extra[field]
        if not body.get("prompt") and not body.get("gpt_description_prompt"):
            raise invalid("Suno's music needs a 'prompt' or a 'gpt_description_prompt'.", "prompt")
        if "continue_at" in body and not isinstance(body["continue_at"], int | float):
            raise invalid("'continue_at' must be a number of seconds.", "continue_at")
        if "continue_at" in body and "continue_clip_id" not in body:
            raise invalid("'continue_at' needs the 'continue_clip_id' it continues.", "continue_clip_id")
        if "make_instrumental" in body and not isinstance(body["make_instrumental"], bool):
            raise invalid("'make_instrumental' must be true or false.", "make_instrumental")
        return UpstreamCall("/suno/submit/music", dump(body))

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """``data``: the task id (the task is queued)."""
        task_id = text(_envelope(answer.body))
        if task_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, "Suno returned no task id")
        return Submitted(task_id, TaskState(status=TaskStatus.QUEUED, vendor_status="SUBMITTED"))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET /suno/fetch/{id}``."""
        return UpstreamCall(f"/suno/fetch/{quote(upstream_id, safe='')}", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The task object as a state."""
        data = _envelope(answer.body)
        if isinstance(data, list):  # some servers answer a one-task list
            data = data[0] if data else None
        if not isinstance(data, dict):
            raise GatewayError(ErrorKind.UPSTREAM, "Suno answered no task")
        return suno_state(data)

    def poll_many(self, upstream_ids: Sequence[str], target: TaskTarget) -> UpstreamCall | None:
        """``POST /suno/fetch {ids}``."""
        if not upstream_ids or len(upstream_ids) > self.batch_limit:
            return None
        return UpstreamCall("/suno/fetch", dump({"ids": list(upstream_ids)}))

    def parse_poll_many(self, answer: Answer, target: TaskTarget) -> dict[str, TaskState]:
        """``{code, data: [task]}``: each task's state by its ``task_id``."""
        data = _envelope(answer.body)
        if not isinstance(data, list):
            raise GatewayError(ErrorKind.UPSTREAM, "Suno's batch fetch answered no task list")
        states: dict[str, TaskState] = {}
        for task in data:
            task_id = text(task.get("task_id")) if isinstance(task, dict) else None
            if task_id is not None and isinstance(task, dict):
                states[task_id] = suno_state(task)
        return states

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer."""
        return vendor_error(status, body, _VENDOR)


SUNO_MUSIC = SunoMusic()
