"""Usage over time: the ledger summed per hour or per UTC day, with latency percentiles.

``GET /admin/usage/series`` (the console's overview charts): one point per bucket from ``start`` to
``end``, empty buckets included (zeros, no percentiles), so a chart's x axis is continuous.  The sums
are one grouped query; the latency percentiles are PostgreSQL's ``percentile_cont`` per bucket, or on
SQLite (small installs) computed here from the window's latencies, both by linear interpolation.

With ``by`` (model, channel, key or user) the answer also splits the window into ``series``: the ``top``
groups ranked by ``rank`` (cost, requests, tokens or errors over the window), each with its own points,
and one ``other`` series folding every remaining group, so the series of a bucket sum to its total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage import usage_records_table, users_table
from omnirouter.storage.repo_common import Invalid, nano_to_usd
from omnirouter.usage.report import UsageFilters, conditions

__all__ = [
    "BUCKETS",
    "MAX_POINTS",
    "MAX_TOP",
    "RANKS",
    "SPLITS",
    "SeriesGroup",
    "SeriesPoint",
    "UsageSeries",
    "usage_series",
]

Bucket = Literal["hour", "day"]
BUCKETS: tuple[str, ...] = ("hour", "day")
SPLITS: tuple[str, ...] = ("model", "channel", "key", "user")
RANKS: tuple[str, ...] = ("cost", "requests", "tokens", "errors")
MAX_POINTS = 1000
MAX_TOP = 20
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
_QUANTILES = (0.5, 0.95, 0.99)
_SUMS = ("requests", "errors", "input_tokens", "output_tokens", "cost_nano")


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


class SeriesGroup(msgspec.Struct, kw_only=True):
    """One series of a split: ``group`` is the model, channel, key id or user id (``None``: records without
    one), ``label`` a name (a key's, a user's; ``other`` for the folded rest), with its window totals."""

    group: str | int | None
    label: str | None
    other: bool
    requests: int
    errors: int
    total_tokens: int
    cost_usd: float
    data: list[SeriesPoint]


class UsageSeries(msgspec.Struct, kw_only=True):
    """``GET /admin/usage/series``: points from ``start`` (inclusive) to ``end`` (exclusive), oldest first;
    with ``by``, ``series`` splits them (the top groups, then ``other`` when more groups had records)."""

    bucket: str
    start: datetime
    end: datetime
    data: list[SeriesPoint]
    by: str | None = None
    series: list[SeriesGroup] | None = None


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


def _sum_columns() -> list[Any]:
    table = usage_records_table
    return [
        func.count().label("requests"),
        func.coalesce(func.sum(case((table.c.status_code >= 400, 1), else_=0)), 0).label("errors"),
        func.coalesce(func.sum(table.c.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(table.c.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(table.c.cost_nano), 0).label("cost_nano"),
    ]


def _percentile_columns() -> list[Any]:
    latency = usage_records_table.c.latency_ms
    return [func.percentile_cont(q).within_group(latency).label(f"p{int(q * 100)}") for q in _QUANTILES]


Sums = dict[str, int]
Quantiles = tuple[float, float, float]


def _add(into: Sums, row: Any) -> None:
    for name in _SUMS:
        into[name] = into.get(name, 0) + int(getattr(row, name))


def _quantiles(ordered: list[float]) -> Quantiles:
    p50, p95, p99 = (_percentile(ordered, q) for q in _QUANTILES)
    return p50, p95, p99


def _points(first: datetime, last: datetime, bucket: str, sums: dict[str, Sums],
            quantiles: dict[str, Quantiles]) -> list[SeriesPoint]:  # fmt: skip
    """One point per bucket of the window, zeros (and no percentiles) where ``sums`` has none."""
    points = []
    moment = first
    while moment < last:
        label = _label(moment, bucket)
        found = sums.get(label)
        if not found or not found.get("requests"):
            points.append(_empty(moment))
        else:
            p50, p95, p99 = quantiles[label]
            points.append(
                SeriesPoint(
                    time=moment,
                    requests=found["requests"],
                    errors=found["errors"],
                    input_tokens=found["input_tokens"],
                    output_tokens=found["output_tokens"],
                    total_tokens=found["input_tokens"] + found["output_tokens"],
                    cost_usd=nano_to_usd(found["cost_nano"]) or 0.0,
                    latency_p50_ms=p50,
                    latency_p95_ms=p95,
                    latency_p99_ms=p99,
                )
            )
        moment += _STEP[bucket]
    return points


def _sqlite_quantiles(rows: Iterable[Any]) -> dict[str, Quantiles]:
    latencies: dict[str, list[float]] = defaultdict(list)
    for label, latency in rows:
        latencies[str(label)].append(float(latency))
    return {label: _quantiles(sorted(values)) for label, values in latencies.items()}


async def usage_series(
    conn: AsyncConnection,
    bucket: Bucket,
    filters: UsageFilters,
    now: datetime | None = None,
    *,
    by: str | None = None,
    top: int = 5,
    rank: str = "cost",
) -> UsageSeries:
    """The ledger per ``bucket`` over the filters' window (see :func:`window`), split ``by`` one dimension."""
    table = usage_records_table
    first, last = window(bucket, filters.start, filters.end, now or datetime.now(UTC))
    where = conditions(msgspec.structs.replace(filters, start=first, end=last))
    key = _key(conn, bucket).label("bucket")
    postgres = conn.dialect.name != "sqlite"
    extra = _percentile_columns() if postgres else []
    sums: dict[str, Sums] = {}
    quantiles: dict[str, Quantiles] = {}
    for row in await conn.execute(select(key, *_sum_columns(), *extra).where(*where).group_by(key)):
        _add(sums.setdefault(str(row.bucket), {}), row)
        if postgres:
            quantiles[str(row.bucket)] = (float(row.p50), float(row.p95), float(row.p99))
    if not postgres:
        query = select(key, table.c.latency_ms).where(*where)
        quantiles = _sqlite_quantiles(await conn.execute(query))
    answer = UsageSeries(bucket=bucket, start=first, end=last, data=_points(first, last, bucket, sums, quantiles))
    if by is not None:
        answer.by = by
        answer.series = await _split(conn, bucket, (first, last), where, by, top, rank)
    return answer


