"""HTTP plumbing, generic to every route: ASGI types, body reading (size-capped, gzip/deflate), responses.

A leaf: it imports only ``ir`` (for its errors).  ``server_protocol`` (the HTTP/1.1 protocol uvicorn
runs, with the request-header deadline of ``header_deadline``) is imported by whoever starts a server,
not from here, so that reading a body never loads uvicorn.  Likewise ``multipart`` (the form bodies
of the media endpoints, parsed by python-multipart) is imported by the routes that take uploads.
"""

from omnirouter.http.asgi import (
    JSON_HEADERS,
    SSE_HEADERS,
    ClientDisconnected,
    Headers,
    Message,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_response,
)
from omnirouter.http.json_body import parse_json_object

__all__ = [
    "JSON_HEADERS",
    "SSE_HEADERS",
    "ClientDisconnected",
    "Headers",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "header",
    "parse_json_object",
    "read_body",
    "send_response",
]
