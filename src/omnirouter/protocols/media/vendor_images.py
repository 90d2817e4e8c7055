"""Image vendors beside OpenAI and Gemini: Volcengine Ark Seedream (synchronous), Black Forest Labs FLUX
and DashScope wanx (asynchronous: submit, poll within the channel's time limit, download the results).

Seedream: ``/api/v3/images/generations`` (generations and edits alike: references in ``image`` as URLs
or ``data:`` URLs); ``n > 1`` asks a set (``sequential_image_generation: auto`` with ``max_images: n``:
the model may make fewer); an item that failed in a set carries ``error``: the set is kept when some
image came, else the attempt fails over.  Billed per ``usage.generated_images``.

FLUX: ``POST /v1/{model}`` → ``{id, polling_url}``; the poll URL is called with the key only when it is
on the vendor's own site; ``Ready`` gives ``result.sample``, a short-lived signed URL downloaded without
the key; ``Request Moderated`` / ``Content Moderated`` / ``Error`` fail the attempt.  One image per task:
``n`` images are ``n`` tasks in turn.  Channel option ``poll_interval`` (seconds, default 0.5).

wanx: ``/api/v1/services/aigc/text2image/image-synthesis`` with ``X-DashScope-Async: enable``, then
``GET /api/v1/tasks/{id}`` until ``SUCCEEDED`` (``FAILED`` / ``CANCELED`` / ``UNKNOWN`` fail the attempt);
result URLs are downloaded; billed per ``usage.image_count``.  Channel option ``poll_interval`` (default 2).
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from omnirouter.ir import ErrorKind, GatewayError, Usage, token_count
from omnirouter.ir.media import GeneratedImage, ImageInput, ImageRequest, ImageResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, Followup, Target, UpstreamCall, json_object
from omnirouter.protocols.media.images import (
    DOWNLOAD,
    RESOLUTIONS,
    closest_ratio,
    data_url,
    finish,
    image_bytes,
    invalid,
    label_usage,
    pixels_for,
    ratio_of,
    resume_download,
)
from omnirouter.protocols.openai_chat.errors import decode_error

__all__ = [
    "ARK_IMAGES_UP",
    "BFL_IMAGES_UP",
    "BFL_RUNNING",
    "DASHSCOPE_IMAGES_UP",
    "WANX_RUNNING",
    "bfl_poll_call",
    "bfl_sample",
    "bfl_submit",
    "wanx_error",
    "wanx_poll_call",
    "wanx_submit",
    "wanx_urls",
]

_POLL = "poll"
_SUBMIT = "submit"
BFL_RATIOS = ("21:9", "16:9", "3:2", "4:3", "1:1", "3:4", "2:3", "9:16", "9:21")
BFL_MAX_IMAGES = 4


def _no_mask(request: ImageRequest, vendor: str) -> None:
    if request.mask is not None:
        raise invalid(f"this model's upstream ({vendor}) takes no mask: describe the edit in the prompt.", "mask")


def _reference_url(image: ImageInput, param: str) -> str:
    """An http(s) URL as given, else a ``data:`` URL of the image's bytes."""
    if image.url is not None and image.url[:4].lower() == "http":
        return image.url
    mime, data = image_bytes(image, param)
    return data_url(mime.lower(), base64.b64encode(data).decode("ascii"))


def _param(image: ImageInput, index: int) -> str:
    return f"image[{index}]" if image.file is not None else f"images[{index}]"


def _interval(target: Target, default: float) -> float:
    raw = target.options.get("poll_interval")
    try:
        return max(0.0, float(raw)) if raw is not None else default
    except ValueError:
        return default


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------- Ark Seedream


def _ark_size(request: ImageRequest) -> str | None:
    size = request.size
    if size is not None and "x" in size:
        return size
    preset = (request.resolution or (size if size and size[0].isdigit() and size[-1] in "kK" else "") or "").upper()
    ratio = ratio_of(request)
    if ratio is not None:
        return "{}x{}".format(*pixels_for(ratio, RESOLUTIONS.get(preset, 2048)))
    return preset or None


