"""A raw HTTP/1.1 upstream on 127.0.0.1 that answers with the bytes a test crafts (``raw_upstream``).

It reads each request (head and Content-Length body) and hands it to the test's ``respond``, which
writes whatever it likes and returns whether to keep reading requests on that connection.  It counts
connections and keeps every request, so a test can tell reuse from reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass


@dataclass
class RawRequest:
    connection: int
    """Which connection it came on (1, 2, … in order of arrival)."""
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None


Respond = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool]]


class RawUpstream:
    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.connections = 0
        self.requests: list[RawRequest] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.writers.append(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                request = RawRequest(number, head, b"")
                length = request.header("content-length")
                if length:
                    request.body = await reader.readexactly(int(length))
                self.requests.append(request)
                if not await self.respond(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # cancelled: the test is over (3.11's start_server logs a cancelled handler as an error)
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """A whole answer with a Content-Length."""
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status}\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@contextlib.asynccontextmanager
async def raw_upstream(respond: Respond, tls: ssl.SSLContext | None = None) -> AsyncIterator[RawUpstream]:
    upstream = RawUpstream(respond)
    server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    upstream.url = f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{port}/v1/chat/completions"
    try:
        yield upstream
    finally:
        server.close()
        for writer in upstream.writers:
            with contextlib.suppress(Exception):
                writer.transport.abort()
        await server.wait_closed()
