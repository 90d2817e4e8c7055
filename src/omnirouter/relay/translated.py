"""Different protocols on the two sides: translate through the IR with the two codecs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnirouter.ir import ChoiceEnd, GatewayError, StreamEvent, StreamFailure, Usage, UsageUpdate
from omnirouter.protocols.base import StreamDecoder, StreamEncoder
from omnirouter.protocols.sse import SSEEvent


class TranslatingStreamFilter:
    """Upstream SSE → upstream codec's decoder → IR events → client codec's encoder → client bytes.

    ``estimate``, given the bytes about to be sent before the client encoder's last ones, is the usage
    to report when the upstream streamed none (vendors that take no ``include_usage``): the client's
    final usage (OpenAI's ``include_usage`` chunk, Anthropic's ``message_delta``, Gemini's
    ``usageMetadata``, Responses' ``response.completed``) then carries the estimate the ledger charges,
    and ``usage`` is it, marked estimated.

    The client's opening frame(s) (``StreamEncoder.start``: Anthropic's ``message_start``, Responses'
    ``response.created``, Chat's role chunk) go out with the first upstream event that decodes to
    something other than a failure, without waiting for content: the pump sends them at once, which
    commits the request to this channel (a failure after it is the client protocol's in-stream error).
    """

    __slots__ = (
        "_decoder",
        "_encoder",
        "_estimate",
        "_started",
        "completed",
        "failure",
        "failure_status",
        "usage",
    )

    def __init__(
        self, decoder: StreamDecoder, encoder: StreamEncoder, estimate: Callable[[bytes], Usage] | None = None
    ) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self._estimate = estimate
        self.usage: Usage | None = None
        self.failure: str | None = None
        self.failure_status = 502
        self.completed = False
        self._started = False  # the encoder's opening frames were asked for

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
        events = self._decoder.feed(event)
        out = self._encode(events)
        if self._started or not events or self.failure is not None:
            return out
        self._started = True
        # After the whole event, so that what it said (an id, input tokens) is in the opening frame; an
        # encoder that already opened for content in ``out`` gives nothing more here.
        return out + self._encoder.start()

    def finish(self) -> bytes:
        tail = self._encode(self._decoder.finish())
        if self.usage is None and self.failure is None and self._estimate is not None:
            tail += self._encode([UsageUpdate(usage=self._estimate(tail))])
        return tail + self._encoder.finish()

    def error(self, error: GatewayError) -> bytes:
        return self._encoder.error(error)
