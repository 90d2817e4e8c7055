"""One call of a media codec (``protocols.media.base.UpstreamCall``) to a channel: any method, path,
content type and body; the channel's auth headers only where the call wants them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from omnirouter.ir import GatewayError
from omnirouter.protocols.media.base import UpstreamCall
from omnirouter.transport.client import TRANSPORT_ERRORS, classify_transport_error
from omnirouter.transport.upstream import AttemptFailure, UpstreamChannel, refused

__all__ = ["MediaChannel", "open_call"]


class MediaChannel(UpstreamChannel, Protocol):
    """What a media call reads of its channel beyond a chat call: its base URL."""

    base_url: str


def call_headers(channel: MediaChannel, call: UpstreamCall, key: str) -> CIMultiDict[str]:
    """The channel's headers (auth included when the call wants it), the call's content type and headers."""
    headers: CIMultiDict[str] = CIMultiDict(channel.headers(key)) if call.auth else CIMultiDict()
    if call.body or call.method == "POST":
        headers["content-type"] = call.content_type
    else:
        headers.popall("content-type", None)
    for name, value in call.headers.items():
        headers[name] = value
    return headers


def call_url(channel: MediaChannel, call: UpstreamCall) -> str:
    """A whole URL as given, else the path under the channel's base URL."""
    if call.path.startswith(("http://", "https://")):
        return call.path
    return channel.base_url + call.path


async def open_call(
    session: aiohttp.ClientSession,
    channel: MediaChannel,
    call: UpstreamCall,
    key: str,
    decode_error: Callable[[int, bytes], GatewayError],
) -> aiohttp.ClientResponse:
    """Make ``call``; a 2xx response is returned open, anything else raises ``AttemptFailure``.

    Connecting is timed by aiohttp (and, for a call not streamed, every silence up to the channel's
    first-byte limit); the caller bounds the whole call.
    """
    timeout = channel.timeout if call.stream else channel.plain_timeout
    headers = call_headers(channel, call, key)
    try:
        response = await session.request(
            call.method,
            call_url(channel, call),
            data=call.body or None,
            headers=CIMultiDictProxy(headers),
            timeout=timeout,
        )
    except TRANSPORT_ERRORS as exc:
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    if response.status < 400:
        return response
    raise await refused(response, channel, decode_error)
