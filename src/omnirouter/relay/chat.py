"""Run one chat attempt: pass-through when both sides speak the same protocol, else translate."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import orjson

from omnirouter.http.asgi import JSON_HEADERS, SSE_HEADERS, Headers, Receive, Send, send_response
from omnirouter.ir import ChatRequest, ErrorKind, GatewayError
from omnirouter.protocols.base import Codec, ProtocolName, StreamFilter
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.registry import codec_for
from omnirouter.providers import IMAGE_URL_PROTOCOLS
from omnirouter.relay.adapt import fit_to_upstream
from omnirouter.relay.context import RequestContext
from omnirouter.relay.images import inline_images, needs_inlining
from omnirouter.relay.stream_pump import KeepAlive, pump_stream
from omnirouter.relay.translated import TranslatingStreamFilter
from omnirouter.routing import Attempt
from omnirouter.transport import (
    AttemptFailure,
    ImageFetcher,
    UpstreamClient,
    UpstreamResponse,
    classify_transport_error,
    open_upstream,
    read_answer,
)


class _Deadline:
    """A plain call's total limit: when it fires, the call's task is cancelled (and knows why)."""

    __slots__ = ("fired", "task")

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        assert task is not None
        self.task = task
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        self.task.cancel()


class ChatCall:
    """One client chat request, ready to be run against attempts in turn."""

    def __init__(
        self,
        client: UpstreamClient,
        images: ImageFetcher,
        ctx: RequestContext,
        inbound: Codec,
        body: dict[str, Any],
        raw: bytes | None,
        send: Send,
        receive: Receive,
        headers: Headers,
        stream_headers: Headers = SSE_HEADERS,
        keepalive_interval: float = 15.0,
    ) -> None:
        self._client = client
        self._images = images
        self._ctx = ctx
        self._inbound = inbound
        self._body = body
        self._raw = raw  # the client's JSON text of ``body``; None when the gateway rewrote the body
        self._send = send
        self._receive = receive
        self._headers = headers
        self._stream_headers = stream_headers
        self._keepalive = KeepAlive(inbound.keepalive, keepalive_interval)
        self._request: ChatRequest | None = None
        self._inlined: ChatRequest | None = None

    def _ir_request(self) -> ChatRequest:
        if self._request is None:
            decoded = self._inbound.decode_request(self._body)
            # The route knows the model and streaming (for Gemini they are in the URL, not the body).
            self._request = msgspec.structs.replace(decoded, model=self._ctx.model, stream=self._ctx.stream)
        return self._request

    async def _request_for(self, protocol: ProtocolName) -> ChatRequest:
        """The neutral request, with image URLs inlined when ``protocol``'s upstreams cannot fetch them."""
        request = self._ir_request()
        if protocol in IMAGE_URL_PROTOCOLS or not needs_inlining(request):
            return request
        if self._inlined is None:
            self._inlined = await inline_images(self._images, self._client.session, request)
        return self._inlined

    async def run(self, attempt: Attempt, key: str) -> None:
        """Serve the request through ``attempt`` with upstream ``key``; raises AttemptFailure before any client byte."""
        upstream_protocol = attempt.protocol
        upstream_codec = codec_for(upstream_protocol)
        passthrough = self._inbound.passthrough if upstream_protocol == self._inbound.name else None
        stream = self._ctx.stream
        headers = [*self._headers, (b"x-omnirouter-attempts", str(self._ctx.attempts).encode())]
        if passthrough is not None:
            prepared = passthrough.prepare(self._body, attempt.upstream_model, stream, self._raw)
            data, wants_usage = prepared.data, prepared.client_wants_usage
        else:
            outbound = fit_to_upstream(await self._request_for(upstream_protocol), attempt)
            data = client_json(upstream_codec.encode_request(outbound))
        if stream:
            response = await self._open_stream(attempt, key, data, upstream_codec)
            relay: StreamFilter
            if passthrough is not None:
                relay = passthrough.new_stream_filter(attempt.public_model, wants_usage)
            else:
                client_request = msgspec.structs.replace(self._ir_request(), model=attempt.public_model)
                relay = TranslatingStreamFilter(
                    upstream_codec.new_stream_decoder(), self._inbound.new_stream_encoder(client_request)
                )
            await pump_stream(
                response,
                relay,
                self._ctx,
                attempt.channel,
                self._send,
                self._receive,
                self._stream_headers + headers,
                self._keepalive,
            )
            return
        raw = await self._fetch(attempt, key, data, upstream_codec)
        try:
            if passthrough is not None:
                out, self._ctx.usage = passthrough.rewrite_response(raw, attempt.public_model)
            else:
                out = self._translate_response(upstream_codec, raw, attempt.public_model)
        except GatewayError as error:
            raise AttemptFailure(error, retryable=True) from None
        self._ctx.mark_first_byte()
        await send_response(self._send, 200, out, JSON_HEADERS + headers)
        self._ctx.note_relayed(out)

    async def _open_stream(self, attempt: Attempt, key: str, data: bytes, codec: Codec) -> UpstreamResponse:
        """Start a streamed call; its response headers must come within the channel's first-byte limit."""
        channel = attempt.channel
        try:
            async with asyncio.timeout(min(channel.first_byte_timeout, channel.total_timeout)):
                return await open_upstream(self._client.session, attempt, key, data, True, codec)
        except TimeoutError as exc:
            raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None

    async def _fetch(self, attempt: Attempt, key: str, data: bytes, codec: Codec) -> bytes:
        """A plain call: all of it (an error body too) within the channel's total limit, on one timer.

        The upstream may not fall silent for longer than the channel's first-byte limit (aiohttp's
        read timeout), nor answer with more than its ``max_body_bytes``.
        """
        channel = attempt.channel
        loop = asyncio.get_running_loop()
        deadline = _Deadline(asyncio.current_task())
        handle = loop.call_at(loop.time() + channel.total_timeout, deadline.fire)
        try:
            response = await open_upstream(self._client.session, attempt, key, data, False, codec)
            return await read_answer(response, channel)
        except asyncio.CancelledError:
            if not deadline.fired or deadline.task.uncancel():
                raise  # not (only) ours: the request itself is being cancelled
            error = GatewayError(
                ErrorKind.UPSTREAM_TIMEOUT,
                f"upstream channel {channel.name!r} took longer than {channel.total_timeout:g}s in all",
            )
            raise AttemptFailure(error, retryable=True) from None
        finally:
            handle.cancel()

    def _translate_response(self, upstream_codec: Codec, raw: bytes, public_model: str) -> bytes:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise GatewayError(ErrorKind.UPSTREAM, "upstream returned a response that is not JSON") from None
        if not isinstance(parsed, dict):
            raise GatewayError(ErrorKind.UPSTREAM, "upstream returned an unexpected response shape")
        response = upstream_codec.decode_response(parsed)
        response.model = public_model
        self._ctx.usage = response.usage
        return orjson.dumps(self._inbound.encode_response(response))
