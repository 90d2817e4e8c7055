"""``GET /v1/realtime?model=…``: one realtime session from handshake to its last usage row.

auth (header or subprotocol key) → model and access → plan (the channels serving the model whose
provider speaks the client's realtime generation, ``providers/realtime.py``, by priority, then the
fallback models') → rate limit → reserve the first response → open the upstream socket, falling back to
the next channel while none is open → accept the client (echoing ``realtime``) → relay → settle and
release in one ``finally``.  Anything refused before the upstream socket is open is refused on the
HTTP handshake (400/401/403/404/429/502/503 in OpenAI's error shape), so a wrong key never opens an
upstream socket.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection

from omnirouter.accounts import check_access
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.limits import Lease
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.providers.realtime import RealtimeGeneration, realtime_wire
from omnirouter.realtime.frames import response_usage
from omnirouter.realtime.handshake import ClientHello, read_hello, upstream_headers, upstream_url
from omnirouter.realtime.meter import PROTOCOL, SessionMeter
from omnirouter.realtime.relay import End, close_upstream, error_event, relay
from omnirouter.realtime.tally import TextTally
from omnirouter.realtime.upstream import open_socket
from omnirouter.relay.context import RequestContext
from omnirouter.routing import Attempt, plan_with_fallbacks
from omnirouter.routing.executor import run_attempts
from omnirouter.storage import KeyRecord

__all__ = ["RealtimeEndpoint"]

log = logging.getLogger("omnirouter.realtime")


async def deny(scope: Scope, send: Send, error: GatewayError) -> None:
    """Refuse a handshake with an HTTP answer in OpenAI's error shape (a plain close where the server lacks
    the ASGI denial-response extension)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
        return
    status, payload = OPENAI_CHAT.encode_error(error)
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(payload))]
    if error.retry_after is not None:
        headers.append((b"retry-after", b"%d" % max(1, round(error.retry_after))))
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": payload})


class _Opened:
    """The upstream socket the attempts opened, and the attempt it belongs to."""

    socket: ClientConnection | None = None
    attempt: Attempt | None = None


class RealtimeEndpoint:
    """The realtime route's handler (one per worker)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def _authenticate(self, hello: ClientHello) -> KeyRecord:
        headers: list[tuple[bytes, bytes]] = []
        if hello.key is not None:
            headers.append((b"authorization", b"Bearer " + hello.key.encode("latin-1", "replace")))
        return self.gateway.auth.authenticate({"headers": headers, "query_string": b""})

    def _plan(self, model: str, beta: bool) -> list[Attempt]:
        """The attempts whose channels serve realtime in the client's generation (Azure's deployment URL
        speaks only the preview (beta) events, Azure v1 only GA: a client is never relayed to events it
        does not expect)."""
        gateway = self.gateway
        attempts = plan_with_fallbacks(model, gateway.catalog.channels_for, gateway.config.fallbacks)
        serving = [(a, wire) for a in attempts if (wire := realtime_wire(a.channel.spec.kind)) is not None]
        if not serving:
            raise GatewayError(
                ErrorKind.NOT_FOUND,
                f"The model '{model}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        generation = RealtimeGeneration.BETA if beta else RealtimeGeneration.GA
        fitting = [a for a, wire in serving if generation in wire.generations]
        if not fitting:
            if beta:
                how = "GA realtime events; connect without the 'OpenAI-Beta: realtime=v1' header (client.realtime)"
            else:
                how = "beta (preview) realtime events; connect with 'OpenAI-Beta: realtime=v1' (client.beta.realtime)"
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"The model '{model}' is served here only with {how}.",
                               code="unsupported_realtime_generation", param="model")  # fmt: skip
        return fitting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one handshake and, once accepted, its session."""
        if (await receive())["type"] != "websocket.connect":
            return
        gateway = self.gateway
        config = gateway.config.realtime
        ctx = RequestContext(PROTOCOL)
        ctx.stream = True
        key: KeyRecord | None = None
        lease: Lease | None = None
        meter: SessionMeter | None = None
        opened = _Opened()
        accepted = False
        end = End(None, None, status=499, error_kind="client_disconnected")
        try:
            hello = read_hello(scope)
            key = self._authenticate(hello)
            ctx.key_id, ctx.key_name, ctx.user_id = key.id, key.name, key.user_id
            if not hello.model:
                raise GatewayError(ErrorKind.INVALID_REQUEST, "Missing required parameter: 'model'.",
                                   code="missing_required_parameter", param="model")  # fmt: skip
            ctx.model = hello.model
            check_access(key, scope, hello.model)
            attempts = self._plan(hello.model, hello.beta_header is not None)
            lease = await gateway.limiter.acquire(key)
            meter = SessionMeter(gateway, key, ctx, config)
            await meter.reserve(attempts)

            async def open_one(attempt: Attempt, upstream_key: str) -> None:
                channel = attempt.channel
                url = upstream_url(channel, attempt.upstream_model)
                headers = upstream_headers(dict(channel.headers(upstream_key)), hello.beta_header)
                opened.socket = await open_socket(url, headers, config, channel.name, channel.secrets())
                opened.attempt = attempt

            await run_attempts(attempts, ctx, open_one, gateway.config.routing)
            socket, attempt = opened.socket, opened.attempt
            assert socket is not None and attempt is not None
            attempt.channel.in_flight += 1  # the session counts against the channel's concurrency
            try:
                accept: dict[str, Any] = {
                    "type": "websocket.accept",
                    "headers": [(b"x-request-id", ctx.request_id.encode())],
                }
                if hello.subprotocol is not None:
                    accept["subprotocol"] = hello.subprotocol
                await send(accept)
                accepted = True
                ctx.mark_first_byte()
                charge, estimate, tally = meter.charge, meter.estimate, TextTally()

                async def on_done(event: dict[str, Any]) -> GatewayError | None:
                    counts = tally.finish(event)  # always: this response's output joins the conversation
                    usage = response_usage(event)
                    return await charge(usage if usage is not None else estimate(counts, attempt), attempt)

                end = await relay(receive, send, socket, attempt.upstream_model, config, on_done, tally)
            finally:
                attempt.channel.in_flight -= 1
        except GatewayError as error:
            end = End(None, None, status=error.status, error_kind=error.kind.value)
            if not accepted:
                await deny(scope, send, error)
            else:
                await _close_client(send, error)
        except Exception:
            log.exception("realtime session %s failed", ctx.request_id)
            end = End(None, None, status=500, error_kind=ErrorKind.INTERNAL.value)
            failure = GatewayError(ErrorKind.INTERNAL, "The gateway failed while relaying this session.")
            if accepted:
                await _close_client(send, failure)
            else:
                await deny(scope, send, failure)
        finally:
            if opened.socket is not None:
                await close_upstream(opened.socket)
            if meter is not None:
                meter.close(end.status, end.error_kind)  # synchronous: cannot be lost to a failing await
            if lease is not None:
                await gateway.limiter.release(lease, meter.tokens if meter is not None else 0)


async def _close_client(send: Send, error: GatewayError) -> None:
    with contextlib.suppress(Exception):  # the client may be gone already
        await send({"type": "websocket.send", "text": orjson.dumps(error_event(error)).decode()})
        await send({"type": "websocket.close", "code": 1011, "reason": ""})
