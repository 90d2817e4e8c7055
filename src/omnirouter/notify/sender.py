"""The operator alerts' sender: the client webhooks' sender (lease, retries with backoff, dead events,
pruning, ``webhooks:`` settings) run over the outbox's operator rows, each sent to the destination its row
names, as the config says it now.

A webhook alert is signed as client webhooks are (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), with ``notifications.webhook.secret``; the target is the operator's own, so it is not
held to the image-fetch policy (an alerting endpoint on a private network is normal).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from omnirouter.config.notifications import NotificationsConfig, signing_key
from omnirouter.config.schema import WebhooksConfig
from omnirouter.notify.alerts import EMAIL, WEBHOOK
from omnirouter.notify.mail import send_mail
from omnirouter.storage import Database
from omnirouter.storage.webhooks_repo import claim_due_webhooks
from omnirouter.tasks.webhooks import WebhookSender, sign

__all__ = ["NotificationSender"]

log = logging.getLogger("omnirouter.notify")


class NotificationSender(WebhookSender):
    """Delivers queued operator alerts (``start``/``stop``: one background loop per process)."""

    name = "omnirouter-notify-sender"
    log = log

    def __init__(self, db: Database, config: NotificationsConfig, settings: WebhooksConfig | None = None) -> None:
        super().__init__(db, lambda: b"", settings=settings)
        self.config = config

    async def run_once(self) -> int:
        """Claim one batch of due alerts and send each; how many were claimed."""
        now = self.clock()
        async with self.db.engine.begin() as conn:
            rows = await claim_due_webhooks(conn, self.owner, now, now + self.lease, self.batch, operator=True)
        for row in rows:  # few, and in order per subject
            await self._deliver(row)
        return len(rows)

    async def _post(self, row: Any) -> str | None:
        body = row.payload.encode()
        if row.url == WEBHOOK and self.config.webhook is not None:
            hook = self.config.webhook
            timestamp = int(self.wall())
            headers = {
                "content-type": "application/json",
                "user-agent": "omnirouter-notifications/1",
                "webhook-id": row.id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(signing_key(hook.secret), row.id, timestamp, body),
            }
            return await self.poster.post(hook.url, body, headers, self.timeout)
        if row.url == EMAIL and self.config.email is not None:
            return await send_mail(self.config.email, row.id, orjson.loads(body))
        return f"{row.url} is no longer configured"
