"""What a process runs in the background for asynchronous tasks: the poller, the result store's retention
sweep and the client webhooks' sender, started and stopped together.

A gateway runs them beside its requests when ``tasks.run_pollers`` is true (the default: one process works
out of the box); ``omnirouter tasks work`` runs them without HTTP, so request-serving replicas can be
started with ``run_pollers: false`` and the polling kept off their event loops (docs/tasks.md, "Running
pollers apart").  Each piece coordinates through the database (leases, ``FOR UPDATE SKIP LOCKED``), so
any number of processes may run them at once.
"""

from __future__ import annotations

from omnirouter.tasks.poller import TaskPoller
from omnirouter.tasks.retention import RetentionSweep
from omnirouter.tasks.webhooks import WebhookSender

__all__ = ["TaskServices"]


class TaskServices:
    """The poller, the retention sweep (None: outputs kept for ever) and the webhook sender of one process."""

    def __init__(self, poller: TaskPoller, retention: RetentionSweep | None, webhooks: WebhookSender) -> None:
        self.poller = poller
        self.retention = retention
        self.webhooks = webhooks
        self.running = False

    async def start(self) -> None:
        """Start each in the background (a no-op when already running)."""
        if self.running:
            return
        self.running = True
        await self.poller.start()
        if self.retention is not None:
            await self.retention.start()
        await self.webhooks.start()

    async def stop(self) -> None:
        """Stop each (safe when never started): tasks being polled keep their lease until it lapses."""
        self.running = False
        await self.webhooks.stop()
        if self.retention is not None:
            await self.retention.stop()
        await self.poller.stop()
