"""The OpenAI-compatible chat vendors as data: where each lives, how it takes its key, its dialect.

Every entry is a :class:`ChatVendor`; ``providers/registry.py`` turns each into a provider entry with a
chat endpoint, and the mock upstream answers in each vendor's dialect from this same table.  Facts and
their sources are in docs/vendors.md; a fact marked "check" there is a best reading, kept in data so
that correcting it is a one-line change.

``base_url`` is the vendor's OpenAI-compatible base (``/chat/completions`` is appended); ``base_suffix``
is added to a channel's ``base_url`` that lacks it (Azure's resource URL gets ``/openai``);
``chat_path`` is the chat endpoint under it, where ``{model}`` is the upstream model (Azure's
deployment) and ``{api_version}`` the channel's ``options.api_version`` (else ``api_version``).
``anthropic_base_url`` is the vendor's Anthropic-compatible base (``/v1/messages`` appended), where a
channel with ``protocol: anthropic`` goes; ``anthropic_auth`` is the header its key goes in there.
``thinking_aliases`` are the model-name suffixes aggregators sell for the vendor's hybrid models
(``deepseek-v4-flash-nothinking``, ``qwen3-8b-thinking``): the base model with thinking switched.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Final

import msgspec

from omnirouter.protocols.anthropic.vendor_codec import AnthropicVendorRules
from omnirouter.protocols.openai_chat.dialect import (
    ChatDialect,
    ModelRule,
    ReasoningField,
    ThinkingSwitch,
    UsageExtra,
)
from omnirouter.providers.auth import AuthStyle
from omnirouter.providers.kinds import ProviderKind

__all__ = ["VENDORS", "ChatVendor", "ThinkingAlias", "chat_vendor"]


class ThinkingAlias(msgspec.Struct, frozen=True, kw_only=True):
    """A model-name suffix standing for the base model with thinking on or off (and an effort level).

    ``models`` are glob patterns of the upstream base models it applies to, so a real model whose name
    happens to end in the suffix (``qwen3-next-80b-a3b-thinking``, ``kimi-k2-thinking``) is left alone.
    """

    suffix: str
    thinking: bool
    models: tuple[str, ...]
    effort: str | None = None

    def base(self, name: str) -> str | None:
        """``name`` without the suffix when it ends with it (``None`` otherwise)."""
        if len(name) > len(self.suffix) and name.endswith(self.suffix):
            return name[: -len(self.suffix)]
        return None

    def applies_to(self, upstream_base: str) -> bool:
        """Whether the vendor sells this switch for ``upstream_base``."""
        return any(fnmatchcase(upstream_base, pattern) for pattern in self.models)


def _on_off(*models: str) -> tuple[ThinkingAlias, ...]:
    """``-thinking`` / ``-nothinking`` on ``models``."""
    return (
        ThinkingAlias(suffix="-nothinking", thinking=False, models=models),
        ThinkingAlias(suffix="-thinking", thinking=True, models=models),
    )


class ChatVendor(msgspec.Struct, frozen=True, kw_only=True):
    """One OpenAI-compatible chat vendor (see the module docstring)."""

    base_url: str
    dialect: ChatDialect
    auth: AuthStyle = AuthStyle.BEARER
    chat_path: str = "/chat/completions"
    base_suffix: str = ""
    api_version: str | None = None
    anthropic_base_url: str | None = None
    anthropic_auth: AuthStyle = AuthStyle.X_API_KEY
    thinking_aliases: tuple[ThinkingAlias, ...] = ()

    def chat_base(self, base_url: str) -> str:
        """A channel's ``base_url`` (or this vendor's default) with the vendor's base suffix."""
        base = (base_url or self.base_url).rstrip("/")
        if self.base_suffix and not base.endswith(self.base_suffix):
            base += self.base_suffix
        return base

    def anthropic_rules(self) -> AnthropicVendorRules:
        """The rules of the vendor's Anthropic-compatible endpoint, from the facts of its dialect: a vendor
        that thinks by default and has a switch for it gets the off switch there too."""
        dialect = self.dialect
        return AnthropicVendorRules(
            thinking_off_by_default=dialect.thinks_by_default and dialect.thinking is not ThinkingSwitch.MODEL_CHOICE,
            tool_turn_thinking=dialect.tool_call_reasoning,
            clamps=dialect.clamps,
            effort_map=dialect.effort_map,
            model_rules=dialect.model_rules,
        )

    def thinking_alias(self, name: str, upstream: Callable[[str], str]) -> tuple[str, ThinkingAlias] | None:
        """``(base name, alias)`` when ``name`` is a thinking alias of a base model whose upstream name
        (``upstream(base)``) the vendor sells the switch for; ``None`` otherwise."""
        for alias in self.thinking_aliases:
            base = alias.base(name)
            if base is not None and alias.applies_to(upstream(base)):
                return base, alias
        return None


