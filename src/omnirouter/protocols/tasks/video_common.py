"""What the video vendor codecs share: durations mapped to the nearest one a model makes, sizes read as
``WxH`` and ratio/resolution, reference images as URLs or inline bytes, vendor-native fields merged, the
refusal of fields a vendor cannot honour (a 400 naming the field, nothing sent), and JSON answers and
errors."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, kind_for_status
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskOutput, TaskRequest
from omnirouter.protocols.media.base import Answer, UpstreamCall, invalid, json_object
from omnirouter.protocols.media.images import data_url, image_bytes
from omnirouter.protocols.tasks.base import TaskTarget

__all__ = [
    "IMAGE_MIMES",
    "NoCancel",
    "NoFind",
    "check_count",
    "dump",
    "image_output",
    "image_param",
    "image_ref",
    "image_roles",
    "inline_image",
    "merge_extra",
    "nearest",
    "parse_json",
    "parse_size",
    "ratio_and_resolution",
    "refuse",
    "refuse_billed_extra",
    "text",
    "upstream_error",
    "vendor_error",
]


def nearest(seconds: float, allowed: Sequence[int]) -> int:
    """The duration in ``allowed`` nearest to ``seconds`` (a tie goes to the shorter, cheaper one)."""
    return min(allowed, key=lambda choice: (abs(choice - seconds), choice))


def _ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def ratio_and_resolution(
    request: TaskRequest, ratios: Iterable[str], resolutions: Iterable[str]
) -> tuple[str | None, str | None]:
    """The ``(aspect ratio, resolution)`` the request asks in the vendor's spelling (None: not asked).

    ``size`` ``WxH`` means its reduced ratio and ``{short side}p``; each must be one the vendor makes,
    else a 400 naming the field the client sent (``size``, ``aspect_ratio`` or ``resolution``).
    """
    ratio_choices = list(ratios)
    by_lower = {r.lower(): r for r in resolutions}
    ratio = resolution = None
    if request.size is not None:
        width, height = parse_size(request.size)
        ratio, resolution = _ratio(width, height), f"{min(width, height)}p"
        if ratio not in ratio_choices or resolution not in by_lower:
            made = ", ".join(f"{r} at {', '.join(by_lower.values())}" for r in ratio_choices) or "none"
            raise invalid(f"size {request.size} is not one this model makes (aspect ratios {made}).", "size")
        resolution = by_lower[resolution]
    if request.aspect_ratio is not None:
        if request.aspect_ratio not in ratio_choices:
            allowed = ", ".join(ratio_choices) or "none (set by the input image)"
            raise invalid(
                f"aspect_ratio {request.aspect_ratio!r} is not one this model makes: {allowed}.", "aspect_ratio"
            )
        if ratio is not None and ratio != request.aspect_ratio:
            raise invalid("'aspect_ratio' contradicts 'size'.", "aspect_ratio")
        ratio = request.aspect_ratio
    if request.resolution is not None:
        chosen = by_lower.get(request.resolution.lower())
        if chosen is None:
            allowed = ", ".join(by_lower.values()) or "none (set by the model)"
            raise invalid(f"resolution {request.resolution!r} is not one this model makes: {allowed}.", "resolution")
        if resolution is not None and resolution != chosen:
            raise invalid("'resolution' contradicts 'size'.", "resolution")
        resolution = chosen
    return ratio, resolution


def image_ref(image: ImageInput, param: str, *, data_prefix: bool = True) -> str:
    """An http(s) URL as given, else the image inline: a ``data:`` URL, or bare base64 (``data_prefix``
    False, as Kling wants); a file id is a 400 naming ``param``."""
    if image.url is not None and image.url[:4].lower() == "http":
        return image.url
    if image.file_id is not None and image.file is None and image.url is None:
        raise invalid(f"'{param}' must be an image URL or upload: file ids are not taken for video.", param)
    mime, data = image_bytes(image, param)
    encoded = base64.b64encode(data).decode("ascii")
    return data_url(mime.lower(), encoded) if data_prefix else encoded


def image_roles(request: TaskRequest, allowed: Sequence[str], most: int, vendor: str) -> list[str]:
    """Each image's role: the request's ``image_roles``, else first frame then last frame; a 400 naming
    ``images`` for more than ``most`` images, ``image_roles`` for a role ``allowed`` lacks."""
    check_count(request, most, vendor)
    count = len(request.images)
    if request.image_roles is None:
        return ["first_frame", "last_frame"][:count] if count <= 2 else ["reference"] * count
    roles = list(request.image_roles)
    if len(roles) != count:
        raise invalid("'image_roles' must name one role per image.", "image_roles")
    for role in roles:
        if role not in allowed:
            raise invalid(f"{vendor} takes image roles {', '.join(allowed)}; got {role!r}.", "image_roles")
    return roles


def merge_extra(
    body: dict[str, Any],
    extra: Mapping[str, Any],
    reserved: Iterable[str] = (),
    *,
    nested: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``body`` with the client's vendor-native fields added (they win), except ``model``, ``callback_url``
    (the client's webhook is the gateway's to call, never the vendor's: the vendor only ever gets the
    gateway's own callback URL) and ``reserved``; a key naming one of the ``nested`` objects (DashScope's
    ``input``/``parameters``) merges into it."""
    skip = {"model", "callback_url", *reserved}
    for key, value in extra.items():
        if key in skip:
            continue
        if nested is not None and key in nested and isinstance(value, dict):
            nested[key].update({k: v for k, v in value.items() if k != "model"})
        else:
            body[key] = value
    return body


