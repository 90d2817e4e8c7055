"""Transactions for background writers (usage batches): one thread hop each on SQLite.

Through aiosqlite every statement, cursor and commit is a hop to the driver's thread and back,
and under load each hop waits its turn in a busy event loop (~10 ms each at 64 connections on
the benchmark machine): a 500-row usage batch took ~170 ms and the writer fell behind the
requests.  For a SQLite file, a batch instead runs as plain synchronous SQLAlchemy in one
dedicated thread with its own connection, so the loop awaits one future per batch; long writes
call ``let_others_run`` between statements, so that a request on the same core does not wait
behind a whole batch.  Other databases (PostgreSQL via asyncpg, in-memory SQLite) run the same
synchronous function on the async engine through ``run_sync``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["BackgroundWrites", "let_others_run"]

T = TypeVar("T")

_thread_role = threading.local()
_sched_yield = getattr(os, "sched_yield", None)


def _mark_writer_thread() -> None:
    _thread_role.writer = True


def let_others_run() -> None:
    """Between the statements of a long write: in the writer thread, hand the CPU (and the GIL) to
    whatever else is ready, the event loop first of all.  Elsewhere a no-op.

    On a busy core the kernel may otherwise let a request wait behind a whole batch: measured at
    concurrency 1 with everything on one core, yielding every 16 rows took the p99 of a request
    from ~2.3 ms to ~0.8-1 ms, and the writer still kept up at full load.
    """
    if _sched_yield is not None and getattr(_thread_role, "writer", False):
        _sched_yield()


class BackgroundWrites:
    """Runs ``fn(connection, *args)`` in one transaction, off the event loop where it can."""

    def __init__(self, engine: AsyncEngine, sqlite_file: bool, on_connect: Callable[[Any, Any], None]) -> None:
        self._engine = engine
        self._sqlite_file = sqlite_file
        self._on_connect = on_connect
        self._sync: Engine | None = None  # the writer thread's own engine and thread, made on first use
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` inside ``BEGIN … COMMIT`` (rolled back if it raises)."""
        if not self._sqlite_file:
            async with self._engine.begin() as conn:
                return await conn.run_sync(fn, *args)
        if self._executor is None:
            self._sync = create_engine(self._engine.url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
            event.listen(self._sync, "connect", self._on_connect)
            self._executor = ThreadPoolExecutor(1, "omnirouter-db-writer", initializer=_mark_writer_thread)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._in_thread, fn, args)

    def _in_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        assert self._sync is not None
        with self._sync.begin() as conn:
            return fn(conn, *args)

    async def close(self) -> None:
        """Finish the running transaction, then close the thread and its connection."""
        executor, self._executor = self._executor, None
        if executor is not None and self._sync is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._sync.dispose)
            executor.shutdown(wait=True)
