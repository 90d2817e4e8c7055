"""Channel probes, ``omnirouter channels list|test`` and the admin API, against the mock upstream."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from omnirouter.config import ChannelConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.routing import Channel
from omnirouter.routing.probe import ProbeResult, channel_health, probe_channel, probe_channels
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, make_config, running_gateway
from tests.helpers.processes import run_cli

SECRET = "sk-probe-distinctive-SECRET-9f3e7a"
ADMIN_KEY = "admin-key-for-tests-5150"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def base_url(provider: str, mock_url: str) -> str:
    return f"{mock_url}/v1" if provider == "openai" else mock_url


def channel(provider: str, url: str, **overrides: Any) -> Channel:
    raw: dict[str, Any] = {
        "name": f"probe-{provider}",
        "provider": provider,
        "base_url": url,
        "api_keys": [SECRET],
        "models": {"openai": ["gpt-4o-mini"], "anthropic": ["claude-sonnet-4"], "gemini": ["gemini-2.0-flash"]}[
            provider
        ],
        "model_map": {"gpt-4o-mini": "gpt-4o-mini-2024-07-18"},
    }
    raw.update(overrides)
    return Channel(msgspec.convert(raw, ChannelConfig))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


# --- probe_channel -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "path", "max_tokens_field"),
    [
        ("openai", "/v1/chat/completions", None),
        ("anthropic", "/v1/messages", "max_tokens"),
        ("gemini", "/v1beta/models/gemini-2.0-flash:generateContent", None),
    ],
)
async def test_probe_each_provider_kind_ok_with_latency(
    session: aiohttp.ClientSession, mock: MockUpstream, provider: str, path: str, max_tokens_field: str | None
) -> None:
    result = await probe_channel(session, channel(provider, base_url(provider, mock.url)))
    assert result.ok, result
    assert result.status == 200 and result.error is None
    assert result.latency_ms > 0
    assert result.channel == f"probe-{provider}"
    sent = mock.requests[-1]
    assert sent.path == path
    assert "ping" in str(sent.body)
    assert "stream" not in sent.body or sent.body["stream"] is False
    if max_tokens_field:
        assert sent.body[max_tokens_field] == 1
    if provider == "openai":
        assert result.model == "gpt-4o-mini"
        assert sent.body["model"] == "gpt-4o-mini-2024-07-18"  # mapped to the upstream name
        assert sent.headers["authorization"] == f"Bearer {SECRET}"
    if provider == "gemini":
        assert sent.body["generationConfig"]["maxOutputTokens"] == 1


async def test_probe_given_model_is_mapped(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    probe = channel("openai", f"{mock.url}/v1", models=["gpt-test*"], model_map={"gpt-test-a": "up-a"})
    result = await probe_channel(session, probe, "gpt-test-a")
    assert result.ok and result.model == "gpt-test-a"
    assert mock.requests[-1].body["model"] == "up-a"


async def test_probe_responses_model_uses_responses_minimum(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    probe = channel("openai", f"{mock.url}/v1", models=["gpt-5"], responses_models=["gpt-5"])
    result = await probe_channel(session, probe)
    assert result.ok, result
    sent = mock.requests[-1]
    assert sent.path == "/v1/responses" and sent.body["max_output_tokens"] == 16


async def test_probe_patterns_only_needs_a_model(session: aiohttp.ClientSession) -> None:
    result = await probe_channel(session, channel("openai", "http://127.0.0.1:1/v1", models=["gpt-*"]))
    assert not result.ok and "model" in (result.error or "")


async def test_probe_closed_port_is_unreachable_not_raised(session: aiohttp.ClientSession) -> None:
    result = await probe_channel(session, channel("openai", f"http://127.0.0.1:{closed_port()}/v1"))
    assert not result.ok
    assert result.status is None
    assert "unreachable" in (result.error or "")


async def test_probe_failing_upstream_reports_its_status(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    mock.script({"fail": 500}, times=1)
    result = await probe_channel(session, channel("anthropic", mock.url))
    assert not result.ok
    assert result.status == 500
    assert result.error


async def test_probe_timeout_uses_channel_first_byte_timeout(
    session: aiohttp.ClientSession, mock: MockUpstream
) -> None:
    mock.script({"delay": 1.0}, times=1)
    result = await probe_channel(session, channel("openai", f"{mock.url}/v1", first_byte_timeout=0.2))
    assert not result.ok and result.status is None
    assert "timed out" in (result.error or "")
    assert result.latency_ms < 900


async def test_probe_garbage_body(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    mock.script({"garbage": True}, times=1)
    result = await probe_channel(session, channel("gemini", mock.url))
    assert not result.ok and result.status == 200
    assert "not JSON" in (result.error or "")


async def test_probe_error_is_scrubbed_of_the_key(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    mock.script({"fail": 401, "message": f"Incorrect API key provided: {SECRET} (really)"}, times=1)
    result = await probe_channel(session, channel("openai", f"{mock.url}/v1"))
    assert not result.ok and result.status == 401
    assert SECRET not in msgspec.json.encode(result).decode()
    assert "***" in (result.error or "")


async def test_probe_without_usable_key(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    probe = channel("openai", f"{mock.url}/v1")
    probe.upstream_keys.set_aside(SECRET, 60)
    result = await probe_channel(session, probe)
    assert not result.ok and result.error == "no usable key"
    assert not mock.requests


async def test_probe_channels_concurrently_in_order(session: aiohttp.ClientSession, mock: MockUpstream) -> None:
    channels = [channel(p, base_url(p, mock.url)) for p in ("openai", "anthropic", "gemini")]
    channels.append(channel("openai", f"http://127.0.0.1:{closed_port()}/v1", name="dead"))
    results = await probe_channels(session, channels)
    assert [r.channel for r in results] == ["probe-openai", "probe-anthropic", "probe-gemini", "dead"]
    assert [r.ok for r in results] == [True, True, True, False]


def test_channel_health() -> None:
    probe = channel("anthropic", "http://127.0.0.1:1", api_keys=[SECRET, "sk-second-key-000000"], models=["b", "a*"])
    probe.upstream_keys.set_aside(SECRET, 60)
    health = channel_health(probe)
    assert health["name"] == "probe-anthropic" and health["provider"] == "anthropic"
    assert health["breaker"] == "closed" and health["in_flight"] == 0
    assert (health["usable_keys"], health["total_keys"]) == (1, 2)
    assert health["models"] == ["b", "a*"]
    assert SECRET not in str(health)


# --- omnirouter channels list|test ---------------------------------------------------------------------------


def write_config(path: Path, mock_url: str, dead_port: int) -> Path:
    path.write_text(
        f"""
