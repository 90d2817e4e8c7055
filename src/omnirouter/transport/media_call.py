"""One call of a media codec (``protocols.media.base.UpstreamCall``) to a channel: any method, path,
content type and body; the channel's auth headers only where the call wants them.  ``follow_calls``: the
calls of one attempt (build, answer, parse, follow-ups), each answered by a function its caller gives
(the media relay's and the image task runs')."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from omnirouter.ir import GatewayError
from omnirouter.protocols.media.base import Answer, Followup, MediaUpstream, Target, UpstreamCall
from omnirouter.transport.client import TRANSPORT_ERRORS, classify_transport_error
from omnirouter.transport.upstream import AttemptFailure, UpstreamChannel, refused

__all__ = ["MediaChannel", "build_call", "follow_calls", "open_call"]

Req = TypeVar("Req")
Res = TypeVar("Res")
Early = TypeVar("Early")


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
