"""Database URL normalisation: every URL the gateway accepts, mapped to its async driver."""

from __future__ import annotations

__all__ = ["normalize_database_url"]

_SYNC_TO_ASYNC = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_ASYNC = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})


def normalize_database_url(url: str) -> str:
    """Return ``url`` with its async driver: ``sqlite://`` -> ``sqlite+aiosqlite://``,
    ``postgresql://`` / ``postgres://`` -> ``postgresql+asyncpg://``.

    URLs that already name ``aiosqlite`` or ``asyncpg`` are returned unchanged;
    anything else raises ``ValueError``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise ValueError(f"invalid database URL {url!r}: expected 'sqlite:///path.db' or 'postgresql://...'")
    lowered = scheme.lower()
    if lowered in _ASYNC:
        return url
    if lowered in _SYNC_TO_ASYNC:
        return f"{_SYNC_TO_ASYNC[lowered]}://{rest}"
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:// (or sqlite+aiosqlite://) "
        "or postgresql:// (or postgresql+asyncpg://)"
    )
