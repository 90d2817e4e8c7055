"""Operator notifications (docs/operations.md, "Notifications"): a signed webhook and/or an email when a
channel's breaker stays open, a key's balance falls under a threshold, or unfinished tasks pile up.

``NotificationChecker`` fires alerts (a database claim makes each fire once across workers and replicas)
into the webhook outbox; ``NotificationSender`` delivers them with the client webhooks' retries.
``Notifications`` runs both in a process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from omnirouter.config.notifications import NotificationsConfig
from omnirouter.config.schema import WebhooksConfig
from omnirouter.notify.checker import NotificationChecker
from omnirouter.notify.sender import NotificationSender
from omnirouter.routing import Channel
from omnirouter.storage import Database

__all__ = ["NotificationChecker", "NotificationSender", "Notifications"]


class Notifications:
    """The checker and the sender of one process; ``start``/``stop`` bracket them."""

    def __init__(
        self,
        db: Database,
        config: NotificationsConfig,
        channels: Callable[[], Iterable[Channel]],
        settings: WebhooksConfig | None = None,
    ) -> None:
        self.sender = NotificationSender(db, config, settings)
        self.checker = NotificationChecker(db, config, channels, queued=self.sender.poke)

    async def start(self) -> None:
        """Start checking and sending in the background."""
        await self.sender.start()
        await self.checker.start()

    async def stop(self) -> None:
        """Stop both (alerts being sent keep their lease until it lapses, then another process sends them)."""
        await self.checker.stop()
        await self.sender.stop()
