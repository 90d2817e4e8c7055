"""The money flow around a request: reserve the most it can cost, settle from real usage, refund on failure.

* ``reserve`` (before any upstream call): checks that every model the plan may use has a price (or
  refuses, with ``unknown_price: refuse``); for a key with a quota, sets aside the most the request can
  cost on any planned attempt, atomically against the key's remaining quota, or refuses with 429
  ``insufficient_quota``.  Keys without a quota cost no database round trip.
* ``settle`` (after it, synchronous and O(1)): prices what was served from ``ctx.usage`` (or an
  estimate of it), caps it at the reservation for quota keys, and sets ``ctx.cost_nano``.  The usage
  recorder then writes the ledger row, charges the key and releases the reservation in one transaction.

See docs/accounts.md ("Money") for the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec
import orjson
from sqlalchemy import bindparam, insert, or_, update
from sqlalchemy.exc import SQLAlchemyError

from omnirouter.billing.cost import cost_nano, max_cost_nano, nano_to_usd
from omnirouter.billing.estimate import (
    choice_count,
    input_bound,
    input_estimate,
    output_bound,
    output_estimate,
    requested_max_output,
)
from omnirouter.billing.owner import OwnerLock, new_owner
from omnirouter.billing.prices import Price, PriceBook
from omnirouter.config import GatewayConfig
from omnirouter.config.bounds import MAX_REQUEST_COST_NANO
from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.relay.context import RequestContext
from omnirouter.routing import Attempt
from omnirouter.storage import Database, KeyRecord, api_keys_table, reservations_table
from omnirouter.storage.models import utcnow

__all__ = ["Billing", "Reservation"]

log = logging.getLogger("omnirouter.billing")

_KEYS = api_keys_table
_RESERVE = (
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


class Reservation:
    """What ``reserve`` learned about a request, and the money it set aside (``stored``: a database row)."""

    __slots__ = (
        "amount_nano",
        "attempts",
        "body",
        "body_bytes",
        "input_nano",
        "key_id",
        "request_id",
        "stored",
    )

    def __init__(
        self,
        request_id: str,
        key_id: int,
        amount_nano: int = 0,
        *,
        input_nano: int = 0,
        stored: bool = False,
        body: dict[str, Any] | None = None,
        attempts: Sequence[Attempt] = (),
    ) -> None:
        self.request_id = request_id
        self.key_id = key_id
        self.amount_nano = amount_nano
        self.input_nano = input_nano
        self.stored = stored
        self.body = body
        self.attempts = attempts
        self.body_bytes: int | None = None

    def size(self) -> int:
        """The request body's JSON length in bytes (measured once, when first needed)."""
        if self.body_bytes is None:
            self.body_bytes = len(orjson.dumps(self.body)) if self.body is not None else 0
        return self.body_bytes


def _served(ctx: RequestContext) -> dict[str, Any] | None:
    """The attempt that served the client, if anything reached it (the last attempt that ran)."""
    if ctx.ttfb is None:
        return None  # not a byte of an answer went out: the request failed, refund everything
    for entry in reversed(ctx.attempt_log):
        if "skipped" not in entry:
            served: dict[str, Any] = entry
            return served
    return None


