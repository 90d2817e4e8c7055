"""The gateway's log output on a real gateway: JSON lines, one per finished request with the key's name, and no
secret (upstream keys of config and API channels, configured and issued client keys, the admin key) in any
line, whatever the request did and whatever a log line carries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import openai
import pytest

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.observability import configure_logging
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.gateway_harness import RunningGateway, running_gateway
from tests.helpers.metrics import ledger

CLIENT_KEY = "sk-logs-client-key-0001"
UPSTREAM_KEY = "plain-upstream-secret-0001"  # shaped like no API key: only the config's list can mask it
REFUSED_KEY = "invalid-upstream-secret-0002"  # the mock answers 401 to keys starting with "invalid"
API_CHANNEL_KEY = "apichannel-secret-0003"


@pytest.fixture
def log_settings() -> dict[str, Any]:
    return {"log_format": "json"}


@pytest.fixture
async def logged(
    mock_upstream: MockUpstream, tmp_path: Path, log_settings: dict[str, Any]
) -> AsyncIterator[tuple[RunningGateway, io.StringIO]]:
    raw: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/gw.db",
        "usage_flush_interval": 0.05,
        "admin_key": ADMIN_KEY,
        **log_settings,
        "channels": [
            {
                "name": "good",
                "provider": "openai",
                "base_url": f"{mock_upstream.url}/v1",
                "api_keys": [UPSTREAM_KEY],
                "models": ["gpt-4o-mini"],
            },
            {
                "name": "refused",
                "provider": "openai",
                "base_url": f"{mock_upstream.url}/v1",
                "api_keys": [REFUSED_KEY],
                "models": ["refused-model"],
            },
        ],
        "keys": [{"name": "logs-tester", "key": CLIENT_KEY}],
    }
    config = msgspec.convert(raw, GatewayConfig)
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(config, stream)
    try:
        async with running_gateway(config) as gateway:
            yield gateway, stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_request_lines_in_json_and_no_secret_in_any_line(logged: tuple[RunningGateway, io.StringIO]) -> None:
    gateway, stream = logged
    ids: set[str] = set()
    async with aiohttp.ClientSession() as session:
        http = Http(session, gateway.url)
        status, made = await http.admin("POST", "/admin/keys", {"name": "issued"})
        assert status == 201
        issued = made["key"]
        body = {"name": "api-chan", "provider": "openai", "base_url": f"{gateway.url}/nowhere/v1",
                "api_keys": [API_CHANNEL_KEY], "models": ["api-model"]}  # fmt: skip
        status, _ = await http.admin("POST", "/admin/channels", body)
        assert status == 201
        assert (await http.chat("sk-wrong-client-key-9999"))[0] == 401  # refused before any key is known
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )
        ids.add(raw.headers["x-request-id"])
        with pytest.raises(openai.APIStatusError) as refused:  # the upstream refuses its key
            await client.chat.completions.create(model="refused-model", messages=[{"role": "user", "content": "x"}])
        ids.add(refused.value.response.headers["x-request-id"])
        with pytest.raises(openai.APIStatusError) as unreachable:  # the API channel points nowhere
            await client.chat.completions.create(model="api-model", messages=[{"role": "user", "content": "x"}])
        ids.add(unreachable.value.response.headers["x-request-id"])
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=issued, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
        )
        ids.add(raw.headers["x-request-id"])
    rows = await ledger(gateway, ids)  # written: the recorder has handed them to the request log

    # Whatever a line carries (message arguments, an exception, fields), the secrets are masked.
    secrets = [CLIENT_KEY, issued, UPSTREAM_KEY, REFUSED_KEY, API_CHANNEL_KEY, ADMIN_KEY]
    try:
        raise RuntimeError(f"upstream said: bad key {UPSTREAM_KEY} for {API_CHANNEL_KEY}")
    except RuntimeError:
        logging.getLogger("omnirouter.test").exception(
            "keys %s %s %s", CLIENT_KEY, issued, REFUSED_KEY, extra={"fields": {"admin": ADMIN_KEY}}
        )

    out = stream.getvalue()
    for secret in secrets:
        assert secret not in out, secret
    lines = [json.loads(line) for line in out.splitlines()]
    requests = {line["request_id"]: line for line in lines if line["logger"] == "omnirouter.requests"}
    assert set(requests) == ids  # one line per request that reached the ledger (a refused key never does)
    for row in rows:
        line = requests[row["request_id"]]
        assert line["key"] == row["key_name"] and line["model"] == row["model"]
        assert line["status"] == row["status_code"] and line["channel"] == row["channel"]
        assert line["latency_ms"] == round(row["latency_ms"], 1) and line["error"] == row["error_kind"]
        assert line["time"].endswith("+00:00")
    assert {line["key"] for line in requests.values()} == {"logs-tester", "issued"}
    assert sorted(line["status"] for line in requests.values()) == sorted(row["status_code"] for row in rows)
    masked = next(line for line in lines if line["logger"] == "omnirouter.test")
    assert masked["level"] == "error" and masked["message"].startswith("keys ***")
    assert "RuntimeError: upstream said: bad key ***" in masked["exception"] and masked["admin"] == "***"


@pytest.mark.parametrize(
    ("log_settings", "lines"),
    [({"log_format": "plain", "request_log": True}, 1), ({"log_format": "plain"}, 0),
     ({"log_format": "json", "request_log": False}, 0)],
)  # fmt: skip
async def test_plain_request_lines_and_the_switch(logged: tuple[RunningGateway, io.StringIO], lines: int) -> None:
    gateway, stream = logged
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "plain"}]
        )
    request_id = raw.headers["x-request-id"]
    [row] = await ledger(gateway, {request_id})
    out = stream.getvalue()
    marks = (" omnirouter.requests: request ", '"omnirouter.requests"')
    found = [line for line in out.splitlines() if any(mark in line for mark in marks)]
    assert len(found) == lines
    if lines:
        fields = f"request_id={request_id} key=logs-tester model=gpt-4o-mini protocol=openai_chat channel=good"
        assert fields in found[0]
        assert f" status=200 latency_ms={round(row['latency_ms'], 1)} " in found[0]
        assert " error=" not in found[0]  # fields without a value are left out
    assert CLIENT_KEY not in out and UPSTREAM_KEY not in out
