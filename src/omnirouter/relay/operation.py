"""What the one request lifecycle (``api/lifecycle.py``) asks of each kind of call it serves.

The lifecycle authenticates, reads the body, plans, limits, reserves, runs the attempts and settles,
records and releases in one money-critical ``finally``; an ``Operation`` supplies only what differs:
how its request is read and checked, what it may cost at most, and how one attempt runs.  Chat in
the four protocols is one today (``relay/chat.py``); media endpoints and task creation are next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from omnirouter.http.asgi import Headers, Receive, Send
from omnirouter.ir import Budget, GatewayError, Usage
from omnirouter.relay.context import RequestContext
from omnirouter.routing import Attempt
from omnirouter.storage import KeyRecord


class Inbound(NamedTuple):
    """What the lifecycle needs from a request it has read: the model to plan for, and streaming."""

    model: str
    stream: bool


UsageEstimate = Callable[[str, str, int, int], Usage]
"""``(public model, channel, relayed text bytes, relayed bytes)`` → the usage billing charges for an answer
whose upstream reported none (marked estimated), so that a stream can show its client the same numbers."""


class Exchange:
    """One client request in flight: its connection and its record, as an attempt needs them."""

    __slots__ = ("ctx", "estimate", "headers", "receive", "send")

    def __init__(
        self,
        ctx: RequestContext,
        send: Send,
        receive: Receive,
        headers: Headers,
        estimate: UsageEstimate | None = None,
    ) -> None:
        self.ctx = ctx
        self.send = send
        self.receive = receive
        self.headers = headers
        """Headers every answer carries (the request id)."""
        self.estimate = estimate
        """Billing's estimate of an answer without reported usage (``None``: the answer shows none)."""


class Operation(Protocol):
    """One client call of one kind (one object per request), as the lifecycle serves it.

    Order of calls: ``read`` → ``ready`` → ``bound`` (only when money must be reserved or estimated)
    → ``run`` once per attempt until one answers.  ``encode_error`` may be called at any point.
    """

    @property
    def protocol(self) -> str:
        """The client's protocol, as the usage row names it."""
        ...

    @property
    def body_limit(self) -> int | None:
        """The most bytes its request body may have (uploads), ``None``: the gateway's ``max_body_bytes``."""
        ...

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        """``error`` as the client's protocol writes it: ``(status, body)``."""
        ...

    async def read(self, body: bytes, key: KeyRecord) -> Inbound:
        """Parse and check the request: a bad one is a 4xx here, before anything is planned or reserved."""
        ...

    def ready(self, attempts: list[Attempt]) -> list[Attempt]:
        """The planned attempts that can serve this kind of call (a 4xx when none can), having checked what
        they need of the request (a decoded form, say), before any reservation."""
        ...

    def bound(self) -> Budget:
        """The most the request may use (tokens and metered units)."""
        ...

    async def run(self, exchange: Exchange, attempt: Attempt, upstream_key: str) -> None:
        """Serve the request through ``attempt``; raise ``transport.AttemptFailure`` before any client byte."""
        ...
