"""An operator alert as queued: its body (Standard Webhooks' ``type`` / ``timestamp`` / ``data`` shape) and
one outbox row per destination, written in the transaction that fired the alert's flag.

The rows go to the client webhooks' outbox (``storage/webhooks_repo.py``) with ``key_id`` 0 and the
destination's name as their URL (``notify:webhook``, ``notify:email``): the notification sender resolves
it from the current config when it sends, so the target URL and SMTP password are never stored.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.config.notifications import NotificationsConfig
from omnirouter.storage.webhooks_repo import OPERATOR_KEY_ID, insert_webhook

__all__ = ["BREAKER_OPEN", "EMAIL", "KEY_BALANCE_LOW", "TASKS_BACKLOG", "WEBHOOK", "alert_body", "queue_alert"]

BREAKER_OPEN = "channel.breaker_open"
KEY_BALANCE_LOW = "key.balance_low"
TASKS_BACKLOG = "tasks.backlog"

WEBHOOK = "notify:webhook"
EMAIL = "notify:email"


def alert_body(event_type: str, data: dict[str, Any], now: float) -> dict[str, Any]:
    """The JSON body of an alert (the same for the webhook and, pretty-printed, the email)."""
    stamp = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    return {"type": event_type, "timestamp": stamp, "data": data}


async def queue_alert(
    conn: AsyncConnection, config: NotificationsConfig, subject: str, event_type: str, data: dict[str, Any],
    now: float,
) -> int:  # fmt: skip
    """Queue the alert for every configured destination in ``conn``'s transaction; how many rows.
    ``subject`` (``breaker:<channel>``, ``balance:<key id>``, ``tasks``) keeps one subject's alerts in order."""
    payload = orjson.dumps(alert_body(event_type, data, now)).decode()
    targets = [t for t, on in ((WEBHOOK, config.webhook), (EMAIL, config.email)) if on is not None]
    for target in targets:
        await insert_webhook(
            conn,
            {
                "id": f"ntf_{secrets.token_hex(12)}",
                "task_id": f"notify:{subject}"[:64],
                "key_id": OPERATOR_KEY_ID,
                "url": target,
                "event_type": event_type,
                "payload": payload,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
    return len(targets)
