"""The two frame pumps of a realtime session and the one guard over them.

Client → upstream: each ASGI ``websocket.receive`` is checked (at most ``max_frame_bytes``, a JSON
object) and sent upstream as it came, only a ``session.update``'s model mapped.  Upstream → client: each
frame is checked (a JSON object; ``websockets`` enforces the size) and sent on as it came; a
``response.done`` is handed to ``on_done`` (billing), which may end the session.  The guard ends the
session after ``idle_timeout`` seconds without a frame either way, or ``max_session_seconds`` in all;
keep-alive pings are the servers' (uvicorn pings the client, ``websockets`` the upstream; a missed pong
closes that side, which closes the other).

Whatever ends first decides how both sides close (``End``): the side that closed gives its close code to
the other (codes a peer may not send, 1005/1006/1015, become 1000 from a client and 1011 from the
upstream); a frame that is not JSON closes with 1007, one too large with 1009 (after an ``error`` event
to the client), an unaffordable next response with 1008, the session limits with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from omnirouter.config.schema import RealtimeConfig
from omnirouter.http.asgi import Receive, Send
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.realtime.frames import FrameError, client_frame, parse
from omnirouter.realtime.tally import TextTally

__all__ = ["End", "close_upstream", "error_event", "relay"]

OnDone = Callable[[dict[str, Any]], Awaitable[GatewayError | None]]

_SENDABLE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 1013, 1014})


class End(NamedTuple):
    """How a session ended: the close codes for each side, the event to send the client first, and the
    status / error kind of the session's closing usage row."""

    client_code: int | None  # None: the client is gone already
    upstream_code: int | None  # None: the upstream is gone already
    reason: str = ""
    event: dict[str, Any] | None = None
    status: int = 200
    error_kind: str | None = None


def passable(code: int | None, fallback: int) -> int:
    """``code`` if a peer may send it in a close frame, else ``fallback``."""
    if code is not None and (code in _SENDABLE or 3000 <= code <= 4999):
        return code
    return fallback


def error_event(error: GatewayError) -> dict[str, Any]:
    """A realtime ``error`` server event (``{"type": "error", "error": {type, code, message, param, event_id}}``)."""
    kind = "insufficient_quota" if error.kind is ErrorKind.INSUFFICIENT_QUOTA else "invalid_request_error"
    if error.kind in (ErrorKind.UPSTREAM, ErrorKind.UPSTREAM_TIMEOUT, ErrorKind.UPSTREAM_UNREACHABLE):
        kind = "server_error"
    body = {"type": kind, "code": error.code, "message": error.message, "param": error.param, "event_id": None}
    return {"type": "error", "event_id": f"event_gw{time.monotonic_ns():x}", "error": body}


def _violation(message: str, code: str, close: int) -> End:
    error = GatewayError(ErrorKind.INVALID_REQUEST, message, code=code)
    return End(close, 1000, message[:120], error_event(error), 400, ErrorKind.INVALID_REQUEST.value)


class _Guard:
    """The idle and total deadlines of one session."""

    def __init__(self, config: RealtimeConfig) -> None:
        self.idle = config.idle_timeout
        self.total = config.max_session_seconds
        self.started = self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()

    async def watch(self) -> End:
        while True:
            now = time.monotonic()
            idle_left = self.last + self.idle - now
            total_left = self.started + self.total - now
            if total_left <= 0:
                message = f"The session reached its maximum length of {self.total:g} seconds."
                error = GatewayError(ErrorKind.INVALID_REQUEST, message, code="session_expired")
                return End(1001, 1000, "session expired", error_event(error), 408, "session_expired")
            if idle_left <= 0:
                message = f"The session was idle for {self.idle:g} seconds."
                error = GatewayError(ErrorKind.INVALID_REQUEST, message, code="session_idle_timeout")
                return End(1001, 1000, "session idle", error_event(error), 408, "session_idle_timeout")
            await asyncio.sleep(min(idle_left, total_left) + 0.001)


async def _client_to_upstream(
    receive: Receive, upstream: ClientConnection, upstream_model: str, limit: int, guard: _Guard, tally: TextTally
) -> End:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            return End(None, passable(message.get("code"), 1000))
        if kind != "websocket.receive":
            continue
        data: str | bytes | None = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        if len(data) > limit:
            return _violation(f"A realtime frame may have at most {limit} bytes.", "frame_too_large", 1009)
        try:
            out, event = client_frame(data, upstream_model)
        except FrameError as exc:
            return _violation(f"{exc}.", "invalid_json", 1007)
        guard.touch()
        tally.client(event)
        try:
            await upstream.send(out)
        except ConnectionClosed:
            return await _upstream_closed(upstream)


