"""Admin API for groups, prices and channels over real HTTP, including channels that serve without a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import ADMIN_KEY, Http
from tests.helpers.gateway_harness import CLIENT_KEY, UPSTREAM_KEY, RunningGateway, make_config, running_gateway

NEW_UPSTREAM_KEY = "sk-new-channel-secret-123456"


@pytest.fixture
async def served(mock_upstream: MockUpstream, tmp_path: Path) -> AsyncIterator[tuple[RunningGateway, Http]]:
    config = make_config(
        mock_upstream.url,
        tmp_path / "gw.db",
        admin_key=ADMIN_KEY,
        reload_interval=0.2,
        prices={"gpt-4o-mini": {"input": 0.15, "output": 0.6}},
        groups={"gold": 0.5},
    )
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        yield gateway, Http(session, gateway.url)


async def test_groups_crud(served: tuple[RunningGateway, Http]) -> None:
    _, http = served
    status, group = await http.admin("POST", "/admin/groups", {"name": "vip", "multiplier": 0.8, "description": "d"})
    assert status == 201 and group["source"] == "api"
    assert (await http.admin("POST", "/admin/groups", {"name": "vip"}))[0] == 409
    status, error = await http.admin("POST", "/admin/groups", {"name": "cheap", "multiplier": -1})
    assert status == 400 and error["error"]["param"] == "multiplier"
    status, error = await http.admin("POST", "/admin/groups", {"name": "a b"})
    assert status == 400 and error["error"]["param"] == "name"
    status, patched = await http.admin("PATCH", "/admin/groups/vip", {"multiplier": 0.5})
    assert status == 200 and patched["multiplier"] == 0.5 and patched["description"] == "d"
    status, listed = await http.admin("GET", "/admin/groups")
    assert [(g["name"], g["source"]) for g in listed["data"]] == [("gold", "config"), ("vip", "api")]
    for method, body in (("PATCH", {"multiplier": 2}), ("DELETE", None)):
        status, error = await http.admin(method, "/admin/groups/gold", body)
        assert status == 409 and error["error"]["code"] == "config_managed"
    status, error = await http.admin("POST", "/admin/groups", {"name": "gold"})
    assert status == 409 and "config file" in error["error"]["message"]
    status, gold_key = await http.admin("POST", "/admin/keys", {"name": "g", "group": "gold"})
    assert status == 201 and gold_key["group"] == "gold"
    _, key = await http.admin("POST", "/admin/keys", {"name": "k", "group": "vip"})
    status, error = await http.admin("DELETE", "/admin/groups/vip")
    assert status == 409 and error["error"]["code"] == "group_in_use"
    await http.admin("PATCH", f"/admin/keys/{key['id']}", {"group": None})
    assert (await http.admin("DELETE", "/admin/groups/vip"))[0] == 200
    assert (await http.admin("GET", "/admin/groups/vip"))[0] == 404
    assert (await http.admin("PATCH", "/admin/groups/vip", {"multiplier": 1}))[0] == 404


async def test_prices_crud_with_channel_overrides_and_config_prices(served: tuple[RunningGateway, Http]) -> None:
    _, http = served
    body = {"model": "meta/llama-3", "input": 0.2, "output": 0.4, "cached_input": 0.05}
    status, price = await http.admin("POST", "/admin/prices", body)
    assert status == 201 and price["channel"] == "" and price["source"] == "api" and price["reasoning"] is None
    assert (await http.admin("POST", "/admin/prices", body))[0] == 409
    status, override = await http.admin("POST", "/admin/prices", {**body, "channel": "mock-openai", "input": 0.1})
    assert status == 201 and override["channel"] == "mock-openai"
    status, fetched = await http.admin("GET", "/admin/prices/meta/llama-3")
    assert status == 200 and fetched == price
    status, fetched = await http.admin("GET", "/admin/prices/meta/llama-3?channel=mock-openai")
    assert fetched["input"] == 0.1
    status, patched = await http.admin("PATCH", "/admin/prices/meta/llama-3?channel=mock-openai", {"output": 0.3})
    assert status == 200 and patched["output"] == 0.3 and patched["input"] == 0.1
    status, listed = await http.admin("GET", "/admin/prices?model=meta/llama-3")
    assert [p["channel"] for p in listed["data"]] == ["", "mock-openai"]
    status, error = await http.admin("PATCH", "/admin/prices/meta/llama-3", {"output": -2})
    assert status == 400 and error["error"]["param"] == "output"
    status, error = await http.admin("POST", "/admin/prices", {"input": 1})
    assert status == 400 and error["error"]["param"] == "model"
    assert (await http.admin("DELETE", "/admin/prices/meta/llama-3?channel=mock-openai"))[0] == 200
    assert (await http.admin("GET", "/admin/prices/meta/llama-3?channel=mock-openai"))[0] == 404
    # A price the config file names cannot be created or changed here.
    status, error = await http.admin("POST", "/admin/prices", {"model": "gpt-4o-mini", "input": 9})
    assert status == 409 and error["error"]["code"] == "config_managed" and "config file" in error["error"]["message"]


def channel_body(mock_url: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "api-openai",
        "provider": "openai",
        "base_url": f"{mock_url}/v1",
        "api_keys": [NEW_UPSTREAM_KEY],
        "models": ["brand-new-model"],
        "model_map": {"brand-new-model": "gpt-4o-mini-2024-07-18"},
        "priority": 1,
    }
    body.update(overrides)
    return body


async def test_channel_created_through_the_api_serves_without_restart(
    served: tuple[RunningGateway, Http], mock_upstream: MockUpstream
) -> None:
    gateway, http = served
    assert (await http.chat(CLIENT_KEY, "brand-new-model"))[0] == 404
    status, created = await http.admin("POST", "/admin/channels", channel_body(mock_upstream.url))
    assert status == 201, created
    assert created["source"] == "api" and created["status"] == "active"
    assert created["api_keys"] == ["sk-n…"] and NEW_UPSTREAM_KEY not in str(created)
    mock_upstream.requests.clear()
    status, answer = await http.chat(CLIENT_KEY, "brand-new-model", "fresh")
    assert status == 200 and answer["choices"][0]["message"]["content"] == "Echo: fresh"
    assert mock_upstream.requests[-1].headers["authorization"] == f"Bearer {NEW_UPSTREAM_KEY}"
    status, health = await http.admin("GET", "/admin/channels")
    assert status == 200 and [c["name"] for c in health] == ["mock-openai", "api-openai"]
    status, settings = await http.admin("GET", "/admin/channel-settings")
    assert [(c["name"], c["source"]) for c in settings["data"]] == [("mock-openai", "config"), ("api-openai", "api")]
    assert UPSTREAM_KEY not in str(settings) and NEW_UPSTREAM_KEY not in str(settings)

    # Unrelated changes keep the Channel objects (breaker and key state) of unchanged channels.
    before = {c.name: c for c in gateway.app.gateway.catalog.channels}
    await http.admin("POST", "/admin/users", {"name": "someone"})
    after = {c.name: c for c in gateway.app.gateway.catalog.channels}
    assert after["mock-openai"] is before["mock-openai"] and after["api-openai"] is before["api-openai"]

    status, patched = await http.admin("PATCH", "/admin/channels/api-openai", {"models": ["another-model"]})
    assert status == 200 and patched["models"] == ["another-model"] and patched["priority"] == 1
    assert (await http.chat(CLIENT_KEY, "another-model"))[0] == 200
    assert (await http.chat(CLIENT_KEY, "brand-new-model"))[0] == 404
    status, paused = await http.admin("PATCH", "/admin/channels/api-openai", {"status": "disabled"})
    assert status == 200 and paused["status"] == "disabled"
    assert (await http.chat(CLIENT_KEY, "another-model"))[0] == 404
    status, fetched = await http.admin("GET", "/admin/channels/api-openai")
    assert status == 200 and fetched["status"] == "disabled"
    assert (await http.admin("DELETE", "/admin/channels/api-openai"))[0] == 200
    assert (await http.admin("GET", "/admin/channels/api-openai"))[0] == 404
    assert (await http.admin("DELETE", "/admin/channels/api-openai"))[0] == 404


async def test_a_vendor_channel_over_its_anthropic_endpoint_created_through_the_api(
    served: tuple[RunningGateway, Http], mock_upstream: MockUpstream
) -> None:
    _, http = served
    body = channel_body(
        mock_upstream.url,
        name="api-deepseek",
        provider="deepseek",
        protocol="anthropic",
        base_url=f"{mock_upstream.url}/deepseek/anthropic",
        models=["ds-messages"],
        model_map={},
    )
    status, created = await http.admin("POST", "/admin/channels", body)
    assert status == 201 and created["protocol"] == "anthropic", created
    mock_upstream.requests.clear()
    status, answer = await http.chat(CLIENT_KEY, "ds-messages", "over messages")
    assert status == 200 and answer["choices"][0]["message"]["content"] == "Echo: over messages"
    seen = mock_upstream.requests[-1]
    assert seen.path == "/deepseek/anthropic/v1/messages" and seen.headers["x-api-key"] == NEW_UPSTREAM_KEY
    status, error = await http.admin("PATCH", "/admin/channels/api-deepseek", {"provider": "xai"})
    assert status == 400 and error["error"]["param"] == "protocol"
    status, patched = await http.admin("PATCH", "/admin/channels/api-deepseek", {"protocol": None})
    assert status == 200 and patched["protocol"] is None


async def test_channel_bad_input_and_config_channels(
    served: tuple[RunningGateway, Http], mock_upstream: MockUpstream
) -> None:
    _, http = served
    url = mock_upstream.url
    for overrides, param in (
        ({"provider": "foo"}, "provider"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"api_keys": []}, "api_keys"),
        ({"models": []}, "models"),
        ({"weight": -1}, "weight"),
        ({"priority": "high"}, "priority"),
        ({"name": "has/slash"}, "name"),
        ({"colour": "red"}, "colour"),
        ({"protocol": "anthropic"}, "protocol"),  # OpenAI has no Anthropic-compatible endpoint
        ({"protocol": "grpc"}, "protocol"),
    ):
        status, error = await http.admin("POST", "/admin/channels", channel_body(url, **overrides))
        assert status == 400, overrides
        assert error["error"]["param"] == param, (overrides, error)
    status, error = await http.admin("POST", "/admin/channels", channel_body(url, name="mock-openai"))
    assert status == 409 and error["error"]["code"] == "config_managed"
    assert (await http.admin("POST", "/admin/channels", channel_body(url)))[0] == 201
    assert (await http.admin("POST", "/admin/channels", channel_body(url)))[0] == 409
    status, error = await http.admin("PATCH", "/admin/channels/api-openai", {"name": "renamed"})
    assert status == 400 and error["error"]["param"] == "name"
    status, error = await http.admin("PATCH", "/admin/channels/api-openai", {"base_url": "nope"})
    assert status == 400 and error["error"]["param"] == "base_url"
    for method, body in (("PATCH", {"weight": 3}), ("DELETE", None)):
        status, error = await http.admin(method, "/admin/channels/mock-openai", body)
        assert status == 409 and "config file" in error["error"]["message"]
    status, config_channel = await http.admin("GET", "/admin/channels/mock-openai")
    assert status == 200 and config_channel["source"] == "config" and UPSTREAM_KEY not in str(config_channel)
    assert (await http.chat(CLIENT_KEY))[0] == 200


async def test_prices_carry_modality_prices_and_image_tiers(served: tuple[RunningGateway, Http]) -> None:
    _, http = served
    tiers = {"1024x1024": 0.04, "high": 0.17, "1024x1536/high": 0.25}
    body = {"model": "gpt-image-1", "input": 5, "image_input": 10, "image_output": 40, "per_image_tiers": tiers}
    status, price = await http.admin("POST", "/admin/prices", body)
    assert status == 201, price
    assert price["image_input"] == 10 and price["image_output"] == 40 and price["audio_input"] is None
    assert price["per_image_tiers"] == tiers and price["per_image"] is None
    assert (await http.admin("GET", "/admin/prices/gpt-image-1"))[1] == price
    status, patched = await http.admin(
        "PATCH", "/admin/prices/gpt-image-1", {"per_image_tiers": {"low": 0.011}, "audio_output": 80}
    )
    assert status == 200 and patched["per_image_tiers"] == {"low": 0.011} and patched["audio_output"] == 80
    status, cleared = await http.admin("PATCH", "/admin/prices/gpt-image-1", {"per_image_tiers": None})
    assert status == 200 and cleared["per_image_tiers"] == {} and cleared["image_output"] == 40
    for bad in ({"per_image_tiers": {"hd": -1}}, {"per_image_tiers": {"": 1}}, {"image_input": -1}):
        status, error = await http.admin("PATCH", "/admin/prices/gpt-image-1", bad)
        assert status == 400 and next(iter(bad)) in error["error"]["message"], error
    status, plain = await http.admin("GET", "/admin/prices/gpt-4o-mini")  # a config price: the new fields empty
    assert status == 200 and plain["per_image_tiers"] == {} and plain["audio_output"] is None


async def test_prices_carry_long_context_tiers_and_1h_cache_writes(served: tuple[RunningGateway, Http]) -> None:
    _, http = served
    above = {"input": 6.0, "output": 22.5, "cached_input": 0.6, "cache_write": 7.5, "cache_write_1h": 12.0}
    body = {"model": "claude-sonnet-4-5", "input": 3, "output": 15, "cache_write_1h": 6, "above_tokens": 200_000}
    status, error = await http.admin("POST", "/admin/prices", body)  # above_tokens without above
    assert status == 400 and "above" in error["error"]["message"], error
    status, price = await http.admin("POST", "/admin/prices", {**body, "above": above})
    assert status == 201, price
    assert price["above_tokens"] == 200_000 and price["cache_write_1h"] == 6
    assert price["above"] == {**above, "reasoning": None}
    assert (await http.admin("GET", "/admin/prices/claude-sonnet-4-5"))[1] == price
    status, error = await http.admin("PATCH", "/admin/prices/claude-sonnet-4-5", {"above_tokens": None})
    assert status == 400 and error["error"]["param"] == "above_tokens", error  # above would be left without it
    status, cleared = await http.admin(
        "PATCH", "/admin/prices/claude-sonnet-4-5", {"above_tokens": None, "above": None}
    )
    assert status == 200 and cleared["above"] is None and cleared["above_tokens"] is None
    status, error = await http.admin("PATCH", "/admin/prices/claude-sonnet-4-5", {"above_tokens": 100})
    assert status == 400 and error["error"]["param"] == "above", error
    status, moved = await http.admin(
        "PATCH", "/admin/prices/claude-sonnet-4-5", {"above_tokens": 100, "above": {"input": 1, "output": 2}}
    )
    assert status == 200 and moved["above_tokens"] == 100 and moved["above"]["input"] == 1
