"""Pump an upstream's streamed audio to the client chunk by chunk, as it arrives (speech); also an answer
passed through byte for byte (images, ``relay/media.py``).

The vendor's wire (raw bytes, SSE, NDJSON) is turned into audio bytes by the upstream codec's
``AudioDecoder``, and into the client's wire (raw chunks or SSE events) by the client codec's
``AudioFrames``.  The client's response starts with the first audio bytes there are to send, so an
error before that (an HTTP error, a vendor error inside a 200 body, a stream with no audio) still fails
over to the next attempt.  After that, a failure simply ends the answer (there is no way to say so in
a binary body) and the usage row records the error.  The stream pump's guard times the upstream: its
first data within the channel's first-byte limit, then never silent longer than its idle limit, all
within its total limit; a client that goes away cancels the upstream read at once.  Memory stays at a
few chunks: nothing is kept once sent.
"""

from __future__ import annotations

import asyncio

from omnirouter.http.asgi import Headers, Receive, Send
from omnirouter.ir import GatewayError
from omnirouter.protocols.media.speech import AudioDecoder, AudioFrames
from omnirouter.relay.context import RequestContext
from omnirouter.relay.stream_pump import StreamGuard
from omnirouter.routing import Channel
from omnirouter.transport import TRANSPORT_ERRORS, AttemptFailure, MediaResponse, classify_transport_error

__all__ = ["pump_audio"]

_NO_KEEPALIVE = float("inf")  # a binary body has no keep-alive frame


async def pump_audio(
    response: MediaResponse,
    decoder: AudioDecoder,
    frames: AudioFrames,
    ctx: RequestContext,
    channel: Channel,
    send: Send,
    receive: Receive,
    headers: Headers,
    first: bytes = b"",
) -> None:
    """Relay ``response`` to the client; raises AttemptFailure only before the first client byte.

    ``headers`` are the complete response headers (content type included); ``first`` the body's bytes
    already read (a head read before deciding to pump).
    """
    task = asyncio.current_task()
    assert task is not None
    guard = StreamGuard(channel, _NO_KEEPALIVE, task)
    watcher = asyncio.ensure_future(receive())
    watcher.add_done_callback(guard.client_message)
    content = response.content
    started = False
    try:
        decoder.begin({name.lower(): value for name, value in response.headers.items()})
        while True:
            if first:
                chunk, first = first, b""
            else:
                guard.reading = True
                try:
                    chunk = await content.readany()
                except asyncio.CancelledError:
                    if guard.due is None or guard.gone:
                        raise
                    task.uncancel()
                    raise guard.error(channel.name) from None
                guard.reading = False
            if not chunk:
                break
            guard.data_came()
            out = frames.chunk(decoder.feed(chunk))
            if not out:
                continue
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                started = True
                ctx.mark_first_byte()
            await send({"type": "http.response.body", "body": out, "more_body": True})
            ctx.relayed_bytes += len(out)
        end = frames.chunk(decoder.finish()) + frames.end(decoder.usage)
        guard.finishing = True
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started = True
            ctx.mark_first_byte()
        await send({"type": "http.response.body", "body": end, "more_body": False})
        ctx.relayed_bytes += len(end)
    except asyncio.CancelledError:
        if not guard.gone:
            raise
        task.uncancel()
        ctx.status, ctx.error_kind = 499, "client_disconnected"
    except (GatewayError, *TRANSPORT_ERRORS) as exc:
        exc.__traceback__ = exc.__context__ = None  # no cycles through this frame (see stream_pump)
        error = exc if isinstance(exc, GatewayError) else classify_transport_error(exc, channel.name)
        if not started:
            raise AttemptFailure(error, retryable=True) from None
        ctx.status, ctx.error_kind = error.status, error.kind.value
        guard.finishing = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        guard.stop()
        ctx.usage = decoder.usage
        watcher.remove_done_callback(guard.client_message)
        watcher.cancel()
        response.close()
