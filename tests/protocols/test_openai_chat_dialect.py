"""Vendor dialects applied by the OpenAI Chat codec: the streamed ``<think>`` splitter, reasoning fields,
thinking switches and field renames (providers/vendors.py supplies the records)."""

from __future__ import annotations

from typing import Any

import pytest

from omnirouter.ir import ChatRequest, Message, ReasoningConfig, TextPart
from omnirouter.protocols.openai_chat.dialect import ChatDialect, ReasoningField, ThinkingSwitch, normalize_message
from omnirouter.protocols.openai_chat.think_tags import ThinkSplitter
from omnirouter.protocols.openai_chat.vendor_codec import VendorChatCodec
from omnirouter.providers import ProviderKind
from omnirouter.providers.vendors import VENDORS


def split(pieces: list[str]) -> tuple[str, str, int]:
    """(reasoning, text, pieces emitted) of feeding ``pieces`` then flushing."""
    splitter = ThinkSplitter()
    out = [piece for chunk in pieces for piece in splitter.feed(chunk)] + splitter.flush()
    reasoning = "".join(text for is_reasoning, text in out if is_reasoning)
    answer = "".join(text for is_reasoning, text in out if not is_reasoning)
    return reasoning, answer, len(out)


@pytest.mark.parametrize(
    ("content", "reasoning", "answer"),
    [
        ("<think>plan it</think>\n\nThe answer.", "plan it", "The answer."),
        ("\n <think>a<b</think>ok", "a<b", "ok"),
        ("No tags here, <think>late</think> stays.", "", "No tags here, <think>late</think> stays."),
        ("<thin is not a tag", "", "<thin is not a tag"),
        ("<think>never closed", "never closed", ""),
        ("<think></think>only answer", "", "only answer"),
        ("", "", ""),
    ],
)
def test_think_splitter_gives_the_same_split_whatever_the_chunking(content: str, reasoning: str, answer: str) -> None:
    assert split([content])[:2] == (reasoning, answer)
    assert split(list(content))[:2] == (reasoning, answer)  # one character a chunk: tags split everywhere
    for cut in range(len(content)):
        assert split([content[:cut], content[cut:]])[:2] == (reasoning, answer)


def test_think_splitter_holds_back_only_a_possible_partial_tag() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<th") == []  # may still become <think>
    assert splitter.feed("ink>step one </th") == [(True, "step one ")]  # "</th" may close the block
    assert splitter.feed("ought") == [(True, "</thought")]
    assert splitter.feed("</think>Done") == [(False, "Done")]
    assert splitter.feed(" more") == [(False, " more")]


@pytest.mark.parametrize(
    ("message", "dialect", "reasoning", "content"),
    [
        ({"content": "x", "reasoning": "r"}, ChatDialect(reasoning_fields=(ReasoningField.REASONING,)), "r", "x"),
        (
            {"content": "x", "reasoning_details": [{"type": "reasoning.text", "text": "d1"}, {"text": "d2"}]},
            ChatDialect(reasoning_fields=(ReasoningField.REASONING_DETAILS,)),
            "d1d2",
            "x",
        ),
        ({"content": "<think>t</think>\n\nx"}, ChatDialect(think_tags=True), "t", "x"),
        ({"content": "<think>t</think>x"}, ChatDialect(), None, "<think>t</think>x"),  # not flagged: left alone
    ],
)
def test_normalize_message_moves_the_vendors_reasoning(
    message: dict[str, Any], dialect: ChatDialect, reasoning: str | None, content: str
) -> None:
    normalize_message(dialect, message)
    assert message.get("reasoning_content") == reasoning
    assert message["content"] == content


def request(reasoning: ReasoningConfig | None) -> ChatRequest:
    return ChatRequest(model="m", messages=[Message(role="user", content=[TextPart(text="x")])], reasoning=reasoning)


