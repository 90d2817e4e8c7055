"""Rate limits through the gateway, config keys' limits, and state shared between workers through Redis:
429s in each client's protocol, breaker transitions mirrored to other workers, change notices."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from omnirouter.cluster import Bus, ChangeNotifier
from omnirouter.config import BreakerConfig, ConfigError, GatewayConfig, parse_config
from omnirouter.gateway import prepare_database
from omnirouter.limits import MemoryLimiter, RedisLimiter
from omnirouter.mock_upstream import MockUpstream
from omnirouter.routing.breaker import CircuitBreaker
from omnirouter.storage import Database, KeyStore, api_keys_table, hash_key, normalize_database_url
from tests.helpers.gateway_harness import CLIENT_KEY, make_config, running_gateway
from tests.helpers.postgres import postgres_database
from tests.helpers.redis_helpers import REDIS_URL, redis_prefix

LIMITED_KEY = "sk-limited-rpm3-0001"
ANTHROPIC_KEY = "sk-limited-anthropic-0001"
GEMINI_KEY = "sk-limited-gemini-0001"
ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def redis_env() -> AsyncIterator[tuple[Redis, str]]:
    async with redis_prefix() as env:
        yield env


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def post(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as session, session.post(url + path, json=body, headers=headers) as response:
        return response.status, response.headers, await response.json(content_type=None)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_rpm_limit_answers_429_with_retry_after_in_the_clients_protocol(
    backend: str, mock_upstream: MockUpstream, tmp_path: Path, redis_env: tuple[Redis, str]
) -> None:
    _, prefix = redis_env
    shared = {"redis_url": REDIS_URL, "redis_prefix": prefix} if backend == "redis" else {}
    config = make_config(
        mock_upstream.url,
        tmp_path / "gw.db",
        keys=[
            {"name": "limited", "key": LIMITED_KEY, "rpm": 3},
            {"name": "anthropic", "key": ANTHROPIC_KEY, "rpm": 1},
            {"name": "gemini", "key": GEMINI_KEY, "rpm": 1},
            {"name": "free", "key": CLIENT_KEY},
        ],
        **shared,
    )
    async with running_gateway(config) as gateway:
        expected = RedisLimiter if backend == "redis" else MemoryLimiter
        assert isinstance(gateway.app.gateway.limiter, expected)
        async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=LIMITED_KEY, max_retries=0) as client:
            for _ in range(3):
                await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)  # type: ignore[arg-type]
            with pytest.raises(openai.RateLimitError) as caught:
                await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)  # type: ignore[arg-type]
        retry_after = int(caught.value.response.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert caught.value.body == {
            "message": f"Rate limit reached for this API key: 3 requests per minute. Try again in {retry_after}s.",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
        assert caught.value.response.headers["x-request-id"]

        # Other keys are not affected; keys without limits are never limited.
        for _ in range(5):
            status, _, _ = await post(
                gateway.url,
                "/v1/chat/completions",
                {"model": "gpt-4o-mini", "messages": ASK},
                {"authorization": f"Bearer {CLIENT_KEY}"},
            )
            assert status == 200

        anthropic_headers = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
        message = {"model": "gpt-4o-mini", "max_tokens": 16, "messages": ASK}
        status, _, _ = await post(gateway.url, "/v1/messages", message, anthropic_headers)
        assert status == 200
        status, headers, body = await post(gateway.url, "/v1/messages", message, anthropic_headers)
        assert status == 429
        assert 1 <= int(headers["retry-after"]) <= 60
        assert body["type"] == "error"
        assert body["error"]["type"] == "rate_limit_error"
        assert "1 requests per minute" in body["error"]["message"]

        gemini_path = "/v1beta/models/gpt-4o-mini:generateContent"
        contents = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        status, _, _ = await post(gateway.url, gemini_path, contents, {"x-goog-api-key": GEMINI_KEY})
        assert status == 200
        status, headers, body = await post(gateway.url, gemini_path, contents, {"x-goog-api-key": GEMINI_KEY})
        assert status == 429 and int(headers["retry-after"]) >= 1
        assert body["error"]["status"] == "RESOURCE_EXHAUSTED" and body["error"]["code"] == 429


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_config_keys_carry_their_settings_and_config_stays_their_source_of_truth(
    database: str, tmp_path: Path
) -> None:
    async def run(url: str) -> None:
        key = "sk-config-key-0001"
        settings: dict[str, Any] = {
            "name": "team",
            "key": key,
            "rpm": 10,
            "tpm": 5000,
            "max_concurrent": 2,
            "quota_usd": 1.5,
            "models": ["gpt-4o*"],
            "ip_allow": ["10.0.0.0/8"],
            "group": "pro",
            "expires_at": "2031-02-03T04:05:06",
        }
        await prepare_database(keys_config(url, [settings]))
        db = Database(normalize_database_url(url))
        try:
            record = (await KeyStore(db).load_active())[hash_key(key)]
            assert (record.name, record.rpm, record.tpm, record.max_concurrent) == ("team", 10, 5000, 2)
            assert record.quota_nano == 1_500_000_000
            assert record.models == ("gpt-4o*",) and record.ip_allow == ("10.0.0.0/8",)
            assert record.group == "pro"
            assert record.expires_at == datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC).timestamp()  # UTC: no zone given
            async with db.engine.connect() as conn:
                row = (await conn.execute(select(api_keys_table))).one()
            assert row.source == "config"

            # Edited in the config: the next start rewrites the row (no duplicate, spending untouched).
            await prepare_database(keys_config(url, [{"name": "team-renamed", "key": key, "rpm": 3}]))
            record = (await KeyStore(db).load_active())[hash_key(key)]
            assert (record.name, record.rpm, record.tpm, record.max_concurrent) == ("team-renamed", 3, None, None)
            assert record.quota_nano is None and record.models is None and record.expires_at is None

            # A revoked config key stays revoked.
            assert await KeyStore(db).revoke(record.id)
            await prepare_database(keys_config(url, [settings]))
            assert hash_key(key) not in await KeyStore(db).load_active()
            async with db.engine.connect() as conn:
                rows = (await conn.execute(select(api_keys_table))).all()
            assert len(rows) == 1 and rows[0].rpm == 10
        finally:
            await db.close()

    if database == "sqlite":
        await run(f"sqlite:///{tmp_path}/keys.db")
    else:
        async with postgres_database() as url:
            await run(url)


def keys_config(url: str, keys: list[dict[str, Any]]) -> GatewayConfig:
    return parse_config(orjson.dumps({"database_url": url, "keys": keys}).decode())


async def test_a_breaker_opened_by_one_worker_makes_the_others_skip_the_channel(
    mock_upstream: MockUpstream, tmp_path: Path, redis_env: tuple[Redis, str]
) -> None:
    _, prefix = redis_env
    config = make_config(
        mock_upstream.url,
        tmp_path / "gw.db",
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        breaker={"failures": 2, "window": 60, "cooldown": 30},
    )
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    body = {"model": "gpt-4o-mini", "messages": ASK}
    async with running_gateway(config) as one, running_gateway(config) as two:
        breaker_one = one.app.gateway.catalog.channels[0].breaker
        breaker_two = two.app.gateway.catalog.channels[0].breaker
        breaker_one.record_failure()
        breaker_one.record_failure()  # opens on worker one
        assert breaker_one.state == "open"
        await eventually(lambda: breaker_two.state == "open")
        until = breaker_two.open_until
        assert until is not None and 28 < until - breaker_two.now() <= 30

        mock_upstream.requests.clear()
        status, response_headers, answer = await post(two.url, "/v1/chat/completions", body, headers)
        assert status == 503 and answer["error"]["code"] == "no_available_channel"
        assert response_headers["x-omnirouter-attempts"] == "0"
        assert mock_upstream.requests == []

        # A worker that starts now catches up from the retained state.
        async with running_gateway(config) as three:
            assert three.app.gateway.catalog.channels[0].breaker.state == "open"

        breaker_one.record_success()  # the channel works again (e.g. worker one's probe succeeded)
        await eventually(lambda: breaker_two.state == "closed")
        status, _, _ = await post(two.url, "/v1/chat/completions", body, headers)
        assert status == 200


async def test_without_redis_breakers_and_notices_stay_local(mock_upstream: MockUpstream, tmp_path: Path) -> None:
    config = make_config(mock_upstream.url, tmp_path / "gw.db", breaker={"failures": 1, "window": 60, "cooldown": 30})
    async with running_gateway(config) as one, running_gateway(config) as two:
        assert isinstance(one.app.gateway.limiter, MemoryLimiter)
        assert await one.app.gateway.notifier.publish_change("keys") is False
        one.app.gateway.catalog.channels[0].breaker.record_failure()
        await asyncio.sleep(0.1)
        assert two.app.gateway.catalog.channels[0].breaker.state == "closed"


async def test_change_notices_reach_every_other_worker_and_a_reconnect_means_everything(
    redis_env: tuple[Redis, str],
) -> None:
    client, prefix = redis_env
    buses = [Bus(client, REDIS_URL, prefix) for _ in range(3)]
    notifiers = [ChangeNotifier(bus) for bus in buses]
    seen: list[list[str]] = [[], [], []]
    for notifier, log in zip(notifiers, seen, strict=True):

        async def record(kind: str, log: list[str] = log) -> None:
            log.append(kind)

        notifier.subscribe(record)
    for bus in buses:
        await bus.start()
    try:
        assert await notifiers[0].publish_change("keys") is True
        await eventually(lambda: seen[1] == ["keys"] and seen[2] == ["keys"])
        await asyncio.sleep(0.05)
        assert seen[0] == []  # the publisher applies its own change

        # Worker two's subscription drops: whatever it missed, it hears "*" (reload everything).
        name = f"omnirouter-bus-{buses[2].worker_id}"
        [victim] = [c for c in await client.client_list(_type="pubsub") if c["name"] == name]
        await client.client_kill_filter(_id=victim["id"])
        await eventually(lambda: seen[2][-1:] == ["*"])
        assert await notifiers[1].publish_change("prices") is True
        await eventually(lambda: seen[2][-1:] == ["prices"] and seen[0] == ["prices"])
        assert seen[1] == ["keys"]
    finally:
        for bus in buses:
            await bus.close()


async def test_without_redis_change_notices_go_nowhere() -> None:
    bus = Bus()
    notifier = ChangeNotifier(bus)

    async def never(kind: str) -> None:
        raise AssertionError(kind)

    notifier.subscribe(never)
    await bus.start()
    assert not bus.enabled
    assert await notifier.publish_change("keys") is False
    await bus.close()


def test_key_settings_and_redis_options_in_the_config_file() -> None:
    config = parse_config(
        """
