"""The chat routes: a chat operation in the client's protocol, served by the one lifecycle."""

from __future__ import annotations

from omnirouter.api.lifecycle import serve
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import SSE_HEADERS, Headers, Receive, Scope, Send
from omnirouter.protocols.base import Codec
from omnirouter.relay.chat import ChatExtension, ChatOperation

__all__ = ["handle_chat"]


async def handle_chat(
    gateway: Gateway,
    inbound: Codec,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    path_model: str | None = None,
    path_stream: bool | None = None,
    extension: ChatExtension | None = None,
    stream_headers: Headers = SSE_HEADERS,
) -> None:
    """Serve one chat request from a client speaking ``inbound`` (see ``ChatOperation`` for the options)."""
    operation = ChatOperation(
        inbound,
        gateway.client,
        gateway.images,
        keepalive_interval=gateway.config.routing.keepalive_interval,
        path_model=path_model,
        path_stream=path_stream,
        extension=extension,
        stream_headers=stream_headers,
    )
    await serve(gateway, operation, scope, receive, send)