class ArkImagesUpstream:
    """Volcengine Ark Seedream as an image upstream."""

    def build(self, request: ImageRequest, target: Target) -> UpstreamCall:
        _no_mask(request, "Seedream")
        body: dict[str, Any] = {"model": target.upstream_model, "prompt": request.prompt}
        references = [_reference_url(image, _param(image, i)) for i, image in enumerate(request.images)]
        if references:
            body["image"] = references[0] if len(references) == 1 else references
        size = _ark_size(request)
        if size is not None:
            body["size"] = size
        if request.n is not None and request.n > 1:
            body["sequential_image_generation"] = "auto"
            body["sequential_image_generation_options"] = {"max_images": request.n}
        body["response_format"] = "url" if request.response_format == "url" else "b64_json"
        watermark = target.options.get("watermark")
        if watermark is not None:
            body["watermark"] = watermark.lower() == "true"
        return UpstreamCall("/api/v3/images/generations", client_json(body))

    def parse(
        self, answer: Answer, request: ImageRequest, target: Target, step: Followup | None
    ) -> ImageResult | Followup:
        if step is not None and step.step == DOWNLOAD:
            return resume_download(answer, step)
        parsed = json_object(answer.body, "Seedream")
        error = parsed.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else error
            raise GatewayError(ErrorKind.UPSTREAM, f"Seedream reported an error: {message}")
        images: list[GeneratedImage] = []
        failures: list[str] = []
        size = None
        for item in parsed.get("data") or []:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("error"), dict):
                failures.append(str(item["error"].get("message") or item["error"].get("code")))
                continue
            b64, url = _text(item.get("b64_json")), _text(item.get("url"))
            if b64 is None and url is None:
                continue
            size = size or _text(item.get("size"))
            images.append(GeneratedImage(b64=b64, url=url, mime="image/jpeg"))
        if not images:
            reason = failures[0] if failures else "no image in the answer"
            raise GatewayError(ErrorKind.UPSTREAM, f"Seedream made no image: {reason}")
        for image in images:
            if image.b64 is not None:
                head = base64.b64decode(image.b64[:16])
                image.mime = "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"
        raw = parsed.get("usage")
        usage = Usage(images=len(images))
        if isinstance(raw, dict) and "generated_images" in raw:
            usage.images = token_count(raw.get("generated_images"))
            usage.output_tokens = usage.image_output_tokens = token_count(raw.get("output_tokens"))
        created = parsed.get("created")
        result = ImageResult(
            images=images,
            usage=label_usage(usage, request, size),
            created=created if isinstance(created, int) else None,
            size=size,
        )
        return finish(result, download=request.response_format == "b64_json")

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


# ---------------------------------------------------------------- BFL FLUX


class _Flux(NamedTuple):
    result: ImageResult
    poll_url: str = ""


