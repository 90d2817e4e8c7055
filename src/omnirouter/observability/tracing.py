"""OpenTelemetry traces: one span per finished request, built from its usage record (config ``otel``).

Off by default, and then free: this module imports the OpenTelemetry SDK only when a ``Tracing`` is
built, which the gateway does only when ``otel`` is configured.  On, the spans are made where the
metrics are fed (the usage recorder's tick, off the hot path) with the request's own start and end
times, and exported in batches over OTLP/HTTP by the SDK's thread.  Each span is a root (the usage
record carries no client trace context).  Attributes follow the OpenTelemetry semantic conventions for
generative AI (``gen_ai.*``), plus the gateway's own (``omnirouter.*``):

* ``gen_ai.operation.name``: ``chat`` for the OpenAI Chat / Responses and Anthropic protocols,
  ``generate_content`` for Gemini's, else the client protocol's name (``openai`` media, ``kling``, …);
* ``gen_ai.provider.name`` (and the older ``gen_ai.system``): the channel's provider kind, by the
  convention's well-known name where it has one (``gcp.gemini``, ``azure.ai.openai``, ``x_ai``, …);
  ``gen_ai.request.model``: the public model; ``gen_ai.response.model``: the upstream's;
* ``gen_ai.usage.input_tokens`` / ``gen_ai.usage.output_tokens``; ``http.response.status_code``;
  ``error.type`` (the gateway's error kind) with an error status when the request failed;
* ``omnirouter.request_id``, ``omnirouter.key`` (the key's name), ``omnirouter.channel``,
  ``omnirouter.protocol``, ``omnirouter.attempts``, ``omnirouter.cost_nano``, ``omnirouter.stream``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from omnirouter.config import OtelConfig
from omnirouter.usage import UsageRecord

__all__ = ["Tracing"]

_OPERATIONS = {"openai_chat": "chat", "openai_responses": "chat", "anthropic": "chat", "gemini": "generate_content"}
_PROVIDERS = {  # the convention's well-known names where ours differ
    "gemini": "gcp.gemini",
    "azure": "azure.ai.openai",
    "azure-v1": "azure.ai.openai",
    "xai": "x_ai",
    "mistral": "mistral_ai",
}


class Tracing:
    """Spans of finished requests, exported over OTLP/HTTP (``write`` is handed each tick's records)."""

    def __init__(self, config: OtelConfig) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._provider = TracerProvider(
            resource=Resource.create({"service.name": config.service_name}),
            sampler=TraceIdRatioBased(config.sample_ratio),
        )
        exporter = OTLPSpanExporter(endpoint=config.endpoint, headers=dict(config.headers))
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("omnirouter")
        self._kind = SpanKind.SERVER
        self._error = Status
        self._error_code = StatusCode.ERROR

    def write(self, records: Sequence[UsageRecord]) -> None:
        for rec in records:
            end = rec.created_at if math.isfinite(rec.created_at) else 0.0
            start = end - max(rec.latency_ms, 0.0) / 1000.0 if math.isfinite(rec.latency_ms) else end
            operation = _OPERATIONS.get(rec.inbound_protocol, rec.inbound_protocol)
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": operation,
                "gen_ai.request.model": rec.model,
                "gen_ai.usage.input_tokens": rec.input_tokens,
                "gen_ai.usage.output_tokens": rec.output_tokens,
                "http.response.status_code": rec.status_code,
                "omnirouter.request_id": rec.request_id,
                "omnirouter.protocol": rec.inbound_protocol,
                "omnirouter.attempts": rec.attempts,
                "omnirouter.cost_nano": rec.cost_nano,
                "omnirouter.stream": rec.stream,
            }
            if rec.provider is not None:
                provider = _PROVIDERS.get(rec.provider, rec.provider)
                attributes["gen_ai.provider.name"] = attributes["gen_ai.system"] = provider
            if rec.upstream_model is not None:
                attributes["gen_ai.response.model"] = rec.upstream_model
            if rec.channel is not None:
                attributes["omnirouter.channel"] = rec.channel
            if rec.key_name is not None:
                attributes["omnirouter.key"] = rec.key_name
            if rec.error_kind is not None:
                attributes["error.type"] = rec.error_kind
            span = self._tracer.start_span(
                f"{operation} {rec.model}", kind=self._kind, attributes=attributes, start_time=int(start * 1e9)
            )
            if rec.error_kind is not None:
                span.set_status(self._error(self._error_code, rec.error_kind))
            span.end(end_time=int(end * 1e9))

    def close(self) -> None:
        """Export what is waiting, then stop the exporter's thread."""
        self._provider.shutdown()
