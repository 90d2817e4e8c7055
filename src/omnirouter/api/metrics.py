"""``GET /metrics``: the Prometheus exposition of every worker's metrics (docs/observability.md).

Open unless the config sets ``metrics_key``; then only ``Authorization: Bearer <metrics_key>`` is
answered (anything else: a 401 in the OpenAI error shape).
"""

from __future__ import annotations

import hashlib
import hmac

from prometheus_client import CONTENT_TYPE_LATEST

from omnirouter.api.errors import CLIENT_ERRORS
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send, header, send_response
from omnirouter.http.routes import Route, RouteDoc
from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["MetricsEndpoint"]

_HEADERS = [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"cache-control", b"no-store")]


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class MetricsEndpoint:
    """The metrics route of one worker."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        key = gateway.config.metrics_key
        self._key_digest = _digest(key.encode()) if key else None

    def route(self) -> Route:
        doc = RouteDoc(answers=("text/plain",), errors=(401,), tag="observability")
        summary = "Prometheus metrics of every worker (text format); behind 'Bearer <metrics_key>' when one is set"
        return Route("GET", "/metrics", self.handle, CLIENT_ERRORS, summary, doc=doc)

    def check(self, scope: Scope) -> None:
        """Raise a 401 unless the metrics are open or the request carries the metrics key."""
        if self._key_digest is None:
            return
        scheme, _, token = (header(scope, b"authorization") or b"").partition(b" ")
        token = token.strip()
        # Digests compared: neither the content nor the length of the key leaks through timing.
        if scheme.lower() != b"bearer" or not token or not hmac.compare_digest(_digest(token), self._key_digest):
            raise GatewayError(
                ErrorKind.AUTHENTICATION,
                "The metrics need 'Authorization: Bearer <metrics_key>'.",
                code="invalid_metrics_key",
            )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.check(scope)
        await send_response(send, 200, await self.gateway.metrics.render(), _HEADERS)
