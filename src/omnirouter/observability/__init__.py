"""What the gateway tells its operators: Prometheus metrics, the request log, log formatting, traces.

Fed from usage records (``usage/recorder.py`` hands each tick's finished requests to ``Observer``), so
the request's hot path does no work for it; see docs/observability.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from omnirouter.observability.logs import configure_logging, remember_secrets
from omnirouter.observability.metrics import GatewayMetrics
from omnirouter.observability.request_log import REQUEST_LOGGER, RequestLog
from omnirouter.observability.tracing import Tracing
from omnirouter.usage import UsageRecord

__all__ = [
    "REQUEST_LOGGER",
    "GatewayMetrics",
    "Observer",
    "RequestLog",
    "Tracing",
    "configure_logging",
    "remember_secrets",
]

log = logging.getLogger("omnirouter.metrics")


class Observer:
    """What the usage recorder calls with the records of finished requests: metrics, the request log, and
    the traces when they are on."""

    def __init__(self, metrics: GatewayMetrics, request_log: RequestLog, tracing: Tracing | None = None) -> None:
        self.metrics = metrics
        self.request_log = request_log
        self.tracing = tracing

    def __call__(self, records: Sequence[UsageRecord]) -> None:
        try:
            self.metrics.observe(records)
        except Exception:
            log.exception("metrics: cannot count %d finished requests", len(records))
        try:
            self.request_log.write(records)
        except Exception:
            log.exception("cannot write the request log of %d requests", len(records))
        if self.tracing is not None:
            try:
                self.tracing.write(records)
            except Exception:
                log.exception("cannot make the spans of %d requests", len(records))
