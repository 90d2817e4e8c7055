"""The request log: one line per finished request, from its usage record, off the hot path.

Logger ``omnirouter.requests`` at INFO; on with ``request_log: true``, and by default with JSON logs.
Fields: ``request_id``, ``key`` (the key's name, never the key), ``model`` (public), ``protocol``,
``channel`` (the last one tried; null when none was), ``status``, ``latency_ms``, ``ttfb_ms``,
``error`` (the error kind), ``attempts``, ``input_tokens``, ``output_tokens``, ``cost_nano``
(nano-USD charged).  The line's time is when the request ended, not when the line was written.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from omnirouter.observability.logs import FIELDS
from omnirouter.usage import UsageRecord

__all__ = ["REQUEST_LOGGER", "RequestLog"]

REQUEST_LOGGER = "omnirouter.requests"


class RequestLog:
    """Writes the lines of finished requests (``write`` is handed each tick's records)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._log = logging.getLogger(REQUEST_LOGGER)

    def write(self, records: Sequence[UsageRecord]) -> None:
        log = self._log
        if not self.enabled or not log.isEnabledFor(logging.INFO):
            return
        for rec in records:
            fields = {
                "request_id": rec.request_id,
                "key": rec.key_name,
                "model": rec.model,
                "protocol": rec.inbound_protocol,
                "channel": rec.channel,
                "status": rec.status_code,
                "latency_ms": round(rec.latency_ms, 1),
                "ttfb_ms": round(rec.ttfb_ms, 1) if rec.ttfb_ms is not None else None,
                "error": rec.error_kind,
                "attempts": rec.attempts,
                "input_tokens": rec.input_tokens,
                "output_tokens": rec.output_tokens,
                "cost_nano": rec.cost_nano,
            }
            line = log.makeRecord(log.name, logging.INFO, __file__, 0, "request", (), None, extra={FIELDS: fields})
            if math.isfinite(rec.created_at):
                line.created = rec.created_at
                line.msecs = (rec.created_at % 1) * 1000
            log.handle(line)
