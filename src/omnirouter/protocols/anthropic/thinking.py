"""IR :class:`ReasoningConfig` → Anthropic ``thinking``, ``output_config.effort`` and ``max_tokens``.

Anthropic requires ``max_tokens``; without one the request gets
``DEFAULT_MAX_TOKENS`` (8192), raised to ``budget + 4096`` when a thinking budget
needs room.  A budget must be ≥ 1024 and < ``max_tokens``: smaller budgets are
raised to 1024, larger ones cut to ``max_tokens - 1``, and when ``max_tokens`` ≤
1024 thinking is left out.

Requests decoded from Anthropic come back as they were: a budget → enabled,
effort ``none`` → disabled, effort or nothing → adaptive with
``output_config.effort`` (unless the client asked for no thinking at all, which
the side table remembers), ``display`` restored.  Requests from other protocols
never get ``output_config.effort``, adaptive or disabled (not every Claude model
knows them): a budget → enabled; an effort → enabled with the budget of
``ir/reasoning.py`` (``max`` counts as ``xhigh``); no effort nor budget →
enabled with 8192 when thoughts or a summary were asked for; effort ``none`` or a
zero budget → no ``thinking``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ReasoningConfig
from omnirouter.ir.reasoning import effort_to_budget
from omnirouter.protocols.anthropic._shared import DEFAULT_MAX_TOKENS
from omnirouter.protocols.anthropic.side import SideReader

MIN_BUDGET = 1024
DEFAULT_BUDGET = 8192
ANSWER_ROOM = 4096
"""Tokens left for the answer above a thinking budget when ``max_tokens`` is picked by the gateway."""


def _plan(reasoning: ReasoningConfig | None, same: bool, side: SideReader) -> tuple[str | None, int, str | None]:
    """``(thinking type, budget, output effort)``."""
    kept_effort = side.get("effort") if same else None
    kept_effort = kept_effort if isinstance(kept_effort, str) else None
    if reasoning is None:
        return None, 0, kept_effort
    effort = reasoning.effort
    budget = reasoning.budget_tokens
    if (budget is not None and budget <= 0) or (budget is None and effort == "none"):
        return ("disabled" if same else None), 0, kept_effort
    if budget is not None:
        return "enabled", budget, (effort if same and effort != "none" else None)
    if same:
        absent = side.get("thinking_type") == "absent"
        return (None if absent else "adaptive"), 0, effort
    if effort is not None:
        return "enabled", effort_to_budget("xhigh" if effort == "max" else effort) or DEFAULT_BUDGET, None
    if reasoning.include_thoughts or reasoning.summary not in (None, "none"):
        return "enabled", DEFAULT_BUDGET, None
    return None, 0, None


def thinking_for(
    reasoning: ReasoningConfig | None, max_tokens: int | None, *, same: bool, side: SideReader
) -> tuple[dict[str, Any] | None, str | None, int]:
    """``(thinking, output_config.effort, max_tokens)`` for an upstream request."""
    kind, budget, effort = _plan(reasoning, same, side)
    if kind == "enabled":
        budget = max(budget, MIN_BUDGET)
        if max_tokens is None:
            max_tokens = max(DEFAULT_MAX_TOKENS, budget + ANSWER_ROOM)
        budget = min(budget, max_tokens - 1)
        if budget < MIN_BUDGET:
            kind = None
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if kind is None:
        return None, effort, max_tokens
    thinking: dict[str, Any] = {"type": kind}
    if kind == "enabled":
        thinking["budget_tokens"] = budget
    display = side.get("thinking_display") if same else None
    if kind != "disabled" and isinstance(display, str):
        thinking["display"] = display
    return thinking, effort, max_tokens
