"""Model names and glob patterns (``gpt-4o*``), compiled once: the one way model lists are matched.

Channels' ``models`` and ``responses_models``, client keys' allowed models, prices and the
provider families' limits all hold names that may be glob patterns (``*``, ``?``, ``[...]``,
as :func:`fnmatch.fnmatchcase`: case-sensitive, ``*`` crosses ``/`` and ``.``).  A name
without those characters is an exact name: a set or dict lookup, no regular expression.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

V = TypeVar("V")

_GLOB_CHARS = frozenset("*?[")


def is_pattern(name: str) -> bool:
    """Whether ``name`` is a glob pattern rather than an exact model name."""
    return not _GLOB_CHARS.isdisjoint(name)


def _matcher(patterns: Iterable[str]) -> Callable[[str], re.Match[str] | None]:
    """One compiled regular expression matching any of ``patterns`` (whole names only)."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)).match


class ModelPatterns:
    """A set of exact model names and glob patterns; ``model in patterns`` tells whether one matches."""

    __slots__ = ("_match", "exact", "globs")

    def __init__(self, names: Iterable[str]) -> None:
        names = tuple(names)
        self.exact = frozenset(n for n in names if not is_pattern(n))
        """The exact names."""
        self.globs = tuple(n for n in names if is_pattern(n))
        """The glob patterns, in the order given."""
        self._match = _matcher(self.globs) if self.globs else None

    def __contains__(self, model: str) -> bool:
        if model in self.exact:
            return True
        return self._match is not None and self._match(model) is not None

    def __bool__(self) -> bool:
        return bool(self.exact or self.globs)

    def __repr__(self) -> str:
        return f"ModelPatterns({[*sorted(self.exact), *self.globs]!r})"


class ModelTable(Generic[V]):
    """Values by model name or glob pattern: an exact name wins, else the first matching pattern in order."""

    __slots__ = ("_exact", "_globs")

    def __init__(self, entries: Iterable[tuple[str, V]]) -> None:
        self._exact: dict[str, V] = {}
        globs: list[tuple[Callable[[str], re.Match[str] | None], V]] = []
        for name, value in entries:
            if is_pattern(name):
                globs.append((_matcher((name,)), value))
            else:
                self._exact.setdefault(name, value)
        self._globs = tuple(globs)

    def get(self, model: str) -> V | None:
        """The value for ``model``, ``None`` when no name or pattern matches."""
        value = self._exact.get(model)
        if value is not None:
            return value
        for match, value in self._globs:
            if match(model) is not None:
                return value
        return None

    def __bool__(self) -> bool:
        return bool(self._exact or self._globs)
