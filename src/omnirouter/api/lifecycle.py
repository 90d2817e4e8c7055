"""The one request lifecycle: every operation is served by ``serve``, which holds the money.

auth → read (the operation parses and checks its request) → access → plan → ready (checks the plan
needs, e.g. a decoded request) → rate limit → reserve → attempts → settle, record and release in one
``finally`` that runs whatever happened (an error, a disconnect, a cancellation).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable

import orjson

from omnirouter.accounts import check_access
from omnirouter.billing import Outcome, Reservation
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    error_headers,
    read_body,
    send_response,
)
from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.limits import Lease
from omnirouter.relay.context import RequestContext
from omnirouter.relay.operation import Exchange, Operation
from omnirouter.routing import plan_with_fallbacks
from omnirouter.routing.executor import run_attempts
from omnirouter.storage import KeyRecord
from omnirouter.usage import UsageRecord, usage_columns

__all__ = ["ConsoleAuth", "serve", "usage_record"]

ConsoleAuth = Callable[[Scope, GatewayError], Awaitable[KeyRecord]]
"""For a request that carries no client key: the key a console playground request is billed to
(``dashboard/sessions.py``: the admin session, its CSRF token and the key it chose), else raises the error."""


async def serve(
    gateway: Gateway,
    operation: Operation,
    scope: Scope,
    receive: Receive,
    send: Send,
    console: ConsoleAuth | None = None,
) -> None:
    """Serve one request of ``operation`` from start to ledger row (``console``: the chat routes accept the
    console's playground, asked only when the request carries no key)."""
    ctx = RequestContext(operation.protocol)
    key: KeyRecord | None = None
    lease: Lease | None = None
    reservation: Reservation | None = None
    try:
        try:
            key = gateway.auth.authenticate(scope)
        except GatewayError as missing:
            if console is None or missing.code != "missing_api_key":
                raise
            key = await console(scope, missing)
        ctx.key_id, ctx.key_name, ctx.user_id = key.id, key.name, key.user_id
        text = await read_body(receive, operation.body_limit or gateway.config.max_body_bytes, scope)
        inbound = await operation.read(text, key)
        model = ctx.model = inbound.model
        ctx.stream = inbound.stream
        check_access(key, scope, model)
        attempts = plan_with_fallbacks(model, gateway.catalog.channels_for, gateway.config.fallbacks)
        if not attempts:
            raise GatewayError(
                ErrorKind.NOT_FOUND,
                f"The model '{model}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        attempts = operation.ready(attempts)
        lease = await gateway.limiter.acquire(key)
        reservation = await gateway.billing.reserve(ctx.request_id, model, key, attempts, operation.bound)
        if not reservation.stored:  # no reservation row marks it in flight: the usage journal does
            gateway.recorder.started(ctx.request_id, model, ctx.inbound_protocol, key.id, key.name, key.user_id)
        estimate = functools.partial(gateway.billing.estimate, reservation)
        exchange = Exchange(ctx, send, receive, [(b"x-request-id", ctx.request_id.encode())], estimate)
        await run_attempts(attempts, ctx, functools.partial(operation.run, exchange), gateway.config.routing)
    except GatewayError as error:
        ctx.status, ctx.error_kind = error.status, error.kind.value
        status, payload = operation.encode_error(error)
        request_id = (b"x-request-id", ctx.request_id.encode())
        headers = error_headers(error.retry_after, request_id, (b"x-omnirouter-attempts", str(ctx.attempts).encode()))
        await send_response(send, status, payload, headers)
    except ClientDisconnected:
        ctx.status, ctx.error_kind = 499, "client_disconnected"
    finally:
        if key is not None:
            # Settle and record first (synchronous, cannot be lost to a failing await), then free the lease.
            outcome = Outcome(
                ctx.request_id, ctx.usage, ctx.served, ctx.error_kind is not None, ctx.relayed_bytes, ctx.relayed_text
            )
            settled = gateway.billing.settle(outcome, key, reservation)
            ctx.cost_nano, ctx.usage = settled.cost_nano, settled.usage
            gateway.recorder.record(usage_record(ctx), reserved=settled.reserved)
            if lease is not None:
                usage = ctx.usage
                await gateway.limiter.release(lease, usage.input_tokens + usage.output_tokens if usage else 0)


def usage_record(ctx: RequestContext) -> UsageRecord:
    """The usage row of ``ctx``'s request as it stands now (usage sits above relay: it is built here)."""
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
        ttfb_ms=ctx.ttfb * 1000.0 if ctx.ttfb is not None else None,
        attempts=ctx.attempts,
        attempt_log=orjson.dumps(ctx.attempt_log).decode() if ctx.attempt_log else None,
        user_id=ctx.user_id,
        cost_nano=ctx.cost_nano,
        **usage_columns(ctx.usage or _NO_USAGE),
    )


_NO_USAGE = Usage()
