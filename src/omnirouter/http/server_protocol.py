"""omnirouter's HTTP/1.1 server protocol, which uvicorn runs as ``http=`` (docs/architecture.md, Choices).

uvicorn keeps the process model, sockets, lifespan, signals, graceful shutdown and the WebSocket protocol
(upgrades are handed to ``config.ws_protocol_class`` as uvicorn's httptools protocol does).  This class
replaces the per-request path of uvicorn's ``HttpToolsProtocol``: parser callbacks only collect the URL
and headers; the scope is one dict literal over per-connection constants; ``receive`` returns the body
already parsed (a future only when it must wait, no ``asyncio.Event``); the app's coroutine is the task,
one done callback reports its errors (500 before the response started, else close); the response head is
one join (status line and ``date`` cached) held until the first body message, so start + final body is
one ``transport.write``; and one timer per connection serves both the request-header deadline
(``header_deadline.py``: 408, then close) and uvicorn's keep-alive timeout, re-armed only when it fires.

Kept from uvicorn: keep-alive, ``connection: close``, pipelining in order, ``Expect: 100-continue``,
chunked responses without a length, HEAD without a body, 400 for a malformed request, flow control both
ways, ``http.disconnect`` on client loss, ``limit_concurrency`` (503), ``limit_max_requests``, the lifespan
state copied into ``scope["state"]``, access log lines when uvicorn's access logger has handlers.
Added: a cap on a request's URL + headers (``MAX_HEADER_BYTES`` or uvicorn's
``h11_max_incomplete_event_size``) answered with 431; uvicorn's httptools protocol has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import urllib.parse
from collections import deque
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, service_unavailable
from uvicorn.protocols.utils import (
    get_local_addr,
    get_remote_addr,
    is_ssl,
)
from uvicorn.server import ServerState

from omnirouter.http.header_deadline import DEFAULT_HEADER_TIMEOUT, HEADER_TIMEOUT_STATE, TIMEOUT_RESPONSE
from omnirouter.http.server_cycle import Cycle, error_response

App = Callable[..., Any]
MAX_HEADER_BYTES = 64 * 1024


class _HeaderTooLarge(Exception):
    """Raised inside a parser callback: the request's URL and headers exceed the cap."""


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection: parses requests, runs the ASGI app on each, writes its responses."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app: App = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.access_logger = logging.getLogger("uvicorn.access")
        self.access_log = self.access_logger.hasHandlers()
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3 lacks it
            # answer the first of pipelined requests even when a later one says "connection: close"
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.ws_protocol_class = config.ws_protocol_class
        self.root_path = config.root_path
        self.limit_concurrency = config.limit_concurrency
        self.reset_contextvars = bool(getattr(config, "reset_contextvars", False))
        self.app_state = app_state
        self.server_state = server_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.timeout_keep_alive = float(config.timeout_keep_alive)
        self.header_timeout = float(app_state.get(HEADER_TIMEOUT_STATE, DEFAULT_HEADER_TIMEOUT))
        self.header_limit = config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
        self.asgi = {"version": config.asgi_version, "spec_version": "2.3"}
        # per connection
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: tuple[str, int | None] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "http"
        self.pipeline: deque[tuple[Cycle, App]] = deque()
        self.cycle: Cycle | None = None
        self.read_paused = False
        self.write_paused = False
        self.writable: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.header_deadline = 0.0  # 0: no request header under way
        self.idle_deadline = 0.0  # 0: not idle between requests
        # the request being parsed
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.header_bytes = 0
        self.expect_100 = False
        self.method = ""
        self.upgrading = False

    # --- connection -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.connections.add(self)  # type: ignore[arg-type]
        self.transport = transport
        self.server = get_local_addr(transport)
        self.client = get_remote_addr(transport)
        self.scheme = "https" if is_ssl(transport) else "http"
        self.header_deadline = self.loop.time() + self.header_timeout
        self._arm(self.header_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        cycle = self.cycle
        if cycle is not None:
            if not cycle.response_complete:
                cycle.disconnected = True
            cycle.wake()
        self.resume_writing()
        if exc is None:
            self.transport.close()
        self.parser = None  # type: ignore[assignment]

    def eof_received(self) -> None:
        pass

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close an idle connection, or after the answer under way."""
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
        else:
            self.cycle.keep_alive = False

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter, self.writable = self.writable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is under its low-water mark again."""
        waiter = self.writable
        if waiter is None or waiter.done():
            waiter = self.writable = self.loop.create_future()
        await waiter

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    # --- deadlines: one timer per connection ---------------------------------------------------------

    def _arm(self, when: float) -> None:
        if self.timer is None or when < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(when, self._on_timer)
            self.timer_at = when

    def _on_timer(self) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self.header_deadline and now >= self.header_deadline:
            self.header_deadline = 0.0
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                cycle.keep_alive = False  # an earlier (pipelined) request is being answered: finish it, then close
            else:
                self.transport.write(TIMEOUT_RESPONSE)
                self.transport.close()
                return
        elif self.idle_deadline and now >= self.idle_deadline:
            self.transport.close()
            return
        # Re-armed at most one header timeout ahead, so a deadline set later never needs an earlier timer.
        when = now + self.header_timeout
        for deadline in (self.header_deadline, self.idle_deadline):
            if deadline and deadline < when:
                when = deadline
        self._arm(when)

    # --- parsing ---------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._is_websocket_upgrade():
                self._upgrade_to_websocket()
            else:
                self.logger.warning("Unsupported upgrade request.")
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeaderTooLarge):
                self._refuse(431, b"Request header fields too large.")
            else:
                self.logger.warning("Invalid HTTP request received.")
                self._refuse(400, b"Invalid HTTP request received.")

    def _refuse(self, status: int, text: bytes) -> None:
        self.header_deadline = 0.0
        self.transport.write(error_response(self.server_state, status, text))
        self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.header_bytes = 0
        self.expect_100 = False
        self.idle_deadline = 0.0
        if not self.header_deadline:  # a later request on a kept-alive connection
            self.header_deadline = self.loop.time() + self.header_timeout
            self._arm(self.header_deadline)

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.header_bytes += len(url)
        if self.header_bytes > self.header_limit:
            raise _HeaderTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > self.header_limit:
            raise _HeaderTooLarge
        name = name.lower()
        value = value.rstrip(b" \t")  # llhttp keeps trailing whitespace, which RFC 9110 5.5 excludes
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100 = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.header_deadline = 0.0
        parser = self.parser
        method = parser.get_method().decode("ascii")
        http_version = parser.get_http_version()
        if parser.should_upgrade() and self._is_websocket_upgrade():
            self.method = method
            self.upgrading = True
            return
        url = self.url
        if url[:1] == b"/" and b"#" not in url:  # origin form, the usual
            raw_path, _, query = url.partition(b"?")
        else:
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path, parsed.query or b""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        root = self.root_path
        scope = {
            "type": "http",
            "asgi": self.asgi,
            "http_version": http_version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": method,
            "root_path": root,
            "path": root + path if root else path,
            "raw_path": root.encode("ascii") + raw_path if root else raw_path,
            "query_string": query,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }
        app = self.app
        if self.limit_concurrency is not None and (
            len(self.connections) >= self.limit_concurrency or len(self.tasks) >= self.limit_concurrency
        ):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        keep_alive = http_version != "1.0" and parser.should_keep_alive()
        cycle = Cycle(self, scope, keep_alive, self.expect_100, method == "HEAD")
        previous = self.cycle
        self.cycle = cycle
        if previous is None or previous.response_complete:
            self._run(cycle, app)
        else:  # pipelined: answered once the earlier ones are
            self.pause_reading()
            self.pipeline.appendleft((cycle, app))

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if self.upgrading or cycle is None or cycle.response_complete:
            return
        cycle.chunks.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > HIGH_WATER_LIMIT:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if self.upgrading or cycle is None or cycle.response_complete:
            return
        cycle.more_body = False
        cycle.wake()

    # --- running the app ---------------------------------------------------------------------------

    def _run(self, cycle: Cycle, app: App) -> None:
        coro = app(cycle.scope, cycle.receive, cycle.send)
        if self.reset_contextvars:
            task = self.loop.create_task(coro, context=contextvars.Context())
        else:
            task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(cycle.finished)

    def response_complete(self) -> None:
        """A response was sent whole: start the next pipelined request, or wait for one (keep-alive)."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._run(cycle, app)
        elif not self.header_deadline:  # no next request begun yet
            self.idle_deadline = self.loop.time() + self.timeout_keep_alive
            self._arm(self.idle_deadline)

    # --- WebSocket ---------------------------------------------------------------------------------

    def _is_websocket_upgrade(self) -> bool:
        if self.ws_protocol_class is None:
            return False
        connection: list[bytes] = []
        upgrade = None
        for name, value in self.headers:
            if name == b"connection":
                connection = [token.lower().strip() for token in value.split(b",")]
            elif name == b"upgrade":
                upgrade = value.lower()
        return b"upgrade" in connection and upgrade == b"websocket"

    def _upgrade_to_websocket(self) -> None:
        """Hand the connection to uvicorn's WebSocket protocol, replaying the request head to it."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.connections.discard(self)
        output = [self.method.encode(), b" ", self.url, b" HTTP/1.1\r\n"]
        for name, value in self.headers:
            output += [name, b": ", value, b"\r\n"]
        output.append(b"\r\n")
        assert self.ws_protocol_class is not None
        protocol = self.ws_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        protocol.connection_made(self.transport)
        self.transport.set_protocol(protocol)
        protocol.data_received(b"".join(output))
