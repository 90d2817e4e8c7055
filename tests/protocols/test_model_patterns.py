"""The one model-pattern type (``ir/model_patterns.py``): fnmatchcase semantics, compiled once."""

from __future__ import annotations

import fnmatch

from omnirouter.ir.model_patterns import ModelPatterns, ModelTable, is_pattern

NAMES = ["gpt-4o", "gpt-4o-mini", "GPT-4O", "gpt-4.1", "gpt-5", "claude-3-5-sonnet", "a/b.c", "m[1]", "m1", ""]
PATTERNS = ["gpt-4o*", "gpt-?", "claude-3-[0-9]-*", "a/*", "m[1]", "gpt-4.1", "*sonnet"]


def test_membership_is_fnmatchcase_over_every_pattern() -> None:
    for count in range(len(PATTERNS) + 1):
        patterns = ModelPatterns(PATTERNS[:count])
        for name in NAMES:
            expected = any(fnmatch.fnmatchcase(name, p) for p in PATTERNS[:count])
            assert (name in patterns) is expected, (name, PATTERNS[:count])
    assert not ModelPatterns([]) and ModelPatterns(["x"]) and ModelPatterns(["x*"])


def test_exact_names_and_globs_are_told_apart() -> None:
    patterns = ModelPatterns(["gpt-5", "gpt-4o*", "o[13]"])
    assert patterns.exact == {"gpt-5"} and patterns.globs == ("gpt-4o*", "o[13]")
    assert [is_pattern(n) for n in ("gpt-5", "a*", "a?", "a[b]")] == [False, True, True, True]


def test_table_prefers_exact_names_then_the_first_matching_pattern() -> None:
    table = ModelTable([("gpt-4o*", 1), ("gpt-*", 2), ("gpt-4o-mini", 3), ("gpt-4o-mini", 4), ("x", 0)])
    assert table.get("gpt-4o-mini") == 3  # exact wins, and the first exact entry of a name
    assert table.get("gpt-4o") == 1 and table.get("gpt-5") == 2 and table.get("GPT-5") is None
    assert table.get("x") == 0 and table.get("y") is None
    assert not ModelTable([]) and ModelTable([("a", 1)])
