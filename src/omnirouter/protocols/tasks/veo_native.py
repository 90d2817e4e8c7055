"""Clients of Gemini's Veo API as google-genai 2.x speaks it: ``POST /v1beta/models/{m}:predictLongRunning``
→ a long-running operation, ``GET /v1beta/{operation name}`` → the operation (``models.generate_videos``,
``operations.get``; the 3.x line sends ``generate_videos`` to Vertex only).

Create body (the SDK's ``_GenerateVideosParameters_to_mldev``): ``instances`` (exactly one) with ``prompt``,
``image`` and ``lastFrame`` (``{bytesBase64Encoded | gcsUri, mimeType}``; roles ``first_frame`` /
``last_frame``), ``referenceImages`` (at most 3 ``{image, referenceType}``; roles ``reference`` for
``asset`` and ``style``); a prompt or an image is required; ``video`` (extension of an earlier video) is
refused.  ``parameters``: ``aspectRatio``, ``durationSeconds``, ``resolution``, ``negativePrompt``,
``seed``, ``sampleCount`` (1-4: the budget covers every sample), ``generateAudio``; the others
(``personGeneration``, ``enhancePrompt`` …) and a top-level ``webhookConfig`` go to ``extra``.

Operation: ``{name: "models/{m}/operations/{task id}", done}``, with once done either
``response: {@type, generateVideoResponse: {generatedSamples: [{video: {uri, mimeType?}}]}}`` or
``error: {code, message}`` (google.rpc codes: 1 ``CANCELLED`` for a cancelled task, 13 ``INTERNAL`` for a
failure).  Each ``uri`` is ``{gateway origin}/v1beta/files/{name}:download?alt=media`` where ``name`` is
``file_name(task id, index)``: lower-case hex, because google-genai's ``files.download`` keeps only
``[a-z0-9]+`` after ``files/`` of an ``https://`` uri and downloads ``files/{name}:download?alt=media``
from the client's base URL — the gateway serves that route (``parse_file_name`` reads it back) to the
client key in any of its usual headers, as Gemini's own file links want the key.  The gateway origin is
that of the task's stored output URL.  Errors are Gemini's ``{error: {code, message, status}}``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.gemini.errors import encode_error
from omnirouter.protocols.limits import SEED, bounded_int
from omnirouter.protocols.media.sniff import sniff_image_mime
from omnirouter.protocols.tasks.base import TaskView
from omnirouter.protocols.tasks.fields import invalid, opt_text, seconds_field, task_budget

__all__ = ["VEO", "VeoDialect", "file_name", "operation_name", "parse_file_name", "task_id_of"]

JSON: Final = b"application/json"
MAX_REFERENCES: Final = 3
MAX_SAMPLES: Final = 4
RESPONSE_TYPE: Final = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
_TYPED_PARAMETERS = frozenset({
    "aspectRatio", "durationSeconds", "resolution", "negativePrompt", "seed", "sampleCount", "generateAudio",
})  # fmt: skip
_RPC_CANCELLED, _RPC_INTERNAL = 1, 13


def operation_name(model: str, task_id: str) -> str:
    """The operation's ``name``: ``models/{model}/operations/{task id}``."""
    return f"models/{model}/operations/{task_id}"


def task_id_of(name: str) -> str:
    """The task id in an operation name (``models/{m}/operations/{id}`` or ``operations/{id}``); 404 else."""
    parts = name.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "models" and parts[2] == "operations" and parts[1] and parts[3]:
        return parts[3]
    if len(parts) == 2 and parts[0] == "operations" and parts[1]:
        return parts[1]
    raise GatewayError(ErrorKind.NOT_FOUND, f"Operation '{name}' was not found.", param="name")


def file_name(task_id: str, index: int) -> str:
    """The Gemini file name of output ``index`` of a task: ``[a-z0-9]+``, as google-genai requires."""
    return f"{task_id.encode().hex()}z{index}"


def parse_file_name(name: str) -> tuple[str, int]:
    """``(task id, output index)`` of a ``file_name``; 404 for any other name."""
    hex_id, _, index = name.partition("z")
    try:
        return bytes.fromhex(hex_id).decode(), int(index)
    except (ValueError, UnicodeDecodeError):
        raise GatewayError(ErrorKind.NOT_FOUND, f"File '{name}' was not found.", param="name") from None


def _image(value: Any, param: str) -> ImageInput:
    if not isinstance(value, dict):
        raise invalid(f"'{param}' must be an object with 'bytesBase64Encoded' or 'gcsUri'.", param)
    data, gcs = value.get("bytesBase64Encoded"), value.get("gcsUri")
    if (data is None) == (gcs is None):
        raise invalid(f"'{param}' needs exactly one of 'bytesBase64Encoded' and 'gcsUri'.", param)
    if gcs is not None:
        if not isinstance(gcs, str) or not gcs:
            raise invalid(f"'{param}.gcsUri' must be a string.", f"{param}.gcsUri")
        return ImageInput(url=gcs)
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    mime = sniff_image_mime(raw)
    if mime is None:
        param = f"{param}.bytesBase64Encoded"
        raise invalid(f"'{param}' must be base64 bytes of a PNG, JPEG, WebP or GIF image.", param)
    declared = value.get("mimeType")
    content_type = declared if isinstance(declared, str) and declared.startswith("image/") else mime
    return ImageInput(file=MediaFile(raw, param, content_type))


def _instance(parsed: dict[str, Any]) -> dict[str, Any]:
    instances = parsed.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        raise invalid("'instances' must be an array of exactly one object.", "instances")
    return instances[0]