async def _upstream_closed(upstream: ClientConnection) -> End:
    """The end of a session whose upstream socket closed (the upstream's own code passed on)."""
    try:
        await upstream.wait_closed()
    except asyncio.CancelledError:
        raise
    received = upstream.protocol.close_rcvd
    if received is not None and passable(received.code, 0):
        return End(received.code, None, received.reason[:120])
    sent = upstream.protocol.close_sent
    if sent is not None and sent.code == 1009:  # websockets refused an upstream frame over max_frame_bytes
        error = GatewayError(ErrorKind.UPSTREAM, "The upstream sent a frame larger than this gateway relays.",
                             code="upstream_frame_too_large")  # fmt: skip
        return End(1011, None, "upstream frame too large", error_event(error), 502, ErrorKind.UPSTREAM.value)
    error = GatewayError(ErrorKind.UPSTREAM, "The upstream realtime session ended abnormally.", code="upstream_closed")
    return End(1011, None, "upstream closed abnormally", error_event(error), 502, ErrorKind.UPSTREAM.value)


async def _upstream_to_client(
    upstream: ClientConnection, send: Send, on_done: OnDone, guard: _Guard, tally: TextTally
) -> End:
    while True:
        try:
            data = await upstream.recv()
        except ConnectionClosed:
            return await _upstream_closed(upstream)
        try:
            event = parse(data)
        except FrameError:
            error = GatewayError(ErrorKind.UPSTREAM, "The upstream sent a frame that is not a JSON event.",
                                 code="upstream_invalid_frame")  # fmt: skip
            return End(1011, 1007, "upstream sent an invalid frame", error_event(error), 502, ErrorKind.UPSTREAM.value)
        guard.touch()
        try:
            if isinstance(data, str):
                await send({"type": "websocket.send", "text": data})
            else:
                await send({"type": "websocket.send", "bytes": data})
        except OSError:  # the client is gone (uvicorn's ClientDisconnected is an OSError)
            return End(None, 1001, "client gone", None, 499, "client_disconnected")
        tally.upstream(event)
        if event.get("type") == "response.done":
            refused = await on_done(event)
            if refused is not None:
                return End(1008, 1000, "quota exhausted", error_event(refused), refused.status, refused.kind.value)


async def relay(
    receive: Receive,
    send: Send,
    upstream: ClientConnection,
    upstream_model: str,
    config: RealtimeConfig,
    on_done: OnDone,
    tally: TextTally,
) -> End:
    """Relay frames both ways until one side closes, a frame breaks the rules or a limit is reached; then
    close both sides accordingly and return how it ended.  Every relayed event is shown to ``tally``
    (before ``on_done`` for a ``response.done``)."""
    guard = _Guard(config)
    limit = config.max_frame_bytes
    tasks = [
        asyncio.ensure_future(_client_to_upstream(receive, upstream, upstream_model, limit, guard, tally)),
        asyncio.ensure_future(_upstream_to_client(upstream, send, on_done, guard, tally)),
        asyncio.ensure_future(guard.watch()),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    first = next(task for task in tasks if task in done)
    end = first.result()
    await _close_both(end, send, upstream)
    return end


async def _close_both(end: End, send: Send, upstream: ClientConnection) -> None:
    """The client first (it should not wait for the upstream's close handshake), then the upstream."""
    if end.client_code is not None:
        with contextlib.suppress(Exception):  # the client may be gone already
            if end.event is not None:
                await send({"type": "websocket.send", "text": orjson.dumps(end.event).decode()})
            await send({"type": "websocket.close", "code": end.client_code, "reason": end.reason})
    if end.upstream_code is not None:
        await close_upstream(upstream, end.upstream_code, end.reason if end.upstream_code != 1000 else "")


async def close_upstream(upstream: ClientConnection, code: int = 1000, reason: str = "") -> None:
    """Close the upstream socket, reading (and dropping) what it still sends meanwhile: frames nobody reads
    fill ``websockets``' queue, which pauses reading, and the upstream's close frame would then wait out
    the close timeout behind them."""

    async def drain() -> None:
        with contextlib.suppress(Exception):
            async for _ in upstream:
                pass

    drainer = asyncio.ensure_future(drain())
    try:
        with contextlib.suppress(Exception):  # the upstream socket may be gone already
            await upstream.close(code, reason)
    finally:
        drainer.cancel()
        await asyncio.gather(drainer, return_exceptions=True)
