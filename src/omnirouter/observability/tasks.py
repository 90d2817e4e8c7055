"""The task gauges, read from the database when a scrape asks: tasks by live state, and the poll lag.

They count rows every replica shares, so the worker that serves the scrape reads them itself (they are
not per-process values to add up).  A database that does not answer within ``timeout`` seconds leaves
them out of that scrape (logged); the other metrics are still served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from omnirouter.storage import Database
from omnirouter.storage.tasks_repo import LIVE, count_live, count_overdue

__all__ = ["TaskGauges"]

log = logging.getLogger("omnirouter.metrics")


class TaskGauges(Collector):
    """``omnirouter_tasks{state}`` and ``omnirouter_task_poll_lag_seconds`` from the last ``refresh``."""

    def __init__(self, db: Database | None, *, timeout: float = 2.0) -> None:
        self._db = db
        self._timeout = timeout
        self._counts: dict[str, int] | None = None
        self._lag = 0.0
        self._failing = False

    async def refresh(self) -> None:
        """Read the live tasks' counts and the most overdue poll now (on failure: none this scrape)."""
        if self._db is None:
            return
        try:
            async with asyncio.timeout(self._timeout), self._db.engine.connect() as conn:
                counts = await count_live(conn)
                now = time.time()
                _, earliest = await count_overdue(conn, now)
        except Exception as exc:
            self._counts = None
            if not self._failing:
                log.warning("metrics: cannot read the task gauges: %s", exc)
            self._failing = True
            return
        self._failing = False
        self._counts = counts
        self._lag = max(0.0, now - earliest) if earliest is not None else 0.0

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        if counts is None:
            return
        tasks = GaugeMetricFamily("omnirouter_tasks", "Unfinished asynchronous tasks by state", labels=("state",))
        for state in LIVE:
            tasks.add_metric((state,), counts.get(state, 0))
        yield tasks
        yield GaugeMetricFamily(
            "omnirouter_task_poll_lag_seconds",
            "How late the most overdue unfinished task's next poll is (0: none is due)",
            value=self._lag,
        )
