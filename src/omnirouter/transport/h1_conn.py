"""One HTTP/1.1 connection to an upstream (``asyncio.Protocol`` + httptools' response parser) and the
answer read on it (``H1Response``).

One request at a time per connection, no pipelining.  The answer's head must fit in ``MAX_HEAD_BYTES``
and ``MAX_HEADERS`` (else ``HeadTooLarge``); interim 1xx answers are skipped; content-length, chunked
and close-delimited bodies are read, gzip and deflate decoded.  Body bytes wait in the answer's buffer
until read; above ``HIGH_WATER`` buffered bytes the socket stops being read (``pause_reading``) until
the reader has taken them, so a stream holds a bounded amount of memory.  An EOF or a reset before the
answer is complete fails the read (``UpstreamClosed`` or the ``OSError``) and the connection is dropped;
a connection goes back to its pool only when its answer arrived whole and both sides keep it alive.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

MAX_HEAD_BYTES = 64 * 1024
"""The most bytes an answer's status line and headers may take (interim answers included)."""
MAX_HEADERS = 128
"""The most header lines an answer may have."""
HIGH_WATER = 256 * 1024
"""Buffered body bytes above which the connection stops reading until the reader has taken them."""


class H1Error(Exception):
    """A failure of the HTTP/1.1 client (a transport error: ``TRANSPORT_ERRORS`` catches it)."""


class UpstreamClosed(H1Error):
    """The upstream closed the connection before its answer was complete."""


class BadAnswer(H1Error):
    """The upstream's bytes are not a valid HTTP/1.1 answer."""


class HeadTooLarge(BadAnswer):
    """The answer's status line and headers are over ``MAX_HEAD_BYTES`` or ``MAX_HEADERS``."""


class ConnectFailed(H1Error):
    """No connection could be opened (refused, unresolvable, TLS handshake failed)."""


class ReadTimeout(H1Error, TimeoutError):
    """The upstream was silent for longer than the call's read limit."""


