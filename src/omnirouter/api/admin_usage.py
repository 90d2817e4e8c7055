"""``/admin/usage`` (aggregates with totals and cost), ``/admin/ledger`` (records paged by time) and
``/admin/dead-letters`` (records the database refused, set aside uncharged)."""

from __future__ import annotations

from omnirouter.api.admin_common import (
    MAX_ID,
    AdminContext,
    AdminRequest,
    QueryParam,
    Reply,
    admin_route,
    listing,
    parse_id,
    refusal,
)
from omnirouter.http.routes import Route
from omnirouter.usage.dead_letters import DeadLetterView, list_dead_letters
from omnirouter.usage.report import (
    GROUP_BY,
    MAX_PAGE,
    LedgerDetail,
    LedgerPage,
    UsageFilters,
    UsageReport,
    ledger_entry,
    ledger_page,
    usage_report,
)
from omnirouter.usage.series import BUCKETS, MAX_POINTS, MAX_TOP, RANKS, SPLITS, UsageSeries, usage_series

__all__ = ["usage_routes"]

_FILTERS = (
    QueryParam("from", "records at or after this time (ISO 8601; a date means its UTC midnight)", "date-time"),
    QueryParam("to", "records before this time (ISO 8601)", "date-time"),
    QueryParam("key_id", "only this key's records", "integer"),
    QueryParam("user_id", "only this user's records", "integer"),
    QueryParam("model", "only this public model"),
    QueryParam("channel", "only this channel"),
    QueryParam("request_id", "only this request (its full id, as the x-request-id header gave it)"),
    QueryParam("status", "ok (answers below 400) or error (400 and above)", enum=("ok", "error")),
)


def _filters(req: AdminRequest) -> UsageFilters:
    return UsageFilters(
        start=req.time("from"),
        end=req.time("to"),
        key_id=req.integer("key_id"),
        user_id=req.integer("user_id"),
        model=req.text("model"),
        channel=req.text("channel"),
        request_id=req.text("request_id"),
        status=req.choice("status", ("", "ok", "error"), "") or None,
    )


def usage_routes(ctx: AdminContext) -> list[Route]:
    """The usage and ledger routes."""

    async def usage(req: AdminRequest) -> Reply:
        by = req.choice("by", GROUP_BY, "model")
        filters = _filters(req)
        return 200, await ctx.read(lambda conn: usage_report(conn, by, filters))  # type: ignore[arg-type]

    async def ledger(req: AdminRequest) -> Reply:
        filters = _filters(req)
        before = req.text("before")
        if before is not None and before.isdigit() and parse_id(before) is None:
            message = f"'before' must be a record id from 0 to {MAX_ID} or an ISO 8601 time."
            raise refusal(400, message, "invalid_cursor", "before")
        limit = req.integer("limit", default=100, low=1, high=MAX_PAGE) or 100
        return 200, await ctx.read(lambda conn: ledger_page(conn, before=before, limit=limit, filters=filters))

    async def series(req: AdminRequest) -> Reply:
        bucket = req.choice("bucket", BUCKETS, "hour")
        split = req.choice("by", SPLITS, "model") if req.text("by") else None
        top = req.integer("top", default=5, low=1, high=MAX_TOP) or 5
        rank = req.choice("rank", RANKS, "cost")
        filters = _filters(req)
        return 200, await ctx.read(
            lambda conn: usage_series(conn, bucket, filters, by=split, top=top, rank=rank)  # type: ignore[arg-type]
        )

    async def entry(req: AdminRequest) -> Reply:
        record_id = req.int_param("id", "ledger record")
        found = await ctx.read(lambda conn: ledger_entry(conn, record_id))
        if found is None:
            raise refusal(404, f"No ledger record with id {record_id}.", "ledger_record_not_found")
        return 200, found

    async def dead_letters(req: AdminRequest) -> Reply:
        limit = req.integer("limit", default=100, low=1, high=MAX_PAGE) or 100
        return 200, listing(await ctx.read(lambda conn: list_dead_letters(conn, limit)))

    by = QueryParam("by", "what to group by (default model)", enum=GROUP_BY)
    page = (
        QueryParam("before", "a record id (the previous page's next_before) or an ISO 8601 time"),
        QueryParam("limit", f"records per page, 1 to {MAX_PAGE} (default 100)", "integer"),
    )
    return [
        admin_route("GET", "/admin/usage", "Usage grouped by key, user, model, channel or day: requests, errors, "
                    "tokens by kind and cost in USD, with totals", usage, None, UsageReport, query=(by, *_FILTERS),
                    errors=(400, 401)),
        admin_route("GET", "/admin/ledger", "The ledger: one record per request, newest first, paged by time",
                    ledger, None, LedgerPage, query=(*page, *_FILTERS), errors=(400, 401)),
        admin_route("GET", "/admin/usage/series", "Usage per hour or UTC day: requests, errors, tokens, cost in "
                    "USD and latency percentiles, one point per bucket (empty ones too)", series, None, UsageSeries,
                    query=(QueryParam("bucket", f"hour (default; the last 24 hours) or day (the last 30 days); at "
                                      f"most {MAX_POINTS} points", enum=BUCKETS),
                           QueryParam("by", "also split into series by model, channel, key or user", enum=SPLITS),
                           QueryParam("top", f"with by: the series kept, 1 to {MAX_TOP} (default 5); the rest "
                                      "is folded into one 'other' series", "integer"),
                           QueryParam("rank", "with by: what ranks the groups over the window (default cost)",
                                      enum=RANKS), *_FILTERS), errors=(400, 401)),
        admin_route("GET", "/admin/ledger/{id}", "One ledger record with its attempt log", entry, None, LedgerDetail,
                    errors=(401, 404)),
        admin_route("GET", "/admin/dead-letters", "Usage records the database refused, set aside uncharged "
                    "(newest first; see docs/operations.md)", dead_letters, None, DeadLetterView, True,
                    query=(QueryParam("limit", f"records, 1 to {MAX_PAGE} (default 100)", "integer"),),
                    errors=(400, 401)),
    ]  # fmt: skip
