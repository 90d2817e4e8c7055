"""Credits: the history of a key's quota, one row per change (docs/accounts.md "Top-ups and redemption codes").

Top-ups and redeemed codes are written by ``billing.money.credit`` (the one writer of money), in the
transaction that raises the quota; a quota set through the admin API or the CLI (``keys_repo``) writes its
difference here too.  So for a key managed through the API, ``sum(amount_nano)`` of its rows equals its
``quota_nano`` (0 while it is unlimited).  Config-file keys have no rows: the file sets their quota.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.accounts_models import credits_table
from omnirouter.storage.models import utcnow
from omnirouter.storage.repo_common import nano_to_usd

__all__ = ["CreditList", "CreditView", "credit_total", "list_credits", "record_credit"]

SOURCES = ("top_up", "redemption", "quota", "opening")


class CreditView(msgspec.Struct, kw_only=True):
    """One change of a key's quota, in USD (``amount_nano`` exact)."""

    id: int
    key_id: int
    amount_usd: float
    amount_nano: int
    quota_after_usd: float | None
    source: str
    actor: str
    note: str | None
    redemption_id: int | None
    created_at: datetime


class CreditList(msgspec.Struct, kw_only=True):
    """``GET /admin/keys/{id}/credits``: the rows, oldest first, and their exact sum."""

    object: str
    key_id: int
    data: list[CreditView]
    total_nano: int
    total_usd: float


def _view(row: Any) -> CreditView:
    return CreditView(
        id=row.id,
        key_id=row.key_id,
        amount_usd=nano_to_usd(row.amount_nano) or 0.0,
        amount_nano=row.amount_nano,
        quota_after_usd=nano_to_usd(row.quota_after_nano),
        source=row.source,
        actor=row.actor,
        note=row.note,
        redemption_id=row.redemption_id,
        created_at=row.created_at,
    )


async def record_credit(
    conn: AsyncConnection,
    *,
    key_id: int,
    amount_nano: int,
    quota_after_nano: int | None,
    source: str,
    actor: str,
    note: str | None = None,
    redemption_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Insert one credit row (call it in the transaction that changed the quota); its id."""
    values = {
        "key_id": key_id,
        "amount_nano": amount_nano,
        "quota_after_nano": quota_after_nano,
        "source": source,
        "actor": actor,
        "note": note,
        "redemption_id": redemption_id,
        "created_at": at or utcnow(),
    }
    table = credits_table
    return int((await conn.execute(insert(table).values(values).returning(table.c.id))).scalar_one())


async def list_credits(conn: AsyncConnection, key_id: int) -> CreditList:
    """Every credit row of a key, oldest first, with their exact sum."""
    table = credits_table
    rows = list(await conn.execute(select(table).where(table.c.key_id == key_id).order_by(table.c.id)))
    total = sum(int(row.amount_nano) for row in rows)
    return CreditList(
        object="list",
        key_id=key_id,
        data=[_view(r) for r in rows],
        total_nano=total,
        total_usd=nano_to_usd(total) or 0.0,
    )


async def credit_total(conn: AsyncConnection, key_id: int) -> int:
    """The sum of a key's credit rows in nano-USD (0 when it has none)."""
    table = credits_table
    found = (await conn.execute(select(func.sum(table.c.amount_nano)).where(table.c.key_id == key_id))).scalar()
    return int(found or 0)
