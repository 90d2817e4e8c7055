"""One call of a media codec (``protocols.media.base.UpstreamCall``) to a channel: any method, path,
content type and body; the channel's auth headers only where the call wants them.  ``follow_calls``: the
calls of one attempt (build, answer, parse, follow-ups), each answered by a function its caller gives
(the media relay's and the image task runs').

A call under the channel's base URL goes through the worker's own HTTP/1.1 client (``H1Client``, the
chat calls' one), its URL and headers built once per (channel, method, path, key, call headers) and
kept on the channel (``media_calls``) so the client encodes the request's head once; a 3xx answer
there is made again through aiohttp, which follows redirects as before.  A whole URL a vendor gave
(a download, a poll on another host) goes through aiohttp's session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol, TypeAlias, TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from omnirouter.ir import GatewayError
from omnirouter.protocols.media.base import Answer, Followup, MediaUpstream, Target, UpstreamCall
from omnirouter.transport.client import (
    TRANSPORT_ERRORS,
    ChatResponse,
    UpstreamClient,
    UpstreamResponse,
    classify_transport_error,
)
from omnirouter.transport.upstream import AttemptFailure, UpstreamChannel, refused

__all__ = ["MediaChannel", "MediaResponse", "build_call", "follow_calls", "open_call"]

MediaResponse: TypeAlias = ChatResponse | UpstreamResponse
"""An open answer to a media call: the worker's HTTP/1.1 client's, or aiohttp's (a whole URL)."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_BUILT = 1024

Req = TypeVar("Req")
Res = TypeVar("Res")
Early = TypeVar("Early")


class MediaChannel(UpstreamChannel, Protocol):
    """What a media call reads of its channel beyond a chat call: its base URL, and where the URL and
    headers of its calls are kept (``media_calls``)."""

    base_url: str
    media_calls: dict[Hashable, tuple[URL, CIMultiDictProxy[str]]]


def call_headers(channel: MediaChannel, call: UpstreamCall, key: str) -> CIMultiDict[str]:
    """The channel's headers (auth included when the call wants it), the call's content type and headers."""
    headers: CIMultiDict[str] = CIMultiDict(channel.headers(key)) if call.auth else CIMultiDict()
    if _sends_type(call):
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


def _sends_type(call: UpstreamCall) -> bool:
    """Whether the call says its content type: it has a body, or it is a POST."""
    return bool(call.body) or call.method == "POST"


def _built(channel: MediaChannel, call: UpstreamCall, key: str) -> tuple[URL, CIMultiDictProxy[str]]:
    """The URL and headers of a call under the channel's base URL, kept in ``channel.media_calls`` per
    call shape (method, path, key, type, headers): the same objects each time, so the HTTP/1.1 client
    encodes their head once.  At most ``_MAX_BUILT`` a channel (then all are dropped: paths with ids)."""
    shape = (
        call.method,
        call.path,
        key if call.auth else None,
        call.content_type if _sends_type(call) else "",
        tuple(call.headers.items()),
    )
    kept = channel.media_calls
    found = kept.get(shape)
    if found is None:
        if len(kept) >= _MAX_BUILT:
            kept.clear()
        found = kept[shape] = (URL(channel.base_url + call.path), CIMultiDictProxy(call_headers(channel, call, key)))
    return found


async def open_call(
    client: UpstreamClient,
    channel: MediaChannel,
    call: UpstreamCall,
    key: str,
    decode_error: Callable[[int, bytes], GatewayError],
) -> MediaResponse:
    """Make ``call``; a 2xx response is returned open, anything else raises ``AttemptFailure``.

    Connecting is timed by the client (and, for a call not streamed, every silence up to the channel's
    first-byte limit: the ``sock_connect`` and ``sock_read`` of the channel's timeouts); the caller
    bounds the whole call.
    """
    timeout = channel.timeout if call.stream else channel.plain_timeout
    response: MediaResponse
    try:
        if call.path.startswith(("http://", "https://")):
            response = await _by_session(client, channel, call, key, timeout)
        else:
            url, headers = _built(channel, call, key)
            response = await client.chat.request(
                call.method, url, headers, call.body, timeout.sock_connect, timeout.sock_read
            )
            if response.status in _REDIRECTS and "location" in response.headers:
                response.close()  # aiohttp follows it as it always did
                response = await _by_session(client, channel, call, key, timeout)
    except TRANSPORT_ERRORS as exc:
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    if response.status < 400:
        return response
    raise await refused(response, channel, decode_error)


async def _by_session(
    client: UpstreamClient, channel: MediaChannel, call: UpstreamCall, key: str, limits: aiohttp.ClientTimeout
) -> UpstreamResponse:
    """``call`` through aiohttp's session (redirects followed)."""
    return await client.session.request(
        call.method,
        call_url(channel, call),
        data=call.body or None,
        headers=CIMultiDictProxy(call_headers(channel, call, key)),
        timeout=limits,
    )


def build_call(upstream: MediaUpstream[Req, Res], request: Req, target: Target) -> UpstreamCall:
    """The vendor's first call; a request it cannot take fails the attempt as the client's fault (not retried)."""
    try:
        return upstream.build(request, target)
    except GatewayError as error:
        raise AttemptFailure(error, retryable=False) from None


async def follow_calls(
    upstream: MediaUpstream[Req, Res],
    request: Req,
    target: Target,
    answer: Callable[[UpstreamCall], Awaitable[Answer | Early]],
    call: UpstreamCall | None = None,
) -> Res | Early:
    """The calls of one attempt: ``call`` (else the vendor's first, built) answered by ``answer``, parsed,
    and each follow-up the vendor asks for after its delay, until a result.  ``answer`` may end the calls
    with something other than an ``Answer`` (an SSE stream to relay), returned as it is.  A vendor error
    inside a 2xx answer fails the attempt (retryable); the caller bounds the whole in time."""
    if call is None:
        call = build_call(upstream, request, target)
    step: Followup | None = None
    while True:
        answered = await answer(call)
        if not isinstance(answered, Answer):
            return answered
        try:
            outcome = upstream.parse(answered, request, target, step)
        except GatewayError as error:
            raise AttemptFailure(error, retryable=True) from None
        if not isinstance(outcome, Followup):
            return outcome
        if outcome.delay > 0:
            await asyncio.sleep(outcome.delay)
        step, call = outcome, outcome.call
