"""The gateway's own upstream client: HTTP/1.1 requests over pooled kept-alive connections (``H1Client``).

It carries the chat calls (``post``) and the media calls to a channel's base URL (``request``, any
method).  On those hot paths aiohttp's per-request machinery (request and response objects, auto
headers, payload registry, URL and multidict work, its response parser) was the largest single cost
of a relayed request; aiohttp serves the rest (operator probes, downloads from URLs a vendor gave,
which may redirect; docs/architecture.md).  No redirect is followed here.

- A pool per origin (scheme, host, port): idle kept-alive connections reused last-in first-out, given
  up after ``keepalive`` seconds idle; one the peer closed while idle is never reused (its
  ``connection_lost`` takes it out).  One request at a time per connection, no pipelining.
- What is fixed per method, URL and headers is encoded once: the request line, ``Host``, the channel's headers,
  ``Accept`` and ``Accept-Encoding: gzip, deflate`` (answers are decoded as aiohttp's auto_decompress
  did), up to ``Content-Length: ``; a request adds its length and body.  As aiohttp does, a request
  without a body sends no ``Content-Length`` when its method carries none (GET, HEAD, OPTIONS, TRACE),
  ``Content-Length: 0`` otherwise.  The answer to a HEAD has no body (its connection is not reused).
- TLS with ``ssl.create_default_context()`` (certificates verified, SNI), made once on first use.
- Timeouts as aiohttp's were: ``connect`` (opening the connection, TLS included: ``ConnectTimeout``) and,
  for plain calls, ``read``: the longest silence of the upstream while the caller waits for the head or
  the body (``ReadTimeout``).  Streams' limits are the relay's.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine, Mapping
from functools import partial
from typing import Any

from yarl import URL

from omnirouter.transport.h1_conn import ConnectFailed, H1Connection, H1Error, H1Response

_MAX_TARGETS = 1024
_BIG_BODY = 64 * 1024  # bodies from here on are written apart from the head instead of copied behind it
BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods whose request, without a body, says no ``Content-Length`` (aiohttp's ``GET_METHODS``)."""


class ConnectTimeout(H1Error, TimeoutError):
    """No connection could be opened within the call's connect limit."""


class BadRequestHead(H1Error):
    """A URL or header the client cannot send (not http(s), a line break in a header)."""


class _Target:
    """A method, URL and headers, encoded once: the origin and the request's head up to ``Content-Length: ``
    (``head``), and whole for a request with no body that says no length (``bare``: a GET's)."""

    __slots__ = ("bare", "head", "headers", "host", "method", "origin", "port", "tls", "url")

    def __init__(self, method: str, url: URL, headers: Mapping[str, str]) -> None:
        self.method = method
        self.url = url
        self.headers = headers  # held: the cache is keyed by the ids of these two
        scheme = url.scheme
        host = url.raw_host
        if scheme not in ("http", "https") or not host or url.port is None:
            raise BadRequestHead(f"cannot send to a {scheme!r} URL")
        if not method.isalpha() or not method.isupper():
            raise BadRequestHead(f"cannot send a {method!r} request")
        self.tls = scheme == "https"
        self.host = host
        self.port = url.port
        self.origin = (scheme, host, url.port)
        lines = [f"{method} {url.raw_path_qs} HTTP/1.1"]
        names = {name.lower() for name in headers}
        if "host" not in names:
            lines.append(f"Host: {url.host_port_subcomponent}")
        for name, value in headers.items():
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue  # the client's to say
            if any(c in name or c in value for c in "\r\n\0") or ":" in name:
                raise BadRequestHead(f"header {name!r} cannot be sent")
            lines.append(f"{name}: {value}")
        if "accept" not in names:
            lines.append("Accept: */*")
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: gzip, deflate")
        self.bare = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") if method in BODILESS_METHODS else b""
        lines.append("Content-Length: ")
        self.head = "\r\n".join(lines).encode("utf-8")


