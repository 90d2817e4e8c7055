"""One request and its response on omnirouter's HTTP/1.1 server protocol (``server_protocol.py``): the ASGI
``receive`` and ``send`` the app is given, the response head (status line and ``date`` cached, framing from
the app's headers) held until the first body message, and what happens when the app's task ends."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from uvicorn.server import ServerState

if TYPE_CHECKING:
    from omnirouter.http.server_protocol import HttpProtocol

_DISCONNECT = {"type": "http.disconnect"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LARGE_BODY = 32 * 1024  # from here on, head and body go out as two buffers rather than one joined copy
_default_cache: tuple[list[tuple[bytes, bytes]] | None, bytes] = (None, b"")


def _default_headers(state: ServerState) -> bytes:
    """uvicorn's default headers (``date``, refreshed each second by the server) as head bytes, cached."""
    global _default_cache  # one per process, keyed by the list uvicorn replaces each second
    headers = state.default_headers
    if _default_cache[0] is not headers:
        _default_cache = (headers, b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers))
    return _default_cache[1]


def error_response(state: ServerState, status: int, text: bytes) -> bytes:
    return b"".join(
        [
            STATUS_LINE[status],
            _default_headers(state),
            b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(text),
            text,
        ]
    )


class Cycle:
    """One request and its response: the ASGI ``receive`` and ``send`` the app is given."""

    __slots__ = (
        "buffered",
        "chunked",
        "chunks",
        "disconnected",
        "expect_100",
        "final_given",
        "head",
        "head_request",
        "keep_alive",
        "more_body",
        "proto",
        "remaining",
        "response_complete",
        "response_started",
        "scope",
        "waiter",
    )

    def __init__(
        self, proto: HttpProtocol, scope: dict[str, Any], keep_alive: bool, expect_100: bool, head_request: bool
    ) -> None:
        self.proto = proto
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_100 = expect_100
        self.head_request = head_request
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.more_body = True
        self.final_given = False  # the last http.request message was handed to the app
        self.waiter: asyncio.Future[None] | None = None
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self.head: bytes | None = None  # the response head, until the first body message or the next loop turn
        self.chunked = False
        self.remaining = 0  # body bytes still due under the app's content-length

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> dict[str, Any]:
        proto = self.proto
        if self.expect_100:
            self.expect_100 = False
            if not proto.transport.is_closing():
                proto.transport.write(_CONTINUE)
        while not (self.disconnected or self.response_complete):
            if self.chunks or (not self.more_body and not self.final_given):
                chunks = self.chunks
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self.chunks = []
                self.buffered = 0
                self.final_given = not self.more_body
                proto.resume_reading()
                return {"type": "http.request", "body": body, "more_body": self.more_body}
            proto.resume_reading()
            waiter = self.waiter
            if waiter is None or waiter.done():
                waiter = self.waiter = proto.loop.create_future()
            await waiter
        return _DISCONNECT

    async def send(self, message: dict[str, Any]) -> None:
        proto = self.proto
        if proto.write_paused and not self.disconnected:
            await proto.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self.response_started = True
            self.expect_100 = False
            self.head = self._head(message["status"], message.get("headers", ()))
            proto.loop.call_soon(self._flush_head)
            return
        if self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")
        if kind != "http.response.body":
            raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
        body: bytes = message.get("body", b"")
        more_body = message.get("more_body", False)
        head, self.head = self.head, None
        transport = proto.transport
        if self.head_request:
            if head is not None:
                transport.write(head)
        elif self.chunked:
            parts = [head] if head is not None else []
            if body:
                parts += (b"%x\r\n" % len(body), body, b"\r\n")
            if not more_body:
                parts.append(b"0\r\n\r\n")
            if parts:
                transport.write(b"".join(parts))
        else:
            size = len(body)
            if size > self.remaining:
                raise RuntimeError("Response content longer than Content-Length")
            self.remaining -= size
            if head is None:
                if body:
                    transport.write(body)
            elif size < _LARGE_BODY:
                transport.write(head + body)
            else:
                transport.writelines((head, body))
        if not more_body:
            if self.remaining and not self.head_request:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.wake()
            if not self.keep_alive:
                transport.close()
            proto.response_complete()

    def _head(self, status: int, headers: Any) -> bytes:
        """The response head: status line, default headers, the app's headers and the framing it implies."""
        proto = self.proto
        parts = [STATUS_LINE[status], _default_headers(proto.server_state)]
        framed = False
        closes = False
        count = 0
        for name, value in headers:
            name = name.lower()
            if name == b"content-length":
                if not framed:
                    self.remaining = int(value)
                    framed = True
            elif name == b"transfer-encoding":
                if value.lower() == b"chunked":
                    self.remaining = 0
                    self.chunked = framed = True
            elif name == b"connection" and b"close" in [token.strip() for token in value.lower().split(b",")]:
                self.keep_alive = False
                closes = True
            parts += (name, b": ", value, b"\r\n")
            count += 1
        block = b"".join(parts[2:])
        if block.count(b"\n") != count or block.count(b"\r") != count:  # a CR or LF inside a name or value
            raise RuntimeError("Invalid HTTP header name or value.")
        if not self.keep_alive and not closes:
            parts.append(b"connection: close\r\n")
        if not framed and not self.head_request and status not in (204, 304):
            self.chunked = True
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        if proto.access_log:
            scope: Any = self.scope
            proto.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["method"],
                get_path_with_query_string(scope),
                scope["http_version"],
                status,
            )
        return b"".join(parts)

    def _flush_head(self) -> None:
        head, self.head = self.head, None
        if head is not None and not self.disconnected and not self.proto.transport.is_closing():
            self.proto.transport.write(head)

    def finished(self, task: asyncio.Task[Any]) -> None:
        """The app's task ended: report what went wrong, answering 500 if no response was started."""
        proto = self.proto
        proto.tasks.discard(task)
        exc: BaseException | None = asyncio.CancelledError() if task.cancelled() else task.exception()
        if exc is not None:
            proto.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                self._send_500()
            else:
                proto.transport.close()
        elif task.result() is not None:
            proto.logger.error("ASGI callable should return None, but returned '%s'.", task.result())
            proto.transport.close()
        elif not self.response_started and not self.disconnected:
            proto.logger.error("ASGI callable returned without starting response.")
            self._send_500()
        elif not self.response_complete and not self.disconnected:
            proto.logger.error("ASGI callable returned without completing response.")
            proto.transport.close()

    def _send_500(self) -> None:
        proto = self.proto
        if self.disconnected or proto.transport.is_closing():
            return
        self.response_started = self.response_complete = True
        self.wake()
        proto.transport.write(error_response(proto.server_state, 500, b"Internal Server Error"))
        proto.transport.close()
        proto.response_complete()
