"""What a task codec provides.  A vendor's task API is a wire format that clients also speak (Kling's,
Veo's, OpenAI's videos), so each is pure and split in two sides, like the chat codecs:

* ``TaskVendor``: the upstream side — the submit call and its answer, the poll call and its answer
  (mapped onto ``ir.TaskState``), where the vendor can, the look-up of a task by our deterministic
  external id (so a submit retried after a timeout is found, not duplicated) and cancelling;
* ``TaskDialect``: the client side — a create body decoded into ``ir.TaskRequest``, a task rendered
  as the dialect's own object (``TaskView`` → bytes), errors in the dialect's shape.

The engine (``tasks/``) does every I/O: it calls ``UpstreamCall``s (``protocols.media.base``), follows
``Followup``s (a second request a poll needs, as MiniMax's file retrieval; the uploads a submit needs
first, as PixVerse's ``img_id``: ``UploadsFirst``), stores results and moves money.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import msgspec

from omnirouter.ir import Budget, GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall

__all__ = [
    "BatchPoll",
    "Submitted",
    "TaskDialect",
    "TaskTarget",
    "TaskTiming",
    "TaskVendor",
    "TaskView",
    "UploadsFirst",
    "ViewOutput",
]


class TaskTarget(NamedTuple):
    """What a vendor codec may know of the channel and task it works for.

    ``upstream_key`` is the channel's key for this call (a pair ``ACCESS|SECRET`` for vendors that sign:
    Kling's JWT, Volcengine's signature; never logged, never stored in a task row); ``external_id`` is
    our deterministic id for the task, forwarded to vendors that take one; ``now`` is the clock (unix
    seconds) for signatures and expiries, injected so codecs stay pure; ``callback_url``: the gateway's
    callback URL for the task (``tasks/callbacks.py``), sent in the submit by vendors that take one; None
    when the gateway has no ``public_url`` (then polling alone follows the task).
    """

    upstream_model: str
    options: Mapping[str, str]
    upstream_key: str
    base_url: str
    external_id: str
    now: float
    callback_url: str | None = None


class TaskTiming(NamedTuple):
    """A vendor's defaults for the poll schedule (seconds): the first poll, the longest gap between polls,
    and the deadline after which a task still unfinished fails (and is refunded)."""

    first_poll: float
    max_poll: float
    deadline: float


class Submitted(NamedTuple):
    """The vendor took the task: its id there, and the state its answer already tells, if any."""

    upstream_id: str
    state: TaskState | None = None


class TaskVendor(Protocol):
    """One vendor's task API as an upstream.

    ``submit`` raises a 4xx ``GatewayError`` naming the field for what this vendor cannot do (a size it
    does not make, too many images); a duration it cannot make is mapped to the nearest it can, and
    ``seconds_for`` says which (from the same mapping ``submit`` uses).
    ``parse_*`` raise ``GatewayError`` for an error the vendor reports inside a 2xx body (transient for the
    engine, never a refund by itself); ``parse_poll`` returns ``FAILED`` only for a vendor-documented
    terminal failure, and maps an unknown raw status to ``RUNNING``.
    """

    kind: TaskKind
    timing: TaskTiming

    def submit(self, request: TaskRequest, target: TaskTarget) -> UpstreamCall: ...

    def seconds_for(self, request: TaskRequest, upstream_model: str, options: Mapping[str, str]) -> float | None:
        """The seconds of each clip this vendor makes for ``request`` on ``upstream_model`` (with the channel's
        ``options``): the asked duration mapped as ``submit`` maps it, the vendor's default when none is
        asked; None only when nobody can know (the model's own length).  What is reserved, shown and billed
        when the vendor reports no duration.  May raise the 4xx ``submit`` would."""
        ...

    def parse_submit(self, answer: Answer, request: TaskRequest, target: TaskTarget) -> Submitted: ...

    def poll(self, upstream_id: str, target: TaskTarget) -> UpstreamCall: ...

    def parse_poll(self, answer: Answer, target: TaskTarget, step: Followup | None) -> TaskState | Followup: ...

    def find(self, target: TaskTarget, request: TaskRequest | None = None) -> UpstreamCall | None:
        """The call that finds our task at the vendor by ``target.external_id``; None if it cannot.
        ``request`` (the task's, when the caller has it) tells vendors whose look-up path depends on the
        kind of task (Kling's ``text2video`` / ``image2video``) where to look."""
        ...

    def parse_find(self, answer: Answer, target: TaskTarget, request: TaskRequest | None = None) -> str | None:
        """The vendor's id of the task ``find`` looked for (given the same ``request``); None when the
        vendor has no such task."""
        ...

    def cancel(self, upstream_id: str, target: TaskTarget) -> UpstreamCall | None:
        """The call that cancels the task at the vendor; None if it cannot."""
        ...

    def decode_error(self, status: int, body: bytes) -> GatewayError: ...


@runtime_checkable
class BatchPoll(Protocol):
    """What a vendor codec adds when its API answers several tasks in one call (Ark's task list filtered
    by ids); the poller groups a channel's due tasks into such calls (docs/tasks.md, "Schedule").

    ``batch_limit``: the most ids one call may carry.  ``parse_poll_many`` maps each upstream id the
    answer has to its state exactly as ``parse_poll`` would for that task alone; an id the answer lacks
    is absent (the poller polls that task alone), and an error the vendor reports inside a 2xx body
    raises ``GatewayError``, as ``parse_poll`` does.
    """

    batch_limit: int

    def poll_many(self, upstream_ids: Sequence[str], target: TaskTarget) -> UpstreamCall | None:
        """The one call that polls all of ``upstream_ids`` (None: not for these, poll each alone)."""
        ...

    def parse_poll_many(self, answer: Answer, target: TaskTarget) -> dict[str, TaskState]:
        """Each answered task's state, by upstream id."""
        ...


@runtime_checkable
class UploadsFirst(Protocol):
    """A vendor that takes the client's inputs only as its own uploads (PixVerse's images: an ``img_id``
    from its upload API).  Before the submit the engine makes the calls ``upload`` starts, one at a time:
    ``parse_upload`` gets each answer back with its ``Followup`` and returns the next upload, or the request
    to submit (the uploads' ids in place of the inputs).  ``upload`` checks the whole request first (a 4xx
    naming the field, nothing uploaded) and returns None when there is nothing to upload."""

    def upload(self, request: TaskRequest, target: TaskTarget) -> Followup | None: ...

    def parse_upload(
        self, answer: Answer, request: TaskRequest, target: TaskTarget, step: Followup
    ) -> TaskRequest | Followup: ...


class ViewOutput(msgspec.Struct, frozen=True, kw_only=True):
    """One stored result, as a client may fetch it: a gateway URL (signed, expiring), never the vendor's."""

    kind: str
    url: str
    mime: str | None = None


class TaskView(msgspec.Struct, kw_only=True):
    """A task as clients see it, before a dialect renders it: only what is theirs (no channel, upstream
    id, key or vendor body).  Times are unix seconds (``started_at``: when the vendor started running it,
    ``updated_at``: its last change); ``seconds``/``size`` what was made (and billed); ``client_ref`` the
    client's own id for the task (``TaskRequest.client_ref``); ``details`` the vendor facts a dialect shows
    besides the common fields (Suno's ``lyrics`` ``{text, title}``), never a vendor-private one."""

    id: str
    kind: TaskKind
    model: str
    status: TaskStatus
    created_at: int
    progress: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    seconds: float | None = None
    size: str | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    prompt: str | None = None
    outputs: list[ViewOutput] = msgspec.field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None
    remix_of: str | None = None
    started_at: int | None = None
    updated_at: int | None = None
    client_ref: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class TaskDialect(Protocol):
    """The client side of one task API (OpenAI videos, new-api's unified video, Kling's, Veo's)."""

    protocol: str
    """The client's protocol as the usage row names it."""
    name: str
    """This dialect's name, kept with the tasks it creates (``TaskRequest.dialect``): their webhook bodies
    carry the task as this dialect's ``encode_task`` shows it (``tasks/webhook_body.py``)."""

    def decode_create(self, body: bytes, content_type: str, model: str | None) -> TaskRequest:
        """The create request (``model`` when the route carries it); a 4xx names the bad field."""
        ...

    def budget(self, request: TaskRequest) -> Budget:
        """The most the task may cost, in units (seconds, images, calls) and tokens."""
        ...

    def encode_task(self, view: TaskView) -> tuple[int, bytes, bytes]:
        """The task in this dialect, as its fetch route answers it: ``(status, body, content type)``."""
        ...

    def encode_created(self, view: TaskView) -> tuple[int, bytes, bytes]:
        """The answer to the create (``encode_task`` in every dialect but new-api's unified video, whose
        create answers an OpenAI-style video object and whose fetch answers its ``{code, data}`` envelope)."""
        ...

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]: ...