def _references(value: Any) -> tuple[list[ImageInput], list[str]]:
    param = "instances[0].referenceImages"
    if value is None:
        return [], []
    if not isinstance(value, list) or len(value) > MAX_REFERENCES:
        raise invalid(f"'{param}' must be an array of at most {MAX_REFERENCES} reference images.", param)
    images, roles = [], []
    for index, item in enumerate(value):
        where = f"{param}[{index}]"
        if not isinstance(item, dict):
            raise invalid(f"'{where}' must be an object with 'image'.", where)
        kind = item.get("referenceType")
        if kind not in (None, "asset", "style", "REFERENCE_TYPE_ASSET", "REFERENCE_TYPE_STYLE"):
            raise invalid(f"'{where}.referenceType' must be 'asset' or 'style'.", f"{where}.referenceType")
        images.append(_image(item.get("image"), f"{where}.image"))
        roles.append("style" if isinstance(kind, str) and kind.lower().endswith("style") else "reference")
    return images, roles


def _int_field(value: Any, param: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"'{param}' must be an integer from {low} to {high}.", param)
    return value


def _bool_field(value: Any, param: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise invalid(f"'{param}' must be a boolean.", param)


class VeoDialect:
    """Gemini's ``predictLongRunning`` for Veo, and its operations, as google-genai speaks them."""

    protocol = "gemini"
    name = "gemini"  # webhook bodies carry the operation of ``GET /v1beta/{operation name}``

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        """The body of ``POST /v1beta/models/{model}:predictLongRunning`` (``model`` from the path)."""
        if not model:
            raise invalid("'model' is required in the path: models/{model}:predictLongRunning.", "model")
        parsed = parse_json_object(body)
        instance = _instance(parsed)
        if instance.get("video") is not None:
            param = "instances[0].video"
            raise invalid(f"'{param}': extending a video is not available on this gateway.", param)
        prompt = opt_text(instance.get("prompt"), "instances[0].prompt")
        images: list[ImageInput] = []
        roles: list[str] = []
        for key, role in (("image", "first_frame"), ("lastFrame", "last_frame")):
            if instance.get(key) is not None:
                images.append(_image(instance[key], f"instances[0].{key}"))
                roles.append(role)
        references, reference_roles = _references(instance.get("referenceImages"))
        images, roles = images + references, roles + reference_roles
        if (prompt is None or not prompt.strip()) and not images:
            raise invalid("'instances[0].prompt' is required (or an image).", "instances[0].prompt")
        parameters = parsed.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise invalid("'parameters' must be an object.", "parameters")
        seed = parameters.get("seed")
        if seed is not None and bounded_int(seed, SEED) is None:
            raise invalid("'parameters.seed' must be an integer.", "parameters.seed")
        extra = {key: value for key, value in parameters.items() if key not in _TYPED_PARAMETERS}
        extra |= {key: value for key, value in parsed.items() if key not in ("instances", "parameters")}
        return TaskRequest(
            kind=TaskKind.VIDEO,
            model=model.removeprefix("models/"),
            prompt=prompt,
            negative_prompt=opt_text(parameters.get("negativePrompt"), "parameters.negativePrompt"),
            images=images,
            image_roles=roles or None,
            seconds=seconds_field(parameters.get("durationSeconds"), "parameters.durationSeconds"),
            resolution=opt_text(parameters.get("resolution"), "parameters.resolution"),
            aspect_ratio=opt_text(parameters.get("aspectRatio"), "parameters.aspectRatio"),
            n=_int_field(parameters.get("sampleCount"), "parameters.sampleCount", 1, MAX_SAMPLES),
            seed=None if seed is None else bounded_int(seed, SEED),
            audio=_bool_field(parameters.get("generateAudio"), "parameters.generateAudio"),
            extra=extra,
        )

    def budget(self, request: TaskRequest) -> Budget:
        return task_budget(request)

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        operation: dict[str, Any] = {"name": operation_name(view.model, view.id), "done": view.status.terminal}
        if view.status is TaskStatus.SUCCEEDED:
            samples = []
            videos = [output for output in view.outputs if output.kind == "video"]
            for index, output in enumerate(videos):
                video: dict[str, str] = {"uri": _file_uri(output.url, view.id, index)}
                if output.mime is not None:
                    video["mimeType"] = output.mime
                samples.append({"video": video})
            operation["response"] = {"@type": RESPONSE_TYPE, "generateVideoResponse": {"generatedSamples": samples}}
        elif view.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            cancelled = view.status is TaskStatus.CANCELLED
            default = "The task was cancelled." if cancelled else "The video could not be generated."
            code = _RPC_CANCELLED if cancelled else _RPC_INTERNAL
            operation["error"] = {"code": code, "message": view.error_message or default}
        return 200, orjson.dumps(operation), JSON

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        return self.encode_task(view)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


def _file_uri(url: str, task_id: str, index: int) -> str:
    """The file's download URI on the gateway ``url`` names (its origin, and the path prefix before
    ``/v1/videos/`` that a ``public_url`` may carry)."""
    parts = urlsplit(url)
    prefix = parts.path.split("/v1/videos/", 1)[0] if "/v1/videos/" in parts.path else ""
    origin = f"{parts.scheme}://{parts.netloc}{prefix}" if parts.scheme and parts.netloc else ""
    return f"{origin}/v1beta/files/{file_name(task_id, index)}:download?alt=media"


VEO = VeoDialect()
