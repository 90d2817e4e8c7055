"""Settle the money of written usage rows, in the transaction that writes them.

Every row with a key and a cost adds its ``cost_nano`` to that key's ``used_nano``; every row whose
request held a reservation deletes it and releases its amount from the key's ``reserved_nano``.  The
ledger and the keys' balances therefore change together or not at all, and ``sum(cost_nano)`` of a
key's rows equals its ``used_nano`` (as long as nobody edits either by hand).  The amounts released
are those the deleted reservation rows held (``DELETE ... RETURNING``), so a reservation already
resolved elsewhere (crash recovery) is never released twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Connection, bindparam, delete, update

from omnirouter.storage import api_keys_table, reservations_table
from omnirouter.usage.record import UsageRecord

__all__ = ["apply_charges", "charge_keys"]

_KEYS = api_keys_table
_CHARGE = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("b_id"))
    .values(
        used_nano=_KEYS.c.used_nano + bindparam("b_cost"),
        reserved_nano=_KEYS.c.reserved_nano - bindparam("b_released"),
    )
)


def charge_keys(conn: Connection, costs: dict[int, int], released: dict[int, int]) -> None:
    """Add ``costs`` to ``used_nano`` and take ``released`` off ``reserved_nano``, per key id.

    Keys are updated in id order, so concurrent flushes of several processes cannot deadlock.
    """
    ids = sorted(costs.keys() | released.keys())
    if ids:
        params = [{"b_id": i, "b_cost": costs.get(i, 0), "b_released": released.get(i, 0)} for i in ids]
        conn.execute(_CHARGE, params)


def apply_charges(conn: Connection, records: Sequence[UsageRecord], reserved: Collection[str]) -> None:
    """Charge ``records`` to their keys and release the reservations of those in ``reserved`` (request ids)."""
    costs: dict[int, int] = {}
    request_ids: list[str] = []
    for rec in records:
        key_id = rec.key_id
        if key_id is None:
            continue
        if rec.cost_nano > 0:
            costs[key_id] = costs.get(key_id, 0) + rec.cost_nano
        if reserved and rec.request_id in reserved:
            request_ids.append(rec.request_id)
    released: dict[int, int] = {}
    if request_ids:
        table = reservations_table
        result = conn.execute(
            delete(table).where(table.c.request_id.in_(request_ids)).returning(table.c.key_id, table.c.amount_nano)
        )
        for key_id, amount in result:
            released[key_id] = released.get(key_id, 0) + amount
    charge_keys(conn, costs, released)
