"""What the video vendor codecs share: durations mapped to the nearest one a model makes, sizes read as
``WxH`` and ratios, reference images as URLs or inline bytes, vendor-native fields merged, and the
refusal of fields a vendor cannot honour (a 400 naming the field, nothing sent)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskRequest
from omnirouter.protocols.media.base import invalid
from omnirouter.protocols.media.images import data_url, image_bytes

__all__ = [
    "check_count",
    "image_param",
    "inline_image",
    "merge_extra",
    "nearest",
    "parse_size",
    "reference_url",
    "refuse",
    "roles_of",
    "text",
    "upstream_error",
]


def nearest(seconds: float | None, choices: Sequence[int]) -> int | None:
    """The duration in ``choices`` nearest to ``seconds`` (a tie goes to the shorter, cheaper one);
    None when the client asked none (the vendor's default applies)."""
    if seconds is None:
        return None
    return min(choices, key=lambda choice: (abs(choice - seconds), choice))


def parse_size(size: str, param: str = "size") -> tuple[int, int]:
    """``"1280x720"`` (or ``1280*720``) as ``(width, height)``, else a 400 naming ``param``."""
    width, sep, height = size.lower().replace("*", "x").partition("x")
    if not sep or not width.strip().isdigit() or not height.strip().isdigit():
        raise invalid(f"'{param}' must be WIDTHxHEIGHT (e.g. 1280x720), not {size!r}.", param)
    return int(width), int(height)


def refuse(request: TaskRequest, vendor: str, fields: Iterable[str]) -> None:
    """A 400 naming the first of ``fields`` the client set: ``vendor`` cannot honour it."""
    for name in fields:
        value = getattr(request, name)
        if value is not None and value != [] and not (name == "n" and value == 1):
            raise invalid(f"'{name}' is not supported by this model's upstream ({vendor}).", name)


def check_count(request: TaskRequest, most: int, vendor: str) -> None:
    """A 400 naming ``images`` when the client sent more reference images than ``vendor`` takes."""
    if len(request.images) > most:
        what = "no reference image" if most == 0 else f"at most {most} reference image{'s' * (most > 1)}"
        raise invalid(f"this model's upstream ({vendor}) takes {what}.", "images")


def image_param(index: int) -> str:
    """The field an image came in, for errors."""
    return f"images[{index}]"


def roles_of(request: TaskRequest) -> list[str]:
    """Each image's role: the client's ``image_roles`` where given, else the first is the first frame
    and a second the last frame (more are references)."""
    given = request.image_roles or []
    defaults = ["first_frame", "last_frame"]
    return [
        given[i] if i < len(given) and given[i] else (defaults[i] if i < len(defaults) else "reference")
        for i in range(len(request.images))
    ]


def reference_url(image: ImageInput, param: str) -> str:
    """An http(s) URL as given, else a ``data:`` URL of the image's bytes (a file id is a 400)."""
    if image.url is not None and image.url[:4].lower() == "http":
        return image.url
    mime, data = image_bytes(image, param)
    return data_url(mime.lower(), base64.b64encode(data).decode("ascii"))


def inline_image(image: ImageInput, param: str) -> tuple[str, str]:
    """``(mime type, base64)`` of an uploaded file or a ``data:`` URL (an http URL is a 400 naming ``param``)."""
    mime, data = image_bytes(image, param)
    return mime.lower(), base64.b64encode(data).decode("ascii")


def merge_extra(body: dict[str, Any], extra: Mapping[str, Any], nested: Mapping[str, dict[str, Any]]) -> None:
    """Merge the client's vendor-native fields into ``body``: a key naming one of the ``nested`` objects
    (DashScope's ``input``/``parameters``) merges into it, ``model`` is never taken from the client."""
    for key, value in extra.items():
        if key == "model":
            continue
        if key in nested and isinstance(value, dict):
            nested[key].update({k: v for k, v in value.items() if k != "model"})
        else:
            body[key] = value


def text(value: Any) -> str | None:
    """``value`` when it is a non-empty string."""
    return value if isinstance(value, str) and value else None


def upstream_error(vendor: str, message: str, code: str | None = None) -> GatewayError:
    """An error a vendor reported inside a 2xx answer (transient for the engine, never a refund)."""
    return GatewayError(ErrorKind.UPSTREAM, f"{vendor}: {message}", code=code)
