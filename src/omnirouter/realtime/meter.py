"""The money of one realtime session: one reservation held at a time, settled per response.

A session holds a reservation for its next response from the moment it opens: the most one response can
cost (``RealtimeConfig.response_input_tokens`` input and the served model's output bound, each at the
dearest price, as ``Billing.reserve`` computes for any request).  Each ``response.done`` settles that
reservation with the response's usage — one usage row, its cost capped at the reservation, written with
the reservation's release in one transaction by the usage recorder — and reserves again for the next
response (for a key with a quota, once that row is written: its release frees the money the next
reservation needs); when the key's quota cannot cover it, ``charge`` says so and the session is closed.  At the end
the reservation still held is released by a closing row that costs nothing (what a response in progress
used is not charged).  A ``response.done`` without usage is charged an estimate from the text the session
saw (``estimate``), its row marked ``usage_estimated``.  So every response is charged exactly once, and a
session never spends past its key's quota.  Rows are ``<session id>.<n>``, ``n`` counting from 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import orjson

from omnirouter.billing import Outcome, Reservation
from omnirouter.billing.estimate import input_estimate, output_bound, output_estimate
from omnirouter.config.schema import RealtimeConfig
from omnirouter.gateway import Gateway
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage
from omnirouter.realtime.tally import TextCounts
from omnirouter.relay.context import RequestContext
from omnirouter.routing import Attempt
from omnirouter.storage import KeyRecord
from omnirouter.usage import UsageRecord, usage_columns

__all__ = ["PROTOCOL", "SessionMeter"]

log = logging.getLogger("omnirouter.realtime")

PROTOCOL = "openai_realtime"
_NONE = Usage()


def _nothing() -> int:
    return 0


class SessionMeter:
    """Reserves, settles and records the responses of one session (``ctx`` is the session's context)."""

    def __init__(self, gateway: Gateway, key: KeyRecord, ctx: RequestContext, config: RealtimeConfig) -> None:
        self.gateway = gateway
        self.key = key
        self.ctx = ctx
        self._budget = Budget(input_bytes=0, max_output=config.response_output_tokens,
                              input_tokens=config.response_input_tokens)  # fmt: skip
        self._count = 0
        self._held: Reservation | None = None
        self.responses = 0
        self.cost_nano = 0
        self.tokens = 0

    def _next_id(self) -> str:
        self._count += 1
        return f"{self.ctx.request_id}.{self._count}"

    async def reserve(self, attempts: Sequence[Attempt]) -> None:
        """Hold the reservation for the next response over ``attempts`` (raises 429 ``insufficient_quota``)."""
        request_id = self._next_id()
        key = self.key
        held = await self.gateway.billing.reserve(request_id, self.ctx.model, key, attempts, self._read_budget)
        if not held.stored:  # no reservation row marks it in flight: the usage journal does
            self.gateway.recorder.started(request_id, self.ctx.model, PROTOCOL, key.id, key.name or "", key.user_id)
        self._held = held

    def _read_budget(self) -> Budget:
        return self._budget

    def settle(self, usage: Usage | None, status: int, error_kind: str | None) -> int:
        """Settle the held reservation: ``usage`` for a finished response, ``None`` at the end (cost 0)."""
        held, self._held = self._held, None
        if held is None:
            return 0
        ctx = self.ctx
        served = ctx.served if usage is not None else None
        outcome = Outcome(held.request_id, usage, served, False, 0, _nothing)
        settled = self.gateway.billing.settle(outcome, self.key, held)
        record_usage = settled.usage or _NONE
        self.gateway.recorder.record(
            UsageRecord(
                request_id=held.request_id,
                model=ctx.model,
                inbound_protocol=PROTOCOL,
                status_code=status,
                latency_ms=(time.perf_counter() - ctx.started) * 1000.0,
                key_id=self.key.id,
                key_name=self.key.name,
                upstream_model=ctx.upstream_model,
                channel=ctx.channel,
                provider=ctx.provider,
                stream=True,
                error_kind=error_kind,
                ttfb_ms=ctx.ttfb * 1000.0 if ctx.ttfb is not None else None,
                attempts=ctx.attempts,
                attempt_log=orjson.dumps(ctx.attempt_log).decode() if ctx.attempt_log and self._count == 1 else None,
                user_id=self.key.user_id,
                cost_nano=settled.cost_nano,
                **usage_columns(record_usage),
            ),
            reserved=settled.reserved,
        )
        if usage is not None:
            self.responses += 1
            self.cost_nano += settled.cost_nano
            self.tokens += record_usage.input_tokens + record_usage.output_tokens
        return settled.cost_nano

    def estimate(self, counts: TextCounts, attempt: Attempt) -> Usage:
        """The usage of a response whose ``response.done`` reported none, from the text the session saw
        (``tally.py``), as a chat stream without usage is estimated (``billing/estimate.py``): input bytes / 4
        (at most ``response_input_tokens``), output text bytes / 4 (at most the served model's output
        bound); marked estimated."""
        budget = self._budget
        bound = output_bound(attempt, budget.max_output, self.gateway.billing.default_max_output)
        return Usage(
            input_tokens=min(input_estimate(counts.input_bytes), budget.input_tokens),
            output_tokens=output_estimate(counts.output_bytes, counts.output_bytes, bound),
            estimated=True,
        )

    async def charge(self, usage: Usage, attempt: Attempt) -> GatewayError | None:
        """Settle one ``response.done`` and reserve for the next; the error when that cannot be reserved
        (the quota cannot cover it: nothing is held then).  ``usage`` is the response's, or ``estimate``'s
        when it reported none."""
        stored = self._held is not None and self._held.stored
        self.settle(usage, 200, None)
        try:
            if stored:  # the settled reservation is released by its row: write it before holding the next
                await self.gateway.recorder.flush()
            await self.reserve([attempt])
        except GatewayError as error:
            return error
        except Exception as exc:  # the database failed while writing the settled response
            log.warning("realtime session %s: cannot settle before the next response: %s", self.ctx.request_id, exc)
            return GatewayError(ErrorKind.OVERLOADED, "The gateway cannot check this key's quota right now.",
                                code="quota_unavailable")  # fmt: skip
        return None

    def close(self, status: int, error_kind: str | None) -> None:
        """Release the reservation still held (a closing row, cost 0)."""
        self.settle(None, status, error_kind)
