"""Kling (Kuaishou) image tasks, upstream side (``Kling:3.0-omni`` and the older ``kling-v*`` image models).

Kling has two image task APIs, told apart by the model (docs/tasks.md, "Image task vendors"):

* Omni-Image (``kling-image-o1``, ``kling-v3-omni``; any model whose name has ``omni`` or ``image-o1``):
  ``POST /v1/images/omni-image {model_name, prompt, image_list[{image}] (≤ 10), resolution 1k|2k|4k (4k not
  on kling-image-o1), n 1-9, aspect_ratio (… or auto), callback_url, external_task_id}``;
* image generation (``kling-v1`` … ``kling-v2-1``): ``POST /v1/images/generations {model_name, prompt,
  negative_prompt (not with an image), image (one), resolution 1k|2k, n 1-9, aspect_ratio, callback_url,
  external_task_id}``.

A channel option ``endpoint`` (``omni-image`` or ``generations``) overrides the choice.  Both answer
``{code: 0, data: {task_id, task_status, task_info{external_task_id}}}``; the query is
``GET /v1/images/{omni-image|generations}/{task_id}`` (the path takes the ``external_task_id`` instead,
which ``find`` uses) → ``data.task_result.images[{index, url}]`` (kept 30 days), ``task_status_msg`` for a
failure, ``final_unit_deduction`` credits.  Our upstream id is ``{endpoint}/{task_id}``.  Auth: the JWT of
the channel's ``ACCESS|SECRET`` pair, shared with the video codec (``kling_common.KlingAuth``).

Request mapping: ``prompt`` (required, ≤ 2500 characters); references as URLs or bare base64 (Kling takes no
``data:`` prefix); ``n`` 1-9 (default 1); ``resolution`` ``1K``/``2K``/``4K`` in any case; ``aspect_ratio``
one of Kling's, or a ``size`` ``WxH`` whose reduced ratio is one (Kling makes no pixel sizes); seed, duration,
audio and mode are 400s.  ``extra`` merges (``watermark_info``, ``element_list``, ``image_reference``…;
never ``n``, which is billed).  Statuses as the video API (``kling_common``).  Cancel: none.  Timing: first
poll 5 s, at most 15 s apart, deadline 30 min (images take seconds to a minute).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.tasks.base import Submitted, TaskTarget, TaskTiming
from omnirouter.protocols.tasks.kling_common import (
    KLING_UPSTREAM_STATUS,
    KLING_VENDOR,
    KlingAuth,
    kling_data,
    kling_found,
    kling_number,
)
from omnirouter.protocols.tasks.video_common import (
    NoCancel,
    dump,
    image_output,
    image_param,
    image_ref,
    merge_extra,
    parse_size,
    refuse,
    refuse_billed_extra,
    text,
    vendor_error,
)

__all__ = ["KLING_IMAGES", "KlingImages", "kling_image_endpoint"]

OMNI = "omni-image"
GENERATIONS = "generations"
MAX_PROMPT = 2500
MAX_IMAGES = {OMNI: 10, GENERATIONS: 1}
MAX_N = 9
_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
_REFUSED = ("seconds", "seed", "audio", "mode", "remix_of")


def kling_image_endpoint(upstream_model: str, options: Mapping[str, str]) -> str:
    """``omni-image`` or ``generations``: the channel's ``endpoint`` option, else by the model's name."""
    chosen = options.get("endpoint")
    if chosen in (OMNI, GENERATIONS):
        return chosen
    model = upstream_model.lower()
    return OMNI if "omni" in model or "image-o1" in model else GENERATIONS


def _resolutions(endpoint: str, upstream_model: str) -> tuple[str, ...]:
    if endpoint == GENERATIONS or "image-o1" in upstream_model.lower():
        return ("1k", "2k")
    return ("1k", "2k", "4k")


def _ratio(request: TaskRequest, endpoint: str) -> str | None:
    """The aspect ratio asked (``aspect_ratio``, or the reduced ratio of ``size``), in Kling's spelling."""
    allowed = _RATIOS + (("auto",) if endpoint == OMNI else ())
    ratio = None
    if request.size is not None:
        width, height = parse_size(request.size)
        ratio = _reduced(width, height)
        if ratio not in _RATIOS:
            raise invalid(
                f"size {request.size} has aspect ratio {ratio}; Kling makes {', '.join(_RATIOS)} (no pixel sizes).",
                "size",
            )
    if request.aspect_ratio is not None:
        if request.aspect_ratio not in allowed:
            raise invalid(
                f"aspect_ratio {request.aspect_ratio!r} is not one Kling makes: {', '.join(allowed)}.", "aspect_ratio"
            )
        if ratio is not None and ratio != request.aspect_ratio:
            raise invalid("'aspect_ratio' contradicts 'size'.", "aspect_ratio")
        ratio = request.aspect_ratio
    return ratio


def _reduced(width: int, height: int) -> str:
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


