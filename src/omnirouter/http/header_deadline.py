"""A deadline for request headers, which uvicorn lacks; :class:`omnirouter.http.server_protocol.HttpProtocol`
enforces it.

Without it a connection that opens and sends nothing, or trickles a header a byte at a time (slowloris),
holds a socket forever.  The deadline covers a request's whole header: it starts when the connection
opens (first request) or at the first byte of a later request on a kept-alive connection (the idle time
between requests is uvicorn's keep-alive timeout), and stops when the header is complete.  When it
passes, the client gets a 408 and the connection is closed (after an answer still under way, if any).

The app tells the protocol its timeout through the lifespan state (:data:`HEADER_TIMEOUT_STATE`), which
uvicorn hands to every connection's protocol; so each worker, and each test gateway, uses its own config.
"""

from __future__ import annotations

HEADER_TIMEOUT_STATE = "omnirouter.header_timeout"
DEFAULT_HEADER_TIMEOUT = 20.0

_MESSAGE = b"The request header was not received in time.\n"
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_MESSAGE), _MESSAGE)
)
