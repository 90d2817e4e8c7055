"""Asynchronous tasks (video and Suno now; images and Midjourney next) in one neutral shape.

``TaskStatus`` is the one status model every vendor's raw values map onto (docs/tasks.md), with the
transitions it allows: a terminal status never changes again, which is what makes settling or refunding
a task exactly once a compare-and-set.  ``TaskRequest`` is what a client asked, whatever dialect it
spoke; ``TaskState`` is what a vendor said on one poll, whatever its wire format.
"""

from __future__ import annotations

import enum
from typing import Any, Final, Literal

import msgspec

from omnirouter.ir.media import ImageInput
from omnirouter.ir.usage import Usage

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "OutputKind",
    "TaskKind",
    "TaskOutput",
    "TaskRequest",
    "TaskState",
    "TaskStatus",
    "can_move",
]


class TaskStatus(enum.StrEnum):
    """Where a task stands.

    ``pending``: our row is written and its money held, the vendor not (yet) known to have it;
    ``queued`` / ``running``: the vendor has it; ``succeeded``: its outputs are in our result store;
    ``failed``: the vendor said so (documented terminal failure) or our deadline passed;
    ``cancelled``: the client or an operator cancelled it.
    """

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether the task is finished (its money settled or refunded)."""
        return self in TERMINAL


TERMINAL: Final = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})

_ANY_END = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})
TRANSITIONS: Final[dict[TaskStatus, frozenset[TaskStatus]]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING}) | _ANY_END,
    TaskStatus.QUEUED: frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING}) | _ANY_END,
    TaskStatus.RUNNING: frozenset({TaskStatus.RUNNING}) | _ANY_END,
    TaskStatus.SUCCEEDED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}
"""The moves each status allows (a vendor saying "running" again while running is no move)."""


def can_move(current: TaskStatus, new: TaskStatus) -> bool:
    """Whether a task in ``current`` may become ``new`` (a vendor going back from running to queued may not)."""
    return new in TRANSITIONS[current]


class TaskKind(enum.StrEnum):
    """What a task makes (one engine for all of them)."""

    VIDEO = "video"
    IMAGE = "image"
    MUSIC = "music"
    MIDJOURNEY = "midjourney"


class TaskRequest(msgspec.Struct, kw_only=True):
    """A client's request for an asynchronous task, in one shape whatever dialect it spoke.

    Fields the client did not send stay ``None`` (no duration, size or count is invented; each vendor's
    default then applies and the answer says what was made).  ``images`` are reference images in
    order (first frame, last frame, references: ``image_roles`` names each when the dialect says);
    ``extra`` holds vendor-native fields passed through (new-api's ``metadata``); ``remix_of`` is the
    public id of the task a remix / follow-up continues; ``client_ref`` the client's own id for the task
    (Kling's ``external_task_id``), echoed back in answers and never sent upstream as is; ``dialect`` the
    client API it was created through (``TaskDialect.name``, set by the create route; None for tasks made
    before it was recorded), which shapes its webhook bodies.

    Midjourney tasks (``TaskKind.MIDJOURNEY``, the midjourney-proxy API) add: ``action`` the proxy's submit
    it is (``imagine`` when None; ``blend``, ``describe``, ``shorten``, ``change``, ``simple-change``,
    ``action``, ``modal``, ``edits``, ``video``, ``swap_face``); ``parent_task_id`` the vendor's id of the
    task a change / action / modal / video extension works on (the route resolves the client's id to it);
    ``change`` ``UPSCALE`` / ``VARIATION`` / ``REROLL`` (or ``U2``-style for ``simple-change``) with
    ``index`` 1-4 (a video extension's ``index``: 0-3, as the proxy counts videos); ``custom_id`` the
    button an ``action`` presses; ``mask`` an inpaint's mask for ``modal``.  Other tasks leave them None.

    ``answer_format``: how the client wants the results shown (Omni-Image's ``response_format``:
    ``b64_json`` or ``url``); the gateway's own concern, never sent to a vendor.
    """

    kind: TaskKind = TaskKind.VIDEO
    model: str
    prompt: str | None = None
    negative_prompt: str | None = None
    images: list[ImageInput] = msgspec.field(default_factory=list)
    image_roles: list[str] | None = None
    seconds: float | None = None
    size: str | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    n: int | None = None
    seed: int | None = None
    audio: bool | None = None
    mode: str | None = None
    remix_of: str | None = None
    callback_url: str | None = None
    client_ref: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    dialect: str | None = None
    action: str | None = None
    parent_task_id: str | None = None
    change: str | None = None
    index: int | None = None
    custom_id: str | None = None
    mask: ImageInput | None = None
    answer_format: str | None = None


OutputKind = Literal["video", "thumbnail", "last_frame", "image", "audio", "spritesheet", "text"]


class TaskOutput(msgspec.Struct, frozen=True, kw_only=True):
    """One result file a vendor made: where to fetch it (``auth``: the fetch needs the channel's key, as
    Veo's and Sora's do), its type when the vendor says, and which output of the task it is."""

    kind: OutputKind
    url: str
    mime: str | None = None
    auth: bool = False


class TaskState(msgspec.Struct, kw_only=True):
    """What a vendor said about a task on one poll (or in its answer to the submit).

    ``status`` is mapped from the vendor's raw value (``vendor_status``, kept for logs): an unknown raw
    value maps to ``running``, never to a failure.  ``failure`` is the vendor's own reason when it
    reports a terminal failure; ``seconds`` what was generated (the billing signal where the vendor
    gives one); ``usage`` tokens the vendor reports; ``credits`` the vendor's own billing units as it
    reports them (Kling's ``final_unit_deduction``, Vidu's ``credits``): recorded, not priced.
    ``details``: vendor facts a dialect shows later (Midjourney's ``buttons``, ``final_prompt``,
    ``description``); empty for other vendors.  ``result_in_details``: the codec says a success carries
    its result in ``details`` (text: Midjourney's describe, shorten, upload), so it is whole without files.
    """

    status: TaskStatus
    vendor_status: str = ""
    progress: int | None = None
    outputs: list[TaskOutput] = msgspec.field(default_factory=list)
    seconds: float | None = None
    usage: Usage | None = None
    credits: float | None = None
    failure: str | None = None
    failure_code: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    result_in_details: bool = False
