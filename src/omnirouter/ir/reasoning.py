"""Reasoning controls across protocols: one documented table between effort levels and token budgets.

| effort  | budget_tokens | a budget maps back to the effort when it is |
| ------- | ------------- | ------------------------------------------- |
| minimal | 1024          | below 2048                                  |
| low     | 2048          | 2048 .. 6143                                |
| medium  | 8192          | 6144 .. 16383                               |
| high    | 24576         | 16384 and above                             |

``none`` (OpenAI) and a zero budget (Gemini ``thinkingBudget: 0``) both mean: no thinking.
Anthropic's minimum budget is 1024, so every effort maps to a valid Anthropic budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omnirouter.ir.chat import ReasoningConfig

EFFORT_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
_XHIGH_BUDGET = 32768


def effort_to_budget(effort: str) -> int | None:
    """The token budget for an effort level; ``None`` for ``none`` or an unknown level."""
    if effort == "xhigh":
        return _XHIGH_BUDGET
    return EFFORT_BUDGETS.get(effort)


def budget_to_effort(budget: int) -> str:
    """The effort level a token budget corresponds to (``none`` for a zero budget)."""
    if budget <= 0:
        return "none"
    if budget < 2048:
        return "minimal"
    if budget < 6144:
        return "low"
    if budget < 16384:
        return "medium"
    return "high"


def thinking_wanted(reasoning: ReasoningConfig | None) -> bool | None:
    """``True`` when a request asks for thinking, ``False`` when it switches it off, ``None`` when silent."""
    if reasoning is None:
        return None
    if reasoning.effort == "none" or reasoning.budget_tokens == 0:
        return False
    if reasoning.effort is None and reasoning.budget_tokens is None:
        return None
    return True
