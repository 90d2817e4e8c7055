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
far (usage included) is kept.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from omnirouter.api.asgi import Headers, Message, Receive, Send
from omnirouter.ir import ErrorKind, GatewayError, kind_for_status
from omnirouter.protocols.base import StreamFilter
from omnirouter.protocols.sse import SSEEvent, SSEParser
from omnirouter.relay.context import RequestContext
from omnirouter.relay.upstream import AttemptFailure
from omnirouter.routing import Channel
from omnirouter.transport import TRANSPORT_ERRORS, classify_transport_error


def _check_json(events: list[SSEEvent]) -> None:
    """Before committing to a channel, make sure it speaks JSON at all (pass-through relays do not parse)."""
    for event in events:
        if event.data != b"[DONE]":
            try:
                orjson.loads(event.data)
            except orjson.JSONDecodeError:
                raise GatewayError(ErrorKind.UPSTREAM, "upstream sent a malformed stream chunk") from None


def _failure_before_start(relay: StreamFilter) -> GatewayError:
    """The upstream's in-stream error, with its status where the relay knows it (e.g. 529 overloaded)."""
    status: int = getattr(relay, "failure_status", 502)
    return GatewayError(kind_for_status(status), relay.failure or "upstream failed", status=status)


class KeepAlive:
    """What to send while waiting, and how often."""

    __slots__ = ("frame", "interval")

    def __init__(self, frame: bytes, interval: float) -> None:
        self.frame = frame
        self.interval = interval


async def pump_stream(
    response: aiohttp.ClientResponse,
    relay: StreamFilter,
    ctx: RequestContext,
    channel: Channel,
    send: Send,
    receive: Receive,
    headers: Headers,
    keepalive: KeepAlive,
) -> None:
    """Relay ``response`` to the client; raises AttemptFailure only before the first client byte.

    ``headers`` are the complete response headers (content type included).
    """
    parser = SSEParser()
    started = False
    task = asyncio.current_task()
    gone = asyncio.Event()
    finishing = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_client_message(future: asyncio.Future[Message]) -> None:
        if not future.cancelled() and not finishing.is_set() and task is not None:
            gone.set()
            task.cancel()

    async def start() -> None:
        nonlocal started
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started = True

    watcher = asyncio.ensure_future(receive())
    watcher.add_done_callback(on_client_message)
    content = response.content
    try:
        last_data = last_sent = loop.time()
        got_data = False
        while True:
            limit = channel.idle_timeout if got_data else channel.first_byte_timeout
            now = loop.time()
            wait = min(last_data + limit, last_sent + keepalive.interval) - now
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    chunk = await content.readany()
            except TimeoutError:
                now = loop.time()
                if now - last_data >= limit:
                    what = "next chunk" if got_data else "first chunk"
                    raise GatewayError(
                        ErrorKind.UPSTREAM_TIMEOUT, f"upstream channel {channel.name!r} sent no {what} in {limit:g}s"
                    ) from None
                await start()
                await send({"type": "http.response.body", "body": keepalive.frame, "more_body": True})
                last_sent = now
                continue
            if not chunk:
                break
            got_data = True
            last_data = loop.time()
            events = parser.feed(chunk)
            if not started:
                _check_json(events)
            out = b"".join([relay.process(event) for event in events])
            if relay.failure is not None and not started:
                raise _failure_before_start(relay)
            if out:
                await start()
                ctx.mark_first_byte()
                await send({"type": "http.response.body", "body": out, "more_body": True})
                ctx.note_relayed(out)
                last_sent = last_data
        tail = b"".join([relay.process(event) for event in parser.finish()])
        if relay.failure is not None and not started:
            raise _failure_before_start(relay)
        if not relay.completed:
            raise GatewayError(ErrorKind.UPSTREAM, f"upstream channel {channel.name!r} ended the stream early")
        if relay.failure is not None:
            ctx.status, ctx.error_kind = 502, ErrorKind.UPSTREAM.value
        end = tail + relay.finish()
        finishing.set()
        await start()
        ctx.mark_first_byte()
        await send({"type": "http.response.body", "body": end, "more_body": False})
        ctx.note_relayed(end)
    except asyncio.CancelledError:
        if not gone.is_set():
            raise
        if task is not None:
            task.uncancel()
        ctx.status, ctx.error_kind = 499, "client_disconnected"
    except (GatewayError, *TRANSPORT_ERRORS) as exc:
        error = exc if isinstance(exc, GatewayError) else classify_transport_error(exc, channel.name)
        if not started:
            raise AttemptFailure(error, retryable=True) from None
        ctx.status, ctx.error_kind = error.status, error.kind.value
        finishing.set()
        await send({"type": "http.response.body", "body": relay.error(error), "more_body": False})
    finally:
        ctx.usage = relay.usage
        watcher.remove_done_callback(on_client_message)
        watcher.cancel()
        response.close()
