"""Channel checks for operators: a tiny real request to an upstream, and a channel's health at a glance.

A probe never changes the channel's breaker or load counters and never raises: every failure
(unreachable, timeout, upstream error, unreadable body) becomes a ``ProbeResult`` with ``ok`` False
and an error message scrubbed of the channel's secrets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import msgspec
import orjson

from omnirouter.config.secrets import scrub
from omnirouter.ir import ChatRequest, GatewayError, Message, TextPart
from omnirouter.protocols.base import ProtocolName
from omnirouter.routing.channel import Channel
from omnirouter.transport import TRANSPORT_ERRORS, Session, classify_transport_error, post_whole

# The fewest output tokens each protocol accepts (OpenAI's Responses API refuses fewer than 16).
_MIN_OUTPUT_TOKENS = {ProtocolName.OPENAI_RESPONSES: 16}


class ProbeResult(msgspec.Struct, kw_only=True):
    """The outcome of one probe: ``status`` is the upstream's HTTP status when it answered."""

    channel: str
    model: str
    ok: bool
    status: int | None
    latency_ms: float
    error: str | None


def probe_model(channel: Channel) -> str | None:
    """The public model a probe uses by default: the channel's first exact model (sorted), if any."""
    return min(channel.models.exact) if channel.models.exact else None


async def probe_channel(session: Session, channel: Channel, model: str | None = None) -> ProbeResult:
    """Send one ``ping`` (max 1 output token, not streamed) through ``channel`` and report how it went."""
    public = model or probe_model(channel)
    if public is None:
        return _failed(channel, "", None, 0.0, "the channel has only model patterns; name a model to probe")
    key = channel.upstream_keys.next_key()
    if key is None:
        return _failed(channel, public, None, 0.0, "no usable key")
    started = time.perf_counter()
    try:
        status, error = await _send_ping(session, channel, public, key)
    except (*TRANSPORT_ERRORS, TimeoutError) as exc:
        status, error = None, classify_transport_error(exc, channel.name).message
    except Exception as exc:  # a probe reports, it never raises
        status, error = None, f"probe failed: {type(exc).__name__}: {exc}"
    latency = round((time.perf_counter() - started) * 1000, 1)
    if error is not None:
        return _failed(channel, public, status, latency, error)
    return ProbeResult(channel=channel.name, model=public, ok=True, status=status, latency_ms=latency, error=None)


async def _send_ping(session: Session, channel: Channel, public: str, key: str) -> tuple[int, str | None]:
    """POST the ping; the upstream's status and an error message (``None`` when the answer is good)."""
    protocol = channel.protocol_for(public)
    codec = channel.codec(protocol)
    upstream = channel.upstream_model(public)
    ping = [Message(role="user", content=[TextPart(text="ping")])]
    request = ChatRequest(model=upstream, messages=ping, max_tokens=_MIN_OUTPUT_TOKENS.get(protocol, 1))
    body = orjson.dumps(codec.encode_request(request))
    url = channel.endpoint_url(protocol, upstream, False)
    # Connect (and total) limits are the channel's transport timeout; the whole answer must come within first-byte.
    status, raw = await post_whole(
        session, url, body, channel.headers(key), channel.timeout, channel.first_byte_timeout
    )
    if status >= 400:
        return status, codec.decode_error(status, raw).message or f"upstream answered HTTP {status}"
    try:
        parsed: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return status, f"upstream answered HTTP {status} with a body that is not JSON"
    if not isinstance(parsed, dict):
        return status, f"upstream answered HTTP {status} with an unexpected JSON shape"
    try:
        codec.decode_response(parsed)
    except GatewayError as error:
        return status, f"upstream answered HTTP {status} with an unreadable response: {error.message}"
    except Exception as exc:
        return status, f"upstream answered HTTP {status} with an unreadable response: {type(exc).__name__}"
    return status, None


def _failed(channel: Channel, model: str, status: int | None, latency_ms: float, error: str) -> ProbeResult:
    return ProbeResult(
        channel=channel.name,
        model=model,
        ok=False,
        status=status,
        latency_ms=latency_ms,
        error=scrub(error, channel.secrets()),
    )


async def probe_channels(session: Session, channels: Iterable[Channel], model: str | None = None) -> list[ProbeResult]:
    """Probe ``channels`` concurrently; results in the channels' order."""
    return list(await asyncio.gather(*(probe_channel(session, channel, model) for channel in channels)))


def channel_health(channel: Channel) -> dict[str, Any]:
    """This worker's view of a channel: breaker state, load, usable upstream keys and models (never a key)."""
    return {
        "name": channel.name,
        "provider": channel.spec.kind.value,
        "breaker": channel.breaker.state,
        "in_flight": channel.in_flight,
        "max_concurrency": channel.max_concurrency,
        "usable_keys": channel.upstream_keys.usable(),
        "total_keys": len(channel.api_keys),
        "models": channel_models(channel),
        "priority": channel.priority,
        "weight": channel.weight,
    }


def channel_models(channel: Channel) -> list[str]:
    """The channel's public models: exact names sorted, then its patterns."""
    return [*sorted(channel.models.exact), *channel.models.globs]
