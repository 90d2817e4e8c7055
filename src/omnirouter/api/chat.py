"""The chat route: authenticate, read and check the body, plan attempts, run them, record usage."""

from __future__ import annotations

import time
from typing import Any, Protocol

import orjson

from omnirouter.accounts import check_access
from omnirouter.billing import Reservation
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import (
    JSON_HEADERS,
    SSE_HEADERS,
    ClientDisconnected,
    Headers,
    Receive,
    Scope,
    Send,
    read_body,
    send_response,
)
from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.limits import Lease
from omnirouter.protocols.base import Codec
from omnirouter.protocols.image_urls import check_image_urls
from omnirouter.relay.chat import ChatCall
from omnirouter.relay.context import RequestContext
from omnirouter.routing import plan_with_fallbacks
from omnirouter.routing.executor import run_attempts
from omnirouter.storage import KeyRecord
from omnirouter.usage import UsageRecord


class ChatExtension(Protocol):
    """Protocol-specific work around a chat request: rewrite the body first, watch the answer go out.

    ``prepare`` returns the body itself when it keeps it, or a new dict (never edits it in place).
    """

    async def prepare(self, body: dict[str, Any], key: KeyRecord) -> dict[str, Any]: ...

    def wrap_send(self, send: Send, key: KeyRecord) -> Send: ...


def error_headers(ctx: RequestContext, error: GatewayError) -> Headers:
    """Headers of an error response: JSON, our request id, attempts, and Retry-After when known."""
    headers = [
        *JSON_HEADERS,
        (b"x-request-id", ctx.request_id.encode()),
        (b"x-omnirouter-attempts", str(ctx.attempts).encode()),
    ]
    if error.retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(error.retry_after))).encode()))
    return headers


async def send_error(send: Send, inbound: Codec, ctx: RequestContext, error: GatewayError) -> None:
    """Answer with ``error`` in the client's protocol and note it in the context."""
    ctx.status, ctx.error_kind = error.status, error.kind.value
    status, payload = inbound.encode_error(error)
    await send_response(send, status, payload, error_headers(ctx, error))


async def handle_chat(
    gateway: Gateway,
    inbound: Codec,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    path_model: str | None = None,
    path_stream: bool | None = None,
    extension: ChatExtension | None = None,
    stream_headers: Headers = SSE_HEADERS,
) -> None:
    """Serve one chat request from a client speaking ``inbound``.

    ``path_model`` / ``path_stream`` come from the URL where the protocol puts them there (Gemini);
    ``extension`` adds protocol-specific state handling (the Responses API's stored conversations).
    """
    ctx = RequestContext(inbound.name.value)
    key: KeyRecord | None = None
    lease: Lease | None = None
    reservation: Reservation | None = None
    try:
        key = gateway.auth.authenticate(scope)
        ctx.key_id, ctx.key_name, ctx.user_id = key.id, key.name, key.user_id
        text = await read_body(receive, gateway.config.max_body_bytes, scope)
        body = parse_json_object(text)
        raw: bytes | None = text  # the client's JSON text of ``body``, reused by pass-through adapters
        if extension is not None:
            prepared = await extension.prepare(body, key)
            if prepared is not body:  # rewritten: the client's text no longer says the same
                body, raw = prepared, None
            send = extension.wrap_send(send, key)
        model = body.get("model") if path_model is None else path_model
        if not isinstance(model, str) or not model:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'model' is required and must be a string.", param="model")
        ctx.model = model
        stream = body.get("stream") if path_stream is None else path_stream
        if stream is not None and not isinstance(stream, bool):
            raise GatewayError(ErrorKind.INVALID_REQUEST, "'stream' must be a boolean.", param="stream")
        ctx.stream = stream is True
        if inbound.passthrough is not None:
            inbound.passthrough.check(body)
        check_image_urls(inbound.name, body)  # relayed bodies are never decoded: refuse file:// etc. here
        check_access(key, scope, model)
        attempts = plan_with_fallbacks(model, gateway.catalog.channels_for, gateway.config.fallbacks)
        if not attempts:
            raise GatewayError(
                ErrorKind.NOT_FOUND,
                f"The model '{model}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        lease = await gateway.limiter.acquire(key)
        reservation = await gateway.billing.reserve(ctx, key, body, attempts)
        if not reservation.stored:  # no reservation row marks it in flight: the usage journal does
            gateway.recorder.started(ctx.request_id, model, ctx.inbound_protocol, key.id, key.name, key.user_id)
        headers: Headers = [(b"x-request-id", ctx.request_id.encode())]
        call = ChatCall(
            gateway.client,
            gateway.images,
            ctx,
            inbound,
            body,
            raw,
            send,
            receive,
            headers,
            stream_headers,
            gateway.config.routing.keepalive_interval,
        )
        await run_attempts(attempts, ctx, call.run, gateway.config.routing)
    except GatewayError as error:
        await send_error(send, inbound, ctx, error)
    except ClientDisconnected:
        ctx.status, ctx.error_kind = 499, "client_disconnected"
    finally:
        if key is not None:
            # Settle and record first (synchronous, cannot be lost to a failing await), then free the lease.
            reserved = gateway.billing.settle(ctx, key, reservation)
            gateway.recorder.record(usage_record(ctx), reserved=reserved)
            if lease is not None:
                usage = ctx.usage
                await gateway.limiter.release(lease, usage.input_tokens + usage.output_tokens if usage else 0)


def usage_record(ctx: RequestContext) -> UsageRecord:
    """The usage row of ``ctx``'s request as it stands now (usage sits above relay: it is built here)."""
    usage = ctx.usage or _NO_USAGE
    return UsageRecord(
        request_id=ctx.request_id,
        model=ctx.model,
        inbound_protocol=ctx.inbound_protocol,
        status_code=ctx.status,
        latency_ms=(time.perf_counter() - ctx.started) * 1000.0,
        key_id=ctx.key_id,
        key_name=ctx.key_name,
        upstream_model=ctx.upstream_model,
        channel=ctx.channel,
        provider=ctx.provider,
        stream=ctx.stream,
        error_kind=ctx.error_kind,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        usage_estimated=usage.estimated,
        ttfb_ms=ctx.ttfb * 1000.0 if ctx.ttfb is not None else None,
        attempts=ctx.attempts,
        attempt_log=orjson.dumps(ctx.attempt_log).decode() if ctx.attempt_log else None,
        user_id=ctx.user_id,
        cost_nano=ctx.cost_nano,
    )


_NO_USAGE = Usage()
