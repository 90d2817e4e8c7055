"""The vendors' thinking aliases (providers/vendors.py) against real model names: the names an aggregator's
catalogue lists (mixrouter's, as of late 2026) are never split, the aliases aggregators sell are."""

from __future__ import annotations

import pytest

from omnirouter.providers import ProviderKind
from omnirouter.providers.vendors import VENDORS

# Real models whose names end like a suffix, or look like one (the catalogue's language models).
REAL = {
    ProviderKind.MOONSHOT: ["kimi-k2-thinking", "kimi-k2", "kimi-k2-0905", "moonshot-v1-128k"],
    ProviderKind.DASHSCOPE: [
        "qwen3-235b-a22b-thinking-2507",
        "qwen3-next-80b-a3b-thinking",
        "qwen3-vl-235b-a22b-thinking",
        "qwen3-235b-a22b-instruct-2507",
        "qwen-max-latest",
        "qwen3-max",
    ],
    ProviderKind.DEEPSEEK: ["deepseek-chat", "deepseek-reasoner", "deepseek-v4-flash", "deepseek-v4-pro"],
    ProviderKind.ZHIPU: ["glm-4.5", "glm-4.6", "glm-4.7", "glm-4-plus", "glm-4.5v"],
    ProviderKind.XAI: ["grok-4", "grok-4-1-fast-reasoning", "grok-4-1-fast-non-reasoning"],
    ProviderKind.MINIMAX: ["minimax-m2", "abab6.5s-chat"],
}

ALIASES = [
    (ProviderKind.DEEPSEEK, "deepseek-v4-flash-nothinking", "deepseek-v4-flash", False, None),
    (ProviderKind.DEEPSEEK, "deepseek-v3.2-thinking", "deepseek-v3.2", True, None),
    (ProviderKind.DEEPSEEK, "deepseek-v4-pro-max", "deepseek-v4-pro", True, "max"),
    (ProviderKind.DASHSCOPE, "qwen3-8b-thinking", "qwen3-8b", True, None),
    (ProviderKind.DASHSCOPE, "qwen3-235b-a22b-nothinking", "qwen3-235b-a22b", False, None),
    (ProviderKind.DASHSCOPE, "qwen-plus-latest-nothinking", "qwen-plus-latest", False, None),
    (ProviderKind.ZHIPU, "glm-4.7-nothinking", "glm-4.7", False, None),
    (ProviderKind.ARK, "deepseek-v3-1-250821-thinking", "deepseek-v3-1-250821", True, None),
    (ProviderKind.XAI, "grok-3-mini-high", "grok-3-mini", True, "high"),
]


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k, names in REAL.items() for n in names])
def test_real_model_names_are_not_aliases(kind: ProviderKind, name: str) -> None:
    assert VENDORS[kind].thinking_alias(name, lambda base: base) is None


@pytest.mark.parametrize(("kind", "name", "base", "thinking", "effort"), ALIASES)
def test_aliases_name_the_base_model_and_the_switch(
    kind: ProviderKind, name: str, base: str, thinking: bool, effort: str | None
) -> None:
    found = VENDORS[kind].thinking_alias(name, lambda b: b)
    assert found is not None
    assert found[0] == base and found[1].thinking is thinking and found[1].effort == effort
