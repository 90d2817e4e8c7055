"""Midjourney through a midjourney-proxy (the open ``novicezk/midjourney-proxy`` and its "plus" API, what
new-api relays), as a task vendor: pure, the engine does the I/O (``protocols/tasks/base.py``).

Submits go to ``/mj/submit/{imagine,blend,describe,shorten,change,simple-change,action,modal,edits,video}``
and ``/mj/insight-face/swap`` (under ``/mj-{mode}/mj`` when the channel's option ``mode`` is ``fast``,
``turbo`` or ``relax``) with the key as ``mj-api-secret``; the proxy answers ``{code, description, result,
properties}``: ``1`` submitted and ``22`` queued carry the new task's id, ``21`` an existing task's id (or,
on the plus API, a task now waiting in ``MODAL`` for its dialog), ``4`` a bad request and ``24`` a banned
prompt (400s), ``23`` a full queue (429), anything else a 502.  Polls read ``GET /mj/task/{id}/fetch``, or
many at once ``POST /mj/task/list-by-condition {ids}``: ``NOT_START`` / ``SUBMITTED`` are queued,
``MODAL`` / ``IN_PROGRESS`` running, ``SUCCESS`` succeeded (``imageUrl`` and the plus API's ``imageUrls``
as images; a video's ``videoUrls`` / ``videoUrl``), ``FAILURE`` (and the plus API's ``CANCEL``) failed
with ``failReason``.  The task's buttons, final prompt, description, ``seed`` and where each output came
from are kept in ``TaskState.details`` for a dialect to show.  ``upload-discord-images`` is synchronous:
its submit answers a task already finished, the uploaded images' URLs in ``details["uploaded"]``
(``parse_uploaded``); ``image-seed`` (``image_seed`` / ``parse_image_seed``) is no task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import OutputKind, TaskKind, TaskOutput, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.fields import invalid
from omnirouter.protocols.tasks.video_common import (
    IMAGE_MIMES,
    NoCancel,
    NoFind,
    dump,
    image_param,
    image_ref,
    merge_extra,
    parse_json,
    text,
    upstream_error,
    vendor_error,
)

__all__ = ["ACTIONS", "MIDJOURNEY", "UPLOAD", "MidjourneyProxy", "mj_state", "parse_image_seed", "parse_uploaded"]

_VENDOR = "midjourney-proxy"
ACTIONS = (
    "imagine",
    "blend",
    "describe",
    "shorten",
    "change",
    "simple-change",
    "action",
    "modal",
    "edits",
    "video",
    "swap_face",
)
"""The proxy's task submits (``TaskRequest.action``); ``swap_face`` is ``/insight-face/swap``."""
_TEXT_ACTIONS = frozenset({"DESCRIBE", "SHORTEN"})
"""The proxy's task actions whose result is text in the task object (prompts), not a file."""
UPLOAD = "upload-discord-images"
"""The proxy's one synchronous submit: its answer carries the uploaded images' URLs (``parse_uploaded``),
so ``parse_submit`` answers a task already finished."""
_MODES = ("fast", "turbo", "relax")
_CHANGES = ("UPSCALE", "VARIATION", "REROLL")
_DIMENSIONS = {"2:3": "PORTRAIT", "1:1": "SQUARE", "3:2": "LANDSCAPE"}
_STATUS = {
    "NOT_START": TaskStatus.QUEUED,
    "SUBMITTED": TaskStatus.QUEUED,
    "MODAL": TaskStatus.RUNNING,
    "IN_PROGRESS": TaskStatus.RUNNING,
    "SUCCESS": TaskStatus.SUCCEEDED,
    "FAILURE": TaskStatus.FAILED,
    "CANCEL": TaskStatus.FAILED,
}
_CODE_KINDS = {4: ErrorKind.INVALID_REQUEST, 24: ErrorKind.INVALID_REQUEST, 3: ErrorKind.INVALID_REQUEST}
_CODE_KINDS |= {23: ErrorKind.RATE_LIMIT}
_VIDEO_MIMES = {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"}
_VIDEO_TYPES = {"480p": "vid_1.1_i2v_480", "720p": "vid_1.1_i2v_720"}
_MOTIONS = ("low", "high")
_BATCH_SIZES = (1, 2, 4)


def _base(target: TaskTarget) -> str:
    mode = target.options.get("mode")
    if mode is None or mode == "":
        return "/mj"
    if mode not in _MODES:
        raise GatewayError(ErrorKind.INTERNAL, f"the channel's Midjourney mode {mode!r} is not fast, turbo or relax")
    return f"/mj-{mode}/mj"


def _images(request: TaskRequest) -> list[str]:
    """The request's images as the data URIs the proxy's ``base64Array`` takes (a URL is a 400)."""
    refs = []
    for index, image in enumerate(request.images):
        ref = image_ref(image, image_param(index))
        if not ref.startswith("data:"):
            raise invalid("midjourney-proxy takes images inline: upload them or send data: URLs.", image_param(index))
        refs.append(ref)
    return refs


def _refs(request: TaskRequest, what: str, least: int, most: int) -> list[str]:
    """The request's images as URLs or ``data:`` URLs (the proxy takes either for edits, video and face
    swaps), ``least`` to ``most`` of them (else a 400 naming ``images``)."""
    if not least <= len(request.images) <= most:
        count = f"{least}" if least == most else f"{least} to {most}"
        raise invalid(f"Midjourney's {what} takes {count} image{'s' if most > 1 else ''}.", "images")
    return [image_ref(image, image_param(index)) for index, image in enumerate(request.images)]


def _need(value: Any, param: str, what: str) -> Any:
    if value is None or value == "":
        raise invalid(f"Midjourney's {what} needs '{param}'.", param)
    return value


def _swap_face(request: TaskRequest) -> dict[str, Any]:
    """``/insight-face/swap``: ``images[0]`` the face, ``images[1]`` the picture it goes into, each as
    ``*Base64`` (inline) or ``*Url``."""
    source, target = _refs(request, "face swap", 2, 2)
    if source == target:
        raise invalid("Midjourney's face swap needs two different images (the face, then the target).", "images")
    body: dict[str, Any] = {}
    for name, ref in (("source", source), ("target", target)):
        body[f"{name}{'Base64' if ref.startswith('data:') else 'Url'}"] = ref
    return body


def _video(request: TaskRequest) -> dict[str, Any]:
    """``/submit/video``: a new video from a first frame (``images[0]``, ``images[1]`` the optional end
    frame), or with ``task_id`` the extension of the parent's video ``index`` (0-3, as the proxy counts);
    ``n`` is ``batchSize`` (1, 2 or 4), ``resolution`` 480p / 720p its ``videoType``."""
    body: dict[str, Any] = {"prompt": _need(request.prompt, "prompt", "video")}
    refs = _refs(request, "video", 0 if request.parent_task_id else 1, 2)
    for name, ref in zip(("image", "endImage"), refs, strict=False):
        body[name] = ref
    if request.parent_task_id is not None:
        if request.index not in (0, 1, 2, 3):
            raise invalid("Midjourney's video extension needs the parent video's 'index' (0 to 3).", "index")
        body |= {"action": "extend", "taskId": request.parent_task_id, "index": request.index}
    if request.n is not None:
        body["batchSize"] = request.n
    if request.resolution is not None:
        if request.resolution.lower() not in _VIDEO_TYPES:
            raise invalid("Midjourney makes 480p or 720p videos.", "resolution")
        body["videoType"] = _VIDEO_TYPES[request.resolution.lower()]
    return body


def _check_video(body: Mapping[str, Any]) -> None:
    """The video fields as sent (the client's native ``motion``, ``loop``, ``videoType``, ``batchSize``
    included): a 400 naming the one the proxy cannot take."""
    if body.get("motion", "low") not in _MOTIONS:
        raise invalid("Midjourney's video motion is 'low' or 'high'.", "motion")
    if not isinstance(body.get("loop", False), bool):
        raise invalid("Midjourney's video 'loop' is true or false.", "loop")
    if body.get("videoType", _VIDEO_TYPES["480p"]) not in _VIDEO_TYPES.values():
        raise invalid(f"Midjourney's videoType is {' or '.join(_VIDEO_TYPES.values())}.", "videoType")
    if body.get("batchSize", 4) not in _BATCH_SIZES:
        raise invalid("Midjourney makes 1, 2 or 4 videos a batch.", "n")


def _body(action: str, request: TaskRequest) -> dict[str, Any]:
    """The submit body of ``action`` (a 400 naming the field it lacks or cannot take)."""
    if action == "imagine":
        body: dict[str, Any] = {"prompt": _need(request.prompt, "prompt", "imagine")}
        if request.images:
            body["base64Array"] = _images(request)
        return body
    if action == "blend":
        if not 2 <= len(request.images) <= 5:
            raise invalid("Midjourney's blend takes 2 to 5 images.", "images")
        body = {"base64Array": _images(request)}
        if request.aspect_ratio is not None:
            if request.aspect_ratio not in _DIMENSIONS:
                raise invalid("Midjourney's blend makes 2:3, 1:1 or 3:2 images.", "aspect_ratio")
            body["dimensions"] = _DIMENSIONS[request.aspect_ratio]
        return body
    if action == "describe":
        if len(request.images) != 1:
            raise invalid("Midjourney's describe takes one image.", "images")
        return {"base64": _images(request)[0]}
    if action == "shorten":
        return {"prompt": _need(request.prompt, "prompt", "shorten")}
    if action == "edits":
        return {"prompt": _need(request.prompt, "prompt", "edits"), "image": _refs(request, "edits", 1, 1)[0]}
    if action == "video":
        return _video(request)
    if action == "swap_face":
        return _swap_face(request)
    parent = _need(request.parent_task_id, "task_id", action)
    if action == "change":
        if request.change not in _CHANGES:
            raise invalid("Midjourney's change is UPSCALE, VARIATION or REROLL.", "change")
        if request.change != "REROLL" and request.index not in (1, 2, 3, 4):
            raise invalid("Midjourney's change needs an 'index' of 1 to 4.", "index")
        return {"taskId": parent, "action": request.change, "index": request.index or 1}
    if action == "simple-change":
        change = _need(request.change, "change", action).upper()
        if change != "R" and (len(change) != 2 or change[0] not in "UV" or change[1] not in "1234"):
            raise invalid("Midjourney's simple change is U1-U4, V1-V4 or R.", "change")
        return {"content": f"{parent} {change}"}
    if action == "action":
        return {"taskId": parent, "customId": _need(request.custom_id, "custom_id", action)}
    body = {"taskId": parent}  # modal
    if request.prompt is not None:
        body["prompt"] = request.prompt
    if request.mask is not None:
        body["maskBase64"] = image_ref(request.mask, "mask")
    return body


def _extension(url: str) -> str:
    return url.split("?", 1)[0].rsplit(".", 1)[-1].lower()


def _urls(value: Any) -> list[str]:
    """The URLs of ``imageUrls`` / ``videoUrls``: ``[{url, thumbnail}]`` on the plus API (plain strings
    taken too)."""
    items = value if isinstance(value, list) else []
    found = [text(item.get("url")) if isinstance(item, dict) else text(item) for item in items]
    return [url for url in found if url is not None]


def _outputs(task: Mapping[str, Any]) -> tuple[list[TaskOutput], list[str]]:
    """A finished task's files and where each came from (``details["output_roles"]``).

    A video (``videoUrls``, else ``videoUrl``) gives ``video`` outputs, then ``imageUrl`` as a
    ``thumbnail`` when it is a picture of its own (the plus API sets it to the first video); an image task
    gives ``imageUrl`` (the grid) first, then each of ``imageUrls`` (the plus API's four single images).
    A URL is kept once; an ``imageUrl`` ending in ``.mp4`` with no video URLs is the video."""
    outputs: list[TaskOutput] = []
    roles: list[str] = []
    seen: set[str] = set()

    def add(url: str | None, kind: OutputKind, role: str) -> None:
        if url is None or url in seen:
            return
        seen.add(url)
        extension = _extension(url)
        default = "video/mp4" if kind == "video" else "image/png"
        mime = _VIDEO_MIMES.get(extension) or IMAGE_MIMES.get(extension) or default
        outputs.append(TaskOutput(kind=kind, url=url, mime=mime))
        roles.append(role)

    image_url = text(task.get("imageUrl"))
    videos = _urls(task.get("videoUrls")) or [u for u in [text(task.get("videoUrl"))] if u is not None]
    if not videos and image_url is not None and _extension(image_url) in _VIDEO_MIMES:
        videos = [image_url]  # a video task of a proxy that fills no video URLs: imageUrl is the video
    if videos:
        for url in videos:
            add(url, "video", "videoUrls")
        if image_url is not None and _extension(image_url) not in _VIDEO_MIMES:
            add(image_url, "thumbnail", "imageUrl")
        return outputs, roles
    add(image_url, "image", "imageUrl")
    for url in _urls(task.get("imageUrls")):
        add(url, "image", "imageUrls")
    return outputs, roles


def _progress(value: Any) -> int | None:
    raw = text(value)
    number = raw.rstrip("%").strip() if raw is not None else ""
    return min(100, int(number)) if number.isdigit() else None


def mj_state(task: Mapping[str, Any]) -> TaskState:
    """One task object of the proxy as a state (an unknown status is running)."""
    raw = text(task.get("status")) or ""
    status = _STATUS.get(raw, TaskStatus.RUNNING)
    details: dict[str, Any] = {}
    buttons = task.get("buttons")
    if isinstance(buttons, list) and buttons:
        details["buttons"] = [b for b in buttons if isinstance(b, dict)]
    properties = task.get("properties")
    final_prompt = text(properties.get("finalPrompt")) if isinstance(properties, dict) else None
    if final_prompt is not None:
        details["final_prompt"] = final_prompt
    for name in ("action", "description"):
        if text(task.get(name)) is not None:
            details[name] = task[name]
    seed = task.get("seed")
    if isinstance(seed, int | str) and not isinstance(seed, bool) and str(seed):
        details["seed"] = str(seed)
    state = TaskState(status=status, vendor_status=raw, progress=_progress(task.get("progress")), details=details)
    if status is TaskStatus.FAILED:
        state.failure = text(task.get("failReason")) or ("cancelled at Midjourney" if raw == "CANCEL" else None)
        state.failure = state.failure or "Midjourney reported the task failed"
        state.failure_code = raw
    elif status is TaskStatus.SUCCEEDED:
        state.outputs, roles = _outputs(task)
        state.result_in_details = (text(task.get("action")) or "").upper() in _TEXT_ACTIONS
        if roles:
            details["output_roles"] = roles
        state.progress = 100
    return state


def _check_code(parsed: Mapping[str, Any]) -> int:
    code = parsed.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise upstream_error(_VENDOR, "the submit answered no code")
    if code in (1, 21, 22):
        return code
    description = text(parsed.get("description")) or "refused"
    kind = _CODE_KINDS.get(code, ErrorKind.UPSTREAM)
    param = "prompt" if code == 24 else None
    raise GatewayError(kind, f"{_VENDOR} error {code}: {description}", code=str(code), param=param)


class MidjourneyProxy(NoFind, NoCancel):
    """A midjourney-proxy's task API (``TaskVendor`` and ``BatchPoll``)."""

    kind = TaskKind.MIDJOURNEY
    timing = TaskTiming(first_poll=5.0, max_poll=15.0, deadline=1800.0)
    batch_limit = 100

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """None: Midjourney makes images, not seconds."""
        return None

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST {base}/submit/{action}`` (a 400 names the field the action lacks or cannot take).

        The client's webhook is not sent as ``notifyHook``: the engine follows the task by polling."""
        action = request.action or "imagine"
        if action == UPLOAD:
            return self.upload_images(request, target)
        if action not in ACTIONS:
            raise invalid(f"Midjourney actions are {', '.join(ACTIONS)}; got {action!r}.", "action")
        body = _body(action, request)
        merge_extra(body, request.extra)
        if action == "video":
            _check_video(body)
        if action == "swap_face":
            return UpstreamCall(f"{_base(target)}/insight-face/swap", dump(body))
        return UpstreamCall(f"{_base(target)}/submit/{action}", dump(body))

    def upload_images(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST {base}/submit/upload-discord-images {base64Array}``: the request's images (inline only,
        1 to 5) put where Midjourney can fetch them; synchronous, its answer read by ``parse_uploaded``."""
        if not 1 <= len(request.images) <= 5:
            raise invalid("Midjourney's upload takes 1 to 5 images.", "images")
        return UpstreamCall(f"{_base(target)}/submit/{UPLOAD}", dump({"base64Array": _images(request)}))

    def image_seed(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET {base}/task/{id}/image-seed``: the seed of a finished task's image (``parse_image_seed``)."""
        return UpstreamCall(f"{_base(target)}/task/{quote(upstream_id, safe='')}/image-seed", method="GET")

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """``result`` (the task's id) for codes 1, 22 and 21; a ``MODAL`` task (21 waiting for its dialog)
        is running, the others queued (22: with the tasks ahead in ``details["queue_ahead"]``)."""
        if request.action == UPLOAD:  # done at once: a task finished with the URLs in its details
            state = TaskState(status=TaskStatus.SUCCEEDED, vendor_status="SUCCESS", progress=100,
                              details={"uploaded": parse_uploaded(answer)}, result_in_details=True)  # fmt: skip
            return Submitted(f"upload-{target.external_id}", state)
        parsed = parse_json(answer.body, _VENDOR)
        code = _check_code(parsed)
        task_id = text(parsed.get("result"))
        if task_id is None:
            raise upstream_error(_VENDOR, f"code {code} came without a task id", str(code))
        properties = parsed.get("properties")
        props = properties if isinstance(properties, dict) else {}
        description = text(parsed.get("description")) or ""
        if code == 21 and (props.get("status") == "MODAL" or "window confirm" in description.lower()):
            return Submitted(task_id, TaskState(status=TaskStatus.RUNNING, vendor_status="MODAL"))
        if code == 21:
            return Submitted(task_id)  # an existing task: its state comes with the first poll
        details: dict[str, Any] = {}
        if code == 22:  # queued behind others at the proxy: a dialect may say so (``queue_ahead``)
            ahead = props.get("numberOfQueues")
            details["queue_ahead"] = ahead if isinstance(ahead, int) and not isinstance(ahead, bool) else 0
        return Submitted(task_id, TaskState(status=TaskStatus.QUEUED, vendor_status="SUBMITTED", details=details))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET {base}/task/{id}/fetch``."""
        return UpstreamCall(f"{_base(target)}/task/{quote(upstream_id, safe='')}/fetch", method="GET")

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The task object as a state (``null``: the proxy has no such task, an upstream error)."""
        if answer.body.strip() == b"null":
            raise upstream_error(_VENDOR, "the proxy has no such task", "not_found")
        return mj_state(parse_json(answer.body, _VENDOR))

    def poll_many(self, upstream_ids: Sequence[str], target: TaskTarget) -> UpstreamCall | None:
        """``POST {base}/task/list-by-condition {ids}``."""
        if not upstream_ids or len(upstream_ids) > self.batch_limit:
            return None
        return UpstreamCall(f"{_base(target)}/task/list-by-condition", dump({"ids": list(upstream_ids)}))

    def parse_poll_many(self, answer: Answer, target: TaskTarget) -> dict[str, TaskState]:
        """A JSON list of task objects: each one's state by its ``id``."""
        try:
            items = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            raise upstream_error(_VENDOR, "the task list is not JSON") from None
        if not isinstance(items, list):
            raise upstream_error(_VENDOR, "the task list is not a list")
        states: dict[str, TaskState] = {}
        for item in items:
            task_id = text(item.get("id")) if isinstance(item, dict) else None
            if task_id is not None and isinstance(item, dict):
                states[task_id] = mj_state(item)
        return states

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer: the proxy's ``description`` (or ``message``) with its status."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        description = text(parsed.get("description")) if isinstance(parsed, dict) else None
        if description is None:
            return vendor_error(status, body, _VENDOR)
        error = vendor_error(status, b"{}", _VENDOR)
        return GatewayError(error.kind, f"{_VENDOR}: {description}", status=status, code=str(parsed.get("code")))


def parse_uploaded(answer: Answer) -> list[str]:
    """The URLs of ``upload-discord-images``' answer ``{code: 1, description, result: [url, …]}`` (the
    proxy's ``SubmitResultVO`` with a list result); another code raises as a submit's would."""
    parsed = parse_json(answer.body, _VENDOR)
    code = _check_code(parsed)
    urls = _urls(parsed.get("result"))
    if code != 1 or not urls:
        raise upstream_error(_VENDOR, f"the upload answered code {code} without URLs", str(code))
    return urls


def parse_image_seed(answer: Answer) -> str:
    """The seed in ``image-seed``'s answer ``{code: 1, description: "成功", result: "<seed>"}``; another
    code raises as a submit's would (a non-2xx answer, as the proxy's 404 ``code 3`` for an unknown task
    or 400 ``code 4`` for an unfinished one, goes through ``decode_error``)."""
    parsed = parse_json(answer.body, _VENDOR)
    code = _check_code(parsed)
    seed = parsed.get("result")
    if code != 1 or not isinstance(seed, int | str) or isinstance(seed, bool) or str(seed) == "":
        raise upstream_error(_VENDOR, f"the image seed answered code {code} without a seed", str(code))
    return str(seed)


MIDJOURNEY = MidjourneyProxy()
