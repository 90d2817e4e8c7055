"""A chat request as an operation of the lifecycle: read and checked once, then run against attempts
(pass-through when both sides speak the same protocol, else translated through the IR)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
import orjson

from omnirouter.http.asgi import JSON_HEADERS, SSE_HEADERS, Headers, send_response
from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ChatRequest, ErrorKind, GatewayError, Usage
from omnirouter.protocols.base import Codec, ProtocolName, StreamDecoder, StreamFilter
from omnirouter.protocols.budget import chat_budget
from omnirouter.protocols.image_urls import check_image_urls
from omnirouter.protocols.limits import client_json
from omnirouter.providers import IMAGE_URL_PROTOCOLS
from omnirouter.relay.adapt import fit_to_upstream
from omnirouter.relay.context import text_bytes
from omnirouter.relay.image_output import MarkdownImages, response_as_markdown, wants_markdown
from omnirouter.relay.images import inline_images, needs_inlining
from omnirouter.relay.operation import Exchange, Inbound
from omnirouter.relay.stream_pump import KeepAlive, pump_stream
from omnirouter.relay.translated import TranslatingStreamFilter
from omnirouter.routing import Attempt
from omnirouter.storage import KeyRecord
from omnirouter.transport import (
    RETRYABLE_STATUSES,
    AttemptFailure,
    ChatResponse,
    ImageFetcher,
    UpstreamClient,
    classify_transport_error,
    open_upstream,
    overran,
    read_answer,
    scrubbed,
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


def _estimator(exchange: Exchange, attempt: Attempt) -> Callable[[bytes], Usage] | None:
    """The usage a translated stream of ``attempt`` shows when its upstream streamed none: billing's estimate
    from what was relayed so far plus ``tail`` (the last events, not yet sent)."""
    estimate = exchange.estimate
    if estimate is None:
        return None
    ctx = exchange.ctx

    def usage(tail: bytes) -> Usage:
        text = ctx.relayed_text() + text_bytes(tail)
        return estimate(attempt.public_model, attempt.channel.name, text, ctx.relayed_bytes + len(tail))

    return usage


class ChatExtension(Protocol):
    """Protocol-specific work around a chat request: rewrite the body first, see the answer last.

    ``prepare`` returns the body itself when it keeps it, or a new dict (never edits it in place).
    ``answered`` gets the answer object the client is sent (a whole response, or the one a stream ends
    with, see ``StreamFilter.answer``) before the client has it; it must not raise.
    """

    async def prepare(self, body: dict[str, Any], key: KeyRecord) -> dict[str, Any]: ...

    async def answered(self, answer: dict[str, Any], key: KeyRecord) -> None: ...


class ChatOperation:
    """One client chat request in one protocol (an ``Operation``): read, checked, run against attempts."""

    __slots__ = (
        "_body",
        "_client",
        "_extension",
        "_images",
        "_inbound",
        "_inlined",
        "_keepalive_interval",
        "_key",
        "_path_model",
        "_path_stream",
        "_raw",
        "_request",
        "_stream_headers",
        "body_limit",
        "model",
        "protocol",
        "stream",
    )

    def __init__(
        self,
        inbound: Codec,
        client: UpstreamClient,
        images: ImageFetcher,
        *,
        keepalive_interval: float = 15.0,
        path_model: str | None = None,
        path_stream: bool | None = None,
        extension: ChatExtension | None = None,
        stream_headers: Headers = SSE_HEADERS,
    ) -> None:
        """``path_model`` / ``path_stream`` come from the URL where the protocol puts them there (Gemini);
        ``extension`` adds protocol-specific state (the Responses API's stored conversations)."""
        self._inbound = inbound
        self.protocol = inbound.name.value
        """The client's protocol, as the usage row names it."""
        self._client = client
        self._images = images
        self._keepalive_interval = keepalive_interval
        self._path_model = path_model
        self._path_stream = path_stream
        self._extension = extension
        self._stream_headers = stream_headers
        self._body: dict[str, Any] = {}
        self._raw: bytes | None = None  # the client's JSON text of ``body``; None when the gateway rewrote it
        self._key: KeyRecord | None = None
        self._request: ChatRequest | None = None
        self._inlined: ChatRequest | None = None
        self.model = ""
        self.stream = False
        self.body_limit: int | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The request's JSON object, once ``read`` (never to be edited)."""
        return self._body

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return self._inbound.encode_error(error)

    async def read(self, body: bytes, key: KeyRecord) -> Inbound:
        """The body as JSON, the model and streaming, and the checks pass-through relies on."""
        inbound = self._inbound
        parsed = parse_json_object(body)
        self._raw, self._key = body, key
        if self._extension is not None:
            prepared = await self._extension.prepare(parsed, key)
            if prepared is not parsed:  # rewritten: the client's text no longer says the same
                parsed, self._raw = prepared, None
        self._body = parsed
        model = parsed.get("model") if self._path_model is None else self._path_model
        if not isinstance(model, str) or not model:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'model' is required and must be a string.", param="model")
        stream = parsed.get("stream") if self._path_stream is None else self._path_stream
        if stream is not None and not isinstance(stream, bool):
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'stream' must be a boolean.", param="stream")
        self.model, self.stream = model, stream is True
        if inbound.passthrough is not None:
            inbound.passthrough.check(parsed)
        check_image_urls(inbound.name, parsed)  # relayed bodies are never decoded: refuse file:// etc. here
        return Inbound(model, self.stream)

    def ready(self, attempts: list[Attempt]) -> list[Attempt]:
        """The attempts on channels that chat (not a rerank or speech vendor's); the request decoded now if
        any of them will translate it: a malformed one is a 400 before any reservation or attempt.  A
        plan of pass-through attempts only relays the body as it is."""
        for attempt in attempts:
            if not attempt.channel.spec.chats:
                attempts = [attempt for attempt in attempts if attempt.channel.spec.chats]
                if not attempts:
                    raise GatewayError(
                        ErrorKind.INVALID_REQUEST,
                        f"The model '{self.model}' is not a chat model on this gateway.",
                        code="model_not_supported",
                        param="model",
                    )
                break
        inbound = self._inbound
        if inbound.passthrough is not None:
            name = inbound.name
            for attempt in attempts:
                codec = attempt.channel.codec(attempt.protocol)
                if attempt.protocol != name or codec.passthrough is None or attempt.thinking is not None:
                    break
            else:
                return attempts
        self._ir_request()
        return attempts

    def bound(self) -> Budget:
        return chat_budget(self._body, len(orjson.dumps(self._body)))  # the size as JSON, whatever the spacing

    def _ir_request(self) -> ChatRequest:
        if self._request is None:
            decoded = self._inbound.decode_request(self._body)
            # The route knows the model and streaming (for Gemini they are in the URL, not the body).
            self._request = msgspec.structs.replace(decoded, model=self.model, stream=self.stream)
        return self._request

    async def _request_for(self, protocol: ProtocolName) -> ChatRequest:
        """The neutral request, with image URLs inlined when ``protocol``'s upstreams cannot fetch them."""
        request = self._ir_request()
        if protocol in IMAGE_URL_PROTOCOLS or not needs_inlining(request):
            return request
        if self._inlined is None:
            self._inlined = await inline_images(self._images, self._client.session, request)
        return self._inlined

    async def _answered(self, answer: dict[str, Any]) -> None:
        if self._extension is not None and self._key is not None:
            await self._extension.answered(answer, self._key)

    async def run(self, exchange: Exchange, attempt: Attempt, upstream_key: str) -> None:
        """Serve the request through ``attempt``; raises AttemptFailure before any client byte."""
        ctx = exchange.ctx
        send = exchange.send
        answered = self._answered if self._extension is not None else None
        upstream_protocol = attempt.protocol
        upstream_codec = attempt.channel.codec(upstream_protocol)
        # A vendor's dialect codec has no pass-through: its answers are normalized for every client.  A
        # thinking alias (``…-nothinking``) is translated too: the switch it names is set on the way.
        # The upstream codec's adapter: a vendor's Anthropic endpoint edits the body on the way (its rules).
        passthrough = (
            upstream_codec.passthrough
            if upstream_protocol == self._inbound.name
            and upstream_codec.passthrough is not None
            and attempt.thinking is None
            else None
        )
        stream = self.stream
        headers = [*exchange.headers, (b"x-omnirouter-attempts", str(ctx.attempts).encode())]
        if passthrough is not None:
            prepared = passthrough.prepare(self._body, attempt.upstream_model, stream, self._raw)
            data, wants_usage = prepared.data, prepared.client_wants_usage
        else:
            outbound = fit_to_upstream(await self._request_for(upstream_protocol), attempt)
            data = client_json(upstream_codec.encode_request(outbound))
        if stream:
            response = await self._open_stream(attempt, upstream_key, data, upstream_codec)
            relay: StreamFilter
            if passthrough is not None:
                relay = passthrough.new_stream_filter(attempt.public_model, wants_usage)
            else:
                client_request = msgspec.structs.replace(self._ir_request(), model=attempt.public_model)
                decoder: StreamDecoder = upstream_codec.new_stream_decoder()
                if wants_markdown(attempt):
                    decoder = MarkdownImages(decoder)
                encoder = self._inbound.new_stream_encoder(client_request)
                relay = TranslatingStreamFilter(decoder, encoder, _estimator(exchange, attempt))
            await pump_stream(
                response,
                relay,
                ctx,
                attempt.channel,
                send,
                exchange.receive,
                self._stream_headers + headers,
                KeepAlive(self._inbound.keepalive, self._keepalive_interval),
                answered,
            )
            return
        raw = await self._fetch(attempt, upstream_key, data, upstream_codec)
        try:
            if passthrough is not None:
                out, ctx.usage = passthrough.rewrite_response(raw, attempt.public_model)
            else:
                out, ctx.usage = self._translate_response(upstream_codec, raw, attempt)
        except GatewayError as error:
            # An answer that is no answer (not JSON: another channel may do better), or an error the vendor
            # reported inside it (MiniMax's base_resp), retried or not by the status it stands for, like an
            # error status: a parameter the vendor rejects is not sent again.
            status = error.status
            retryable = status in RETRYABLE_STATUSES or status >= 500
            raise AttemptFailure(scrubbed(error, attempt), retryable, upstream_status=status) from None
        if answered is not None:
            await answered(orjson.loads(out))
        ctx.mark_first_byte()
        await send_response(send, 200, out, JSON_HEADERS + headers)
        ctx.note_relayed(out)

    async def _open_stream(self, attempt: Attempt, key: str, data: bytes, codec: Codec) -> ChatResponse:
        """Start a streamed call; its response headers must come within the channel's first-byte limit."""
        channel = attempt.channel
        try:
            async with asyncio.timeout(min(channel.first_byte_timeout, channel.total_timeout)):
                return await open_upstream(self._client.chat, attempt, key, data, True, codec)
        except TimeoutError as exc:
            raise AttemptFailure(classify_transport_error(exc, channel.name), retryable=True) from None

    async def _fetch(self, attempt: Attempt, key: str, data: bytes, codec: Codec) -> bytes:
        """A plain call: all of it (an error body too) within the channel's total limit, on one timer.

        The upstream may not fall silent for longer than the channel's first-byte limit (the chat
        client's read timeout), nor answer with more than its ``max_body_bytes``.
        """
        channel = attempt.channel
        loop = asyncio.get_running_loop()
        deadline = _Deadline(asyncio.current_task())
        handle = loop.call_at(loop.time() + channel.total_timeout, deadline.fire)
        try:
            response = await open_upstream(self._client.chat, attempt, key, data, False, codec)
            return await read_answer(response, channel)
        except asyncio.CancelledError:
            if not deadline.fired or deadline.task.uncancel():
                raise  # not (only) ours: the request itself is being cancelled
            raise overran(channel.name, channel.total_timeout) from None
        finally:
            handle.cancel()

    def _translate_response(self, upstream_codec: Codec, raw: bytes, attempt: Attempt) -> tuple[bytes, Usage | None]:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise GatewayError(ErrorKind.UPSTREAM, "upstream returned a response that is not JSON") from None
        if not isinstance(parsed, dict):
            raise GatewayError(ErrorKind.UPSTREAM, "upstream returned an unexpected response shape")
        response = upstream_codec.decode_response(parsed)
        response.model = attempt.public_model
        if wants_markdown(attempt):
            response = response_as_markdown(response)
        return orjson.dumps(self._inbound.encode_response(response)), response.usage
