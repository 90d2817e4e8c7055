"""Open one upstream call and turn its failures into classified attempt failures."""

from __future__ import annotations

import aiohttp

from omnirouter.ir import GatewayError
from omnirouter.protocols.base import Codec
from omnirouter.providers import endpoint_url
from omnirouter.relay.secrets import scrub
from omnirouter.routing import Attempt
from omnirouter.transport import TRANSPORT_ERRORS, classify_transport_error

RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 429, 500, 502, 503, 504, 529})


class AttemptFailure(Exception):
    """One attempt failed before anything reached the client; ``retryable`` says whether to go on."""

    def __init__(self, error: GatewayError, retryable: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable


def scrubbed(error: GatewayError, attempt: Attempt) -> GatewayError:
    """``error`` with the channel's secrets masked from its message."""
    error.message = scrub(error.message, attempt.channel.secrets())
    return error


async def open_upstream(
    session: aiohttp.ClientSession, attempt: Attempt, body: bytes, stream: bool, codec: Codec
) -> aiohttp.ClientResponse:
    """POST ``body`` to the attempt's channel; a 2xx response is returned open, anything else raises."""
    channel = attempt.channel
    url = endpoint_url(attempt.protocol, channel.base_url, attempt.upstream_model, stream)
    try:
        response = await session.post(
            url, data=body, headers=channel.headers(channel.next_key()), timeout=channel.timeout
        )
    except TRANSPORT_ERRORS as exc:
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    if response.status < 400:
        return response
    try:
        raw = await response.read()
    except TRANSPORT_ERRORS:
        raw = b""
    finally:
        response.release()
    error = scrubbed(codec.decode_error(response.status, raw), attempt)
    raise AttemptFailure(error, retryable=response.status in RETRYABLE_STATUSES or response.status >= 500)
