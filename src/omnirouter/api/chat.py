"""The chat routes' operation: a chat request in the client's protocol, for the one lifecycle."""

from __future__ import annotations

from omnirouter.gateway import Gateway
from omnirouter.http.asgi import SSE_HEADERS, Headers
from omnirouter.protocols.base import Codec
from omnirouter.relay.chat import ChatExtension, ChatOperation

__all__ = ["chat_operation"]


def chat_operation(
    gateway: Gateway,
    inbound: Codec,
    *,
    path_model: str | None = None,
    path_stream: bool | None = None,
    extension: ChatExtension | None = None,
    stream_headers: Headers = SSE_HEADERS,
) -> ChatOperation:
    """One chat request from a client speaking ``inbound`` (see ``ChatOperation`` for the options);
    the route hands it to ``api.lifecycle.serve``."""
    return ChatOperation(
        inbound,
        gateway.client,
        gateway.images,
        keepalive_interval=gateway.config.routing.keepalive_interval,
        path_model=path_model,
        path_stream=path_stream,
        extension=extension,
        stream_headers=stream_headers,
    )