class KlingImages(NoCancel):
    """Kling's image task APIs (Omni-Image and image generation) as a task vendor."""

    kind = TaskKind.IMAGE
    timing = TaskTiming(first_poll=5.0, max_poll=15.0, deadline=1800.0)

    def __init__(self) -> None:
        self.auth = KlingAuth()

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """None: images have no duration."""
        return None

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall:
        """``POST /v1/images/{omni-image|generations}`` (a 400 names what Kling cannot make)."""
        endpoint = kling_image_endpoint(target.upstream_model, target.options)
        refuse(request, KLING_VENDOR, _REFUSED)
        refuse_billed_extra(request, ("n",))
        if not request.prompt or not request.prompt.strip():
            raise invalid("'prompt' is required for this model.", "prompt")
        if len(request.prompt) > MAX_PROMPT:
            raise invalid(f"'prompt' must be at most {MAX_PROMPT} characters for this model.", "prompt")
        most = MAX_IMAGES[endpoint]
        if len(request.images) > most:
            raise invalid(
                f"this model's upstream (Kling {endpoint}) takes at most {most} reference image(s).", "images"
            )
        if request.image_roles is not None and any(role != "reference" for role in request.image_roles):
            raise invalid(
                "Kling's image models take reference images only; 'image_roles' must be 'reference'.", "image_roles"
            )
        if request.n is not None and not 1 <= request.n <= MAX_N:
            raise invalid(f"'n' must be from 1 to {MAX_N} for this model.", "n")
        body: dict[str, Any] = {"model_name": target.upstream_model, "prompt": request.prompt}
        images = [image_ref(image, image_param(i), data_prefix=False) for i, image in enumerate(request.images)]
        if request.negative_prompt is not None:
            if endpoint == OMNI or images:
                why = "Omni-Image models" if endpoint == OMNI else "image-to-image"
                raise invalid(
                    f"'negative_prompt' is not taken by Kling's {why}: describe it in the prompt.", "negative_prompt"
                )
            body["negative_prompt"] = request.negative_prompt
        if images:
            if endpoint == OMNI:
                body["image_list"] = [{"image": image} for image in images]
            else:
                body["image"] = images[0]
        if request.resolution is not None:
            allowed = _resolutions(endpoint, target.upstream_model)
            resolution = request.resolution.strip().lower()
            if resolution not in allowed:
                made = ", ".join(r.upper() for r in allowed)
                raise invalid(f"resolution {request.resolution!r} is not one this model makes: {made}.", "resolution")
            body["resolution"] = resolution
        ratio = _ratio(request, endpoint)
        if ratio is not None:
            body["aspect_ratio"] = ratio
        if request.n is not None:
            body["n"] = request.n
        merge_extra(body, request.extra, ("model_name", "external_task_id", "image", "image_list"))
        body["external_task_id"] = target.external_id
        if target.callback_url is not None:
            body["callback_url"] = target.callback_url
        return self.auth.post(f"/v1/images/{endpoint}", dump(body), target)

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted:
        """The task id (``{endpoint}/{task_id}``) and its first status."""
        data = kling_data(answer.body)
        task_id = text(data.get("task_id"))
        if task_id is None:
            raise GatewayError(ErrorKind.UPSTREAM, "Kling returned no task_id")
        endpoint = kling_image_endpoint(target.upstream_model, target.options)
        return Submitted(f"{endpoint}/{task_id}", self._state(data))

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall:
        """``GET /v1/images/{endpoint}/{task_id}``."""
        return self.auth.get(f"/v1/images/{upstream_id}", target)

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup:
        """The task object as a state."""
        return self._state(kling_data(answer.body))

    def _state(self, data: dict[str, Any]) -> TaskState:
        raw = text(data.get("task_status")) or ""
        status = KLING_UPSTREAM_STATUS.get(raw, TaskStatus.RUNNING)
        state = TaskState(status=status, vendor_status=raw, credits=kling_number(data.get("final_unit_deduction")))
        if status is TaskStatus.FAILED:
            state.failure = text(data.get("task_status_msg")) or "Kling reported the task failed"
        if status is TaskStatus.SUCCEEDED:
            result = data.get("task_result")
            images = result.get("images") if isinstance(result, dict) else None
            found = [image for image in images if isinstance(image, dict)] if isinstance(images, list) else []
            found.sort(key=lambda image: kling_number(image.get("index")) or 0.0)
            urls = [url for url in (text(image.get("url")) for image in found) if url is not None]
            if not urls:
                raise GatewayError(ErrorKind.UPSTREAM, "Kling reported success without an image URL")
            state.outputs = [image_output(url) for url in urls]
        return state

    def find(self, target: TaskTarget, request: TaskRequest | None = None) -> UpstreamCall | None:
        """``GET /v1/images/{endpoint}/{external_task_id}``."""
        endpoint = kling_image_endpoint(target.upstream_model, target.options)
        return self.auth.get(f"/v1/images/{endpoint}/{target.external_id}", target)

    def parse_find(self, answer: Answer, target: TaskTarget, request: TaskRequest | None = None) -> str | None:
        """Kling's id for our task, None when it has none (404, or a task of another external id)."""
        task_id = kling_found(answer, target)
        if task_id is None:
            return None
        return f"{kling_image_endpoint(target.upstream_model, target.options)}/{task_id}"

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer (``{code, message}``)."""
        return vendor_error(status, body, KLING_VENDOR)


KLING_IMAGES = KlingImages()
