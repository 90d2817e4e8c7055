"""uvicorn's httptools protocol with a deadline for request headers, which uvicorn lacks.

Without it a connection that opens and sends nothing, or trickles a header a byte at a time (slowloris),
holds a socket forever.  The deadline covers a request's whole header: it starts when the connection
opens (first request) or at the first byte of a later request on a kept-alive connection (the idle time
between requests is uvicorn's keep-alive timeout), and stops when the header is complete.  That is one
timer per request header, nothing per received chunk.

The app tells the protocol its timeout through the lifespan state (:data:`HEADER_TIMEOUT_STATE`), which
uvicorn hands to every connection's protocol; so each worker, and each test gateway, uses its own config.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

HEADER_TIMEOUT_STATE = "omnirouter.header_timeout"
DEFAULT_HEADER_TIMEOUT = 20.0

_MESSAGE = b"The request header was not received in time.\n"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_MESSAGE), _MESSAGE)
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """An HTTP/1.1 connection that is closed (after a 408) when a request header takes too long."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = float(app_state.get(HEADER_TIMEOUT_STATE, DEFAULT_HEADER_TIMEOUT))
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # a later request on a kept-alive connection
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # An earlier (pipelined) request is still being answered: let it finish, then close.
            self.cycle.keep_alive = False
            return
        self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()
