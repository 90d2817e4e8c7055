"""Usage over time: the ledger summed per hour or per UTC day, with latency percentiles.

``GET /admin/usage/series`` (the console's overview charts): one point per bucket from ``start`` to
``end``, empty buckets included (zeros, no percentiles), so a chart's x axis is continuous.  The sums
are one grouped query; the latency percentiles are PostgreSQL's ``percentile_cont`` per bucket, or on
SQLite (small installs) computed here from the window's latencies, both by linear interpolation.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage import usage_records_table
from omnirouter.storage.repo_common import Invalid, nano_to_usd
from omnirouter.usage.report import UsageFilters, conditions

__all__ = ["BUCKETS", "MAX_POINTS", "SeriesPoint", "UsageSeries", "usage_series"]

Bucket = Literal["hour", "day"]
BUCKETS: tuple[str, ...] = ("hour", "day")
MAX_POINTS = 1000
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
_QUANTILES = (0.5, 0.95, 0.99)


class SeriesPoint(msgspec.Struct, kw_only=True):
    """One bucket: ``time`` is its start (UTC); latencies in milliseconds (``None`` without requests)."""

    time: datetime
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


class UsageSeries(msgspec.Struct, kw_only=True):
    """``GET /admin/usage/series``: points from ``start`` (inclusive) to ``end`` (exclusive), oldest first."""

    bucket: str
    start: datetime
    end: datetime
    data: list[SeriesPoint]


def _floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if bucket == "day":
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def _key(conn: AsyncConnection, bucket: str) -> Any:
    """The bucket of a record as text: ``YYYY-MM-DD`` or ``YYYY-MM-DD HH``."""
    column = usage_records_table.c.created_at
    if conn.dialect.name == "sqlite":  # stored as UTC wall-clock text: 'YYYY-MM-DD HH:MM:SS...'
        return func.substr(column, 1, 10 if bucket == "day" else 13)
    pattern = "YYYY-MM-DD" if bucket == "day" else "YYYY-MM-DD HH24"
    return func.to_char(func.timezone("UTC", column), pattern)


def _label(moment: datetime, bucket: str) -> str:
    return moment.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H")


def window(bucket: str, start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The bucket-aligned window: ``end`` defaults to the end of the current bucket, ``start`` to a day
    (hours) or 30 days (days) before it; at most :data:`MAX_POINTS` buckets."""
    step = _STEP[bucket]
    last = _floor(end - timedelta(microseconds=1), bucket) + step if end is not None else None
    last = last or _floor(now, bucket) + step
    first = _floor(start, bucket) if start is not None else last - _DEFAULT_SPAN[bucket]
    if first >= last:
        raise Invalid("'from' must be before 'to'.", code="invalid_value", param="from")
    if (last - first) / step > MAX_POINTS:
        raise Invalid(f"At most {MAX_POINTS} {bucket}s per series; narrow 'from' and 'to'.", code="invalid_value",
                      param="from")  # fmt: skip
    return first, last


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (as ``percentile_cont``)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def usage_series(
    conn: AsyncConnection, bucket: Bucket, filters: UsageFilters, now: datetime | None = None
) -> UsageSeries:
    """The ledger per ``bucket`` over the filters' window (see :func:`window`)."""
    table = usage_records_table
    first, last = window(bucket, filters.start, filters.end, now or datetime.now(UTC))
    where = conditions(msgspec.structs.replace(filters, start=first, end=last))
    key = _key(conn, bucket).label("bucket")
    sums = [
        func.count().label("requests"),
        func.coalesce(func.sum(case((table.c.status_code >= 400, 1), else_=0)), 0).label("errors"),
        func.coalesce(func.sum(table.c.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(table.c.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(table.c.cost_nano), 0).label("cost_nano"),
    ]
    postgres = conn.dialect.name != "sqlite"
    if postgres:
        sums += [func.percentile_cont(q).within_group(table.c.latency_ms).label(f"p{int(q * 100)}") for q in _QUANTILES]
    rows = {str(row.bucket): row for row in await conn.execute(select(key, *sums).where(*where).group_by(key))}
    latencies: dict[str, list[float]] = defaultdict(list)
    if not postgres:
        query = select(key, table.c.latency_ms).where(*where).order_by(table.c.latency_ms)
        for label, latency in await conn.execute(query):
            latencies[str(label)].append(float(latency))
    points = []
    moment = first
    while moment < last:
        label = _label(moment, bucket)
        row = rows.get(label)
        if row is None:
            points.append(_empty(moment))
        else:
            if postgres:
                p50, p95, p99 = (float(row.p50), float(row.p95), float(row.p99))
            else:
                p50, p95, p99 = (_percentile(latencies[label], q) for q in _QUANTILES)
            points.append(
                SeriesPoint(
                    time=moment,
                    requests=int(row.requests),
                    errors=int(row.errors),
                    input_tokens=int(row.input_tokens),
                    output_tokens=int(row.output_tokens),
                    total_tokens=int(row.input_tokens) + int(row.output_tokens),
                    cost_usd=nano_to_usd(int(row.cost_nano)) or 0.0,
                    latency_p50_ms=p50,
                    latency_p95_ms=p95,
                    latency_p99_ms=p99,
                )
            )
        moment += _STEP[bucket]
    return UsageSeries(bucket=bucket, start=first, end=last, data=points)


def _empty(moment: datetime) -> SeriesPoint:
    return SeriesPoint(
        time=moment, requests=0, errors=0, input_tokens=0, output_tokens=0, total_tokens=0, cost_usd=0.0,
        latency_p50_ms=None, latency_p95_ms=None, latency_p99_ms=None,
    )  # fmt: skip
