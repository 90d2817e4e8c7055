"""Bulk INSERT of usage records: one statement compiled per dialect, one executemany per batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Dialect, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

from omnirouter.storage import usage_records_table
from omnirouter.usage.record import COLUMNS, UsageRecord, to_params

__all__ = ["SLICE", "UsageWriter"]

SLICE = 64


class UsageWriter:
    """Writes records through ``exec_driver_sql`` with the SQL that ``insert(usage_records)`` compiles to.

    Same statement and same stored values as a core ``insert(table)`` with a
    list of dicts (the columns' own bind processors are applied), but without
    SQLAlchemy's per-row parameter building: about half the event-loop CPU per
    row, which matters since flushing shares the loop with requests.
    """

    def __init__(self, dialect: Dialect) -> None:
        compiled = insert(usage_records_table).compile(dialect=dialect, column_keys=list(COLUMNS))
        if not isinstance(compiled, SQLCompiler) or tuple(compiled.positiontup or ()) != COLUMNS:
            raise RuntimeError(f"usage insert: unsupported paramstyle {dialect.paramstyle!r} or column drift")
        self.sql = str(compiled)
        processors: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(COLUMNS):
            processor = usage_records_table.c[name].type.bind_processor(dialect)
            if processor is not None:
                processors.append((index, processor))
        self._processors = processors

    def params(self, records: Sequence[UsageRecord]) -> list[tuple[Any, ...]]:
        """Driver-ready positional parameters, one tuple per record."""
        processors = self._processors
        rows = []
        for rec in records:
            values = to_params(rec)
            for index, processor in processors:
                values[index] = processor(values[index])
            rows.append(tuple(values))
        return rows

    async def write(self, conn: AsyncConnection, records: Sequence[UsageRecord]) -> None:
        """Insert ``records`` (non-empty) on ``conn`` in executemany slices of ``SLICE`` rows.

        Building a slice's parameters runs on the event loop; slices keep each such stretch short
        (a 500-row batch in one go stalled concurrent requests by ~4 ms at p99).
        """
        for start in range(0, len(records), SLICE):
            await conn.exec_driver_sql(self.sql, self.params(records[start : start + SLICE]))
