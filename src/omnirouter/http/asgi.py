"""Minimal ASGI plumbing for every route: typed aliases, body reading, response sending."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from omnirouter.http.body_encoding import WBITS, Inflater, too_large, unsupported

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientDisconnected(Exception):
    """The client went away before the request body was read."""


async def read_body(receive: Receive, limit: int, scope: Scope | None = None) -> bytes:
    """The whole request body; a body over ``limit`` bytes is refused with 413.

    Given the request's ``scope``, a ``Content-Length`` over ``limit`` is refused before any body byte
    is read, and a gzip/deflate ``Content-Encoding`` is decoded, ``limit`` applying to the decoded bytes
    (other encodings: 415).  One pass over the headers; uncompressed bodies take the plain path.
    """
    if scope is not None:
        encoding: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                if value.isdigit() and int(value) > limit:
                    raise too_large(limit)
            elif key == b"content-encoding":
                encoding = value
        if encoding is not None:
            coding = encoding.strip().lower()
            if coding not in (b"", b"identity"):
                return await _read_encoded(receive, limit, coding, encoding)
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise too_large(limit)
        return body
    parts = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def _read_encoded(receive: Receive, limit: int, coding: bytes, encoding: bytes) -> bytes:
    """A compressed body, inflated as it arrives (``limit`` caps both the wire and the inflated bytes)."""
    if coding not in WBITS:
        raise unsupported(encoding)
    inflater = Inflater(coding, limit)
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        if chunk:
            inflater.feed(chunk)
    return inflater.finish()


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case bytes), if any."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def error_headers(retry_after: float | None, *extra: tuple[bytes, bytes]) -> Headers:
    """The headers of a JSON error answer: ``extra``, and ``Retry-After`` (whole seconds, at least 1) when known."""
    headers = [*JSON_HEADERS, *extra]
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % max(1, round(retry_after))))
    return headers


async def send_response(send: Send, status: int, body: bytes, headers: Headers) -> None:
    """Send a complete response in two ASGI messages, with its length (no chunked framing)."""
    headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
