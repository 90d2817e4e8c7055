"""The only writer of money: keys' balances (``used_nano``, ``reserved_nano``, credits to ``quota_nano``) and
reservation rows.

Every function takes the caller's connection, so money moves in the same transaction as the rows that
explain it (a usage row and its charge, a recovered reservation and its ledger row) or not at all:

* ``hold``: set aside an amount against a key's remaining quota and record the reservation (atomic);
* ``apply_charges``: add charged rows' costs to ``used_nano`` and release their reservations;
* ``resolve_abandoned``: release reservations whose holder died, charging each its input estimate;
* ``settle_task``: charge a finished task (zero when it failed) and release its reservation;
* ``credit``: add a top-up or a redeemed code to a key's quota and record it (``credits`` row).

Released amounts are those the deleted reservation rows held (``DELETE ... RETURNING``), so a
reservation already resolved elsewhere is never released twice.  Keys are updated in id order, so
concurrent flushes of several processes cannot deadlock.  See docs/accounts.md ("Money").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, bindparam, delete, insert, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage import api_keys_table, reservations_table
from omnirouter.storage.credits_repo import record_credit

__all__ = [
    "REQUEST_HOLDER",
    "TASK_HOLDER",
    "Abandoned",
    "Charge",
    "Credited",
    "apply_charges",
    "charge_keys",
    "credit",
    "hold",
    "resolve_abandoned",
    "settle_task",
]

REQUEST_HOLDER = "request"
"""``reservations.holder`` of a request's reservation (released at start when its process is dead)."""
TASK_HOLDER = "task"
"""``reservations.holder`` of an asynchronous task's reservation (never recovered at start)."""

_KEYS = api_keys_table
_HOLD = (
    update(_KEYS)
    .where(
        _KEYS.c.id == bindparam("b_id"),
        or_(
            _KEYS.c.quota_nano.is_(None),
            _KEYS.c.quota_nano - _KEYS.c.used_nano - _KEYS.c.reserved_nano >= bindparam("b_amount"),
        ),
    )
    .values(reserved_nano=_KEYS.c.reserved_nano + bindparam("b_amount"))
)
_INSERT_RESERVATION = insert(reservations_table)
_CHARGE = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("b_id"))
    .values(
        used_nano=_KEYS.c.used_nano + bindparam("b_cost"),
        reserved_nano=_KEYS.c.reserved_nano - bindparam("b_released"),
    )
)


_CREDIT = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("b_id"), _KEYS.c.quota_nano.is_not(None))
    .values(quota_nano=_KEYS.c.quota_nano + bindparam("b_amount"))
    .returning(_KEYS.c.quota_nano)
)


class Credited(NamedTuple):
    """What ``credit`` did: the key's quota after it and the id of its ``credits`` row."""

    quota_nano: int
    credit_id: int


class Charge(Protocol):
    """What a charged row says about money (``usage.UsageRecord`` is one)."""

    @property
    def request_id(self) -> str: ...

    @property
    def key_id(self) -> int | None: ...

    @property
    def cost_nano(self) -> int: ...


async def hold(
    conn: AsyncConnection,
    *,
    request_id: str,
    key_id: int,
    amount_nano: int,
    input_nano: int,
    model: str,
    created_at: datetime,
    owner: int,
    holder: str = REQUEST_HOLDER,
) -> bool:
    """Reserve ``amount_nano`` of the key's remaining quota for ``holder``; False when it does not cover it."""
    result = await conn.execute(_HOLD, {"b_id": key_id, "b_amount": amount_nano})
    if result.rowcount != 1:
        return False
    row = {
        "request_id": request_id,
        "key_id": key_id,
        "amount_nano": amount_nano,
        "input_nano": input_nano,
        "model": model[:256],
        "created_at": created_at,
        "owner": owner,
        "holder": holder,
    }
    await conn.execute(_INSERT_RESERVATION, row)
    return True