def _same_site(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the channel's host or a sibling of it (``api.eu.bfl.ai`` for ``api.bfl.ai``)."""
    host, base = urlsplit(url).hostname or "", urlsplit(base_url).hostname or ""
    if not host or not base:
        return False
    if host == base:
        return True
    host_labels, base_labels = host.split("."), base.split(".")
    return len(base_labels) >= 2 and not base.replace(".", "").isdigit() and host_labels[-2:] == base_labels[-2:]


BFL_RUNNING = frozenset({"Pending", "Queued", "Processing", "Running"})
"""FLUX task statuses that mean "not finished yet" (``Ready`` is done; anything else documented ended it)."""


def bfl_submit(request: ImageRequest, upstream_model: str) -> UpstreamCall:
    """FLUX's submit ``POST /v1/{model}`` (a 400 for a mask or too many references)."""
    _no_mask(request, "FLUX")
    if len(request.images) > BFL_MAX_IMAGES:
        raise invalid(f"this model takes at most {BFL_MAX_IMAGES} reference images.", "images")
    body: dict[str, Any] = {"prompt": request.prompt}
    for index, image in enumerate(request.images):
        param = _param(image, index)
        if image.url is not None and image.url[:4].lower() == "http":
            value = image.url
        else:
            value = base64.b64encode(image_bytes(image, param)[1]).decode("ascii")
        body["input_image" if index == 0 else f"input_image_{index + 1}"] = value
    ratio = ratio_of(request)
    if ratio is not None:
        body["aspect_ratio"] = closest_ratio(ratio, BFL_RATIOS)
    if request.output_format is not None:
        body["output_format"] = request.output_format
    return UpstreamCall("/v1/" + quote(upstream_model, safe=""), client_json(body))


def bfl_poll_call(parsed: dict[str, Any], base_url: str) -> tuple[str, UpstreamCall]:
    """The task id and poll call of FLUX's submit answer ``{id, polling_url}`` (the key goes only to a
    polling URL on the vendor's own site)."""
    task_id = _text(parsed.get("id"))
    if not task_id:
        raise GatewayError(ErrorKind.UPSTREAM, "FLUX returned no task id")
    poll_url = _text(parsed.get("polling_url")) or f"/v1/get_result?id={quote(task_id, safe='')}"
    auth = not poll_url.startswith("http") or _same_site(poll_url, base_url)
    return task_id, UpstreamCall(poll_url, method="GET", auth=auth)


def bfl_sample(parsed: dict[str, Any]) -> str:
    """The image URL of a ``Ready`` FLUX poll answer."""
    result_obj = parsed.get("result")
    sample = _text(result_obj.get("sample")) if isinstance(result_obj, dict) else None
    if not sample:
        raise GatewayError(ErrorKind.UPSTREAM, "FLUX returned a ready task without a result image")
    return sample


class BflImagesUpstream:
    """Black Forest Labs FLUX (Kontext, FLUX.2) as an image upstream: submit, poll, download."""

    def build(self, request: ImageRequest, target: Target) -> UpstreamCall:
        return bfl_submit(request, target.upstream_model)

    def parse(
        self, answer: Answer, request: ImageRequest, target: Target, step: Followup | None
    ) -> ImageResult | Followup:
        if step is not None and step.step == DOWNLOAD:
            return resume_download(answer, step)
        parsed = json_object(answer.body, "FLUX")
        state: _Flux = step.carry if step is not None else _Flux(ImageResult(images=[], usage=Usage()))
        interval = _interval(target, 0.5)
        if step is None or step.step == _SUBMIT:
            _, call = bfl_poll_call(parsed, target.base_url)
            return Followup(call, _POLL, delay=interval, carry=state._replace(poll_url=call.path))
        status = _text(parsed.get("status")) or ""
        if status in BFL_RUNNING:
            return Followup(step.call, _POLL, delay=interval, carry=state)
        if status != "Ready":
            details = parsed.get("details")
            raise GatewayError(
                ErrorKind.UPSTREAM, f"FLUX task ended '{status or 'unknown'}' ({details or 'no details'})"
            )
        sample = bfl_sample(parsed)
        result = state.result
        result.images.append(GeneratedImage(url=sample))
        after = None
        if len(result.images) < (request.n or 1):
            after = Followup(bfl_submit(request, target.upstream_model), _SUBMIT, carry=_Flux(result))
        else:
            result.usage.images = len(result.images)
            label_usage(result.usage, request)
        return finish(result, download=True, after=after)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


# ---------------------------------------------------------------- DashScope wanx


def _wanx_size(request: ImageRequest) -> str | None:
    size = request.size
    if size is not None and "x" in size:
        return size.replace("x", "*")
    ratio = ratio_of(request)
    side = RESOLUTIONS.get((request.resolution or "").upper())
    if ratio is None and side is None:
        return None
    return "{}*{}".format(*pixels_for(ratio or (1, 1), min(side or 1024, 1440)))


def wanx_error(parsed: dict[str, Any]) -> None:
    if parsed.get("code"):
        raise GatewayError(ErrorKind.UPSTREAM, f"DashScope reported {parsed['code']}: {parsed.get('message')}")


WANX_RUNNING = frozenset({"PENDING", "RUNNING"})
"""wanx task statuses that mean "not finished yet" (``SUCCEEDED`` is done; ``FAILED`` / ``CANCELED`` ended it)."""


def wanx_submit(request: ImageRequest, upstream_model: str) -> UpstreamCall:
    """wanx's asynchronous submit (a 400 for reference images or a mask: text-to-image only)."""
    if request.images or request.mask is not None:
        raise invalid("this model makes images from a prompt only: it cannot edit images.", "image")
    parameters: dict[str, Any] = {}
    if request.n is not None:
        parameters["n"] = request.n
    size = _wanx_size(request)
    if size is not None:
        parameters["size"] = size
    body: dict[str, Any] = {"model": upstream_model, "input": {"prompt": request.prompt}}
    if parameters:
        body["parameters"] = parameters
    headers = {"X-DashScope-Async": "enable"}
    return UpstreamCall("/api/v1/services/aigc/text2image/image-synthesis", client_json(body), headers=headers)


def wanx_poll_call(task_id: str) -> UpstreamCall:
    """DashScope's task query ``GET /api/v1/tasks/{id}``."""
    return UpstreamCall(f"/api/v1/tasks/{quote(task_id, safe='')}", method="GET")


def wanx_urls(output: dict[str, Any]) -> list[str]:
    """The image URLs of a ``SUCCEEDED`` wanx task's ``output`` (an upstream error when there is none)."""
    results = output.get("results")
    urls = [item["url"] for item in results or [] if isinstance(item, dict) and isinstance(item.get("url"), str)]
    if not urls:
        raise GatewayError(ErrorKind.UPSTREAM, "DashScope's task made no image")
    return urls


class DashScopeImagesUpstream:
    """DashScope wanx text-to-image (asynchronous task) as an image upstream."""

    def build(self, request: ImageRequest, target: Target) -> UpstreamCall:
        return wanx_submit(request, target.upstream_model)

    def parse(
        self, answer: Answer, request: ImageRequest, target: Target, step: Followup | None
    ) -> ImageResult | Followup:
        if step is not None and step.step == DOWNLOAD:
            return resume_download(answer, step)
        parsed = json_object(answer.body, "DashScope")
        wanx_error(parsed)
        raw_output = parsed.get("output")
        output: dict[str, Any] = raw_output if isinstance(raw_output, dict) else {}
        interval = _interval(target, 2.0)
        if step is None:
            task_id = _text(output.get("task_id"))
            if not task_id:
                raise GatewayError(ErrorKind.UPSTREAM, "DashScope returned no task id")
            return Followup(wanx_poll_call(task_id), _POLL, delay=interval)
        status = _text(output.get("task_status")) or "UNKNOWN"
        if status in WANX_RUNNING:
            return Followup(step.call, _POLL, delay=interval)
        if status != "SUCCEEDED":
            reason = output.get("message") or output.get("code") or "no reason given"
            raise GatewayError(ErrorKind.UPSTREAM, f"DashScope task ended {status}: {reason}")
        urls = wanx_urls(output)
        usage_obj = parsed.get("usage")
        count = token_count(usage_obj.get("image_count")) if isinstance(usage_obj, dict) else 0
        usage = label_usage(Usage(images=count or len(urls)), request)
        return finish(ImageResult(images=[GeneratedImage(url=url) for url in urls], usage=usage), download=True)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


ARK_IMAGES_UP = ArkImagesUpstream()
BFL_IMAGES_UP = BflImagesUpstream()
DASHSCOPE_IMAGES_UP = DashScopeImagesUpstream()