@pytest.mark.parametrize(
    ("kind", "reasoning", "expected"),
    [
        (ProviderKind.DEEPSEEK, None, {"thinking": {"type": "disabled"}}),
        (ProviderKind.DEEPSEEK, ReasoningConfig(effort="none"), {"thinking": {"type": "disabled"}}),
        (
            ProviderKind.DEEPSEEK,
            ReasoningConfig(effort="xhigh"),
            {"thinking": {"type": "enabled"}, "reasoning_effort": "max"},
        ),
        (ProviderKind.ZHIPU, None, {"thinking": {"type": "disabled"}}),
        (ProviderKind.MOONSHOT, None, {}),
        (ProviderKind.MOONSHOT, ReasoningConfig(budget_tokens=0), {"thinking": {"type": "disabled"}}),
        (ProviderKind.DASHSCOPE, None, {}),
        (
            ProviderKind.DASHSCOPE,
            ReasoningConfig(budget_tokens=5000),
            {"enable_thinking": True, "thinking_budget": 5000},
        ),
        (ProviderKind.SILICONFLOW, ReasoningConfig(effort="none"), {"enable_thinking": False}),
        (ProviderKind.OPENROUTER, ReasoningConfig(budget_tokens=900), {"reasoning": {"max_tokens": 900}}),
        (ProviderKind.VLLM, ReasoningConfig(effort="low"), {"chat_template_kwargs": {"enable_thinking": True}}),
        (ProviderKind.XAI, ReasoningConfig(effort="low"), {"reasoning_effort": "low"}),
        (ProviderKind.XAI, ReasoningConfig(effort="none"), {}),
        (ProviderKind.MINIMAX, ReasoningConfig(effort="high"), {}),
        (ProviderKind.QIANFAN, ReasoningConfig(effort="high"), {}),
    ],
)
def test_each_vendor_gets_its_own_thinking_switch(
    kind: ProviderKind, reasoning: ReasoningConfig | None, expected: dict[str, Any]
) -> None:
    body = VendorChatCodec(VENDORS[kind].dialect).encode_request(request(reasoning))
    switches = {
        "thinking",
        "reasoning_effort",
        "enable_thinking",
        "thinking_budget",
        "reasoning",
        "chat_template_kwargs",
    }
    assert {k: v for k, v in body.items() if k in switches} == expected


def test_every_vendor_dialect_is_a_frozen_record() -> None:
    for vendor in VENDORS.values():
        with pytest.raises(AttributeError):
            vendor.dialect.think_tags = True  # type: ignore[misc]
        assert vendor.dialect.thinking in ThinkingSwitch


@pytest.mark.parametrize(
    ("kind", "model", "ruled"),
    [
        (ProviderKind.MOONSHOT, "kimi-k2.5", True),
        (ProviderKind.MOONSHOT, "kimi-k2.6-preview", True),
        (ProviderKind.MOONSHOT, "kimi-k3", True),
        (ProviderKind.MOONSHOT, "kimi-k2-thinking", False),
        (ProviderKind.MOONSHOT, "kimi-k2-0905", False),
        (ProviderKind.MOONSHOT, "moonshot-v1-8k", False),
        (ProviderKind.MINIMAX, "MiniMax-M3", True),
        (ProviderKind.MINIMAX, "minimax-m3.1-flash", True),
        (ProviderKind.MINIMAX, "MiniMax-M2.7", False),
        (ProviderKind.DEEPSEEK, "deepseek-v4-flash", False),
    ],
)
def test_model_rules_name_the_models_they_hold_for(kind: ProviderKind, model: str, ruled: bool) -> None:
    assert (VENDORS[kind].dialect.rule_for(model) is not None) is ruled


def test_a_model_rule_switch_replaces_the_vendor_one_for_its_models_only() -> None:
    dialect = VENDORS[ProviderKind.MINIMAX].dialect
    m3, m2 = dialect.for_model("MiniMax-M3"), dialect.for_model("MiniMax-M2")
    assert (m3.thinking, m3.thinking_on, m3.thinks_by_default) == (ThinkingSwitch.THINKING_OBJECT, "adaptive", False)
    assert m2 is dialect and m2.thinking is ThinkingSwitch.MODEL_CHOICE
