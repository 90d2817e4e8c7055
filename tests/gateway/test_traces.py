"""OpenTelemetry traces on a real gateway: one span per request, received by an OTLP/HTTP endpoint of the
test's own and decoded with the OTLP protobuf definitions; off by default, without importing the SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import msgspec
import openai
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import running_gateway
from tests.helpers.local_http import serving
from tests.helpers.metrics import ledger

KEY = "sk-traces-client-0001"
COLLECTOR_TOKEN = "collector-token-0001"


class Collector:
    """An OTLP/HTTP traces endpoint: keeps every span it is sent, with the request's headers."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.resources: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def traces(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest.FromString(await request.read())
        self.headers.append(dict(request.headers))
        for resource_spans in export.resource_spans:
            self.resources.append(_attributes(resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        return web.Response(body=b"", content_type="application/x-protobuf")


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value"))


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    sink = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", sink.traces)
    async with serving(app) as base:
        yield sink, f"{base}/v1/traces"


async def test_one_span_per_request_with_genai_attributes(
    collector: tuple[Collector, str], mock_upstream: MockUpstream, tmp_path: Path
) -> None:
    sink, endpoint = collector
    raw: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/gw.db",
        "usage_flush_interval": 0.05,
        "otel": {"endpoint": endpoint, "headers": {"authorization": f"Bearer {COLLECTOR_TOKEN}"},
                 "service_name": "gw-under-test"},
        "channels": [{"name": "mock-openai", "provider": "openai", "base_url": f"{mock_upstream.url}/v1",
                      "api_keys": ["sk-upstream-traces-1"], "models": ["gpt-4o-mini"],
                      "model_map": {"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}}],
        "keys": [{"name": "tracer", "key": KEY}],
        "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.60}},
    }  # fmt: skip
    ids: set[str] = set()
    async with running_gateway(msgspec.convert(raw, GatewayConfig)) as gateway:
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0) as client:
            answer = await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "traced"}]
            )
            ids.add(answer.headers["x-request-id"])
            with pytest.raises(openai.InternalServerError) as failed:
                await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": '[[mock {"fail": 500}]] x'}]
                )
            ids.add(failed.value.response.headers["x-request-id"])
        async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
            message = await claude.messages.with_raw_response.create(
                model="gpt-4o-mini", max_tokens=32, messages=[{"role": "user", "content": "traced too"}]
            )
            ids.add(message.headers["x-request-id"])
        rows = {row["request_id"]: row for row in await ledger(gateway, ids)}
    # The gateway has stopped: its span processor has exported everything.
    spans = {_attributes(span.attributes)["omnirouter.request_id"]: span for span in sink.spans}
    assert set(spans) == ids
    assert all(resource["service.name"] == "gw-under-test" for resource in sink.resources)
    assert all(headers.get("Authorization") == f"Bearer {COLLECTOR_TOKEN}" for headers in sink.headers)
    for request_id, row in rows.items():
        span = spans[request_id]
        attributes = _attributes(span.attributes)
        operation = "chat"
        assert span.name == f"{operation} gpt-4o-mini" and attributes["gen_ai.operation.name"] == operation
        assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
        assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
        assert attributes["gen_ai.provider.name"] == "openai"
        assert attributes["gen_ai.usage.input_tokens"] == row["input_tokens"]
        assert attributes["gen_ai.usage.output_tokens"] == row["output_tokens"]
        assert attributes["http.response.status_code"] == row["status_code"]
        assert attributes["omnirouter.key"] == "tracer" and attributes["omnirouter.channel"] == "mock-openai"
        assert attributes["omnirouter.protocol"] == row["inbound_protocol"]
        assert attributes["omnirouter.cost_nano"] == row["cost_nano"]
        assert round((span.end_time_unix_nano - span.start_time_unix_nano) / 1e6, 1) == round(row["latency_ms"], 1)
        if row["error_kind"] is None:
            assert "error.type" not in attributes and span.status.code == 0  # unset
        else:
            assert attributes["error.type"] == row["error_kind"] and span.status.code == 2  # error
    assert sorted(row["status_code"] for row in rows.values()) == [200, 200, 500]
    assert {row["inbound_protocol"] for row in rows.values()} == {"openai_chat", "anthropic"}
    assert KEY not in str(sink.spans)


_PROBE = """
import json, sys
import msgspec
from omnirouter.api import GatewayApp
from omnirouter.config import GatewayConfig
config = msgspec.convert(json.loads(sys.argv[1]), GatewayConfig)
GatewayApp(config)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk.trace", "opentelemetry.exporter")))))
"""


@pytest.mark.parametrize("on", [False, True])
def test_the_sdk_is_imported_only_when_traces_are_on(on: bool, tmp_path: Path) -> None:
    """The tracing SDK and the OTLP exporter (redis imports other parts of the SDK itself when installed)."""
    raw: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path}/gw.db"}
    if on:
        raw["otel"] = {"endpoint": "http://127.0.0.1:9/v1/traces"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(raw)], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert bool(loaded) is on, loaded
