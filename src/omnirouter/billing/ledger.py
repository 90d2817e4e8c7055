"""The money flow around a request: reserve the most it can cost, settle from real usage, refund on failure.

Billing sees typed records only: the request's ``ir.Budget`` (what it may use at most, read by its
operation), the planned attempts, and after the call an ``Outcome`` (what was served and used).

* ``reserve`` (before any upstream call): checks that every model the plan may use has a price (or
  refuses, with ``unknown_price: refuse``); for a key with a quota, sets aside the most the request can
  cost on any planned attempt, atomically against the key's remaining quota (``billing/money.py``), or
  refuses with 429 ``insufficient_quota``.  Keys without a quota cost no database round trip.
* ``settle`` (after it, synchronous and O(1)): prices what was served from the outcome's usage (or an
  estimate of it) and caps it at the reservation for quota keys.  The usage recorder then writes the
  ledger row, charges the key and releases the reservation in one transaction (``billing/money.py``).

See docs/accounts.md ("Money") for the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from omnirouter.billing.cost import cost_nano, max_cost_nano, max_units_nano, nano_to_usd
from omnirouter.billing.estimate import input_bound, input_estimate, output_bound, output_estimate
from omnirouter.billing.money import hold
from omnirouter.billing.owner import OwnerLock, new_owner
from omnirouter.billing.prices import Price, PriceBook
from omnirouter.config import GatewayConfig
from omnirouter.config.bounds import MAX_REQUEST_COST_NANO
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage
from omnirouter.routing import Attempt
from omnirouter.storage import Database, KeyRecord
from omnirouter.storage.models import utcnow

__all__ = ["Billing", "Outcome", "Reservation", "Settlement"]

log = logging.getLogger("omnirouter.billing")


class Reservation:
    """What ``reserve`` learned about a request, and the money it set aside (``stored``: a database row)."""

    __slots__ = ("_budget", "_read_budget", "amount_nano", "attempts", "input_nano", "key_id", "request_id", "stored")

    def __init__(
        self,
        request_id: str,
        key_id: int,
        budget: Callable[[], Budget],
        attempts: Sequence[Attempt] = (),
    ) -> None:
        self.request_id = request_id
        self.key_id = key_id
        self.amount_nano = 0
        self.input_nano = 0
        self.stored = False
        self.attempts = attempts
        self._read_budget = budget
        self._budget: Budget | None = None

    @property
    def budget(self) -> Budget:
        """The request's budget, read once when first needed (most keys have no quota and never ask)."""
        if self._budget is None:
            self._budget = self._read_budget()
        return self._budget


class Outcome(NamedTuple):
    """What a finished request did, as billing prices it."""

    request_id: str
    usage: Usage | None
    """The usage the upstream reported (None: it reported none)."""
    served: tuple[str, str] | None
    """``(public model, channel)`` of the attempt whose answer reached the client; None if none did."""
    ended_early: bool
    """The answer stopped before its end (a broken stream): reported usage may undercount it."""
    relayed_bytes: int
    relayed_text: Callable[[], int]
    """Bytes of generated text relayed to the client (measured only when asked)."""


