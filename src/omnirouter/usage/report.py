"""Usage reports over ``usage_records`` (the ledger): aggregates by key, user, model, channel or day, and pages.

Used by the admin API (``/admin/usage``, ``/admin/ledger``), the key holders' dashboard endpoint and
``omnirouter usage``.  Days are UTC calendar days.  Money comes out in USD.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
import orjson
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage import usage_records_table, users_table
from omnirouter.storage.repo_common import Invalid, as_utc, nano_to_usd
from omnirouter.storage.tasks_repo import count_tasks

__all__ = [
    "GROUP_BY",
    "GroupBy",
    "KeyActivity",
    "LedgerDetail",
    "LedgerEntry",
    "LedgerPage",
    "UsageFilters",
    "UsageGroup",
    "UsageReport",
    "UsageTotals",
    "conditions",
    "daily_model_costs",
    "key_activity",
    "ledger_entry",
    "ledger_page",
    "usage_report",
]

GroupBy = Literal["key", "user", "model", "channel", "day"]
GROUP_BY: tuple[str, ...] = ("key", "user", "model", "channel", "day")
MAX_PAGE = 1000
_TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens")
# Summed as integers beside the tokens: tokens by modality (parts of input/output) and metered units.
_COUNTS = (
    *_TOKENS,
    "image_input_tokens",
    "image_output_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "images",
    "characters",
    "calls",
)


class UsageFilters(msgspec.Struct, kw_only=True):
    """Which records count: ``start`` inclusive, ``end`` exclusive, and exact matches."""

    start: datetime | None = None
    end: datetime | None = None
    key_id: int | None = None
    user_id: int | None = None
    model: str | None = None
    channel: str | None = None
    request_id: str | None = None
    status: str | None = None
    """``ok`` (answers below 400) or ``error`` (400 and above)."""


class UsageTotals(msgspec.Struct, kw_only=True):
    """Sums over a set of records; ``errors`` counts answers with status 400 or more.

    Image and audio tokens are parts of ``input_tokens`` / ``output_tokens`` (``total_tokens`` is their
    sum); ``images``, ``seconds`` (of audio or video), ``characters`` and ``calls`` are metered units.
    """

    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int
    image_input_tokens: int
    image_output_tokens: int
    audio_input_tokens: int
    audio_output_tokens: int
    images: int
    seconds: float
    characters: int
    calls: int
    cost_usd: float
    avg_latency_ms: float | None = None
    """Mean time from arrival to the end of the request (``None``: no records)."""


class UsageGroup(UsageTotals, kw_only=True):
    """One group: ``group`` is the key or user id, the model, the channel or the day; ``label`` a name."""

    group: str | int | None
    label: str | None


class UsageReport(msgspec.Struct, kw_only=True):
    """``GET /admin/usage``."""

    by: str
    start: datetime | None
    end: datetime | None
    data: list[UsageGroup]
    totals: UsageTotals
    tasks: dict[str, int] = msgspec.field(default_factory=dict)
    """Asynchronous tasks created in the window (same filters), counted by their status now."""


class LedgerEntry(msgspec.Struct, kw_only=True):
    """One request in the ledger.  ``claude_cache_creation_5_m_tokens`` / ``_1_h_tokens`` split
    ``cache_write_tokens`` by Anthropic's cache TTL (new-api's names; writes without a TTL count as 5-minute)."""

    id: int
    request_id: str
    created_at: datetime
    key_id: int | None
    key_name: str | None
    user_id: int | None
    model: str
    upstream_model: str | None
    channel: str | None
    provider: str | None
    inbound_protocol: str
    stream: bool
    status_code: int
    error_kind: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    claude_cache_creation_5_m_tokens: int
    claude_cache_creation_1_h_tokens: int
    reasoning_tokens: int
    image_input_tokens: int
    image_output_tokens: int
    audio_input_tokens: int
    audio_output_tokens: int
    images: int
    seconds: float
    characters: int
    calls: int
    image_size: str
    image_quality: str
    usage_estimated: bool
    latency_ms: float
    ttfb_ms: float | None
    attempts: int
    cost_usd: float


class LedgerDetail(LedgerEntry, kw_only=True):
    """``GET /admin/ledger/{id}``: one record with its attempt log (each channel tried, in order: the
    channel, model and upstream model with the attempt's outcome, or why the channel was skipped)."""

    attempt_log: list[dict[str, Any]] | None


class LedgerPage(msgspec.Struct, kw_only=True):
    """A page of the ledger, newest first; pass ``next_before`` as ``before`` for the next page."""

    data: list[LedgerEntry]
    has_more: bool
    next_before: str | None
    object: str = "list"


def _day(conn: AsyncConnection) -> Any:
    column = usage_records_table.c.created_at
    if conn.dialect.name == "sqlite":  # stored as UTC wall-clock text: 'YYYY-MM-DD HH:MM:SS...'
        return func.substr(column, 1, 10)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def conditions(filters: UsageFilters) -> list[Any]:
    table = usage_records_table
    found: list[Any] = []
    if filters.start is not None:
        found.append(table.c.created_at >= as_utc(filters.start))
    if filters.end is not None:
        found.append(table.c.created_at < as_utc(filters.end))
    for field in ("key_id", "user_id", "model", "channel", "request_id"):
        value = getattr(filters, field)
        if value is not None:
            found.append(getattr(table.c, field) == value)
    if filters.status == "ok":
        found.append(table.c.status_code < 400)
    elif filters.status == "error":
        found.append(table.c.status_code >= 400)
    return found


def _sums() -> list[Any]:
    table = usage_records_table
    return [
        func.count().label("requests"),
        func.coalesce(func.sum(case((table.c.status_code >= 400, 1), else_=0)), 0).label("errors"),
        *(func.coalesce(func.sum(getattr(table.c, name)), 0).label(name) for name in _COUNTS),
        func.coalesce(func.sum(table.c.seconds), 0).label("seconds"),
        func.coalesce(func.sum(table.c.cost_nano), 0).label("cost_nano"),
        func.avg(table.c.latency_ms).label("avg_latency_ms"),
    ]


def _totals(row: Any) -> dict[str, Any]:
    counts = {name: int(getattr(row, name)) for name in _COUNTS}
    return {
        "requests": int(row.requests),
        "errors": int(row.errors),
        **counts,
        "total_tokens": counts["input_tokens"] + counts["output_tokens"],
        "seconds": float(row.seconds),
        "cost_usd": nano_to_usd(int(row.cost_nano)) or 0.0,
        "avg_latency_ms": None if row.avg_latency_ms is None else round(float(row.avg_latency_ms), 3),
    }


async def usage_report(conn: AsyncConnection, by: GroupBy, filters: UsageFilters) -> UsageReport:
    """Aggregates grouped ``by`` one dimension (days ascending; other groups by cost, then requests)."""
    table = usage_records_table
    dimension = {
        "key": table.c.key_id,
        "user": table.c.user_id,
        "model": table.c.model,
        "channel": table.c.channel,
        "day": _day(conn),
    }[by]
    where = conditions(filters)
    label = func.max(table.c.key_name) if by == "key" else None
    columns = [dimension.label("grp"), *([label.label("label")] if label is not None else []), *_sums()]
    stmt = select(*columns).where(*where).group_by(dimension)
    rows = list(await conn.execute(stmt))
    names: dict[int, str] = {}
    if by == "user":
        ids = [row.grp for row in rows if row.grp is not None]
        if ids:
            stmt = select(users_table.c.id, users_table.c.name).where(users_table.c.id.in_(ids))
            names = {int(user_id): str(name) for user_id, name in await conn.execute(stmt)}
    groups = [
        UsageGroup(
            group=row.grp,
            label=row.label if by == "key" else names.get(row.grp) if by == "user" else None,
            **_totals(row),
        )
        for row in rows
    ]
    if by == "day":
        groups.sort(key=lambda g: str(g.group))
    else:
        groups.sort(key=lambda g: (-g.cost_usd, -g.requests, str(g.group)))
    total_row = (await conn.execute(select(*_sums()).where(*where))).one()
    tasks = await count_tasks(
        conn,
        key_id=filters.key_id,
        user_id=filters.user_id,
        model=filters.model,
        channel=filters.channel,
        since=filters.start.timestamp() if filters.start is not None else None,
        until=filters.end.timestamp() if filters.end is not None else None,
    )
    return UsageReport(
        by=by, start=filters.start, end=filters.end, data=groups, totals=UsageTotals(**_totals(total_row)), tasks=tasks
    )


async def daily_model_costs(
    conn: AsyncConnection, key_id: int, start: datetime, end: datetime
) -> list[tuple[str, str, int]]:
    """``(day, model, cost_nano)`` of one key between ``start`` (inclusive) and ``end`` (exclusive), by day."""
    table = usage_records_table
    day = _day(conn)
    where = conditions(UsageFilters(start=start, end=end, key_id=key_id))
    stmt = (
        select(day.label("day"), table.c.model, func.coalesce(func.sum(table.c.cost_nano), 0).label("cost"))
        .where(*where)
        .group_by(day, table.c.model)
        .order_by(day, table.c.model)
    )
    return [(str(row.day), str(row.model), int(row.cost)) for row in await conn.execute(stmt)]


def parse_before(before: str) -> datetime | int:
    """A ledger cursor: a record id (what ``next_before`` gives) or an ISO 8601 time."""
    if before.isdigit():
        return int(before)
    try:
        return as_utc(datetime.fromisoformat(before.replace("Z", "+00:00")))  # type: ignore[return-value]
    except ValueError:
        raise Invalid(
            f"'before' must be a record id or an ISO 8601 time (e.g. 2026-01-31T12:00:00Z); got {before!r}.",
            code="invalid_cursor",
            param="before",
        ) from None


_DERIVED = ("cost_usd", "claude_cache_creation_5_m_tokens", "claude_cache_creation_1_h_tokens")
_ROW_FIELDS = [f for f in LedgerEntry.__struct_fields__ if f not in _DERIVED]


def _entry(row: Any) -> LedgerEntry:
    one_hour = min(int(row.cache_write_1h_tokens or 0), int(row.cache_write_tokens or 0))
    return LedgerEntry(
        **{f: getattr(row, f) for f in _ROW_FIELDS},
        claude_cache_creation_5_m_tokens=int(row.cache_write_tokens or 0) - one_hour,
        claude_cache_creation_1_h_tokens=one_hour,
        cost_usd=nano_to_usd(int(row.cost_nano or 0)) or 0.0,
    )


async def ledger_page(
    conn: AsyncConnection,
    *,
    before: str | None = None,
    limit: int = 100,
    filters: UsageFilters | None = None,
) -> LedgerPage:
    """Up to ``limit`` records older than the cursor, newest first (ordered by time, then id)."""
    table = usage_records_table
    where = conditions(filters or UsageFilters())
    if before is not None:
        cursor = parse_before(before)
        if isinstance(cursor, datetime):
            where.append(table.c.created_at < cursor)
        else:
            at = (await conn.execute(select(table.c.created_at).where(table.c.id == cursor))).scalar()
            if at is None:
                raise Invalid(f"'before': no ledger record with id {cursor}.", code="invalid_cursor", param="before")
            where.append(
                or_(table.c.created_at < at, and_(table.c.created_at == at, table.c.id < cursor)),
            )
    stmt = select(table).where(*where).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
    rows = list(await conn.execute(stmt))
    has_more = len(rows) > limit
    rows = rows[:limit]
    entries = [_entry(row) for row in rows]
    return LedgerPage(data=entries, has_more=has_more, next_before=str(rows[-1].id) if has_more else None)


async def ledger_entry(conn: AsyncConnection, record_id: int) -> LedgerDetail | None:
    """One ledger record with its attempt log, if it exists."""
    table = usage_records_table
    row = (await conn.execute(select(table).where(table.c.id == record_id))).first()
    if row is None:
        return None
    log = orjson.loads(row.attempt_log) if row.attempt_log else None
    return LedgerDetail(**msgspec.structs.asdict(_entry(row)), attempt_log=log if isinstance(log, list) else None)


class KeyActivity(msgspec.Struct, kw_only=True):
    """A key's requests in the ledger: how many, how many failed (status 400 or more), and the latest's time."""

    requests: int
    errors: int
    last_request_at: datetime | None


async def key_activity(conn: AsyncConnection, key_ids: list[int]) -> dict[int, KeyActivity]:
    """Each key's :class:`KeyActivity` over its whole ledger (keys without a request are absent)."""
    if not key_ids:
        return {}
    table = usage_records_table
    errors = func.coalesce(func.sum(case((table.c.status_code >= 400, 1), else_=0)), 0)
    stmt = (
        select(table.c.key_id, func.count(), errors, func.max(table.c.created_at))
        .where(table.c.key_id.in_(key_ids))
        .group_by(table.c.key_id)
    )
    return {
        int(key_id): KeyActivity(requests=int(count), errors=int(failed), last_request_at=as_utc(last))
        for key_id, count, failed, last in await conn.execute(stmt)
    }
