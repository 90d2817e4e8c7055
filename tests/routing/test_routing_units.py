"""The pure pieces of routing: planner order, circuit breaker states, key pool rotation."""

from __future__ import annotations

import random
from collections import Counter

import msgspec

from omnirouter.config import BreakerConfig, ChannelConfig
from omnirouter.routing import Channel, plan, plan_with_fallbacks
from omnirouter.routing.breaker import CircuitBreaker
from omnirouter.routing.upstream_keys import UpstreamKeyPool


def channel(name: str, models: list[str], priority: int = 0, weight: int = 1, **extra: object) -> Channel:
    config = msgspec.convert(
        {
            "name": name,
            "provider": "openai",
            "base_url": "http://x/v1",
            "api_keys": ["k"],
            "models": models,
            "priority": priority,
            "weight": weight,
            **extra,
        },
        ChannelConfig,
    )
    return Channel(config)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_higher_priority_first_then_weighted_random() -> None:
    low = channel("low", ["m"], priority=0)
    heavy = channel("heavy", ["m"], priority=5, weight=3)
    light = channel("light", ["m"], priority=5, weight=1)
    rng = random.Random(7)
    firsts = Counter(plan("m", [low, heavy, light], rng)[0].channel.name for _ in range(4000))
    assert set(firsts) == {"heavy", "light"}
    assert 0.70 < firsts["heavy"] / 4000 < 0.80  # 3:1 weights
    assert all(plan("m", [low, heavy, light], rng)[-1].channel.name == "low" for _ in range(50))


def test_zero_weight_channels_go_last_within_their_priority() -> None:
    zero = channel("zero", ["m"], weight=0)
    one = channel("one", ["m"], weight=1)
    assert [a.channel.name for a in plan("m", [zero, one], random.Random(1))] == ["one"]


def test_model_patterns_mapping_and_fallback_order() -> None:
    a = channel("a", ["gpt-4o*"], model_map={"gpt-4o": "gpt-4o-2024-08-06"})
    b = channel("b", ["claude-sonnet-4-5"])
    assert a.serves("gpt-4o-mini") and not a.serves("gpt-5")
    attempts = plan_with_fallbacks(
        "gpt-4o", lambda m: [c for c in (a, b) if c.serves(m)], {"gpt-4o": ["claude-sonnet-4-5"]}
    )
    assert [(x.channel.name, x.public_model, x.upstream_model) for x in attempts] == [
        ("a", "gpt-4o", "gpt-4o-2024-08-06"),
        ("b", "claude-sonnet-4-5", "claude-sonnet-4-5"),
    ]


def test_responses_models_switch_the_protocol() -> None:
    c = channel("c", ["gpt-5*", "gpt-4o"], responses_models=["gpt-5*"])
    assert c.protocol_for("gpt-5-codex").value == "openai_responses"
    assert c.protocol_for("gpt-4o").value == "openai_chat"


def test_breaker_opens_after_failures_in_window_and_recovers_through_one_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(failures=3, window=10, cooldown=5), clock)
    breaker.record_failure()
    clock.now += 11  # out of the window: forgotten
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 5
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.record_failure()  # the probe failed: another cooldown
    assert breaker.state == "open"
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_breaker_open_since_spans_failed_probes_and_mirrored_opens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(failures=1, window=10, cooldown=5), clock)
    assert breaker.open_since is None
    breaker.record_failure()
    opened = clock.now
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()  # the probe failed: open again, but the spell began at the first opening
    assert breaker.state == "open" and breaker.open_since == opened
    clock.now += 5
    breaker.allow()
    breaker.record_success()
    assert breaker.open_since is None
    breaker.force_open(clock.now + 5)  # another worker's opening starts a spell here too
    assert breaker.open_since == clock.now and breaker.state == "open"
    breaker.force_close()
    assert breaker.open_since is None


def test_breaker_probe_released_without_verdict() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(failures=1, window=10, cooldown=1), clock)
    breaker.record_failure()
    clock.now += 1
    assert breaker.allow() and not breaker.allow()
    breaker.release_probe()
    assert breaker.allow()


def test_key_pool_rotates_and_sets_keys_aside() -> None:
    clock = Clock()
    pool = UpstreamKeyPool(("a", "b", "c"), clock)
    assert [pool.next_key() for _ in range(4)] == ["a", "b", "c", "a"]
    pool.set_aside("b", 60)
    assert [pool.next_key() for _ in range(4)] == ["c", "a", "c", "a"]
    assert pool.usable() == 2
    pool.set_aside("a", 60)
    pool.set_aside("c", 60)
    assert pool.next_key() is None and pool.usable() == 0
    clock.now += 61
    assert pool.usable() == 3 and pool.next_key() is not None


def test_attempts_are_made_once_per_channel_and_model() -> None:
    mapped = Channel(
        ChannelConfig(
            name="a", provider="openai", base_url="http://x/v1", api_keys=["k"], models=["m*"], model_map={"m1": "up-1"}
        )
    )
    other = Channel(ChannelConfig(name="b", provider="openai", base_url="http://x/v1", api_keys=["k"], models=["m*"]))
    first = plan("m1", [mapped])[0]
    assert plan("m1", [mapped])[0] is first
    assert (first.upstream_model, first.public_model) == ("up-1", "m1")
    assert plan("m1", [other])[0].channel is other
    assert plan("m1", [other])[0].upstream_model == "m1"