redis_url: redis://127.0.0.1:6379/0
redis_prefix: "gw-a:"
keys:
  - {name: a, key: sk-a-12345678, rpm: 5, tpm: 1000, max_concurrent: 2, expires_at: 2030-01-01T00:00:00Z}
"""
    )
    assert config.redis_url == "redis://127.0.0.1:6379/0" and config.redis_prefix == "gw-a:"
    assert (config.keys[0].rpm, config.keys[0].tpm, config.keys[0].max_concurrent) == (5, 1000, 2)
    assert config.keys[0].expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigError, match=r"keys\[0\]\.rpm: Expected `int` >= 1"):
        parse_config("keys:\n  - {name: a, key: sk-a-12345678, rpm: 0}\n")
    with pytest.raises(ConfigError, match=r"keys\[0\]\.ip_allow: not an IP network: 'nope'"):
        parse_config("keys:\n  - {name: a, key: sk-a-12345678, ip_allow: [nope]}\n")


async def test_gateway_with_redis_down_serves_with_per_process_limits(
    mock_upstream: MockUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = make_config(
        mock_upstream.url,
        tmp_path / "gw.db",
        redis_url=f"redis://127.0.0.1:{port}/0",
        keys=[{"name": "limited", "key": LIMITED_KEY, "rpm": 2}, {"name": "free", "key": CLIENT_KEY}],
    )
    headers = {"authorization": f"Bearer {LIMITED_KEY}"}
    body = {"model": "gpt-4o-mini", "messages": ASK}
    started = time.monotonic()
    async with running_gateway(config) as gateway:
        assert time.monotonic() - started < 5
        statuses = [(await post(gateway.url, "/v1/chat/completions", body, headers))[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
        free = {"authorization": f"Bearer {CLIENT_KEY}"}
        assert (await post(gateway.url, "/v1/chat/completions", body, free))[0] == 200
        assert await gateway.app.gateway.notifier.publish_change("keys") is False
    assert any("Redis unavailable" in record.getMessage() for record in caplog.records)


def test_breaker_listener_hears_own_transitions_and_forced_states_stay_quiet() -> None:
    now = [100.0]
    breaker = CircuitBreaker(BreakerConfig(failures=2, window=60, cooldown=30), lambda: now[0])
    heard: list[tuple[str, float | None]] = []
    breaker.listener = lambda state, until: heard.append((state, until))
    breaker.record_success()  # closed and staying closed: nothing to tell
    breaker.record_failure()
    breaker.record_failure()
    assert heard == [("open", 130.0)] and breaker.open_until == 130.0
    now[0] = 131.0
    assert breaker.allow()  # the probe
    breaker.record_failure()  # failed: open for another cooldown
    assert heard[-1] == ("open", 161.0)
    breaker.record_success()
    assert heard[-1] == ("closed", None) and breaker.state == "closed"

    heard.clear()
    breaker.force_open(200.0)  # another worker's verdict
    assert breaker.state == "open" and breaker.open_until == 200.0
    breaker.force_open(150.0)  # an earlier end does not shorten it
    assert breaker.open_until == 200.0
    now[0] = 200.0
    assert breaker.state == "half_open"
    breaker.force_close()
    assert breaker.state == "closed" and heard == []