class Headers:
    """An answer's headers: case-insensitive ``get``, ``items`` and ``in`` (latin-1 text)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower().encode("latin-1")
        for key, value in self._raw:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return default

    def getall(self, name: str) -> list[str]:
        wanted = name.lower().encode("latin-1")
        return [value.decode("latin-1") for key, value in self._raw if key.lower() == wanted]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> Iterator[tuple[str, str]]:
        for key, value in self._raw:
            yield key.decode("latin-1"), value.decode("latin-1")

    def __len__(self) -> int:
        return len(self._raw)


def _decoder(encoding: bytes) -> Any:
    """A zlib decompressor for a ``Content-Encoding`` we decode; None for identity (else BadAnswer)."""
    encoding = encoding.strip().lower()
    if encoding in (b"", b"identity"):
        return None
    if encoding in (b"gzip", b"x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == b"deflate":
        return _Deflate()
    raise BadAnswer(f"unsupported content-encoding {encoding.decode('latin-1')!r}")


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped (RFC 9110) or, as some do, raw."""

    __slots__ = ("_inner",)

    def __init__(self) -> None:
        self._inner: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            if not data:
                return b""
            wrapped = (data[0] & 0x0F) == 8 and len(data) > 1 and ((data[0] << 8) | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        out: bytes = self._inner.decompress(data)
        return out

    def flush(self) -> bytes:
        return b"" if self._inner is None else bytes(self._inner.flush())


class H1Response:
    """An upstream's answer: ``status``, ``headers``, ``content_length`` (as declared), the body through
    ``content.readany()`` (b"" at its end), ``release()`` and ``close()``.

    The connection goes back to its pool as soon as the whole body has arrived (it waits here); an
    answer given up before that (``release`` or ``close`` early, an error) drops its connection.
    """

    __slots__ = (
        "_chunks",
        "_conn",
        "_decoder",
        "_error",
        "_head",
        "_paused",
        "_size",
        "_waiter",
        "content_length",
        "done",
        "headers",
        "raw_headers",
        "status",
    )

    def __init__(self, conn: H1Connection, head: asyncio.Future[None]) -> None:
        self._conn: H1Connection | None = conn
        self._head = head
        self._chunks: list[bytes] = []
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._decoder: Any = None
        self._paused = False
        self.done = False  # the whole body has arrived
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.headers = Headers(self.raw_headers)
        self.content_length: int | None = None

    @property
    def content(self) -> H1Response:
        """The body reader (the answer itself: ``readany``)."""
        return self

    @property
    def buffered(self) -> int:
        """Body bytes that have arrived and wait to be read."""
        return self._size

    @property
    def waiting(self) -> bool:
        """Whether someone waits for the head or for body bytes (the read limit applies only then)."""
        return not self._head.done() or self._waiter is not None

    async def readany(self) -> bytes:
        """What has arrived of the body since the last call (waiting for some); b"" at its end."""
        if not self._chunks:
            if self._error is not None:
                raise self._error
            if self.done:
                return b""
            self._waiter = waiter = self._head.get_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
            if not self._chunks:
                if self._error is not None:
                    raise self._error
                return b""
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self._size = 0
        if self._paused:
            self._paused = False
            conn = self._conn
            if conn is not None:
                conn.resume()
        return data

    async def read(self) -> bytes:
        """The whole body (no limit: for tests and small answers)."""
        parts = []
        while chunk := await self.readany():
            parts.append(chunk)
        return b"".join(parts)

    def release(self) -> None:
        """Done with the answer: its connection stays pooled if the body arrived whole, else it is dropped."""
        self.close()

    def close(self) -> None:
        """Read no more: an answer not yet complete drops its connection."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            conn.abandon(self)
        self._chunks = []
        self._size = 0
        if self._error is None and not self.done:
            self._error = UpstreamClosed("the answer was closed")

    # Fed by the connection.

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def feed(self, data: bytes) -> None:
        decoder = self._decoder
        if decoder is not None:
            data = decoder.decompress(data)
            if not data:
                return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER and not self._paused:
            conn = self._conn
            if conn is not None:
                self._paused = True
                conn.pause()
        self._wake()

    def finish(self) -> None:
        """The whole body has arrived (its connection has gone back to the pool, or closed)."""
        decoder = self._decoder
        if decoder is not None:
            tail = decoder.flush()
            if tail:
                self._chunks.append(tail)
        self.done = True
        self._conn = None
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self.done or self._error is not None:
            return
        self._error = error
        self._conn = None
        head = self._head
        if not head.done():
            head.set_exception(error)
            head.exception()  # retrieved: a caller that gave up (a timeout) leaves no "never retrieved" log
        self._wake()

    def set_encoding(self, encoding: bytes) -> None:
        self._decoder = _decoder(encoding)


class H1Connection(asyncio.Protocol):
    """A kept-alive HTTP/1.1 connection: one request at a time; ``on_idle`` hands it back to its pool."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_idle: Callable[[H1Connection], None]) -> None:
        self._loop = loop
        self._on_idle = on_idle
        self._parser = HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.response: H1Response | None = None
        self.closed = False
        self.idle_since = 0.0
        self.last_data = 0.0
        self._head_bytes = 0  # read while the head was incomplete
        self._header_bytes = 0  # of header names and values
        self._interim = False
        self._eof_body = False  # the body runs to the connection's end (no length, not chunked)
        self._head_only = False  # the answer to a HEAD: no body whatever its head says
        self._timer: asyncio.TimerHandle | None = None
        self._read_limit = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # bytes nobody asked for: the connection is out of step
            self.drop()
            return
        self.last_data = self._loop.time()
        head_pending = not response.status
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            self._failed(BadAnswer("the upstream switched protocols"))
            return
        except HttpParserError as exc:
            cause = exc.__context__
            self._failed(cause if isinstance(cause, H1Error) else BadAnswer(f"malformed answer: {exc}"))
            return
        if head_pending and not response.status:  # still in the head (a header may come in many reads)
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._failed(HeadTooLarge(f"the answer's head is over {MAX_HEAD_BYTES} bytes"))

    def eof_received(self) -> bool:
        response = self.response
        if response is not None and self._eof_body and response.status:
            self.response = None
            self._stop_timer()
            response.finish()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_timer()
        response = self.response
        if response is not None:
            self.response = None
            if self._eof_body and response.status and exc is None:
                response.finish()
            else:
                response.fail(exc if exc is not None else UpstreamClosed("the upstream closed the connection"))
        self._on_idle(self)  # a closed connection leaves the pool

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        response = self.response
        assert response is not None
        raw = response.raw_headers
        if len(raw) >= MAX_HEADERS:
            raise HeadTooLarge(f"the answer has over {MAX_HEADERS} headers")
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge(f"the answer's head is over {MAX_HEAD_BYTES} bytes")
        raw.append((name, value))

    def on_headers_complete(self) -> None:
        response = self.response
        assert response is not None
        status = self._parser.get_status_code()
        if status < 200:  # interim (100 Continue, 103 Early Hints): skipped
            self._interim = True
            response.raw_headers.clear()
            return
        length: int | None = None
        chunked = False
        for name, value in response.raw_headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"content-encoding":
                response.set_encoding(value)
            elif lowered == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        response.content_length = length
        self._eof_body = length is None and not chunked and status not in (204, 304)
        response.status = status
        head = response._head
        if not head.done():
            head.set_result(None)
        if self._head_only:  # complete with its head; the parser would wait for the body its head declares
            self.response = None
            self._stop_timer()
            response.finish()
            self.drop()  # so the connection, out of step with its parser, is not reused

    def on_body(self, body: bytes) -> None:
        response = self.response
        if response is not None:  # None: after a HEAD's answer (the connection is being dropped)
            response.feed(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        response = self.response
        if response is None:  # a HEAD's answer, finished with its head
            return
        keep = self._parser.should_keep_alive() and not self._eof_body
        self.response = None
        self._stop_timer()
        response.finish()
        if keep:
            if response._paused:  # its end came in the read that paused it: the next answer must be read
                self.resume()
            self._on_idle(self)
        else:
            self.drop()

    # Used by the client and the answer.

    def send(self, data: bytes, response: H1Response, read_limit: float | None, head_only: bool = False) -> None:
        """Write a request whose answer ``response`` will read (limited to ``read_limit`` s of silence);
        ``head_only``: the request is a HEAD (its answer ends with its head)."""
        self.response = response
        self._head_bytes = self._header_bytes = 0
        self._eof_body = False
        self._interim = False
        self._head_only = head_only
        loop = self._loop
        self.last_data = now = loop.time()
        if read_limit is not None:
            self._read_limit = read_limit
            self._timer = loop.call_at(now + read_limit, self._check_silence)
        assert self.transport is not None
        self.transport.write(data)

    def _check_silence(self) -> None:
        self._timer = None
        response = self.response
        if response is None:
            return
        now = self._loop.time()
        limit = self._read_limit
        if response.waiting and now >= self.last_data + limit:
            self._failed(ReadTimeout(f"no data from the upstream in {limit:g}s"))
            return
        self._timer = self._loop.call_at(max(self.last_data, now) + limit, self._check_silence)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _failed(self, error: BaseException) -> None:
        response = self.response
        self.response = None
        if response is not None:
            response.fail(error)
        self.drop()

    def abandon(self, response: H1Response) -> None:
        """``response`` is given up before it was complete: the connection cannot be reused."""
        if self.response is response:
            self.response = None
            self.drop()

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def drop(self) -> None:
        """Close the connection at once (nothing more is read or written)."""
        self._stop_timer()
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()
