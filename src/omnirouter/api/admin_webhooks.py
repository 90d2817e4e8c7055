"""``/admin/webhooks``: the client webhook events of every task (pending, delivered, dead) for operators,
a dead event sent again, and a key's webhook secret (``/admin/keys/{id}/webhook-secret``).

Events show their target URL, type, attempts, last error and times (unix seconds, as the outbox keeps
them), never their signature.  Design and wire format: docs/tasks.md "Webhooks".
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from sqlalchemy import select

from omnirouter.api.admin_common import MAX_ID, AdminContext, AdminRequest, QueryParam, Reply, admin_route, refusal
from omnirouter.http.routes import Route
from omnirouter.storage import api_keys_table
from omnirouter.storage.webhooks_repo import (
    WEBHOOK_STATES,
    get_webhook,
    list_webhooks,
    revive_webhook,
    webhook_state,
)
from omnirouter.tasks.webhooks import webhook_secret

__all__ = ["WebhookAdminView", "WebhookSecretView", "admin_webhook_view", "webhook_routes"]

MAX_PAGE = 500
MAX_KEY_ID = 2**31 - 1  # api_keys.id is an INTEGER: a larger id names no key (and PostgreSQL refuses it)


class WebhookAdminView(msgspec.Struct, kw_only=True):
    """One event to a client's callback URL, and how its delivery stands."""

    id: str
    seq: int
    task_id: str
    key_id: int
    url: str
    type: str
    state: str
    attempts: int
    next_attempt_at: float | None
    delivered_at: float | None
    dead_at: float | None
    last_error: str | None
    created_at: float


class WebhookPage(msgspec.Struct, kw_only=True):
    """Events, oldest first; ``next_after``: pass it as ``after`` for the next page (None: the last)."""

    object: Literal["list"]
    data: list[WebhookAdminView]
    next_after: int | None


class WebhookSecretView(msgspec.Struct, kw_only=True):
    """The secret a key's webhooks are signed with (``whsec_`` + base64; derived, the same on every replica)."""

    key_id: int
    webhook_secret: str


def admin_webhook_view(row: Any) -> WebhookAdminView:
    """An outbox row for the admin API and the CLI."""
    return WebhookAdminView(
        id=row.id,
        seq=row.seq,
        task_id=row.task_id,
        key_id=row.key_id,
        url=row.url,
        type=row.event_type,
        state=webhook_state(row),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        dead_at=row.dead_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )


def webhook_routes(ctx: AdminContext) -> list[Route]:
    """The webhook routes."""
    gateway = ctx.gateway

    async def list_all(req: AdminRequest) -> Reply:
        limit = req.integer("limit", default=100, low=1, high=MAX_PAGE) or 100
        state = req.choice("state", WEBHOOK_STATES, "") if req.text("state") else None
        task_id, key_id, after = (
            req.text("task_id"),
            req.integer("key_id", low=0),  # 0: the operator's alerts (docs/operations.md "Notifications")
            req.integer("after", low=0, high=MAX_ID),
        )
        rows = await ctx.read(lambda conn: list_webhooks(conn, task_id=task_id, key_id=key_id, state=state,
                                                         after=after, limit=limit + 1))  # fmt: skip
        page = [admin_webhook_view(row) for row in rows[:limit]]
        return 200, WebhookPage(object="list", data=page, next_after=page[-1].seq if len(rows) > limit else None)

    async def retry(req: AdminRequest) -> Reply:
        event_id = req.params["id"]
        async with gateway.db.engine.begin() as conn:
            revived = await revive_webhook(conn, event_id, gateway.webhooks.clock())
            row = await get_webhook(conn, event_id)
        if row is None:
            raise refusal(404, f"No webhook event with id {event_id!r}.", "webhook_not_found")
        if not revived:
            raise refusal(409, f"Webhook event {event_id!r} is {webhook_state(row)}, not dead.", "webhook_not_dead")
        gateway.webhooks.poke()
        if gateway.notifications is not None:
            gateway.notifications.sender.poke()
        return 202, admin_webhook_view(row)

    async def secret(req: AdminRequest) -> Reply:
        key_id = req.int_param("id", "key")
        query = select(api_keys_table.c.id).where(api_keys_table.c.id == key_id)
        if key_id > MAX_KEY_ID or (await ctx.read(lambda conn: conn.scalar(query))) is None:
            raise refusal(404, f"No key with id {key_id}.", "key_not_found")
        return 200, WebhookSecretView(key_id=key_id, webhook_secret=webhook_secret(gateway.url_secret, key_id))

    filters = (
        QueryParam("state", "only events in this state", enum=WEBHOOK_STATES),
        QueryParam("task_id", "only this task's events"),
        QueryParam("key_id", "only this key's events (0: the operator's alerts)", "integer"),
        QueryParam("after", "the previous page's next_after", "integer"),
        QueryParam("limit", f"events per page, 1 to {MAX_PAGE} (default 100)", "integer"),
    )
    return [
        admin_route("GET", "/admin/webhooks", "Client webhook events (pending, delivered, dead), oldest first",
                    list_all, None, WebhookPage, query=filters, errors=(400, 401)),
        admin_route("POST", "/admin/webhooks/{id}/retry", "Send a dead webhook event again (attempts from zero)",
                    retry, None, WebhookAdminView, status=202, errors=(400, 401, 404, 409), body_required=False),
        admin_route("GET", "/admin/keys/{id}/webhook-secret", "The secret a key's task webhooks are signed with",
                    secret, None, WebhookSecretView),
    ]  # fmt: skip
