"""Redemption codes: batches of codes worth credit, each redeemable once by a key holder.

A code is shown once, when its batch is created, and stored only as its SHA-256 hash plus a display prefix
(like client keys: 192 random bits leave nothing to brute-force, so a fast hash is right).  Claiming is one
conditional ``UPDATE ... WHERE status = 'unused' AND not expired``: of two holders redeeming the same code at
once exactly one changes the row (PostgreSQL re-checks the condition after waiting for the other's row
lock; SQLite has one writer at a time).  The credit itself is ``billing``'s (``billing/credits.py``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Annotated, Any, NamedTuple

import msgspec
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.accounts_models import redemption_codes_table
from omnirouter.storage.models import utcnow
from omnirouter.storage.repo_common import Conflict, Invalid, NotFound, RepoError, as_utc, nano_to_usd, usd_to_nano

__all__ = [
    "CODE_PREFIX",
    "STATES",
    "BatchCreate",
    "BatchCreated",
    "Claimed",
    "CodeView",
    "claim_code",
    "create_batch",
    "disable_batch",
    "disable_code",
    "hash_code",
    "list_codes",
    "why_unusable",
]

CODE_PREFIX = "rc-"
STATES = ("unused", "used", "disabled", "expired")
MAX_COUNT = 1000
MAX_USD_NANO = 1_000_000 * 1_000_000_000  # one code is worth at most 1,000,000 USD
_CODES = redemption_codes_table

BatchName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Count = Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]


class BatchCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/redemptions``: ``count`` codes worth ``usd`` each, redeemable until ``expires_at`` (optional)."""

    name: BatchName
    count: Count
    usd: float | str
    expires_at: datetime | None = None


class CodeView(msgspec.Struct, kw_only=True):
    """A code as listings show it: never the code, only its prefix; ``state`` includes ``expired``."""

    id: int
    batch: str
    prefix: str
    usd: float
    state: str
    expires_at: datetime | None
    created_at: datetime
    used_at: datetime | None
    used_by_key_id: int | None


class NewCode(msgspec.Struct, kw_only=True):
    """A code just created: ``code`` is shown this once."""

    id: int
    code: str
    prefix: str


class BatchCreated(msgspec.Struct, kw_only=True):
    """The answer to ``POST /admin/redemptions``: the batch and its codes (shown once)."""

    object: str
    name: str
    count: int
    usd: float
    expires_at: datetime | None
    codes: list[NewCode]


class Claimed(NamedTuple):
    """A code this transaction marked used: its id, worth and batch."""

    id: int
    amount_nano: int
    batch: str


def hash_code(code: str) -> str:
    """SHA-256 hex digest of a code, as stored (surrounding whitespace ignored)."""
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def _state(row: Any, now: datetime) -> str:
    if row.status == "unused" and row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return str(row.status)


def _view(row: Any, now: datetime) -> CodeView:
    return CodeView(
        id=row.id,
        batch=row.batch,
        prefix=row.code_prefix,
        usd=nano_to_usd(row.amount_nano) or 0.0,
        state=_state(row, now),
        expires_at=row.expires_at,
        created_at=row.created_at,
        used_at=row.used_at,
        used_by_key_id=row.used_by_key_id,
    )


def _amount(usd: float | str) -> int:
    amount = usd_to_nano(usd, "usd")
    if amount == 0 or amount > MAX_USD_NANO:
        raise Invalid("'usd' must be more than 0 and at most 1000000 US dollars.", code="invalid_amount", param="usd")
    return amount


async def create_batch(conn: AsyncConnection, body: BatchCreate) -> BatchCreated:
    """Create ``body.count`` codes; the answer carries them, this once."""
    amount = _amount(body.usd)
    expires_at = as_utc(body.expires_at)
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise Invalid("'expires_at' is in the past.", code="invalid_value", param="expires_at")
    codes = [CODE_PREFIX + secrets.token_urlsafe(24) for _ in range(body.count)]
    rows = [
        {
            "batch": body.name,
            "code_hash": hash_code(code),
            "code_prefix": code[:8] + "…",
            "amount_nano": amount,
            "status": "unused",
            "expires_at": expires_at,
            "created_at": now,
        }
        for code in codes
    ]
    created: list[NewCode] = []
    for row, code in zip(rows, codes, strict=True):
        code_id = (await conn.execute(_CODES.insert().values(row).returning(_CODES.c.id))).scalar_one()
        created.append(NewCode(id=int(code_id), code=code, prefix=str(row["code_prefix"])))
    return BatchCreated(
        object="redemption_batch",
        name=body.name,
        count=body.count,
        usd=nano_to_usd(amount) or 0.0,
        expires_at=expires_at,
        codes=created,
    )


