"""Different protocols on the two sides: translate through the IR with the two codecs."""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChoiceEnd, GatewayError, StreamEvent, StreamFailure, Usage, UsageUpdate
from omnirouter.protocols.base import StreamDecoder, StreamEncoder
from omnirouter.protocols.sse import SSEEvent


class TranslatingStreamFilter:
    """Upstream SSE → upstream codec's decoder → IR events → client codec's encoder → client bytes."""

    __slots__ = ("_decoder", "_encoder", "completed", "failure", "failure_status", "usage")

    def __init__(self, decoder: StreamDecoder, encoder: StreamEncoder) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self.usage: Usage | None = None
        self.failure: str | None = None
        self.failure_status = 502
        self.completed = False

    def _encode(self, events: list[StreamEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if isinstance(event, UsageUpdate):
                self.usage = event.usage
            elif isinstance(event, ChoiceEnd):
                self.completed = True
            elif isinstance(event, StreamFailure):
                self.failure = event.message
                self.failure_status = event.status
                self.completed = True
            out.append(self._encoder.encode(event))
        return b"".join(out)

    @property
    def answer(self) -> dict[str, Any] | None:
        return self._encoder.answer

    def process(self, event: SSEEvent) -> bytes:
        return self._encode(self._decoder.feed(event))

    def finish(self) -> bytes:
        return self._encode(self._decoder.finish()) + self._encoder.finish()

    def error(self, error: GatewayError) -> bytes:
        return self._encoder.error(error)