_RC, _R, _RD = ReasoningField.REASONING_CONTENT, ReasoningField.REASONING, ReasoningField.REASONING_DETAILS
_MAX_TOKENS: Final = {"max_completion_tokens": "max_tokens"}
# Hybrid Qwen models that switch thinking per request (thinking-only and instruct-only models have the
# mode in their own names: qwen3-235b-a22b-thinking-2507, qwen3-next-80b-a3b-thinking).
_QWEN_HYBRID: Final = (
    "qwen3-?b",
    "qwen3-??b",
    "qwen3-?.?b",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "qwen-plus*",
    "qwen-turbo*",
    "qwen-flash*",
    "qwen3.[5-9]-*",
)

VENDORS: Final[dict[ProviderKind, ChatVendor]] = {
    ProviderKind.DEEPSEEK: ChatVendor(
        base_url="https://api.deepseek.com",
        anthropic_base_url="https://api.deepseek.com/anthropic",
        # new-api's setting/reasoning/suffix.go (-none, -max) and the -thinking / -nothinking of aggregators
        thinking_aliases=(
            *_on_off("deepseek-*"),
            ThinkingAlias(suffix="-none", thinking=False, models=("deepseek-v4*",)),
            ThinkingAlias(suffix="-max", thinking=True, effort="max", models=("deepseek-v4*",)),
        ),
        dialect=ChatDialect(
            reasoning_fields=(_RC,),
            thinking=ThinkingSwitch.THINKING_OBJECT,
            thinks_by_default=True,
            effort_map={"minimal": "low", "low": "low", "medium": "high", "high": "high", "xhigh": "max", "max": "max"},
            renames=_MAX_TOKENS,
            usage_extras=frozenset({UsageExtra.PROMPT_CACHE_HIT}),
            tool_call_reasoning=True,  # api-docs.deepseek.com/guides/thinking_mode#tool-calls
        ),
    ),
    ProviderKind.MOONSHOT: ChatVendor(
        base_url="https://api.moonshot.ai/v1",
        anthropic_base_url="https://api.moonshot.ai/anthropic",
        anthropic_auth=AuthStyle.BEARER,  # ANTHROPIC_AUTH_TOKEN in every Claude Code setup for it (docs/vendors.md)
        thinking_aliases=_on_off("kimi-k2.[5-9]*"),  # kimi-k2-thinking is a model of its own
        dialect=ChatDialect(
            reasoning_fields=(_RC, _R),
            thinking=ThinkingSwitch.THINKING_OBJECT,
            usage_extras=frozenset({UsageExtra.CHOICE_USAGE}),
            clamps={"temperature": (0.0, 1.0)},  # kimi-k2 request schema: 0-1
            # "When temperature is close to 0, n can only be 1" (platform.kimi.ai/docs/api/models-overview);
            # how close is not published (check).
            single_choice_below=0.01,
            model_rules=(
                # K2.5 and later fix their own sampling: "Cannot be modified" (same page); 1.0 thinking, 0.6 not.
                ModelRule(
                    models=("kimi-k2.[5-9]*", "kimi-k[3-9]*"),
                    fixed={"temperature": 1.0, "top_p": 0.95, "n": 1, "presence_penalty": 0, "frequency_penalty": 0},
                    fixed_off={"temperature": 0.6},
                ),
            ),
        ),
    ),
    ProviderKind.ZHIPU: ChatVendor(
        base_url="https://open.bigmodel.cn/api/paas/v4",
        anthropic_base_url="https://open.bigmodel.cn/api/anthropic",
        anthropic_auth=AuthStyle.BEARER,  # Claude Code's ANTHROPIC_AUTH_TOKEN in Z.ai's guide
        thinking_aliases=_on_off("glm-4.[5-9]*", "glm-5*"),
        dialect=ChatDialect(
            reasoning_fields=(_RC,),
            thinking=ThinkingSwitch.THINKING_OBJECT,
            thinks_by_default=True,
            renames=_MAX_TOKENS,
            drops=frozenset({"frequency_penalty", "presence_penalty"}),
            tool_choice_map={"required": "auto"},
            preserved_thinking=True,  # docs.z.ai/guides/capabilities/thinking-mode (preserved thinking)
            clamps={"temperature": (0.0, 1.0), "top_p": (0.01, 1.0)},  # check
        ),
    ),
    ProviderKind.DASHSCOPE: ChatVendor(
        base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        anthropic_base_url="https://dashscope.aliyuncs.com/apps/anthropic",
        anthropic_auth=AuthStyle.X_API_KEY,  # ANTHROPIC_API_KEY in Model Studio's Claude Code guide
        thinking_aliases=_on_off(*_QWEN_HYBRID),
        dialect=ChatDialect(
            reasoning_fields=(_RC,),
            thinking=ThinkingSwitch.ENABLE_THINKING,
            renames=_MAX_TOKENS,
            clamps={"temperature": (0.0, 1.99), "top_p": (0.01, 1.0)},  # [0, 2) and (0, 1] (check)
        ),
    ),
    ProviderKind.ARK: ChatVendor(
        base_url="https://ark.cn-beijing.volces.com/api/v3",
        # new-api relay/channel/volcengine: -thinking on deepseek* (Seed models take the same switch)
        thinking_aliases=_on_off("deepseek-*", "doubao-seed-*"),
        dialect=ChatDialect(reasoning_fields=(_RC,), thinking=ThinkingSwitch.THINKING_OBJECT, renames=_MAX_TOKENS),
    ),
    ProviderKind.MINIMAX: ChatVendor(
        base_url="https://api.minimax.io/v1",
        anthropic_base_url="https://api.minimax.io/anthropic",
        dialect=ChatDialect(
            reasoning_fields=(_RC, _RD),
            think_tags=True,
            history_think_tags=True,  # platform.minimax.io/docs/api-reference/text-openai-api
            clamps={"temperature": (0.01, 1.0)},  # (0, 1] (check)
            thinking=ThinkingSwitch.MODEL_CHOICE,  # M2.x always think
            thinks_by_default=True,
            # M3: thinking {type: adaptive | disabled}, adaptive when omitted (java.agentscope.io MiniMax
            # formatter; ../VENDORS.md marks it check): on is adaptive, off disabled, nothing sent unasked.
            model_rules=(
                ModelRule(
                    models=("MiniMax-M3*", "minimax-m3*"),
                    thinking=ThinkingSwitch.THINKING_OBJECT,
                    thinking_on="adaptive",
                    thinks_by_default=False,
                ),
            ),
            base_resp=True,  # failures may come as an HTTP 200 with base_resp.status_code ≠ 0
            # Not in its documented schema (java.agentscope.io MiniMax formatter drops the same).
            drops=frozenset(
                {
                    "parallel_tool_calls",
                    "presence_penalty",
                    "frequency_penalty",
                    "seed",
                    "response_format",
                    "tool_choice",
                }
            ),
        ),
    ),
    ProviderKind.XAI: ChatVendor(
        base_url="https://api.x.ai/v1",
        thinking_aliases=tuple(  # new-api relay/channel/xai: reasoning_effort from the name
            ThinkingAlias(suffix=f"-{level}", thinking=True, effort=level, models=("grok-3-mini*",))
            for level in ("low", "high")
        ),
        dialect=ChatDialect(reasoning_fields=(_RC,), thinking=ThinkingSwitch.REASONING_EFFORT),
    ),
    ProviderKind.QIANFAN: ChatVendor(
        base_url="https://qianfan.baidubce.com/v2",
        dialect=ChatDialect(reasoning_fields=(_RC,), thinking=ThinkingSwitch.MODEL_CHOICE),
    ),
    ProviderKind.HUNYUAN: ChatVendor(
        base_url="https://api.hunyuan.cloud.tencent.com/v1",
        dialect=ChatDialect(reasoning_fields=(_RC,), thinking=ThinkingSwitch.MODEL_CHOICE),
    ),
    ProviderKind.SPARK: ChatVendor(
        base_url="https://spark-api-open.xf-yun.com/v1",
        # X1.5 / X2 (base .../v2, model spark-x) switch thinking with thinking {type}; the /v1 models do not think.
        dialect=ChatDialect(reasoning_fields=(_RC,), thinking=ThinkingSwitch.THINKING_OBJECT, include_usage=False),
    ),
    ProviderKind.STEPFUN: ChatVendor(
        base_url="https://api.stepfun.com/v1",
        dialect=ChatDialect(reasoning_fields=(_R, _RC), thinking=ThinkingSwitch.MODEL_CHOICE),
    ),
    ProviderKind.ANTLING: ChatVendor(
        base_url="https://api.ant-ling.com/v1",
        dialect=ChatDialect(reasoning_fields=(_RC,), thinking=ThinkingSwitch.ENABLE_THINKING),
    ),
    ProviderKind.SENSENOVA: ChatVendor(
        base_url="https://api.sensenova.cn/compatible-mode/v1",
        dialect=ChatDialect(
            reasoning_fields=(_R, _RC),
            thinking=ThinkingSwitch.MODEL_CHOICE,
            renames={"max_completion_tokens": "max_new_tokens"},
            include_usage=False,
            clamps={"temperature": (0.01, 2.0), "top_p": (0.01, 0.99)},  # (0, 2] and (0, 1): lobehub
        ),
    ),
    ProviderKind.OPENROUTER: ChatVendor(
        base_url="https://openrouter.ai/api/v1",
        dialect=ChatDialect(reasoning_fields=(_R, _RD), thinking=ThinkingSwitch.REASONING_OBJECT),
    ),
    ProviderKind.GROQ: ChatVendor(
        base_url="https://api.groq.com/openai/v1",
        dialect=ChatDialect(
            reasoning_fields=(_R,),
            think_tags=True,  # reasoning_format "raw"
            thinking=ThinkingSwitch.REASONING_EFFORT,
            drops=frozenset({"logprobs", "logit_bias", "top_logprobs"}),
            usage_extras=frozenset({UsageExtra.X_GROQ}),
        ),
    ),
    ProviderKind.MISTRAL: ChatVendor(
        base_url="https://api.mistral.ai/v1",
        dialect=ChatDialect(
            thinking=ThinkingSwitch.MODEL_CHOICE,
            renames={**_MAX_TOKENS, "seed": "random_seed"},
            tool_choice_map={"required": "any"},
        ),
    ),
    ProviderKind.TOGETHER: ChatVendor(
        base_url="https://api.together.xyz/v1",
        dialect=ChatDialect(
            reasoning_fields=(_R, _RC), think_tags=True, thinking=ThinkingSwitch.MODEL_CHOICE, renames=_MAX_TOKENS
        ),
    ),
    ProviderKind.FIREWORKS: ChatVendor(
        base_url="https://api.fireworks.ai/inference/v1",
        dialect=ChatDialect(
            reasoning_fields=(_RC, _R), think_tags=True, thinking=ThinkingSwitch.REASONING_EFFORT, renames=_MAX_TOKENS
        ),
    ),
    ProviderKind.SILICONFLOW: ChatVendor(
        base_url="https://api.siliconflow.cn/v1",
        dialect=ChatDialect(reasoning_fields=(_RC,), thinking=ThinkingSwitch.ENABLE_THINKING, renames=_MAX_TOKENS),
    ),
    ProviderKind.AZURE: ChatVendor(
        base_url="",  # per resource: https://{resource}.openai.azure.com
        auth=AuthStyle.API_KEY,
        base_suffix="/openai",
        chat_path="/deployments/{model}/chat/completions?api-version={api_version}",
        api_version="2025-04-01-preview",
        dialect=ChatDialect(),
    ),
    ProviderKind.AZURE_V1: ChatVendor(
        base_url="",  # per resource: https://{resource}.openai.azure.com
        auth=AuthStyle.API_KEY,
        base_suffix="/openai/v1",
        dialect=ChatDialect(),
    ),
    ProviderKind.OLLAMA: ChatVendor(
        base_url="http://localhost:11434/v1",
        dialect=ChatDialect(
            reasoning_fields=(_R, _RC), think_tags=True, thinking=ThinkingSwitch.REASONING_EFFORT, renames=_MAX_TOKENS
        ),
    ),
    ProviderKind.VLLM: ChatVendor(
        base_url="http://localhost:8000/v1",
        dialect=ChatDialect(reasoning_fields=(_R, _RC), think_tags=True, thinking=ThinkingSwitch.CHAT_TEMPLATE_KWARGS),
    ),
}


def chat_vendor(kind: ProviderKind) -> ChatVendor | None:
    """The chat vendor entry of ``kind`` (``None`` for OpenAI, Anthropic, Gemini and media-only vendors)."""
    return VENDORS.get(kind)
