"""What the video task dialects read and write the same way: durations, sizes, reference images given as
strings, the budget of a task, and the time stamps of a task view.

Durations: a number or a numeric string (``5``, ``"5"``, ``"5.0"``) of seconds, from ``MIN_SECONDS`` to
``MAX_SECONDS``; a duration a vendor cannot make is mapped to the nearest one it can by the vendor codec,
not here.  Without one, each vendor's own default applies.  ``task_budget`` is the dialect's bound; the
engine prices each planned attempt on the seconds its vendor makes instead (``TaskVendor.seconds_for``), and
keeps this bound only where a vendor cannot say (Tencent Hunyuan): the requested seconds, else
``UNASKED_SECONDS``, which covers every vendor default in docs/tasks.md (Veo's 8 is the longest).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput, MediaFile
from omnirouter.ir.task import TaskRequest, TaskStatus
from omnirouter.protocols.media.sniff import sniff_image_mime

__all__ = [
    "MAX_SECONDS",
    "MIN_SECONDS",
    "UNASKED_SECONDS",
    "image_string",
    "invalid",
    "opt_text",
    "seconds_field",
    "seconds_text",
    "size_field",
    "task_budget",
]

MIN_SECONDS: Final = 1.0
MAX_SECONDS: Final = 60.0
"""The longest clip a task may ask for (vendors make at most 15-20 s today; the bound keeps a reservation sane)."""
UNASKED_SECONDS: Final = 10.0
"""Seconds reserved for a task that names no duration where its vendor cannot say what it makes."""
_SIZE = re.compile(r"(\d{2,5})[x*](\d{2,5})")
_NUMBER = re.compile(r"\s*\d{1,4}(\.\d{1,6})?\s*")
IN_FLIGHT: Final = frozenset({TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RUNNING})


def invalid(message: str, param: str | None) -> GatewayError:
    """A 400 naming ``param``."""
    return GatewayError(ErrorKind.INVALID_REQUEST, message, param=param)


def opt_text(value: Any, param: str) -> str | None:
    """A string field (``None`` when absent or null), else a 400 naming it."""
    if value is None or isinstance(value, str):
        return value
    raise invalid(f"'{param}' must be a string.", param)


def seconds_field(value: Any, param: str) -> float | None:
    """A duration given as a number or a numeric string; ``None`` when absent; a 400 naming ``param`` else."""
    if value is None:
        return None
    number: float | None = None
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMBER.fullmatch(value)
    ):
        number = float(value)
    if number is None or not MIN_SECONDS <= number <= MAX_SECONDS:
        raise invalid(
            f"'{param}' must be a number of seconds from {MIN_SECONDS:g} to {MAX_SECONDS:g} "
            '(a number or a numeric string such as "5").',
            param,
        )
    return number


def size_field(value: Any, param: str = "size") -> str | None:
    """``WIDTHxHEIGHT`` (``1280*720`` as DashScope writes it is accepted and written ``1280x720``)."""
    text = opt_text(value, param)
    if text is None:
        return None
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise invalid(f"'{param}' must be WIDTHxHEIGHT in pixels, such as \"1280x720\".", param)
    return f"{match.group(1)}x{match.group(2)}"


def image_string(value: Any, param: str, *, raw_base64: bool) -> ImageInput:
    """A reference image given as a string: an http(s) or ``data:`` URL, or (``raw_base64``: new-api and
    Kling bodies) bare base64 bytes of a PNG, JPEG, WebP or GIF image."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"'{param}' must be an image URL (https or data:) or base64 image bytes.", param)
    value = value.strip()
    if value[:8].lower().startswith(("https://", "http://", "data:")):
        return ImageInput(url=value)
    if not raw_base64:
        raise invalid(f"'{param}' must be an http(s) or data: URL.", param)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"'{param}' is neither an image URL nor valid base64.", param) from None
    mime = sniff_image_mime(data)
    if mime is None:
        raise invalid(f"'{param}' is not a PNG, JPEG, WebP or GIF image.", param)
    return ImageInput(file=MediaFile(data, param, mime))


def task_budget(request: TaskRequest) -> Budget:
    """One call; ``seconds``: the requested duration (``UNASKED_SECONDS`` without one) times the videos asked
    (``n``, Veo's ``sampleCount``); ``input_bytes``: the prompts' bytes (for vendors that bill tokens)."""
    texts = (request.prompt or "", request.negative_prompt or "")
    seconds = request.seconds if request.seconds is not None else UNASKED_SECONDS
    return Budget(
        input_bytes=sum(len(text.encode()) for text in texts),
        seconds=seconds * (request.n or 1),
        calls=1,
    )


def seconds_text(seconds: float | None) -> str | None:
    """A duration as the string OpenAI and Kling write it: ``8.0`` → ``"8"``, ``5.042`` → ``"5.042"``."""
    return None if seconds is None else f"{seconds:g}"