class H1Client:
    """A worker's HTTP/1.1 client for chat and media calls: ``request`` (``post``) returns the open answer
    (``H1Response``)."""

    def __init__(self, keepalive: float = 60.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.keepalive = keepalive
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], list[H1Connection]] = {}
        self._open: set[H1Connection] = set()
        self._targets: dict[tuple[str, int, int], _Target] = {}
        self.connections_made = 0
        """How many connections were opened (tests and benchmarks read it)."""

    def post(
        self,
        url: URL,
        headers: Mapping[str, str],
        body: bytes,
        connect: float | None = None,
        read: float | None = None,
    ) -> Coroutine[Any, Any, H1Response]:
        """POST ``body``; returns the answer once its head has come (its body is read from it)."""
        return self.request("POST", url, headers, body, connect, read)

    async def request(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes = b"",
        connect: float | None = None,
        read: float | None = None,
    ) -> H1Response:
        """Send a ``method`` request (upper case) with ``body``; returns the answer once its head has come.

        The encoded head is kept per (``method``, ``url``, ``headers``) object: a caller that sends many
        requests gives the same ``url`` and ``headers`` objects each time, not equal new ones.
        """
        key = (method, id(url), id(headers))
        target = self._targets.get(key)
        if target is None or target.url is not url or target.headers is not headers:
            target = self._target(key, url, headers)
        conn = self._reuse(target.origin)
        if conn is None:
            conn = await self._connect(target, connect)
        loop = asyncio.get_running_loop()
        head = loop.create_future()
        response = H1Response(conn, head)
        if not body and target.bare:
            conn.send(target.bare, response, read, method == "HEAD")
        elif len(body) < _BIG_BODY:
            conn.send(b"".join((target.head, str(len(body)).encode(), b"\r\n\r\n", body)), response, read)
        else:
            conn.send(b"".join((target.head, str(len(body)).encode(), b"\r\n\r\n")), response, read)
            assert conn.transport is not None
            conn.transport.write(body)
        try:
            await head
        except BaseException:
            response.close()
            raise
        return response

    def _target(self, key: tuple[str, int, int], url: URL, headers: Mapping[str, str]) -> _Target:
        if len(self._targets) >= _MAX_TARGETS:
            self._targets.clear()
        target = self._targets[key] = _Target(key[0], url, headers)
        return target

    def _reuse(self, origin: tuple[str, str, int]) -> H1Connection | None:
        """The most recently used idle connection to ``origin`` still open and not expired."""
        stack = self._idle.get(origin)
        if not stack:
            return None
        oldest_allowed = asyncio.get_running_loop().time() - self.keepalive
        while stack:
            conn = stack.pop()
            if conn.closed:
                continue
            if conn.idle_since < oldest_allowed:  # the rest are older still
                conn.drop()
                for older in stack:
                    older.drop()
                stack.clear()
                return None
            return conn
        return None

    async def _connect(self, target: _Target, limit: float | None) -> H1Connection:
        loop = asyncio.get_running_loop()
        conn = H1Connection(loop, partial(self._back, target.origin))
        context: ssl.SSLContext | None = None
        if target.tls:
            context = self._ssl
            if context is None:
                context = self._ssl = ssl.create_default_context()
        try:
            async with asyncio.timeout(limit):
                await loop.create_connection(
                    lambda: conn,
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
        except TimeoutError:
            conn.drop()
            raise ConnectTimeout(f"no connection within {limit:g}s") from None
        except OSError as exc:
            conn.drop()
            raise ConnectFailed(f"cannot connect: {type(exc).__name__}") from exc
        self.connections_made += 1
        self._open.add(conn)
        return conn

    def _back(self, origin: tuple[str, str, int], conn: H1Connection) -> None:
        """A connection's answer ended (it is idle again) or it closed."""
        if conn.closed:
            self._open.discard(conn)
            stack = self._idle.get(origin)
            if stack and conn in stack:
                stack.remove(conn)
            return
        now = asyncio.get_running_loop().time()
        conn.idle_since = now
        stack = self._idle.get(origin)
        if stack is None:
            stack = self._idle[origin] = []
        stack.append(conn)
        if stack[0].idle_since < now - self.keepalive:  # expire the oldest as the pool is used
            while stack and stack[0].idle_since < now - self.keepalive:
                stack.pop(0).drop()

    @property
    def idle(self) -> int:
        """How many idle connections are pooled."""
        return sum(len(stack) for stack in self._idle.values())

    async def close(self) -> None:
        """Close every connection."""
        for conn in list(self._open):
            conn.drop()
        self._open.clear()
        self._idle.clear()
