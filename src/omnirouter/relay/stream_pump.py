"""Pump an upstream SSE stream to the client chunk by chunk, as each chunk arrives.

The client's response starts with the first bytes there are to send, so a
failure before that can still fall back to another attempt.  A failure after it
ends the client's stream with the client protocol's error event.  While nothing
has been sent for ``keepalive_interval`` seconds, a protocol-appropriate
keep-alive goes out (starting the response if need be: from then on the
request is committed to this channel) so idle-timeout proxies keep the
connection.  The upstream must send its first data within the channel's
first-byte timeout and then never pause longer than its idle timeout.  When the
client goes away, the upstream read is cancelled at once and what was seen so
far (usage included) is kept.  An event longer than the channel's ``max_event_bytes`` fails the
attempt (or ends a started stream) without reading more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from omnirouter.http.asgi import Headers, Message, Receive, Send
from omnirouter.ir import ErrorKind, GatewayError, kind_for_status
from omnirouter.protocols.base import StreamFilter
from omnirouter.protocols.sse import EventTooLarge, SSEEvent, SSEParser
from omnirouter.relay.context import RequestContext
from omnirouter.routing import Channel
from omnirouter.transport import (
    TRANSPORT_ERRORS,
    AttemptFailure,
    ChatResponse,
    UpstreamResponse,
    classify_transport_error,
)

Answered = Callable[[dict[str, Any]], Awaitable[None]]
"""A hook given the answer object a stream ends with (the Responses API's stored conversations)."""


def _check_json(events: list[SSEEvent]) -> None:
    """Before committing to a channel, make sure it speaks JSON at all (pass-through relays do not parse).

    The first data event is enough to tell a JSON stream from an HTML error page or garbage.
    """
    for event in events:
        if event.data != b"[DONE]":
            try:
                orjson.loads(event.data)
            except orjson.JSONDecodeError:
                raise GatewayError(ErrorKind.UPSTREAM, "upstream sent a malformed stream chunk") from None
            return


def _failure_before_start(relay: StreamFilter) -> GatewayError:
    """The upstream's in-stream error, with its status where the relay knows it (e.g. 529 overloaded)."""
    status: int = getattr(relay, "failure_status", 502)
    return GatewayError(kind_for_status(status), relay.failure or "upstream failed", status=status)


def _gateway_error(exc: Exception, channel: str) -> GatewayError:
    """What ended the stream, as the client will see it."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, EventTooLarge):  # nothing more is read: the upstream connection is closed below
        return GatewayError(ErrorKind.UPSTREAM, f"upstream channel {channel!r} sent a {exc}")
    return classify_transport_error(exc, channel)


class KeepAlive:
    """What to send while waiting, and how often."""

    __slots__ = ("frame", "interval")

    def __init__(self, frame: bytes, interval: float) -> None:
        self.frame = frame
        self.interval = interval


_RECHECK = 0.05  # seconds between looks while a due timer waits for a send to the client to finish


class StreamGuard:
    """The stream's timer (upstream deadlines, the client's keep-alives) and its watch on the client.

    ``asyncio.timeout()`` around every upstream read costs a timer and a context per chunk; here
    the pump only notes times, and the single timer, when it fires, re-arms itself for the next
    due moment unless that moment has come.  Then it cancels the pump, but only while the pump
    waits for the upstream (never in the middle of a send to the client), and says why in ``due``.
    A client that goes away cancels the pump too (``gone``), unless the pump is already finishing.
    """

    __slots__ = (
        "_armed",
        "_handle",
        "_loop",
        "_task",
        "due",
        "ends",
        "finishing",
        "first_limit",
        "gone",
        "got_data",
        "idle_limit",
        "keepalive",
        "last_data",
        "last_sent",
        "reading",
        "total",
    )

    def __init__(self, channel: Channel, keepalive: float, task: asyncio.Task[object]) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._task = task
        now = loop.time()
        self.first_limit = channel.first_byte_timeout
        self.idle_limit = channel.idle_timeout
        self.keepalive = keepalive
        self.total = channel.total_timeout
        self.ends = now + self.total
        self.last_data = self.last_sent = now
        self.got_data = False
        self.reading = False
        self.gone = False  # the client went away
        self.finishing = False  # the last bytes are on their way: a client leaving now changes nothing
        self.due: str | None = None  # what fired: "timeout", "total" or "keepalive"
        self._handle: asyncio.TimerHandle | None = None
        self._armed = 0.0  # the moment the timer is set for
        self._arm()

    @property
    def limit(self) -> float:
        """The longest wait for upstream data allowed now."""
        return self.idle_limit if self.got_data else self.first_limit

    def _next(self) -> tuple[float, str]:
        """The next moment something is due, and what: "timeout", "total" or "keepalive"."""
        when, why = self.last_data + self.limit, "timeout"
        if self.ends < when:
            when, why = self.ends, "total"
        keepalive_due = self.last_sent + self.keepalive
        return (when, why) if when <= keepalive_due else (keepalive_due, "keepalive")

    def error(self, channel: str) -> GatewayError:
        """The timeout that fired, as the client will see it."""
        if self.due == "total":
            return GatewayError(
                ErrorKind.UPSTREAM_TIMEOUT, f"upstream channel {channel!r} took longer than {self.total:g}s in all"
            )
        what = "next chunk" if self.got_data else "first chunk"
        return GatewayError(
            ErrorKind.UPSTREAM_TIMEOUT, f"upstream channel {channel!r} sent no {what} in {self.limit:g}s"
        )

    def _arm(self) -> None:
        self._armed, _ = self._next()
        self._handle = self._loop.call_at(self._armed, self._fire)

    def _fire(self) -> None:
        when, why = self._next()
        now = self._loop.time()
        if now < when:  # data came or a keep-alive went out since the timer was set
            self._armed = when
            self._handle = self._loop.call_at(when, self._fire)
            return
        if not self.reading:  # the pump is sending to a slow client: the upstream's silence is ours; look again
            self._armed = now + _RECHECK
            self._handle = self._loop.call_at(self._armed, self._fire)
            return
        self._handle = None
        self.due = why
        self._task.cancel()

    def client_message(self, future: asyncio.Future[Message]) -> None:
        """The client's next ASGI message came: it can only be a disconnect."""
        if not future.cancelled() and not self.finishing:
            self.gone = True
            self._task.cancel()

    def data_came(self) -> None:
        """Note upstream data (the first switches the limit from first-byte to idle).

        The timer is set afresh only when the idle limit now falls due before the moment it is set for
        (with the defaults the keep-alive comes first either way): on the way to the client's first byte
        there is then no timer to cancel and make; a timer that fires early just sets itself again.
        """
        self.last_data = self._loop.time()
        if not self.got_data:
            self.got_data = True
            if self._handle is None or self._next()[0] < self._armed:
                self.rearm()

    def sent_keepalive(self) -> None:
        """Note a keep-alive sent just now."""
        self.last_sent = self._loop.time()
        self.rearm()

    def rearm(self) -> None:
        """Schedule afresh (the keep-alive or the limit changed)."""
        self.due = None
        if self._handle is not None:
            self._handle.cancel()
        self._arm()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def pump_stream(
    response: ChatResponse | UpstreamResponse,
    relay: StreamFilter,
    ctx: RequestContext,
    channel: Channel,
    send: Send,
    receive: Receive,
    headers: Headers,
    keepalive: KeepAlive,
    answered: Answered | None = None,
) -> None:
    """Relay ``response`` to the client; raises AttemptFailure only before the first client byte.

    ``headers`` are the complete response headers (content type included).  ``answered`` is awaited
    with the answer object the stream ends with (``StreamFilter.answer``) before the event carrying it
    is sent, so that what it stores exists when the client has the answer.
    """
    parser = SSEParser(channel.max_event_bytes)
    task = asyncio.current_task()
    assert task is not None
    guard = StreamGuard(channel, keepalive.interval, task)
    watcher = asyncio.ensure_future(receive())
    watcher.add_done_callback(guard.client_message)
    content = response.content
    process = relay.process
    started = False
    try:
        while True:
            guard.reading = True
            try:
                chunk = await content.readany()
            except asyncio.CancelledError:
                if guard.due is None or guard.gone:
                    raise
                task.uncancel()
                if guard.due != "keepalive":
                    raise guard.error(channel.name) from None
                guard.reading = False
                if not started:
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    started = True
                await send({"type": "http.response.body", "body": keepalive.frame, "more_body": True})
                guard.sent_keepalive()
                continue
            guard.reading = False
            if not chunk:
                break
            guard.data_came()
            events = parser.feed(chunk)
            if not started:
                _check_json(events)
            out = process(events[0]) if len(events) == 1 else b"".join([process(event) for event in events])
            if not started and relay.failure is not None:
                raise _failure_before_start(relay)
            if not out:
                continue
            if answered is not None and relay.answer is not None:
                await answered(relay.answer)
                answered = None
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                started = True
                ctx.mark_first_byte()
            await send({"type": "http.response.body", "body": out, "more_body": True})
            ctx.note_relayed(out)
            guard.last_sent = guard.last_data
        tail = b"".join([process(event) for event in parser.finish()])
        if relay.failure is not None and not started:
            raise _failure_before_start(relay)
        if not relay.completed:
            raise GatewayError(ErrorKind.UPSTREAM, f"upstream channel {channel.name!r} ended the stream early")
        if relay.failure is not None:
            ctx.status, ctx.error_kind = 502, ErrorKind.UPSTREAM.value
        end = tail + relay.finish()
        if answered is not None and relay.answer is not None:
            await answered(relay.answer)
        guard.finishing = True
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started = True
        ctx.mark_first_byte()
        await send({"type": "http.response.body", "body": end, "more_body": False})
        ctx.note_relayed(end)
    except asyncio.CancelledError:
        if not guard.gone:
            raise
        task.uncancel()
        ctx.status, ctx.error_kind = 499, "client_disconnected"
    except (GatewayError, EventTooLarge, *TRANSPORT_ERRORS) as exc:
        # Its traceback (and its context's) holds this frame, this frame the error, aiohttp's reader the
        # exception it raised: cycles that would keep the stream's buffers until a rare garbage collection.
        exc.__traceback__ = exc.__context__ = None
        error = _gateway_error(exc, channel.name)
        if not started:
            raise AttemptFailure(error, retryable=True) from None
        ctx.status, ctx.error_kind = error.status, error.kind.value
        guard.finishing = True
        await send({"type": "http.response.body", "body": relay.error(error), "more_body": False})
    finally:
        guard.stop()
        ctx.usage = relay.usage
        watcher.remove_done_callback(guard.client_message)
        watcher.cancel()
        response.close()
