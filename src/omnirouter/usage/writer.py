"""Bulk INSERT of usage records: one statement compiled per dialect, one executemany per batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Dialect, insert
from sqlalchemy.sql.compiler import SQLCompiler

from omnirouter.storage import usage_records_table
from omnirouter.storage.background_writes import let_others_run
from omnirouter.usage.record import COLUMNS, UsageRecord, to_params

__all__ = ["SLICE", "SQLITE_SLICE", "UsageWriter"]

SLICE = 64
SQLITE_SLICE = 16  # rows per multi-row INSERT: ~0.2 ms of SQLite work between two let_others_run


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
        # qmark drivers (SQLite) get one multi-row INSERT per slice: sqlite3's executemany takes the
        # GIL back for every row, and a thread competing with a busy event loop may wait up to the
        # interpreter's switch interval (5 ms) for each such hand-over.
        self._multi_row = dialect.paramstyle == "qmark"
        self._multi_sql: dict[int, str] = {}

    def row(self, rec: UsageRecord) -> tuple[Any, ...]:
        """One record's driver-ready positional parameters."""
        values = to_params(rec)
        for index, processor in self._processors:
            values[index] = processor(values[index])
        return tuple(values)

    def params(self, records: Sequence[UsageRecord]) -> list[tuple[Any, ...]]:
        """Driver-ready positional parameters, one tuple per record."""
        return [self.row(rec) for rec in records]

    def write(self, conn: Connection, records: Sequence[UsageRecord]) -> None:
        """Insert ``records`` (non-empty) on ``conn``."""
        self.write_rows(conn, self.params(records))

    def write_rows(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows made by ``row`` (synchronous: see ``Database.background``).

        SQLite: multi-row INSERTs of ``SQLITE_SLICE`` rows straight on the driver's cursor, with
        ``let_others_run`` between them; other drivers: executemany in slices of ``SLICE`` rows.
        """
        if self._multi_row:
            driver = conn.connection.driver_connection
            # the sqlite3 cursor itself in the writer thread; through SQLAlchemy's adapter otherwise (aiosqlite)
            execute = driver.cursor().execute if isinstance(driver, sqlite3.Connection) else conn.exec_driver_sql
            for start in range(0, len(rows), SQLITE_SLICE):
                piece = rows[start : start + SQLITE_SLICE]
                execute(self._multi_row_sql(len(piece)), tuple(chain.from_iterable(piece)))
                let_others_run()
            return
        for start in range(0, len(rows), SLICE):
            conn.exec_driver_sql(self.sql, list(rows[start : start + SLICE]))

    def _multi_row_sql(self, count: int) -> str:
        """The INSERT with ``count`` qmark value groups."""
        sql = self._multi_sql.get(count)
        if sql is None:
            head, _, group = self.sql.partition(" VALUES ")
            sql = self._multi_sql[count] = head + " VALUES " + ", ".join([group] * count)
        return sql
