"""An upstream answer passed to the client byte for byte as it arrives (``protocols/media/pass_through.py``).

The call is made and the answer's head read (at most ``HEAD_LIMIT`` bytes) until the codec's scan gives
its verdict; nothing has gone to the client yet, so an HTTP error, a transport error or an error in the
head still fails over.  Relayed: the head and the rest go out through ``relay/byte_pump.py`` (its
timing, its end on a failure after the first byte, with the error in the usage row).  Not relayed (the
answer is small, an error, or not in the form the client asked): the rest is read and the whole answer
goes to the codec's ``parse`` like any other, at most the channel's ``max_upstream_body_bytes``.
"""

from __future__ import annotations

from typing import NamedTuple

from omnirouter.ir import GatewayError, Usage
from omnirouter.protocols.media.base import Answer
from omnirouter.protocols.media.pass_through import HEAD_LIMIT, AnswerScan
from omnirouter.routing import Channel
from omnirouter.transport import (
    TRANSPORT_ERRORS,
    AttemptFailure,
    MediaResponse,
    classify_transport_error,
    read_at_most,
    too_large,
)

__all__ = ["Passing", "Relayed", "read_head"]


class Relayed(NamedTuple):
    """An answer to pass through: the open response, its head already read and the scan that read it."""

    response: MediaResponse
    head: bytes
    scan: AnswerScan


class Passing:
    """A scan in the shape ``pump_audio`` pumps (decoder and frames at once): bytes out as they came in.
    The first chunk fed is the head ``read_head`` has scanned already."""

    __slots__ = ("_head", "_scan", "content_type", "usage")

    def __init__(self, scan: AnswerScan, content_type: bytes) -> None:
        self._scan = scan
        self._head = True
        self.content_type = content_type
        self.usage = Usage()

    def begin(self, headers: object) -> None:
        return None

    def feed(self, chunk: bytes) -> bytes:
        if self._head:
            self._head = False
        else:
            self._scan.feed(chunk)
        return chunk

    def finish(self) -> bytes:
        self.usage = self._scan.finish()
        return b""

    def chunk(self, audio: bytes) -> bytes:
        return audio

    def end(self, usage: Usage) -> bytes:
        return b""


async def read_head(response: MediaResponse, channel: Channel, scan: AnswerScan) -> bytes | Answer:
    """The head to relay (the verdict was yes), else the whole answer; raises ``AttemptFailure``
    (the response closed) for a transport error, an answer past the channel's limit or a scan error."""
    parts: list[bytes] = []
    size = 0
    try:
        while chunk := await response.content.readany():
            parts.append(chunk)
            size += len(chunk)
            scan.feed(chunk)
            verdict = scan.verdict()
            if verdict:
                return b"".join(parts)
            if verdict is False or size > HEAD_LIMIT:
                break
        else:
            return _answer(response, b"".join(parts))
        limit = channel.max_body_bytes
        length = response.content_length
        if size > limit or (length is not None and length > limit):
            raise too_large(channel, "an answer", limit)
        rest, cut = await read_at_most(response.content, limit - size)
        if cut:
            raise too_large(channel, "an answer", limit)
    except TRANSPORT_ERRORS as exc:
        response.close()
        exc.__traceback__ = None  # aiohttp's reader keeps exc: with its traceback (this frame), a cycle
        raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None
    except GatewayError as error:
        response.close()
        raise AttemptFailure(error, retryable=True) from None
    except BaseException:
        response.close()
        raise
    parts.append(rest)
    return _answer(response, b"".join(parts))


def _answer(response: MediaResponse, body: bytes) -> Answer:
    response.release()
    return Answer(response.status, {name.lower(): value for name, value in response.headers.items()}, body)