_RANK_KEY = {
    "cost": lambda s: (s["cost_nano"], s["requests"]),
    "requests": lambda s: (s["requests"], s["cost_nano"]),
    "tokens": lambda s: (s["input_tokens"] + s["output_tokens"], s["requests"]),
    "errors": lambda s: (s["errors"], s["requests"]),
}


async def _split(conn: AsyncConnection, bucket: str, span: tuple[datetime, datetime], where: list[Any], by: str,
                 top: int, rank: str) -> list[SeriesGroup]:  # fmt: skip
    """The top groups' series and the ``other`` series (the rest folded), ranked over the window."""
    table = usage_records_table
    first, last = span
    dimension = {"model": table.c.model, "channel": table.c.channel, "key": table.c.key_id, "user": table.c.user_id}[by]
    key = _key(conn, bucket).label("bucket")
    postgres = conn.dialect.name != "sqlite"
    extra = _percentile_columns() if postgres else []
    stmt = select(key, dimension.label("grp"), *_sum_columns(), *extra).where(*where).group_by(key, dimension)
    rows = list(await conn.execute(stmt))
    totals: dict[Any, Sums] = {}
    for row in rows:
        _add(totals.setdefault(row.grp, {}), row)
    order = sorted(totals, key=lambda g: (tuple(-v for v in _RANK_KEY[rank](totals[g])), str(g)))
    kept = order[:top]
    rest = order[top:]
    sums: dict[Any, dict[str, Sums]] = {group: {} for group in kept}
    quantiles: dict[Any, dict[str, Quantiles]] = {group: {} for group in kept}
    other: dict[str, Sums] = {}
    for row in rows:
        label = str(row.bucket)
        if row.grp in sums:
            _add(sums[row.grp].setdefault(label, {}), row)
            if postgres:
                quantiles[row.grp][label] = (float(row.p50), float(row.p95), float(row.p99))
        else:
            _add(other.setdefault(label, {}), row)
    if not postgres:
        latencies: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for label, group, latency in await conn.execute(select(key, dimension, table.c.latency_ms).where(*where)):
            latencies[group if group in sums else _OTHER][str(label)].append(float(latency))
        for group in kept:
            quantiles[group] = {label: _quantiles(sorted(v)) for label, v in latencies[group].items()}
        other_quantiles = {label: _quantiles(sorted(v)) for label, v in latencies[_OTHER].items()}
    elif rest:
        named = [group for group in kept if group is not None]
        outside = dimension.not_in(named) if named else None
        if None in kept:  # records without a group are kept: the rest is the named groups not kept
            condition = and_(dimension.is_not(None), *([outside] if outside is not None else []))
        else:
            condition = or_(dimension.is_(None), *([outside] if outside is not None else [dimension.is_not(None)]))
        stmt = select(key, *_percentile_columns()).where(*where, condition).group_by(key)
        other_quantiles = {str(r.bucket): (float(r.p50), float(r.p95), float(r.p99)) for r in await conn.execute(stmt)}
    else:
        other_quantiles = {}
    labels = await _labels(conn, by, [group for group in kept if group is not None])
    found = [
        _group(group, labels.get(group) if group is not None else None, False, totals[group],
               _points(first, last, bucket, sums[group], quantiles[group]))
        for group in kept
    ]  # fmt: skip
    if rest:
        rest_totals: Sums = {name: sum(totals[g][name] for g in rest) for name in _SUMS}
        found.append(_group(None, "other", True, rest_totals, _points(first, last, bucket, other, other_quantiles)))
    return found


_OTHER = object()  # the folded rest's key among groups (no group value can be it)


def _group(group: Any, label: str | None, other: bool, totals: Sums, points: list[SeriesPoint]) -> SeriesGroup:
    return SeriesGroup(
        group=group, label=label, other=other, requests=totals["requests"], errors=totals["errors"],
        total_tokens=totals["input_tokens"] + totals["output_tokens"],
        cost_usd=nano_to_usd(totals["cost_nano"]) or 0.0, data=points,
    )  # fmt: skip


async def _labels(conn: AsyncConnection, by: str, groups: list[Any]) -> dict[Any, str]:
    """Names for the kept groups: a key's (as the ledger recorded it) or a user's; models and channels are
    their own names."""
    if not groups:
        return {}
    if by == "key":
        table = usage_records_table
        stmt = select(table.c.key_id, func.max(table.c.key_name)).where(table.c.key_id.in_(groups))
        return {int(k): str(n) for k, n in await conn.execute(stmt.group_by(table.c.key_id)) if n is not None}
    if by == "user":
        stmt = select(users_table.c.id, users_table.c.name).where(users_table.c.id.in_(groups))
        return {int(k): str(n) for k, n in await conn.execute(stmt)}
    return {group: str(group) for group in groups}


def _empty(moment: datetime) -> SeriesPoint:
    return SeriesPoint(
        time=moment, requests=0, errors=0, input_tokens=0, output_tokens=0, total_tokens=0, cost_usd=0.0,
        latency_p50_ms=None, latency_p95_ms=None, latency_p99_ms=None,
    )  # fmt: skip
