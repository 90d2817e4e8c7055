"""The money flow around a request: reserve the most it can cost, settle from real usage, refund on failure.

(Placeholder interface: charges nothing until the billing engine is in.)
"""

from __future__ import annotations

from typing import Any

from omnirouter.relay.context import RequestContext
from omnirouter.storage import KeyRecord


class Reservation:
    """Money set aside for one request."""

    __slots__ = ("amount_nano", "key_id", "request_id")

    def __init__(self, request_id: str, key_id: int, amount_nano: int) -> None:
        self.request_id = request_id
        self.key_id = key_id
        self.amount_nano = amount_nano


class Billing:
    """Reserves before the upstream call and settles after it."""

    async def reserve(self, ctx: RequestContext, key: KeyRecord, body: dict[str, Any]) -> Reservation | None:
        """Set aside the most ``body`` can cost, or raise 429 ``insufficient_quota``."""
        return None

    def settle(self, ctx: RequestContext, key: KeyRecord, reservation: Reservation | None) -> None:
        """Charge the request from ``ctx.usage`` (refund everything when nothing was served)."""
        ctx.cost_nano = 0