def dump(body: dict[str, Any]) -> bytes:
    """A JSON request body."""
    return orjson.dumps(body)


def parse_json(raw: bytes, vendor: str) -> dict[str, Any]:
    """A 2xx answer's JSON object (an upstream error when it is not one)."""
    return json_object(raw, vendor)


def text(value: Any) -> str | None:
    """A string field, or None."""
    return value if isinstance(value, str) and value else None


def _field(obj: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj


def vendor_error(status: int, body: bytes, vendor: str) -> GatewayError:
    """A non-2xx answer as an error with the vendor's status, message and code where its body has them
    (``message``; ``error.message``; MiniMax ``base_resp``; Volcengine ``ResponseMetadata.Error``)."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    message = code = None
    paths: list[tuple[str, ...]] = [("error", "message"), ("base_resp", "status_msg")]
    for path in [*paths, ("ResponseMetadata", "Error", "Message")]:
        message = message or text(_field(parsed, *path))
    message = message or text(_field(parsed, "message"))
    for path in [("error", "code"), ("base_resp", "status_code"), ("ResponseMetadata", "Error", "Code"), ("code",)]:
        found = _field(parsed, *path)
        if found not in (None, "", 0):
            code = str(found)
            break
    if message is None:
        snippet = body[:200].decode("utf-8", "replace").strip() if parsed is None else ""
        message = f"{vendor} returned HTTP {status}" + (f": {snippet}" if snippet else "")
    return GatewayError(kind_for_status(status), f"{vendor}: {message}", status=status, code=code)


_SIZE = re.compile(r"\s*(\d+)\s*[x*×:]\s*(\d+)\s*")


def parse_size(size: str, param: str = "size") -> tuple[int, int]:
    """``"1280x720"`` (or ``1280*720``, ``1280×720``) as ``(width, height)``, else a 400 naming ``param``."""
    match = _SIZE.fullmatch(size.lower())
    if match is None or not int(match.group(1)) or not int(match.group(2)):
        raise invalid(f"'{param}' must be WIDTHxHEIGHT (e.g. 1280x720), not {size!r}.", param)
    return int(match.group(1)), int(match.group(2))


def refuse(request: TaskRequest, vendor: str, fields: Iterable[str]) -> None:
    """A 400 naming the first of ``fields`` the client set: ``vendor`` cannot honour it."""
    for name in fields:
        value = getattr(request, name)
        if name == "n" and value not in (None, 1):
            raise invalid(f"{vendor} makes one video per task; 'n' must be 1.", "n")
        if name != "n" and value is not None and value != []:
            raise invalid(f"'{name}' is not supported by this model's upstream ({vendor}).", name)


def refuse_billed_extra(request: TaskRequest, keys: Iterable[str], nested: str | None = None) -> None:
    """A 400 naming the first of ``keys`` the client's vendor-native fields set (in the ``nested`` object
    when given, as DashScope's ``parameters``): they would change the duration or the number of videos made,
    which come only from the request's own fields, so what is reserved and billed is what is made."""
    scope = request.extra.get(nested) if nested is not None else request.extra
    if not isinstance(scope, Mapping):
        return
    for key in keys:
        if key in scope:
            param = f"{nested}.{key}" if nested is not None else key
            raise invalid(
                f"'{param}' is not taken among vendor-native fields: send the duration and the number of videos "
                "in the request's own fields (they are what is billed).",
                param,
            )


def check_count(request: TaskRequest, most: int, vendor: str) -> None:
    """A 400 naming ``images`` when the client sent more reference images than ``vendor`` takes."""
    if len(request.images) > most:
        what = "no reference image" if most == 0 else f"at most {most} reference image{'s' * (most > 1)}"
        raise invalid(f"this model's upstream ({vendor}) takes {what}.", "images")


def image_param(index: int) -> str:
    """The field an image came in, for errors."""
    return f"images[{index}]"


def inline_image(image: ImageInput, param: str) -> tuple[str, str]:
    """``(mime type, base64)`` of an uploaded file or a ``data:`` URL (an http URL is a 400 naming ``param``)."""
    mime, data = image_bytes(image, param)
    return mime.lower(), base64.b64encode(data).decode("ascii")


def upstream_error(vendor: str, message: str, code: str | None = None) -> GatewayError:
    """An error a vendor reported inside a 2xx answer (transient for the engine, never a refund)."""
    return GatewayError(ErrorKind.UPSTREAM, f"{vendor}: {message}", code=code)


class NoFind:
    """For a vendor with no look-up by our id: ``find`` / ``parse_find`` say so (a task whose submit got no
    answer is refunded by the reconciler)."""

    def find(self, target: TaskTarget, request: TaskRequest | None = None) -> UpstreamCall | None:
        """None: the vendor cannot find a task by our id."""
        return None

    def parse_find(self, answer: Answer, target: TaskTarget, request: TaskRequest | None = None) -> str | None:
        """Never called (``find`` is None)."""
        return None


class NoCancel:
    """For a vendor that cannot cancel a task."""

    def cancel(self, upstream_id: str, target: TaskTarget) -> UpstreamCall | None:
        """None: the vendor has no cancel."""
        return None


IMAGE_MIMES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}


def image_output(url: str, default_mime: str = "image/png") -> TaskOutput:
    """A result image at ``url``, its type told by the path's extension (``default_mime`` without one);
    the result store checks the bytes it fetches anyway."""
    extension = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return TaskOutput(kind="image", url=url, mime=IMAGE_MIMES.get(extension, default_mime))
