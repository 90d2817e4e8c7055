"""What a realtime client's WebSocket handshake says, and what the upstream handshake must say.

A client names its key with ``Authorization: Bearer`` (or any header the gateway reads keys from) or,
from a browser, with the subprotocol ``openai-insecure-api-key.<key>``; it asks for the beta generation
with ``OpenAI-Beta: realtime=v1`` or the subprotocol ``openai-beta.realtime-v1``.  The gateway echoes the
``realtime`` subprotocol when it is offered (browsers refuse a socket whose offer is not answered).
Upstream, the channel's key goes in the channel's auth header (server to server, never a subprotocol),
and the beta header only when the client asked for beta: a GA client stays GA (BerriAI/litellm issue
18969: a GA model sent the beta header fails).
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qsl

from omnirouter.accounts.auth import extract_client_key
from omnirouter.http.asgi import Scope
from omnirouter.providers.realtime import realtime_wire
from omnirouter.routing import Channel

__all__ = ["ClientHello", "read_hello", "upstream_headers", "upstream_url"]

KEY_PROTOCOL = "openai-insecure-api-key."
BETA_PROTOCOL = "openai-beta.realtime-v1"
REALTIME_PROTOCOL = "realtime"
BETA_HEADER = "realtime=v1"


class ClientHello(NamedTuple):
    """The parts of a client handshake the relay acts on."""

    key: str | None
    model: str
    beta_header: str | None
    """The ``OpenAI-Beta`` value to send upstream (the client's own, or ``realtime=v1`` for the subprotocol)."""
    subprotocol: str | None
    """The subprotocol to accept (``realtime`` when offered)."""


def _offered(scope: Scope) -> list[str]:
    offered = scope.get("subprotocols") or []
    return [str(protocol).strip() for protocol in offered]


def read_hello(scope: Scope) -> ClientHello:
    """The key, model, generation and subprotocol of a handshake."""
    offered = _offered(scope)
    key = extract_client_key(scope)
    if key is None:
        for protocol in offered:
            if protocol.startswith(KEY_PROTOCOL) and len(protocol) > len(KEY_PROTOCOL):
                key = protocol[len(KEY_PROTOCOL) :]
                break
    beta: str | None = None
    for name, value in scope["headers"]:
        if name == b"openai-beta" and b"realtime" in value:
            beta = value.decode("latin-1").strip()
            break
    if beta is None and BETA_PROTOCOL in offered:
        beta = BETA_HEADER
    model = ""
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if name == "model":
            model = value.strip()
            break
    return ClientHello(key, model, beta, REALTIME_PROTOCOL if REALTIME_PROTOCOL in offered else None)


def upstream_url(channel: Channel, upstream_model: str) -> str:
    """The channel's realtime socket URL for ``upstream_model`` (``providers/realtime.py``): OpenAI's
    ``<base>/realtime?model=…``, Azure's ``<resource>/openai/realtime?api-version=…&deployment=…``, Azure
    v1's ``<resource>/openai/v1/realtime?model=…``; ``http(s)`` turned into ``ws(s)``."""
    wire = realtime_wire(channel.spec.kind)
    if wire is None:
        raise ValueError(f"channel {channel.name!r} serves no realtime")
    return wire.url(channel.chat_base_url, upstream_model, channel.api_version)


def upstream_headers(channel_headers: dict[str, str], beta_header: str | None) -> dict[str, str]:
    """The channel's headers for one upstream key, without the body's content type, plus the client's
    ``OpenAI-Beta`` when it asked for beta."""
    headers = {name: value for name, value in channel_headers.items() if name.lower() != "content-type"}
    if beta_header is not None:
        headers["OpenAI-Beta"] = beta_header
    return headers
