"""``/admin/price-table``: the whole price table as one JSON document, for export and import.

``GET`` answers every price row (config-file rows included, marked ``source: "config"``).  ``POST`` takes
the same document back: every row is checked first (the fields of ``POST /admin/prices``; ``source`` may be
present), and only when every row is valid are they written, in one transaction; otherwise nothing is
written and the 400 names each bad row (its index, model, channel and field).  A row is the whole price of
its model and channel: an existing API row is replaced (amounts it leaves out are cleared), a new one added.
Rows marked ``source: "config"`` are the config file's and are skipped; a row the config file owns that is
not marked so is an error.  ``"replace": true`` also deletes the API rows the document does not list.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.api.admin_common import AdminContext, AdminRequest, Reply, admin_route, validation_failure
from omnirouter.http.routes import Route
from omnirouter.storage import prices_repo
from omnirouter.storage.ownership import CONFIG_SOURCE
from omnirouter.storage.prices_repo import PriceCreate, PriceView

__all__ = ["MAX_ROWS", "price_table_routes"]

MAX_ROWS = 5_000


class PriceTable(msgspec.Struct, kw_only=True):
    """``GET /admin/price-table``: every price row, by model then channel."""

    object: Literal["price_table"]
    prices: list[PriceView]


class PriceImport(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/price-table``: rows as ``GET`` gives them (``object`` may be sent back too)."""

    prices: list[Any]
    replace: bool = False
    object: str | None = None


class RowError(msgspec.Struct, kw_only=True):
    """Why one row of an import was refused: its index in ``prices`` (from 0), what it names, the field."""

    row: int
    model: str | None
    channel: str | None
    param: str | None
    message: str


class ImportResult(msgspec.Struct, kw_only=True):
    """What an import did: rows added, replaced, skipped (the config file's), and deleted (``replace``)."""

    created: int
    updated: int
    skipped: int
    deleted: int


def _text(row: Any, name: str) -> str | None:
    value = row.get(name) if isinstance(row, dict) else None
    return value if isinstance(value, str) else None


def _check(rows: list[Any], config: set[tuple[str, str]]) -> tuple[list[PriceCreate], int, list[RowError]]:
    """The rows to write, how many are the config file's (skipped), and the errors, row by row."""
    valid: list[PriceCreate] = []
    skipped = 0
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows):
        model, channel = _text(row, "model"), _text(row, "channel")

        def refuse(message: str, param: str | None = None) -> None:
            errors.append(RowError(row=index, model=model, channel=channel, param=param, message=message))  # noqa: B023

        if not isinstance(row, dict):
            refuse("A row must be a JSON object.")
            continue
        fields = dict(row)
        source = fields.pop("source", "api")
        if source not in ("api", CONFIG_SOURCE):
            refuse("'source' must be 'api' or 'config'.", "source")
            continue
        try:
            price = msgspec.convert(fields, PriceCreate)
        except msgspec.ValidationError as exc:
            failure = validation_failure(exc)
            refuse(failure.message, failure.param)
            continue
        name = (price.model, price.channel)
        if name in seen:
            refuse(f"Row {seen[name]} already sets this model and channel.", "model")
            continue
        seen[name] = index
        if name in config:
            if source == CONFIG_SOURCE:
                skipped += 1
            else:
                refuse("This price comes from the config file; change it there (or mark the row source: config).",
                       "model")  # fmt: skip
            continue
        if source == CONFIG_SOURCE:
            refuse("The config file sets no price for this model and channel; drop 'source' to add it.", "source")
            continue
        valid.append(price)
    return valid, skipped, errors


def price_table_routes(ctx: AdminContext) -> list[Route]:
    """Export and import of the price table."""

    async def export(req: AdminRequest) -> Reply:
        rows = await ctx.read(lambda conn: prices_repo.list_prices(conn, ctx.owned))
        return 200, PriceTable(object="price_table", prices=rows)

    async def import_(req: AdminRequest) -> Reply:
        body = await req.body(PriceImport)
        if len(body.prices) > MAX_ROWS:
            return 400, _refused(f"At most {MAX_ROWS} rows per import.", [])
        current = await ctx.read(lambda conn: prices_repo.list_prices(conn, ctx.owned))
        config = {(p.model, p.channel) for p in current if p.source == CONFIG_SOURCE}
        valid, skipped, errors = _check(body.prices, config)
        if errors:
            noun = "row is" if len(errors) == 1 else "rows are"
            return 400, _refused(f"{len(errors)} {noun} invalid; nothing was imported.", errors)
        keep = {(p.model, p.channel) for p in valid}
        drop = [p for p in current if p.source != CONFIG_SOURCE and (p.model, p.channel) not in keep]

        async def work(conn: AsyncConnection) -> ImportResult:
            created = 0
            for price in valid:
                created += await prices_repo.put_price(conn, price, ctx.owned)
            deleted = 0
            if body.replace:
                for old in drop:
                    await prices_repo.delete_price(conn, old.model, old.channel, ctx.owned)
                    deleted += 1
            return ImportResult(created=created, updated=len(valid) - created, skipped=skipped, deleted=deleted)

        return 200, await ctx.write("prices", work)

    return [
        admin_route("GET", "/admin/price-table", "The whole price table as one document (export)", export, None,
                    PriceTable, errors=(401,)),
        admin_route("POST", "/admin/price-table", "Import a price table: every row checked, then all written in "
                    "one transaction (or none; the 400 names each bad row)", import_, PriceImport, ImportResult,
                    errors=(400, 401)),
    ]  # fmt: skip


def _refused(message: str, rows: list[RowError]) -> dict[str, Any]:
    error = {"message": message, "type": "invalid_request_error", "param": "prices", "code": "invalid_rows"}
    return {"error": {**error, "rows": msgspec.to_builtins(rows)}}
