"""Top-ups and redemption codes: money added to a key's quota (docs/accounts.md "Top-ups and redemption codes").

Both end in ``money.credit`` (the one writer of money), in the caller's transaction: a top-up from the admin
API or the CLI, and a code claimed by its holder (``redemptions_repo.claim_code``, one conditional UPDATE,
so a code credits exactly one key once).  Keys without a quota (unlimited) and keys of the config file
(whose quota the file sets) cannot be credited; a refused redemption rolls back with its transaction and
leaves the code unused.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.billing.money import Credited, credit
from omnirouter.storage import api_keys_table
from omnirouter.storage.keys_repo import changeable_key
from omnirouter.storage.models import utcnow
from omnirouter.storage.ownership import ConfigOwned
from omnirouter.storage.redemptions_repo import claim_code, why_unusable
from omnirouter.storage.repo_common import Conflict, Invalid, nano_to_usd, usd_to_nano

__all__ = ["MAX_TOP_UP_NANO", "Redeemed", "TopUp", "redeem", "top_up"]

MAX_TOP_UP_NANO = 1_000_000 * 1_000_000_000
"""One top-up adds at most 1,000,000 USD."""
_MAX_QUOTA_NANO = 2**63 - 1  # a BIGINT


def _fits(quota_nano: int, amount: int, key_id: int) -> None:
    if quota_nano > _MAX_QUOTA_NANO - amount:
        raise Conflict(f"The key {key_id}'s quota cannot grow by that much.", code="quota_too_large")


class TopUp(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/keys/{id}/top-up``: US dollars to add to the key's quota, and why."""

    usd: float | str
    note: str | None = None


class Redeemed(msgspec.Struct, kw_only=True):
    """What a credit did: the amount added and the quota and remaining balance after it (USD)."""

    object: str
    key_id: int
    credit_id: int | None
    amount_usd: float
    quota_usd: float
    remaining_usd: float
    redemption_id: int | None = None


async def _creditable(conn: AsyncConnection, key_id: int, owned: ConfigOwned) -> Any:
    """The key's row if it can take a credit, else ``NotFound`` / ``Conflict`` saying why."""
    row = await changeable_key(conn, key_id, owned, "credited")
    if row.quota_nano is None:
        raise Conflict(
            f"The key {key_id} has no quota (unlimited), so there is nothing to add to; set its quota_usd first.",
            code="key_unlimited",
        )
    return row


async def _result(
    conn: AsyncConnection, key_id: int, amount: int, done: Credited, redemption_id: int | None
) -> Redeemed:
    table = api_keys_table
    stmt = select(table.c.used_nano, table.c.reserved_nano).where(table.c.id == key_id)
    row = (await conn.execute(stmt)).one()
    return Redeemed(
        object="credit",
        key_id=key_id,
        credit_id=done.credit_id,
        amount_usd=nano_to_usd(amount) or 0.0,
        quota_usd=nano_to_usd(done.quota_nano) or 0.0,
        remaining_usd=nano_to_usd(done.quota_nano - int(row.used_nano) - int(row.reserved_nano)) or 0.0,
        redemption_id=redemption_id,
    )


async def top_up(conn: AsyncConnection, key_id: int, body: TopUp, owned: ConfigOwned, *, actor: str) -> Redeemed:
    """Add ``body.usd`` (more than 0, at most 1,000,000) to the key's quota; ``actor``: ``admin`` or ``cli``."""
    amount = usd_to_nano(body.usd, "usd")
    if amount == 0 or amount > MAX_TOP_UP_NANO:
        raise Invalid("'usd' must be more than 0 and at most 1000000 US dollars.", code="invalid_amount", param="usd")
    if body.note is not None and len(body.note) > 1000:
        raise Invalid("'note' is longer than 1000 characters.", code="invalid_value", param="note")
    row = await _creditable(conn, key_id, owned)
    _fits(row.quota_nano, amount, key_id)
    done = await credit(conn, key_id=key_id, amount_nano=amount, source="top_up", actor=actor, note=body.note)
    if done is None:  # its quota was cleared since the check, by another transaction
        raise Conflict(f"The key {key_id} has no quota (unlimited); nothing to add to.", code="key_unlimited")
    return await _result(conn, key_id, amount, done, None)


async def redeem(conn: AsyncConnection, code: str, key_id: int, owned: ConfigOwned) -> Redeemed:
    """Redeem ``code`` for the key ``key_id``: claim it and credit its worth, or raise why not.

    Unknown, used, disabled and expired codes are ``NotFound`` / ``Conflict`` with codes
    ``redemption_code_invalid`` / ``_used`` / ``_disabled`` / ``_expired``; a key that cannot be credited
    (unlimited, config file) is a ``Conflict`` raised before the code is touched.
    """
    row = await _creditable(conn, key_id, owned)
    now = utcnow()
    claimed = await claim_code(conn, code, key_id, now)
    if claimed is None:
        raise await why_unusable(conn, code, now)
    _fits(row.quota_nano, claimed.amount_nano, key_id)  # raised: the caller's rollback leaves the code unused
    note = f"redemption code {claimed.id} of batch {claimed.batch!r}"
    done = await credit(
        conn, key_id=key_id, amount_nano=claimed.amount_nano, source="redemption", actor="key", note=note,
        redemption_id=claimed.id, at=now,
    )  # fmt: skip
    if done is None:  # the key lost its quota meanwhile: the caller's rollback leaves the code unused
        raise Conflict(f"The key {key_id} has no quota (unlimited); nothing to add to.", code="key_unlimited")
    return await _result(conn, key_id, claimed.amount_nano, done, claimed.id)
