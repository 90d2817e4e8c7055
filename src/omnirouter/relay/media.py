"""A media request (embeddings, rerank, moderation, speech, transcription, images) as an operation of
the one lifecycle: decoded by the client's codec, run against each planned attempt with the codec of
the attempt's vendor, encoded back in the client's wire format under the public model name.

An attempt may take several calls (batches, an asynchronous vendor's submit → poll → download); all
of them fit in the channel's total time limit.  An error a vendor reports inside a 2xx body fails
the attempt like an HTTP error (the next channel is tried; nothing is charged for it).

Speech streams: when the upstream codec offers ``audio_stream`` for the request and the client codec
``audio_frames``, the answer is relayed as it arrives (``relay/byte_pump.py``) instead of read whole.
An answer in the client's own wire (an OpenAI ImagesResponse to an OpenAI client) passes through byte
for byte as it arrives (``relay/pass_through.py``) when its head shows it is what the client asked.
A whole answer in the client's wire that names the model (OpenAI embeddings to an OpenAI client) is
read whole and relayed as written with the model renamed, when the upstream codec's ``pass_whole``
takes it (``protocols/media/pass_through.py``), instead of parsed and encoded again.
Everything else is read whole, at most the channel's ``max_upstream_body_bytes``, to be translated.
A result whose encoding is CPU work (``heavy``: transcoding audio) is encoded in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any, Generic, TypeVar, cast

from omnirouter.http.asgi import send_response
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.media import SpeechRequest
from omnirouter.protocols.media.base import Answer, MediaInbound, MediaUpstream, Target, UpstreamCall
from omnirouter.protocols.media.pass_through import (
    PassThroughInbound,
    PassThroughUpstream,
    Rewritten,
    WholePassUpstream,
)
from omnirouter.protocols.media.speech import AudioFraming, AudioStreamer
from omnirouter.providers import Capability
from omnirouter.relay.byte_pump import pump_audio
from omnirouter.relay.media_sse import OpenStream, open_media_stream, relay_media_stream
from omnirouter.relay.operation import Exchange, Inbound
from omnirouter.relay.pass_through import Passing, Relayed, read_head
from omnirouter.routing import Attempt, Channel
from omnirouter.routing.regions import by_region
from omnirouter.storage import KeyRecord
from omnirouter.transport import (
    AttemptFailure,
    UpstreamClient,
    build_call,
    follow_calls,
    open_call,
    overran,
    read_answer,
)

__all__ = ["MediaOperation"]

Req = TypeVar("Req")
Res = TypeVar("Res")

_OFFERS: dict[tuple[type, type], bool] = {}


def _offers(codec: object, protocol: type) -> bool:
    """Whether ``codec`` has the optional side ``protocol`` (a runtime-checkable Protocol), found once per
    codec class: on Python 3.11 each such ``isinstance`` costs ~10 us, and a codec's sides are its class's."""
    key = (type(codec), protocol)
    found = _OFFERS.get(key)
    if found is None:
        found = _OFFERS[key] = isinstance(codec, protocol)
    return found


class MediaOperation(Generic[Req, Res]):
    """One client media request of one ``capability`` (an ``Operation`` of the lifecycle)."""

    __slots__ = ("_body_size", "_client", "_content_type", "_inbound", "_keepalive_interval", "_path_model",
                 "_request", "body_limit", "capability", "protocol")  # fmt: skip

    def __init__(
        self,
        capability: Capability,
        inbound: MediaInbound[Req, Res],
        client: UpstreamClient,
        *,
        content_type: str = "",
        path_model: str | None = None,
        body_limit: int | None = None,
        keepalive_interval: float = 15.0,
    ) -> None:
        """``content_type`` is the request's (multipart bodies need its boundary); ``path_model`` the model
        the URL names (Gemini); ``body_limit`` the most a body may be (uploads), else the gateway's;
        ``keepalive_interval`` the silence after which a streamed SSE answer gets a comment."""
        self.capability = capability
        self._inbound = inbound
        self.protocol = inbound.protocol
        self._client = client
        self._content_type = content_type
        self._path_model = path_model
        self.body_limit = body_limit
        self._keepalive_interval = keepalive_interval
        self._request: Req | None = None
        self._body_size = 0

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return self._inbound.encode_error(error)

    async def read(self, body: bytes, key: KeyRecord) -> Inbound:
        request = self._request = self._inbound.decode(body, self._content_type, self._path_model)
        self._body_size = len(body)
        model: str = getattr(request, "model")  # noqa: B009  # every media request names its model
        return Inbound(model, bool(getattr(request, "stream", False)))

    def adopt(self, request: Req, body_size: int) -> None:
        """Take a request decoded elsewhere instead of ``read``ing it (a Gemini generateContent asking for
        media, handed over by ``relay/gemini_generate.py``)."""
        self._request, self._body_size = request, body_size

    def ready(self, attempts: list[Attempt]) -> list[Attempt]:
        """The attempts whose vendor serves this capability (in the request's ``input_region`` when some channel
        declares it: ``routing/regions.py``); none is a 400 naming the model."""
        capability = self.capability
        usable = [attempt for attempt in attempts if capability in attempt.channel.spec.media]
        if not usable:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"The model '{attempts[0].public_model}' is not served for {capability.value.replace('_', ' ')} "
                "on this gateway.",
                code="model_not_supported",
                param="model",
            )
        return by_region(usable, getattr(self._request, "input_region", None))

    def bound(self) -> Budget:
        assert self._request is not None
        return self._inbound.budget(self._request, self._body_size)

    async def run(self, exchange: Exchange, attempt: Attempt, upstream_key: str) -> None:
        """All the calls of one attempt, then the answer; raises ``AttemptFailure`` before any client byte."""
        request = self._request
        assert request is not None
        channel = attempt.channel
        upstream: MediaUpstream[Req, Res] = channel.spec.media[self.capability]
        target = Target(attempt.upstream_model, channel.options, upstream_key, channel.base_url)
        if await self._streamed(exchange, attempt, upstream, request, target, upstream_key):
            return
        try:
            async with asyncio.timeout(channel.total_timeout):
                passed = await self._passed(attempt, upstream, request, target, upstream_key)
                if not isinstance(passed, (Relayed, Rewritten)):
                    result = await self._calls(upstream, request, target, upstream_key, attempt, passed)
        except TimeoutError:
            raise overran(channel.name, channel.total_timeout) from None
        if isinstance(passed, Relayed):  # timed by the pump from here on
            await self._pass(exchange, channel, passed)
            return
        ctx = exchange.ctx
        if isinstance(passed, Rewritten):
            ctx.usage = passed.usage
            body, content_type = passed.body, b"application/json"
        elif isinstance(result, OpenStream):  # answered as SSE: relayed as it comes (relay/media_sse.py)
            await relay_media_stream(result, exchange, channel, self._keepalive_interval)
            return
        else:
            ctx.usage = getattr(result, "usage")  # noqa: B009  # every media result carries its usage
            if getattr(result, "heavy", False):
                encode = self._inbound.encode
                body, content_type = await asyncio.to_thread(encode, result, request, attempt.public_model)
            else:
                body, content_type = self._inbound.encode(result, request, attempt.public_model)
        headers = [(b"content-type", content_type), *exchange.headers,
                   (b"x-omnirouter-attempts", str(ctx.attempts).encode())]  # fmt: skip
        ctx.mark_first_byte()
        await send_response(exchange.send, 200, body, headers)

    async def _streamed(
        self,
        exchange: Exchange,
        attempt: Attempt,
        upstream: MediaUpstream[Req, Res],
        request: Req,
        target: Target,
        key: str,
    ) -> bool:
        """Serve the attempt as a stream when both codecs can (True), else leave it to the whole-answer path."""
        inbound = self._inbound
        if not _offers(upstream, AudioStreamer) or not _offers(inbound, AudioFraming):
            return False
        speech = cast(SpeechRequest, request)  # only speech codecs stream audio
        try:
            plan = cast(AudioStreamer, upstream).audio_stream(speech, target)
        except GatewayError as error:  # the request asks what this vendor cannot do: the client's fault
            raise AttemptFailure(error, retryable=False) from None
        if plan is None:
            return False
        call, decoder = plan
        frames = cast(AudioFraming, inbound).audio_frames(speech)
        channel = attempt.channel
        try:
            async with asyncio.timeout(min(channel.first_byte_timeout, channel.total_timeout)):
                response = await open_call(self._client, channel, call, key, upstream.decode_error)
        except TimeoutError:
            late = GatewayError(ErrorKind.UPSTREAM_TIMEOUT, f"upstream channel {channel.name!r} did not answer in time")
            raise AttemptFailure(late, retryable=True) from None
        ctx = exchange.ctx
        ctx.stream = True
        headers = [(b"content-type", frames.content_type), *exchange.headers,
                   (b"x-omnirouter-attempts", str(ctx.attempts).encode())]  # fmt: skip
        await pump_audio(response, decoder, frames, ctx, channel, exchange.send, exchange.receive, headers)
        return True

    async def _passed(
        self,
        attempt: Attempt,
        upstream: MediaUpstream[Req, Res],
        request: Req,
        target: Target,
        key: str,
    ) -> Relayed | Rewritten | tuple[UpstreamCall, Answer] | None:
        """The open answer and its head to pass through when both sides speak its wire and the head says
        so, or the whole answer rewritten for the client (``pass_whole``); else the first call and its
        whole answer, or None when this attempt cannot pass through."""
        inbound = self._inbound
        wire = getattr(inbound, "whole_wire", None)
        if wire is not None and getattr(upstream, "whole_wire", None) == wire:
            whole = cast(WholePassUpstream, upstream)
            call = build_call(upstream, request, target)
            answer = await self._answer(call, key, attempt, upstream)
            return whole.pass_whole(answer, request, attempt.public_model) or (call, answer)
        if not _offers(upstream, PassThroughUpstream) or not _offers(inbound, PassThroughInbound):
            return None
        if cast(PassThroughUpstream, upstream).answer_wire != cast(PassThroughInbound, inbound).answer_wire:
            return None
        scan = cast(PassThroughUpstream, upstream).pass_through(request, target)
        if scan is None:
            return None
        call = build_call(upstream, request, target)
        channel = attempt.channel
        response = await open_call(self._client, channel, call, key, upstream.decode_error)
        head = await read_head(response, channel, scan)
        if isinstance(head, Answer):
            return call, head
        return Relayed(response, head, scan)

    @staticmethod
    async def _pass(exchange: Exchange, channel: Channel, relayed: Relayed) -> None:
        ctx = exchange.ctx
        response = relayed.response
        content_type = (response.headers.get("content-type") or "application/json").encode("latin-1")
        headers = [(b"content-type", content_type), *exchange.headers,
                   (b"x-omnirouter-attempts", str(ctx.attempts).encode())]  # fmt: skip
        passing = Passing(relayed.scan, content_type)
        send, receive = exchange.send, exchange.receive
        await pump_audio(response, passing, passing, ctx, channel, send, receive, headers, relayed.head)

    async def _calls(
        self,
        upstream: MediaUpstream[Req, Res],
        request: Req,
        target: Target,
        key: str,
        attempt: Attempt,
        first: tuple[UpstreamCall, Answer] | None = None,
    ) -> Res | OpenStream:
        """The calls of a whole-answer attempt (``transport.follow_calls``); ``first``: the first call, already
        answered."""
        answered = first[1] if first is not None else None

        async def answer(call: UpstreamCall) -> Answer | OpenStream:
            nonlocal answered
            if answered is not None:
                done, answered = answered, None
                return done
            if call.stream:  # may be answered as SSE: then relayed as it comes (relay/media_sse.py)
                return await open_media_stream(self._client, attempt.channel, call, key, upstream, request, target)
            return await self._answer(call, key, attempt, upstream)

        return await follow_calls(upstream, request, target, answer, first[0] if first is not None else None)

    async def _answer(
        self, call: UpstreamCall, key: str, attempt: Attempt, upstream: MediaUpstream[Any, Any]
    ) -> Answer:
        channel = attempt.channel
        response = await open_call(self._client, channel, call, key, upstream.decode_error)
        body = await read_answer(response, channel)
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(response.status, headers, body)