def charge_keys(conn: Connection, costs: dict[int, int], released: dict[int, int]) -> None:
    """Add ``costs`` to ``used_nano`` and take ``released`` off ``reserved_nano``, per key id."""
    ids = sorted(costs.keys() | released.keys())
    if ids:
        params = [{"b_id": i, "b_cost": costs.get(i, 0), "b_released": released.get(i, 0)} for i in ids]
        conn.execute(_CHARGE, params)


def _release(conn: Connection, request_ids: Sequence[str]) -> list[Any]:
    """Delete these reservations; the rows that were still there."""
    table = reservations_table
    return list(conn.execute(delete(table).where(table.c.request_id.in_(request_ids)).returning(*table.c)))


def apply_charges(conn: Connection, charges: Iterable[Charge], reserved: Collection[str]) -> None:
    """Charge rows to their keys and release the reservations of those in ``reserved`` (request ids)."""
    costs: dict[int, int] = {}
    request_ids: list[str] = []
    for charge in charges:
        key_id = charge.key_id
        if key_id is None:
            continue
        if charge.cost_nano > 0:
            costs[key_id] = costs.get(key_id, 0) + charge.cost_nano
        if reserved and charge.request_id in reserved:
            request_ids.append(charge.request_id)
    released: dict[int, int] = {}
    if request_ids:
        for row in _release(conn, request_ids):
            released[row.key_id] = released.get(row.key_id, 0) + row.amount_nano
    charge_keys(conn, costs, released)


class Abandoned(NamedTuple):
    """A reservation released because its holder died, and what it was charged (its input estimate)."""

    request_id: str
    key_id: int
    model: str
    created_at: datetime
    charged_nano: int


def resolve_abandoned(conn: Connection, request_ids: Sequence[str]) -> list[Abandoned]:
    """Release these reservations, charging each its input estimate (never more than it held)."""
    released: dict[int, int] = {}
    charged: dict[int, int] = {}
    resolved: list[Abandoned] = []
    for row in _release(conn, request_ids):
        charge = max(0, min(row.input_nano, row.amount_nano))
        released[row.key_id] = released.get(row.key_id, 0) + row.amount_nano
        charged[row.key_id] = charged.get(row.key_id, 0) + charge
        resolved.append(Abandoned(row.request_id, row.key_id, row.model, row.created_at, charge))
    charge_keys(conn, {k: v for k, v in charged.items() if v}, released)
    return resolved


def settle_task(conn: Connection, task_id: str, key_id: int, cost_nano: int) -> int:
    """Charge ``cost_nano`` to the key of a finished task and release the task's reservation (``TASK_HOLDER``,
    named by the task id); the amount released (0 when it held none).

    Call it in the transaction whose compare-and-set made the task terminal, beside its ledger row:
    the status move happens once, so this does too.
    """
    table = reservations_table
    query = delete(table).where(table.c.request_id == task_id, table.c.holder == TASK_HOLDER).returning(*table.c)
    released = 0
    for row in conn.execute(query):
        released += row.amount_nano
    charge_keys(conn, {key_id: cost_nano} if cost_nano > 0 else {}, {key_id: released} if released else {})
    return released


async def credit(
    conn: AsyncConnection,
    *,
    key_id: int,
    amount_nano: int,
    source: str,
    actor: str,
    note: str | None = None,
    redemption_id: int | None = None,
    at: datetime | None = None,
) -> Credited | None:
    """Add ``amount_nano`` to the quota of ``key_id`` and record the credit row, atomically; the new quota
    and the row's id.

    ``None`` (nothing written) when the key does not exist or has no quota (unlimited: nothing to add to).
    The caller's transaction holds both writes, so a failure after this rolls the credit back too.
    """
    row = (await conn.execute(_CREDIT, {"b_id": key_id, "b_amount": amount_nano})).first()
    if row is None:
        return None
    quota = int(row.quota_nano)
    credit_id = await record_credit(
        conn, key_id=key_id, amount_nano=amount_nano, quota_after_nano=quota, source=source, actor=actor, note=note,
        redemption_id=redemption_id, at=at,
    )  # fmt: skip
    return Credited(quota, credit_id)
