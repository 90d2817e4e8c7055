"""Input limits every protocol enforces on client bodies: nesting depth and numeric ranges.

* Nesting: tool definitions and structured-output settings may nest at most
  :data:`MAX_JSON_DEPTH` objects / arrays deep, on every path (pass-through included),
  because translation recurses into them (schema conversion, re-serialisation).
  The check runs at C speed: orjson refuses values nested deeper than its own fixed
  limit, so the value is wrapped in just enough one-element lists that a refusal
  means "deeper than :data:`MAX_JSON_DEPTH`".
* Numbers: each numeric request field has a :class:`Bounds`; integers must be whole
  numbers in range (``2.0`` is accepted, ``1e308`` is not), so no float turns into an
  integer beyond 64 bits and no integer field takes a fraction.
* :func:`client_json` serialises a body built from client input, turning the few
  values orjson cannot write (nesting past its limit, integers past 64 bits) into a 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import orjson

from omnirouter.ir import ErrorKind, GatewayError

MAX_JSON_DEPTH = 64
"""The most levels of JSON objects and arrays a tool list or structured-output setting may nest."""

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Bounds(NamedTuple):
    """The accepted range of one numeric field (inclusive), and whether it must be whole."""

    low: float
    high: float
    integer: bool

    def describe(self) -> str:
        """E.g. ``an integer from 0 to 2147483647``."""
        if self.integer:
            return f"an integer from {self.low} to {self.high}"
        return f"a number from {self.low:g} to {self.high:g}"


TOKENS = Bounds(0, INT32_MAX, True)
"""Output-token limits and thinking budgets."""
GEMINI_THINKING_BUDGET = Bounds(-1, INT32_MAX, True)
"""Gemini's ``thinkingBudget`` (``-1``: dynamic)."""
CHOICES = Bounds(1, 128, True)
"""``n`` / ``candidateCount``."""
TOP_K = Bounds(-1, INT32_MAX, True)
"""``top_k`` / ``topK`` (``-1``: off, on some OpenAI-compatible servers)."""
GEMINI_TOP_K = Bounds(-1, INT32_MAX, False)
"""Gemini's ``topK`` (a float in its SDK; rounded)."""
SEED = Bounds(INT64_MIN, INT64_MAX, True)
TEMPERATURE = Bounds(0, 2, False)
TOP_P = Bounds(0, 1, False)
PENALTY = Bounds(-2, 2, False)
"""``presence_penalty`` / ``frequency_penalty``."""


def bounded(value: Any, bounds: Bounds) -> int | float | None:
    """``value`` as a number within ``bounds`` (an ``int`` for integer fields); ``None`` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not bounds.low <= value <= bounds.high:  # NaN fails too
        return None
    if not bounds.integer:
        return float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


def bounded_int(value: Any, bounds: Bounds) -> int | None:
    """:func:`bounded` for an integer field."""
    number = bounded(value, bounds)
    return number if isinstance(number, int) else None


def field_error(param: str, bounds: Bounds) -> GatewayError:
    """The 400 for a numeric field outside ``bounds`` (or not a number)."""
    return GatewayError(ErrorKind.INVALID_REQUEST, f"'{param}' must be {bounds.describe()}.", param=param)


def number_field(
    obj: dict[str, Any],
    key: str,
    bounds: Bounds,
    param: str,
    error: Callable[[str, Bounds], GatewayError] = field_error,
) -> Any:
    """``obj[key]`` within ``bounds`` (an ``int`` for integer fields), ``None`` when absent or null; else
    ``error(param, bounds)`` is raised (each protocol words it its own way)."""
    value = obj.get(key)
    if value is None:
        return None
    found = bounded(value, bounds)
    if found is None:
        raise error(param, bounds)
    return found


def check_numbers(
    obj: dict[str, Any],
    fields: Iterable[tuple[str, Bounds]],
    prefix: str = "",
    error: Callable[[str, Bounds], GatewayError] = field_error,
) -> None:
    """Raise ``error(param, bounds)`` for the first field of ``obj`` present, not null and out of bounds."""
    for key, bounds in fields:
        value = obj.get(key)
        if value is not None and bounded(value, bounds) is None:
            raise error(prefix + key, bounds)


def _orjson_depth() -> int:
    """The deepest nesting orjson serialises (fixed in orjson; found once, by bisection)."""
    low, high = 1, 4096
    while low < high:
        mid = (low + high + 1) // 2
        value: Any = 0
        for _ in range(mid):
            value = [value]
        try:
            orjson.dumps(value)
        except TypeError:
            high = mid - 1
        else:
            low = mid
    return low


_ORJSON_DEPTH = _orjson_depth()


def _nests_deeper_python(value: Any, budget: int) -> bool:
    if budget <= 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(isinstance(c, dict | list) and _nests_deeper_python(c, budget - 1) for c in children)


def nests_deeper(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) has objects / arrays nested more than ``limit`` levels deep."""
    if not isinstance(value, dict | list):
        return False
    padding = _ORJSON_DEPTH - limit
    if padding < 0 or _ORJSON_DEPTH >= 4096:  # orjson's limit is not what this relies on: walk in Python
        return _nests_deeper_python(value, limit)
    wrapped: Any = value
    for _ in range(padding):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except TypeError:
        return True
    return False


def too_deep_error(param: str) -> GatewayError:
    """The 400 for a value nested past :data:`MAX_JSON_DEPTH`."""
    return GatewayError(
        ErrorKind.INVALID_REQUEST,
        f"'{param}' is nested too deeply: at most {MAX_JSON_DEPTH} levels of objects and arrays are allowed.",
        param=param,
    )


def check_nesting(obj: dict[str, Any], keys: Iterable[str], prefix: str = "") -> None:
    """Raise a 400 naming the first of ``obj[key]`` that nests past :data:`MAX_JSON_DEPTH`."""
    for key in keys:
        value = obj.get(key)
        if value is not None and nests_deeper(value):
            raise too_deep_error(prefix + key)


def json_text(value: Any, param: str) -> str:
    """Tool-call arguments (parsed JSON) as compact text; a 400 naming ``param`` past :data:`MAX_JSON_DEPTH`."""
    if nests_deeper(value):
        raise too_deep_error(param)
    return orjson.dumps(value).decode()


def client_json(value: Any, what: str = "the request") -> bytes:
    """``orjson.dumps(value)`` for a value built from client input; what orjson refuses is a 400."""
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"{what} cannot be forwarded: it nests too deeply (at most {MAX_JSON_DEPTH} levels) "
            f"or holds an integer beyond 64 bits ({exc}).",
        ) from None
