"""Fit a neutral request to one attempt's upstream before it is encoded (translated path only)."""

from __future__ import annotations

import msgspec

from omnirouter.ir import ChatRequest, ReasoningConfig
from omnirouter.ir.reasoning import thinking_wanted
from omnirouter.providers.limits import makes_images, output_limit, rejects_reasoning
from omnirouter.providers.vendors import ThinkingAlias
from omnirouter.routing import Attempt


def alias_reasoning(alias: ThinkingAlias, reasoning: ReasoningConfig | None) -> ReasoningConfig:
    """The reasoning a thinking alias (``…-nothinking``, ``…-thinking``, ``…-max``) asks for: off; or the
    client's own request when it already asks for thinking and the name sets no effort; else on at the
    name's effort (``high``, the thinking vendors' default, when it names none)."""
    if not alias.thinking:
        return ReasoningConfig(effort="none")
    if alias.effort is None and reasoning is not None and thinking_wanted(reasoning):
        return reasoning
    kept = reasoning if reasoning is not None else ReasoningConfig()
    return msgspec.structs.replace(kept, effort=alias.effort or "high", budget_tokens=None)


def fit_to_upstream(request: ChatRequest, attempt: Attempt) -> ChatRequest:
    """The request with the upstream's model name, ``max_tokens`` clamped to its output cap, and
    reasoning controls dropped for models known to refuse them (Claude Code asks every model for
    ``output_config.effort``; ``gpt-4o-mini`` would answer 400 to ``reasoning_effort``), and text and
    images asked of image models when the client named no modalities (``providers/limits.py``); a
    thinking alias's switch replaces the client's (:func:`alias_reasoning`)."""
    cap = attempt.channel.max_output_tokens or output_limit(attempt.upstream_model)
    max_tokens = request.max_tokens
    if cap is not None and max_tokens is not None and max_tokens > cap:
        max_tokens = cap
    reasoning = None if rejects_reasoning(attempt.upstream_model) else request.reasoning
    if attempt.thinking is not None:
        reasoning = alias_reasoning(attempt.thinking, request.reasoning)
    modalities = request.modalities
    if modalities is None and makes_images(attempt.upstream_model, attempt.channel.options.get("image_models", "")):
        modalities = ["text", "image"]
    return msgspec.structs.replace(
        request, model=attempt.upstream_model, max_tokens=max_tokens, reasoning=reasoning, modalities=modalities
    )
