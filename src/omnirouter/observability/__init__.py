"""What the gateway tells its operators: Prometheus metrics, the request log, log formatting.

Fed from usage records (``usage/recorder.py`` hands each tick's finished requests to ``Observer``), so
the request's hot path does no work for it; see docs/observability.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from omnirouter.observability.logs import configure_logging, remember_secrets
from omnirouter.observability.metrics import GatewayMetrics
from omnirouter.observability.request_log import REQUEST_LOGGER, RequestLog
from omnirouter.usage import UsageRecord

__all__ = ["REQUEST_LOGGER", "GatewayMetrics", "Observer", "RequestLog", "configure_logging", "remember_secrets"]

log = logging.getLogger("omnirouter.metrics")


class Observer:
    """What the usage recorder calls with the records of finished requests: metrics, then the request log."""

    def __init__(self, metrics: GatewayMetrics, request_log: RequestLog) -> None:
        self.metrics = metrics
        self.request_log = request_log

    def __call__(self, records: Sequence[UsageRecord]) -> None:
        try:
            self.metrics.observe(records)
        except Exception:
            log.exception("metrics: cannot count %d finished requests", len(records))
        try:
            self.request_log.write(records)
        except Exception:
            log.exception("cannot write the request log of %d requests", len(records))