class Billing:
    """Reserves before the upstream call and settles after it (one per worker)."""

    def __init__(
        self,
        db: Database | None = None,
        prices: PriceBook | None = None,
        *,
        default_max_output: int = 8192,
    ) -> None:
        self.db = db
        self.prices = prices if prices is not None else PriceBook(db)
        self.default_max_output = default_max_output
        self.owner = new_owner()
        self._lock: OwnerLock | None = None

    @classmethod
    def from_config(cls, db: Database, config: GatewayConfig) -> Billing:
        """The billing of a worker serving ``config`` on ``db``."""
        return cls(db, PriceBook(db, unknown=config.unknown_price), default_max_output=config.default_max_output_tokens)

    async def start(self) -> None:
        """Load prices; on PostgreSQL also hold this process's owner lock (see ``billing/owner.py``)."""
        await self.prices.reload()
        if self.db is not None and not self.db.is_sqlite and self._lock is None:
            self._lock = await OwnerLock.acquire(self.db, self.owner)
            self.owner = self._lock.owner

    async def reload(self) -> None:
        """Read prices and groups again (called when the admin API changes them)."""
        await self.prices.reload()

    async def close(self) -> None:
        """Let go of the owner lock (after the usage recorder's last flush)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            await lock.release()

    async def reserve(
        self, ctx: RequestContext, key: KeyRecord, body: dict[str, Any], attempts: Sequence[Attempt] = ()
    ) -> Reservation:
        """Check prices and set aside the most ``body`` can cost on any of ``attempts``.

        Raises 403 ``model_not_priced`` (``unknown_price: refuse``) or 429 ``insufficient_quota``.
        """
        prices = self.prices
        refuse = prices.unknown == "refuse"
        has_quota = key.quota_nano is not None
        priced: list[tuple[Attempt, Price]] = []
        for attempt in attempts:
            model = attempt.public_model
            price = prices.price_for(model, attempt.channel.name)
            if price is None:
                if refuse:
                    raise GatewayError(
                        ErrorKind.PERMISSION,
                        f"The model '{model}' has no price on this gateway, so it cannot be used.",
                        code="model_not_priced",
                        param="model",
                    )
                prices.warn_unknown(model)
            elif has_quota:
                priced.append((attempt, price))
        reservation = Reservation(ctx.request_id, key.id, body=body, attempts=attempts)
        if not priced:
            return reservation
        tokens_in = input_bound(reservation.size())
        tokens_in_estimate = input_estimate(reservation.size())
        requested, choices = requested_max_output(body), choice_count(body)
        multiplier = prices.multiplier(key.group)
        amount = input_nano = 0
        for attempt, price in priced:
            most_out = output_bound(attempt, requested, self.default_max_output) * choices
            amount = max(amount, max_cost_nano(tokens_in, most_out, price, multiplier))
            input_nano = max(input_nano, cost_nano(Usage(input_tokens=tokens_in_estimate), price, multiplier))
        if amount <= 0:
            return reservation
        await self._store(ctx, key, amount, input_nano)
        reservation.amount_nano, reservation.input_nano, reservation.stored = amount, input_nano, True
        return reservation

    async def _store(self, ctx: RequestContext, key: KeyRecord, amount: int, input_nano: int) -> None:
        """Add ``amount`` to the key's ``reserved_nano`` if its quota covers it, and record the reservation."""
        if self.db is None:
            raise RuntimeError("billing without a database cannot reserve")
        try:
            async with self.db.engine.begin() as conn:
                result = await conn.execute(_RESERVE, {"b_id": key.id, "b_amount": amount})
                if result.rowcount != 1:
                    raise GatewayError(
                        ErrorKind.INSUFFICIENT_QUOTA,
                        "You exceeded your current quota: this key's remaining balance cannot cover this request "
                        f"(it may cost up to ${nano_to_usd(amount).normalize():f}; lower max_tokens or add quota).",
                        code="insufficient_quota",
                    )
                await conn.execute(
                    _INSERT_RESERVATION,
                    {
                        "request_id": ctx.request_id,
                        "key_id": key.id,
                        "amount_nano": amount,
                        "input_nano": input_nano,
                        "model": ctx.model[:256],
                        "created_at": utcnow(),
                        "owner": self.owner,
                    },
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("cannot reserve quota for key %d: %s", key.id, exc)
            raise GatewayError(
                ErrorKind.OVERLOADED,
                "The gateway cannot check this key's quota right now; retry shortly.",
                code="quota_unavailable",
            ) from None

    def settle(self, ctx: RequestContext, key: KeyRecord, reservation: Reservation | None) -> bool:
        """Price the request and set ``ctx.cost_nano``; no await, no I/O.

        Returns True when a stored reservation is to be released with the request's usage record
        (``UsageRecorder.record(..., reserved=True)``).
        """
        cost = 0
        if ctx.usage is not None:
            ctx.usage = ctx.usage.clamped()  # an upstream's word, bounded before it is priced or stored
        served = _served(ctx)
        if served is not None:
            model, channel = str(served.get("model", ctx.model)), str(served.get("channel", ""))
            usage = self._final_usage(ctx, reservation, model, channel)
            price = self.prices.price_for(model, channel)
            if price is None:
                self.prices.warn_unknown(model)
            else:
                cost = cost_nano(usage, price, self.prices.multiplier(key.group))
                if cost > MAX_REQUEST_COST_NANO:
                    log.warning(
                        "request %s cost %d nano-USD: charged the maximum %d",
                        ctx.request_id,
                        cost,
                        MAX_REQUEST_COST_NANO,
                    )
                    cost = MAX_REQUEST_COST_NANO
        stored = reservation is not None and reservation.stored
        if key.quota_nano is not None:
            cap = reservation.amount_nano if reservation is not None and stored else 0
            if cost > cap:
                log.warning(
                    "request %s of key %d cost %d nano-USD, more than its reservation: charged %d",
                    ctx.request_id,
                    key.id,
                    cost,
                    cap,
                )
                cost = cap
        ctx.cost_nano = cost
        return stored

    def _final_usage(self, ctx: RequestContext, reservation: Reservation | None, model: str, channel: str) -> Usage:
        """``ctx.usage``, or an estimate when the upstream reported none (or a stream ended early)."""
        usage = ctx.usage
        ended_early = ctx.error_kind is not None
        if usage is not None and not ended_early:
            return usage
        bound = self._output_bound(reservation, model, channel)
        output = output_estimate(ctx.relayed_text, ctx.relayed_bytes, bound)
        if usage is None:
            body_bytes = reservation.size() if reservation is not None else 0
            usage = Usage(input_tokens=input_estimate(body_bytes), output_tokens=output, estimated=True)
        elif output > usage.output_tokens:
            usage = msgspec.structs.replace(usage, output_tokens=output, estimated=True)
        else:
            return usage
        ctx.usage = usage
        return usage

    def _output_bound(self, reservation: Reservation | None, model: str, channel: str) -> int:
        if reservation is None or reservation.body is None:
            return self.default_max_output
        body = reservation.body
        requested = requested_max_output(body)
        for attempt in reservation.attempts:
            if attempt.public_model == model and attempt.channel.name == channel:
                return output_bound(attempt, requested, self.default_max_output) * choice_count(body)
        return (requested or self.default_max_output) * choice_count(body)
