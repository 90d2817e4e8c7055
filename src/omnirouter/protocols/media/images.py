"""What the image codecs share: reference images as bytes, sizes and aspect ratios, and the download of
vendor-given result URLs (a short-lived signed link, or a URL when the client asked for base64).

Sizes: a client speaks in ``size`` (``WxH``, or ``W:H`` as some clients send), ``aspect_ratio`` and
``resolution`` (``1K``…``4K``, Omni-Image); a vendor wants one of them.  Conversions keep the client's
shape: a ratio is the reduced ``W:H`` of the size asked, the closest one the vendor offers when it
offers a fixed set.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import NamedTuple

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.media import GeneratedImage, ImageInput, ImageRequest, ImageResult
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall, invalid
from omnirouter.protocols.media.sniff import sniff_image_mime

__all__ = [
    "DOWNLOAD",
    "RESOLUTIONS",
    "Pending",
    "closest_ratio",
    "data_url",
    "finish",
    "image_bytes",
    "invalid",
    "label_usage",
    "pixels_for",
    "ratio_of",
    "resume_download",
]

DOWNLOAD = "download"
RESOLUTIONS = {"1K": 1024, "2K": 2048, "3K": 3072, "4K": 4096}
_SIZE = re.compile(r"(\d{1,5})\s*[xX*]\s*(\d{1,5})")
_RATIO = re.compile(r"(\d{1,3})\s*:\s*(\d{1,3})")


def data_url(mime: str, b64: str) -> str:
    """A ``data:`` URL of base64 image bytes."""
    return f"data:{mime};base64,{b64}"


def _decode_data_url(url: str, param: str) -> tuple[str, bytes]:
    head, sep, payload = url.partition(",")
    if not sep or not head.endswith(";base64"):
        raise invalid(f"'{param}' must be a base64 data: URL (data:image/png;base64,...).", param)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"'{param}' is not valid base64.", param) from None
    mime = sniff_image_mime(data) or head[5:].removesuffix(";base64").lower()
    if not mime.startswith("image/"):
        raise invalid(f"'{param}' is not a PNG, JPEG, WebP or GIF image.", param)
    return mime, data


def image_bytes(image: ImageInput, param: str) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of an uploaded file or a ``data:`` URL; a 400 naming ``param`` for an
    http(s) URL or a file id (for vendors that take images inline only)."""
    if image.file is not None:
        return image.file.content_type, image.file.data
    if image.url is not None and image.url[:5].lower() == "data:":
        return _decode_data_url(image.url, param)
    raise invalid(
        f"'{param}' must be an uploaded file or a data: URL for this model: its upstream takes images inline "
        "and the gateway does not fetch image URLs for it.",
        param,
    )


def ratio_of(request: ImageRequest) -> tuple[int, int] | None:
    """The aspect ratio the client asked: ``aspect_ratio``, else the shape of ``size``; None for neither."""
    for text in (request.aspect_ratio, request.size):
        if not text:
            continue
        match = _RATIO.fullmatch(text.strip()) or _SIZE.fullmatch(text.strip())
        if match:
            width, height = int(match.group(1)), int(match.group(2))
            if width and height:
                divisor = math.gcd(width, height)
                return width // divisor, height // divisor
    return None


def closest_ratio(ratio: tuple[int, int], choices: tuple[str, ...]) -> str:
    """The ratio among ``choices`` (``"16:9"``…) nearest to ``ratio`` (by log of width / height)."""
    wanted = math.log(ratio[0] / ratio[1])

    def distance(choice: str) -> float:
        width, _, height = choice.partition(":")
        return abs(math.log(int(width) / int(height)) - wanted)

    return min(choices, key=distance)


def pixels_for(ratio: tuple[int, int], side: int, multiple: int = 16) -> tuple[int, int]:
    """A ``WxH`` of ``ratio`` with about ``side``² pixels, both sides multiples of ``multiple``."""
    area = side * side
    width = math.sqrt(area * ratio[0] / ratio[1])
    height = area / width
    return max(multiple, round(width / multiple) * multiple), max(multiple, round(height / multiple) * multiple)


def label_usage(usage: Usage, request: ImageRequest, size: str | None = None, quality: str | None = None) -> Usage:
    """``usage`` with the size and quality a per-image price tier is chosen by: the vendor's, else the request's."""
    usage.image_size = size or request.size or request.resolution or ""
    usage.image_quality = quality or request.quality or ""
    return usage


class Pending(NamedTuple):
    """What an image answer gave so far, while result URLs are being downloaded."""

    result: ImageResult
    position: int
    after: Followup | None = None
    """The call to make once every image is downloaded (the next image of an asynchronous vendor)."""


def _next_download(pending: Pending) -> Followup | None:
    for index in range(pending.position, len(pending.result.images)):
        image = pending.result.images[index]
        if image.b64 is None and image.url is not None:
            call = UpstreamCall(image.url, method="GET", auth=False)
            return Followup(call, DOWNLOAD, carry=pending._replace(position=index))
    return None


def finish(result: ImageResult, download: bool, after: Followup | None = None) -> ImageResult | Followup:
    """``result``, or first the download of every image that came as a URL when ``download`` (the client
    asked for base64, or the vendor's links expire); then ``after`` when given."""
    if download:
        step = _next_download(Pending(result, 0, after))
        if step is not None:
            return step
    return after if after is not None else result


def resume_download(answer: Answer, step: Followup) -> ImageResult | Followup:
    """The downloaded bytes of one image kept; the next download, the ``after`` call or the result."""
    pending: Pending = step.carry
    image: GeneratedImage = pending.result.images[pending.position]
    declared = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    mime = sniff_image_mime(answer.body) or (declared if declared.startswith("image/") else None)
    if mime is None:
        raise GatewayError(ErrorKind.UPSTREAM, "the upstream's image URL did not return an image")
    image.b64 = base64.b64encode(answer.body).decode("ascii")
    image.mime = mime
    nxt = _next_download(pending._replace(position=pending.position + 1))
    if nxt is not None:
        return nxt
    return pending.after if pending.after is not None else pending.result
