"""A task's money: the reservation at create, the price at the end, and the one transaction that ends it.

``reserve_amount``: the most the task can cost on any planned attempt (``billing/cost.py``: the budget's
units and tokens, rounded up, the key's group multiplier applied), as a request's reservation is; each
attempt's budget may differ (``per_attempt``: the seconds that attempt's vendor makes, times the clips).
``finish``: the compare-and-set that makes a task terminal, its ledger row and ``billing.money.settle_task``
(charge, release) in ONE transaction: whichever replica, sweep or late poll gets there second finds the
status already terminal and changes nothing.  Cost on success: ``per_second`` × the seconds made (the
vendor's report, else what the vendor makes for the request, ``TaskSummary.made_seconds``, else the
requested) × the clips (``n``) + ``per_call`` + reported tokens, capped at the reservation for keys with a
quota; on failure, deadline, cancel or a deleted channel: zero.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.billing.cost import cost_nano, max_cost_nano, max_units_nano
from omnirouter.billing.estimate import input_bound
from omnirouter.billing.money import settle_task
from omnirouter.billing.prices import PriceBook
from omnirouter.config.bounds import MAX_REQUEST_COST_NANO
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.routing import Attempt
from omnirouter.storage import KeyRecord, api_keys_table
from omnirouter.storage.tasks_repo import LIVE, move_task
from omnirouter.tasks.outbox import record_change
from omnirouter.tasks.records import TaskRecord, TaskSummary
from omnirouter.usage.record import UsageRecord, usage_columns
from omnirouter.usage.writer import UsageWriter

__all__ = ["clips", "finish", "reserve_amount", "task_usage"]

log = logging.getLogger("omnirouter.tasks")


def reserve_amount(
    prices: PriceBook,
    key: KeyRecord,
    attempts: Sequence[Attempt],
    budget: Budget,
    *,
    per_attempt: Callable[[Attempt], Budget] | None = None,
) -> int:
    """The most the task may cost on any of ``attempts`` (0 for a key without a quota: nothing is held), each
    attempt priced on ``per_attempt(attempt)`` when given, else on ``budget``.

    Raises 403 ``model_not_priced`` when an attempt's model has no price and unknown prices are refused.
    """
    amount = 0
    multiplier = prices.multiplier(key.group)
    for attempt in attempts:
        budget_here = per_attempt(attempt) if per_attempt is not None else budget
        tokens_in = input_bound(budget_here.input_bytes) + max(budget_here.input_tokens, 0)
        price = prices.price_for(attempt.public_model, attempt.channel.name)
        if price is None:
            if prices.unknown == "refuse":
                raise GatewayError(
                    ErrorKind.PERMISSION,
                    f"The model '{attempt.public_model}' has no price on this gateway, so it cannot be used.",
                    code="model_not_priced",
                    param="model",
                )
            prices.warn_unknown(attempt.public_model)
            continue
        most = max_cost_nano(tokens_in, max(budget_here.max_output or 0, 0), price, multiplier)
        amount = max(amount, most + max_units_nano(budget_here, price, multiplier))
    return amount if key.quota_nano is not None else 0


def task_usage(record: TaskRecord, reported: Usage | None) -> Usage:
    """What a succeeded task is billed for: the length of each clip (``TaskRecord.shown_seconds``: the
    vendor's report, else what it makes for the request, else the requested) times the clips asked
    (``n``, Veo's ``sampleCount``), one call, and the tokens the vendor reported; an image task's images
    as the vendor reports them, else each image kept."""
    clip = record.shown_seconds() or 0.0
    usage = reported.clamped() if reported is not None else Usage()
    if record.kind is TaskKind.IMAGE and not usage.images:  # an image task: each image kept, when not reported
        usage = msgspec.structs.replace(usage, images=sum(1 for kept in record.summary.stored if kept.kind == "image"))
    return msgspec.structs.replace(usage, seconds=float(clip) * clips(record.request), calls=1)


def clips(request: TaskRequest) -> int:
    """How many videos a task makes (its ``n``; one when not asked)."""
    return request.n if request.n is not None and request.n > 0 else 1


_STATUS_CODES = {TaskStatus.SUCCEEDED: 200, TaskStatus.FAILED: 502, TaskStatus.CANCELLED: 499}


async def finish(
    conn: AsyncConnection,
    record: TaskRecord,
    status: TaskStatus,
    *,
    prices: PriceBook,
    now: float,
    usage: Usage | None,
    summary: TaskSummary,
    provider: str | None,
    error_kind: str | None = None,
    owner: str | None = None,
    announce: bool = True,
    written: list[UsageRecord] | None = None,
) -> int | None:
    """Make the task terminal (``status``) in the caller's transaction, with its ledger row, charge,
    release and (``announce``) webhook event; the cost charged, or None when the task was no longer live
    (or not leased to ``owner``).  The ledger row is also appended to ``written`` when given."""
    key = (
        await conn.execute(
            select(api_keys_table.c.name, api_keys_table.c.group_name, api_keys_table.c.quota_nano).where(
                api_keys_table.c.id == record.key_id
            )
        )
    ).first()
    cost = 0
    if status is TaskStatus.SUCCEEDED and usage is not None:
        price = prices.price_for(record.model, record.channel)
        if price is not None:
            cost = min(
                cost_nano(usage, price, prices.multiplier(key.group_name if key else None)), MAX_REQUEST_COST_NANO
            )
        if key is not None and key.quota_nano is not None and cost > record.reserved_nano:
            log.warning("task %s cost %d nano-USD, more than its reservation: charged %d", record.id, cost,
                        record.reserved_nano)  # fmt: skip
            cost = record.reserved_nano
    values: dict[str, Any] = {
        "status": status.value,
        "cost_nano": cost,
        "state": msgspec.json.encode(summary).decode(),
        "finished_at": now,
        "updated_at": now,
        "next_poll_at": None,
        "lease_owner": None,
        "lease_until": None,
    }
    if status is TaskStatus.SUCCEEDED:
        values["progress"] = 100
    if not await move_task(conn, record.id, values, statuses=LIVE, owner=owner):
        return None
    if announce:
        await record_change(conn, record, now)  # its webhook event commits with it (tasks/outbox.py)
    billed = usage or Usage()
    if status is not TaskStatus.SUCCEEDED:  # nothing was made: no units are counted (reported tokens are)
        billed = msgspec.structs.replace(billed, seconds=0.0, calls=0, images=0, characters=0)
    row = UsageRecord(
        request_id=record.id,
        model=record.model,
        inbound_protocol=record.protocol,
        status_code=_STATUS_CODES[status],
        latency_ms=max(0.0, (now - record.created_at) * 1000.0),
        created_at=now,
        key_id=record.key_id,
        key_name=key.name if key is not None else None,
        upstream_model=record.upstream_model,
        channel=record.channel,
        provider=provider,
        error_kind=error_kind,
        attempts=1,
        user_id=record.user_id,
        cost_nano=cost,
        **usage_columns(billed),
    )

    def write(sync_conn: Any) -> None:
        UsageWriter(sync_conn.dialect).write(sync_conn, [row])
        settle_task(sync_conn, record.id, record.key_id, cost)

    await conn.run_sync(write)
    if written is not None:
        written.append(row)
    return cost
