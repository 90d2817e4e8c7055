"""What a chat request may use at most, read from its body in any of the four protocols (``ir.Budget``).

The output limit is the request's own (``max_tokens``, ``max_completion_tokens``, ``max_output_tokens``,
``generationConfig.maxOutputTokens``; the largest when several are given), the choices OpenAI's ``n``
or Gemini's ``candidateCount``.  Billing turns the budget into a reservation (``billing/estimate.py``).
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import Budget

__all__ = ["chat_budget", "choice_count", "requested_max_output"]

_OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_MAX_CHOICES = 128


def chat_budget(body: dict[str, Any], input_bytes: int) -> Budget:
    """The budget of a chat request ``body`` whose JSON is ``input_bytes`` long."""
    return Budget(input_bytes, requested_max_output(body), choice_count(body))


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _generation_config(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("generationConfig", body.get("generation_config"))
    return config if isinstance(config, dict) else None


def requested_max_output(body: dict[str, Any]) -> int | None:
    """The output limit the request sets itself, in any protocol's field (the largest if several)."""
    found = [n for n in (_positive_int(body.get(name)) for name in _OUTPUT_FIELDS) if n is not None]
    config = _generation_config(body)
    if config is not None:
        value = _positive_int(config.get("maxOutputTokens", config.get("max_output_tokens")))
        if value is not None:
            found.append(value)
    return max(found) if found else None


def choice_count(body: dict[str, Any]) -> int:
    """How many answers the request asks for (OpenAI ``n``, Gemini ``candidateCount``)."""
    count = _positive_int(body.get("n"))
    config = _generation_config(body)
    if config is not None:
        count = _positive_int(config.get("candidateCount", config.get("candidate_count"))) or count
    return min(count or 1, _MAX_CHOICES)