channels:
  - {{name: up-openai, provider: openai, base_url: "{mock_url}/v1", api_keys: [{SECRET}], models: [gpt-4o-mini],
      priority: 3, weight: 2}}
  - {{name: up-anthropic, provider: anthropic, base_url: "{mock_url}", api_keys: [{SECRET}], models: [claude-sonnet-4]}}
  - {{name: up-gemini, provider: gemini, base_url: "{mock_url}", api_keys: [{SECRET}], models: [gemini-2.0-flash]}}
  - {{name: dead, provider: openai, base_url: "http://127.0.0.1:{dead_port}/v1", api_keys: [{SECRET}], models: [m]}}
"""
    )
    return path


async def test_cli_channels_test_exit_codes_and_table(tmp_path: Path, mock: MockUpstream) -> None:
    config = str(write_config(tmp_path / "omnirouter.yaml", mock.url, closed_port()))

    everything = await run_cli("channels", "test", "--config", config)
    assert everything.returncode == 1, everything
    lines = everything.stdout.splitlines()
    assert lines[0].split() == ["CHANNEL", "MODEL", "RESULT", "STATUS", "LATENCY", "MS", "ERROR"]
    rows = {line.split()[0]: line for line in lines[1:5]}
    assert rows["up-openai"].split()[1:4] == ["gpt-4o-mini", "ok", "200"]
    assert rows["up-anthropic"].split()[1:4] == ["claude-sonnet-4", "ok", "200"]
    assert rows["up-gemini"].split()[1:4] == ["gemini-2.0-flash", "ok", "200"]
    assert rows["dead"].split()[1:4] == ["m", "FAILED", "-"] and "unreachable" in rows["dead"]
    assert "3 of 4 channel(s) ok" in everything.stdout

    one = await run_cli("channels", "test", "up-anthropic", "--config", config)
    assert one.returncode == 0, one
    assert "up-anthropic" in one.stdout and "up-openai" not in one.stdout

    mock.script({"fail": 500, "message": f"boom with {SECRET}"}, times=1)
    failing = await run_cli("channels", "test", "up-openai", "--config", config)
    assert failing.returncode == 1
    assert "FAILED  500" in failing.stdout

    unknown = await run_cli("channels", "test", "nope", "--config", config)
    assert unknown.returncode == 2
    assert "no channel named 'nope'" in unknown.stderr

    for result in (everything, one, failing, unknown):
        assert SECRET not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


async def test_cli_channels_list_never_prints_keys(tmp_path: Path) -> None:
    config = str(write_config(tmp_path / "omnirouter.yaml", "http://127.0.0.1:9", closed_port()))
    listed = await run_cli("channels", "list", "--config", config)
    assert listed.returncode == 0, listed
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["CHANNEL", "PROVIDER", "BASE", "URL", "MODELS", "PRIORITY", "WEIGHT"]
    assert lines[1].split() == ["up-openai", "openai", "http://127.0.0.1:9/v1", "gpt-4o-mini", "3", "2"]
    assert len(lines) == 5
    assert SECRET not in listed.stdout + listed.stderr


async def test_cli_config_error_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels: 3\n")
    result = await run_cli("channels", "test", "--config", str(bad))
    assert result.returncode == 2 and "config error" in result.stderr


# --- admin API ---------------------------------------------------------------------------------------------


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[int, Any, str]:
    sent = {**(headers or {}), **(bearer(key) if key else {})}
    async with http.request(method, url, headers=sent, **kwargs) as response:
        text = await response.text()
        return response.status, await response.json(content_type=None), text


async def test_admin_api_auth_health_and_probes(
    tmp_path: Path, mock: MockUpstream, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNIROUTER_ADMIN_KEY", raising=False)
    config = make_config(mock.url, tmp_path / "gw.db", admin_key=ADMIN_KEY)
    async with running_gateway(config) as gw:
        channels_url, test_url = f"{gw.url}/admin/channels", f"{gw.url}/admin/channels/test"
        for key in (None, "wrong-admin-key", CLIENT_KEY, UPSTREAM_KEY):
            for method, url in (("GET", channels_url), ("POST", test_url)):
                status, body, _ = await call(session, method, url, key)
                assert status == 401, (key, method)
                assert body["error"]["type"] == "authentication_error"
                assert set(body["error"]) == {"message", "type", "param", "code"}
        # The admin key counts only as 'Authorization: Bearer', not in the client keys' other places.
        status, _, _ = await call(session, "GET", channels_url, headers={"x-api-key": ADMIN_KEY})
        assert status == 401

        status, listing, text = await call(session, "GET", channels_url, ADMIN_KEY)
        assert status == 200
        assert listing == [
            {
                "name": "mock-openai",
                "provider": "openai",
                "breaker": "closed",
                "in_flight": 0,
                "max_concurrency": None,
                "usable_keys": 1,
                "total_keys": 1,
                "models": ["gpt-4o-mini", "gpt-test*"],
                "priority": 0,
                "weight": 1,
            }
        ]
        assert UPSTREAM_KEY not in text

        status, results, _ = await call(session, "POST", test_url, ADMIN_KEY)
        assert status == 200
        assert len(results) == 1
        result = msgspec.convert(results[0], ProbeResult)
        assert result.ok and result.channel == "mock-openai" and result.model == "gpt-4o-mini"
        assert result.status == 200 and result.latency_ms > 0
        assert mock.requests[-1].body["model"] == "gpt-4o-mini-2024-07-18"

        status, results, _ = await call(session, "POST", test_url, ADMIN_KEY, json={"name": "mock-openai"})
        assert status == 200 and [r["channel"] for r in results] == ["mock-openai"]

        mock.script({"fail": 500, "message": f"upstream leaked {UPSTREAM_KEY}"}, times=1)
        status, results, text = await call(session, "POST", test_url, ADMIN_KEY, json={"name": "mock-openai"})
        assert status == 200 and results[0]["ok"] is False and results[0]["status"] == 500
        assert UPSTREAM_KEY not in text

        status, body, _ = await call(session, "POST", test_url, ADMIN_KEY, json={"name": "nope"})
        assert status == 404 and body["error"]["code"] == "channel_not_found"
        status, body, _ = await call(session, "POST", test_url, ADMIN_KEY, data=b"{not json")
        assert status == 400 and body["error"]["type"] == "invalid_request_error"
        status, body, _ = await call(session, "POST", test_url, ADMIN_KEY, json={"name": 3})
        assert status == 400 and body["error"]["param"] == "name"

        # Probes do not touch the breaker or the load counters.
        status, listing, _ = await call(session, "GET", channels_url, ADMIN_KEY)
        assert listing[0]["breaker"] == "closed" and listing[0]["in_flight"] == 0


async def test_admin_api_disabled_without_admin_key(
    tmp_path: Path, mock: MockUpstream, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNIROUTER_ADMIN_KEY", raising=False)
    async with running_gateway(make_config(mock.url, tmp_path / "gw.db")) as gw:
        for key in (None, CLIENT_KEY, "anything"):
            status, body, _ = await call(session, "GET", f"{gw.url}/admin/channels", key)
            assert status == 404
            assert body["error"]["code"] == "admin_disabled"


async def test_admin_key_from_environment(
    tmp_path: Path, mock: MockUpstream, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIROUTER_ADMIN_KEY", ADMIN_KEY)
    async with running_gateway(make_config(mock.url, tmp_path / "gw.db")) as gw:
        status, _, _ = await call(session, "GET", f"{gw.url}/admin/channels", ADMIN_KEY)
        assert status == 200
        status, _, _ = await call(session, "GET", f"{gw.url}/admin/channels", CLIENT_KEY)
        assert status == 401


async def test_admin_key_that_is_also_a_client_key_grants_nothing(
    tmp_path: Path, mock: MockUpstream, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNIROUTER_ADMIN_KEY", raising=False)
    async with running_gateway(make_config(mock.url, tmp_path / "gw.db", admin_key=CLIENT_KEY)) as gw:
        status, body, _ = await call(session, "GET", f"{gw.url}/admin/channels", CLIENT_KEY)
        assert status == 403
        assert body["error"]["code"] == "admin_key_is_client_key"
