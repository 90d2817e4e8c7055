"""The retention sweep of the result store: every replica runs one beside its poller.

Every ``interval`` seconds it removes the blobs stored more than ``tasks.result_retention_days`` ago
(``BlobStore.delete_older_than``, which also clears leftovers of interrupted copies).  No lease is needed:
several replicas sweeping at once at worst delete the same blob twice, and deleting a missing blob is a
no-op in both stores.  The task rows and their ledger entries stay; the content routes answer 404 for a
swept output.  ``clock`` (unix seconds) is injected so tests sweep "days later" at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from omnirouter.background import BackgroundLoop
from omnirouter.storage.blobs import BlobStore

__all__ = ["DAY", "RetentionSweep"]

log = logging.getLogger("omnirouter.tasks")

DAY = 86_400.0


class RetentionSweep(BackgroundLoop):
    """Removes result blobs older than ``days`` from ``store``; ``start``/``stop`` bracket its loop (the
    first sweep runs at start)."""

    name = "omnirouter-result-retention"
    log = log

    def __init__(
        self, store: BlobStore, days: float, *, interval: float = 3600.0, clock: Callable[[], float] = time.time
    ) -> None:
        if days <= 0:
            raise ValueError("retention days must be positive")
        super().__init__(interval)
        self.store = store
        self.days = days
        self.clock = clock

    def cutoff(self) -> datetime:
        """Blobs stored before this instant are removed."""
        return datetime.fromtimestamp(self.clock() - self.days * DAY, UTC)

    async def run_once(self) -> int:
        """One sweep; how many blobs it removed."""
        removed = await self.store.delete_older_than(self.cutoff())
        if removed:
            log.info("result retention: removed %d stored outputs older than %g days", removed, self.days)
        return removed