def _state_filter(state: str, now: datetime) -> Any:
    not_expired = or_(_CODES.c.expires_at.is_(None), _CODES.c.expires_at > now)
    if state == "unused":
        return and_(_CODES.c.status == "unused", not_expired)
    if state == "expired":
        return and_(_CODES.c.status == "unused", _CODES.c.expires_at <= now)
    return _CODES.c.status == state


async def list_codes(
    conn: AsyncConnection,
    *,
    batch: str | None = None,
    state: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[CodeView]:
    """Codes, newest first, optionally of one batch and/or state; ``before`` pages by id."""
    now = utcnow()
    stmt = select(_CODES).order_by(_CODES.c.id.desc()).limit(limit)
    if batch is not None:
        stmt = stmt.where(_CODES.c.batch == batch)
    if state is not None:
        stmt = stmt.where(_state_filter(state, now))
    if before is not None:
        stmt = stmt.where(_CODES.c.id < before)
    return [_view(row, now) for row in await conn.execute(stmt)]


async def disable_code(conn: AsyncConnection, code_id: int) -> CodeView:
    """Disable an unused code (expired ones too); a used one is a ``Conflict``, disabling twice changes nothing."""
    stmt = update(_CODES).where(_CODES.c.id == code_id, _CODES.c.status == "unused").values(status="disabled")
    await conn.execute(stmt)
    row = (await conn.execute(select(_CODES).where(_CODES.c.id == code_id))).first()
    if row is None:
        raise NotFound(f"No redemption code with id {code_id}.", code="redemption_code_not_found")
    if row.status == "used":
        raise Conflict(
            f"The redemption code {code_id} was already redeemed (by key {row.used_by_key_id}); it cannot be disabled.",
            code="redemption_code_used",
        )
    return _view(row, utcnow())


async def disable_batch(conn: AsyncConnection, batch: str) -> int:
    """Disable every unused code of a batch; how many (``NotFound`` when the batch has no code at all)."""
    exists = (await conn.execute(select(func.count()).where(_CODES.c.batch == batch))).scalar()
    if not exists:
        raise NotFound(f"No redemption batch named {batch!r}.", code="redemption_batch_not_found", param="batch")
    stmt = update(_CODES).where(_CODES.c.batch == batch, _CODES.c.status == "unused").values(status="disabled")
    return int((await conn.execute(stmt)).rowcount)


async def claim_code(conn: AsyncConnection, code: str, key_id: int, now: datetime) -> Claimed | None:
    """Mark the code used by ``key_id`` if it is unused and unexpired (atomic); ``None`` when it is not."""
    stmt = (
        update(_CODES)
        .where(
            _CODES.c.code_hash == hash_code(code),
            _CODES.c.status == "unused",
            or_(_CODES.c.expires_at.is_(None), _CODES.c.expires_at > now),
        )
        .values(status="used", used_at=now, used_by_key_id=key_id)
        .returning(_CODES.c.id, _CODES.c.amount_nano, _CODES.c.batch)
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else Claimed(int(row.id), int(row.amount_nano), str(row.batch))


async def why_unusable(conn: AsyncConnection, code: str, now: datetime) -> RepoError:
    """Why ``claim_code`` found nothing: an unknown, used, disabled or expired code."""
    row = (await conn.execute(select(_CODES).where(_CODES.c.code_hash == hash_code(code)))).first()
    if row is None:
        return NotFound("This redemption code does not exist.", code="redemption_code_invalid", param="code")
    state = _state(row, now)
    if state == "used":
        return Conflict("This redemption code has already been used.", code="redemption_code_used", param="code")
    if state == "disabled":
        return Conflict("This redemption code has been disabled.", code="redemption_code_disabled", param="code")
    if state == "expired":
        return Conflict("This redemption code has expired.", code="redemption_code_expired", param="code")
    return Conflict("This redemption code could not be redeemed; try again.", code="redemption_retry", param="code")
