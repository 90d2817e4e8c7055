"""A key's money as its holder sees it: quota, spent, set aside for requests in flight, and what remains."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from omnirouter.billing.cost import nano_to_usd
from omnirouter.storage import Database, api_keys_table

__all__ = ["balance_of", "key_balance"]


def _usd(nano: int | None) -> float | None:
    return None if nano is None else float(nano_to_usd(nano))


def balance_of(quota_nano: int | None, used_nano: int, reserved_nano: int) -> dict[str, Any]:
    """The balance fields from the three ``api_keys`` columns.

    ``*_nano`` are exact integers (1 USD = 10^9); ``*_usd`` the same as floats, for display.
    ``quota`` and ``remaining`` are ``None`` for a key without a quota; ``remaining`` is
    ``quota - used - reserved`` and can be negative when the quota was lowered below what is spent.
    """
    remaining = None if quota_nano is None else quota_nano - used_nano - reserved_nano
    return {
        "quota_nano": quota_nano,
        "used_nano": used_nano,
        "reserved_nano": reserved_nano,
        "remaining_nano": remaining,
        "quota_usd": _usd(quota_nano),
        "used_usd": _usd(used_nano),
        "reserved_usd": _usd(reserved_nano),
        "remaining_usd": _usd(remaining),
    }


async def key_balance(db: Database, key_id: int) -> dict[str, Any] | None:
    """The balance of key ``key_id`` (``balance_of`` plus ``key_id``), or ``None`` if there is no such key."""
    table = api_keys_table
    stmt = select(table.c.quota_nano, table.c.used_nano, table.c.reserved_nano).where(table.c.id == key_id)
    async with db.engine.connect() as conn:
        row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    return {"key_id": key_id, **balance_of(row.quota_nano, row.used_nano, row.reserved_nano)}