class Settlement(NamedTuple):
    """What ``settle`` decided: the charge, the usage to record, and whether a stored reservation ends."""

    cost_nano: int
    usage: Usage | None
    reserved: bool


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
        self, request_id: str, model: str, key: KeyRecord, attempts: Sequence[Attempt], budget: Callable[[], Budget]
    ) -> Reservation:
        """Check prices and set aside the most the request (its ``budget``) can cost on any of ``attempts``.

        Raises 403 ``model_not_priced`` (``unknown_price: refuse``) or 429 ``insufficient_quota``.
        """
        prices = self.prices
        refuse = prices.unknown == "refuse"
        has_quota = key.quota_nano is not None
        priced: list[tuple[Attempt, Price]] = []
        for attempt in attempts:
            public = attempt.public_model
            price = prices.price_for(public, attempt.channel.name)
            if price is None:
                if refuse:
                    raise GatewayError(
                        ErrorKind.PERMISSION,
                        f"The model '{public}' has no price on this gateway, so it cannot be used.",
                        code="model_not_priced",
                        param="model",
                    )
                prices.warn_unknown(public)
            elif has_quota:
                priced.append((attempt, price))
        reservation = Reservation(request_id, key.id, budget, attempts)
        if not priced:
            return reservation
        most = reservation.budget
        tokens_in = input_bound(most.input_bytes) + max(most.input_tokens, 0)
        tokens_in_estimate = input_estimate(most.input_bytes)
        multiplier = prices.multiplier(key.group)
        amount = input_nano = 0
        for attempt, price in priced:
            most_out = output_bound(attempt, most.max_output, self.default_max_output) * most.choices
            # Tokens and metered units, each rounded up: never below their total rounded half-up.
            most_cost = max_cost_nano(tokens_in, most_out, price, multiplier) + max_units_nano(most, price, multiplier)
            amount = max(amount, most_cost)
            input_nano = max(input_nano, cost_nano(Usage(input_tokens=tokens_in_estimate), price, multiplier))
        if amount <= 0:
            return reservation
        await self._hold(request_id, model, key, amount, input_nano)
        reservation.amount_nano, reservation.input_nano, reservation.stored = amount, input_nano, True
        return reservation

    async def _hold(self, request_id: str, model: str, key: KeyRecord, amount: int, input_nano: int) -> None:
        """Reserve ``amount`` of the key's quota, or refuse the request."""
        if self.db is None:
            raise RuntimeError("billing without a database cannot reserve")
        try:
            async with self.db.engine.begin() as conn:
                held = await hold(
                    conn,
                    request_id=request_id,
                    key_id=key.id,
                    amount_nano=amount,
                    input_nano=input_nano,
                    model=model,
                    created_at=utcnow(),
                    owner=self.owner,
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("cannot reserve quota for key %d: %s", key.id, exc)
            raise GatewayError(
                ErrorKind.OVERLOADED,
                "The gateway cannot check this key's quota right now; retry shortly.",
                code="quota_unavailable",
            ) from None
        if not held:
            raise GatewayError(
                ErrorKind.INSUFFICIENT_QUOTA,
                "You exceeded your current quota: this key's remaining balance cannot cover this request "
                f"(it may cost up to ${nano_to_usd(amount).normalize():f}; lower max_tokens or add quota).",
                code="insufficient_quota",
            )

    def settle(self, outcome: Outcome, key: KeyRecord, reservation: Reservation | None) -> Settlement:
        """Price the request; no await, no I/O.

        ``Settlement.reserved``: a stored reservation is to be released with the request's usage record
        (``UsageRecorder.record(..., reserved=True)``).
        """
        cost = 0
        usage = outcome.usage
        if usage is not None:
            usage = usage.clamped()  # an upstream's word, bounded before it is priced or stored
        if outcome.served is not None:
            model, channel = outcome.served
            usage = self._final_usage(outcome, usage, reservation, model, channel)
            price = self.prices.price_for(model, channel)
            if price is None:
                self.prices.warn_unknown(model)
            else:
                cost = cost_nano(usage, price, self.prices.multiplier(key.group))
                if cost > MAX_REQUEST_COST_NANO:
                    log.warning(
                        "request %s cost %d nano-USD: charged the maximum %d",
                        outcome.request_id,
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
                    outcome.request_id,
                    key.id,
                    cost,
                    cap,
                )
                cost = cap
        return Settlement(cost, usage, stored)

    def _final_usage(
        self, outcome: Outcome, usage: Usage | None, reservation: Reservation | None, model: str, channel: str
    ) -> Usage:
        """``usage``, or an estimate when the upstream reported none (or a stream ended early)."""
        if usage is not None and not outcome.ended_early:
            return usage
        if usage is None:
            return self.estimate(reservation, model, channel, outcome.relayed_text(), outcome.relayed_bytes)
        bound = self._output_bound(reservation, model, channel)
        output = output_estimate(outcome.relayed_text(), outcome.relayed_bytes, bound)
        if output > usage.output_tokens:
            return msgspec.structs.replace(usage, output_tokens=output, estimated=True)
        return usage

    def estimate(
        self, reservation: Reservation | None, model: str, channel: str, relayed_text: int, relayed_bytes: int
    ) -> Usage:
        """The usage of an answer of ``model`` on ``channel`` whose upstream reported none (marked estimated):
        the prompt from the request's size, the output from the generated text relayed to the client
        (``billing/estimate.py``).  Settlement uses it, and a stream shows it to its client first."""
        output = output_estimate(relayed_text, relayed_bytes, self._output_bound(reservation, model, channel))
        input_bytes = reservation.budget.input_bytes if reservation is not None else 0
        return Usage(input_tokens=input_estimate(input_bytes), output_tokens=output, estimated=True)

    def _output_bound(self, reservation: Reservation | None, model: str, channel: str) -> int:
        if reservation is None:
            return self.default_max_output
        most = reservation.budget
        for attempt in reservation.attempts:
            if attempt.public_model == model and attempt.channel.name == channel:
                return output_bound(attempt, most.max_output, self.default_max_output) * most.choices
        return (most.max_output or self.default_max_output) * most.choices
