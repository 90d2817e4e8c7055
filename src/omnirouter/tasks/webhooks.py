"""Client webhooks: the per-key signing secret, the target check, and the sender every replica runs.

Signing follows Standard Webhooks (https://www.standardwebhooks.com): each POST carries ``webhook-id`` (the
event's stable id), ``webhook-timestamp`` (unix seconds of this attempt) and ``webhook-signature:
v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.  A key's secret is derived, not stored:
``whsec_`` + base64(HMAC-SHA256(the gateway's signing secret, "webhook:<key id>")), so every replica
computes the same one and its owner reads it from ``GET /v1/key``, the admin API or the CLI.

``WebhookSender`` claims due events from the outbox (``storage/webhooks_repo.py``) with a lease, checks
the target again (DNS may have changed since the create), POSTs under a bounded timeout without following
redirects (the body rendered then in the task's dialect, ``tasks/webhook_body.py``): a 2xx delivers the
event; anything else schedules a retry with exponential backoff and jitter up to a cap, until the attempts
or the age run out and the event is marked dead (visible to admins).
At least once: a crash between the POST and its record sends the event again, with the same id.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from omnirouter.background import BackgroundLoop
from omnirouter.config.schema import ImageFetchConfig, WebhooksConfig
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.storage import Database
from omnirouter.storage.webhooks_repo import claim_due_webhooks, prune_webhooks, settle_webhook
from omnirouter.tasks.webhook_body import OutputLinks, render
from omnirouter.transport.fetch import refusal
from omnirouter.transport.webhook_post import WebhookPoster

__all__ = [
    "WebhookSender",
    "check_callback_url",
    "sign",
    "signing_key",
    "target_refusal",
    "webhook_secret",
]

log = logging.getLogger("omnirouter.webhooks")

_SECRET_PREFIX = "whsec_"
MAX_URL = 2048


def signing_key(url_secret: bytes, key_id: int) -> bytes:
    """The 32 bytes that sign the webhooks of client key ``key_id``."""
    return hmac.new(url_secret, f"webhook:{key_id}".encode(), hashlib.sha256).digest()


def webhook_secret(url_secret: bytes, key_id: int) -> str:
    """The key's webhook secret as its owner configures a verifier with it (``whsec_…``)."""
    return _SECRET_PREFIX + base64.b64encode(signing_key(url_secret, key_id)).decode()


def sign(key: bytes, event_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value of one attempt."""
    mac = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


async def target_refusal(url: str, policy: ImageFetchConfig) -> str:
    """Why the gateway will not POST to ``url`` ("" when it may): not an absolute http(s) URL, or a host
    that is denied or resolves to a private or reserved address (unless the image-fetch policy allows it)."""
    if len(url) > MAX_URL:
        return f"it is longer than {MAX_URL} characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it must be an absolute http:// or https:// URL"
    if parts.username or parts.password:
        return "it must not carry credentials"
    return await refusal(url, policy.allow_private, policy.allow_hosts, policy.deny_hosts)


async def check_callback_url(url: str | None, policy: ImageFetchConfig, field: str = "callback_url") -> None:
    """A 400 naming ``field`` (the client's name for its webhook URL) when the gateway will not POST to it."""
    if url is None:
        return
    reason = await target_refusal(url, policy)
    if reason:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"'{field}' cannot be used: {reason}.",
                           code="invalid_callback_url", param=field)  # fmt: skip


class WebhookSender(BackgroundLoop):
    """Delivers outbox events; ``start``/``stop`` bracket its background loop (one per replica).

    ``url_secret``: the gateway's signing secret (read when called: it is loaded at start).  ``clock``
    schedules (injected in tests); ``wall`` stamps ``webhook-timestamp`` (receivers compare it with their
    own clock).  ``settings`` (the config's ``webhooks:``): each POST's timeout; retries after
    ``first_retry`` × 3^(attempt-1) seconds, capped at ``max_retry``, up to 20 % jitter taken off; dead
    after ``max_attempts`` attempts or once ``max_age`` seconds old; finished events pruned after
    ``retention_days`` (checked every ``prune_every`` seconds).  ``public_url`` (the config's): output URLs
    in bodies are absolute and signed under it, valid 24 h from each attempt; gateway paths without it.
    """

    name = "omnirouter-webhooks"
    log = log

    def __init__(
        self,
        db: Database,
        url_secret: Callable[[], bytes],
        *,
        policy: ImageFetchConfig | None = None,
        clock: Callable[[], float] = time.time,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        owner: str | None = None,
        settings: WebhooksConfig | None = None,
        interval: float = 1.0,
        batch: int = 50,
        prune_every: float = 3600.0,
        public_url: str | None = None,
    ) -> None:
        settings = settings or WebhooksConfig()
        self.db = db
        self.url_secret = url_secret
        self.policy = policy or ImageFetchConfig()
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.Random()
        self.owner = owner or f"webhooks-{secrets.token_hex(6)}"
        super().__init__(interval, batch)
        self.batch = batch
        self.timeout = settings.timeout
        self.lease = 3 * settings.timeout
        self.first_retry = settings.first_retry
        self.max_retry = settings.max_retry
        self.max_attempts = settings.max_attempts
        self.max_age = settings.max_age
        self.retention = settings.retention_days * 86400.0
        self.prune_every = prune_every
        self._pruned_at: float | None = None
        self.links = OutputLinks(public_url, url_secret, wall)
        self.poster = WebhookPoster()

    async def stop(self) -> None:
        """Stop (events being sent keep their lease until it lapses) and close the session."""
        await super().stop()
        await self.poster.close()

    async def tick(self) -> int:
        """Prune what is old (at most once per ``prune_every``), then one batch of deliveries."""
        await self.prune()
        return await self.run_once()

    async def run_once(self) -> int:
        """Claim one batch of due events and send each (concurrently); how many were claimed."""
        now = self.clock()
        async with self.db.engine.begin() as conn:
            rows = await claim_due_webhooks(conn, self.owner, now, now + self.lease, self.batch)
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def prune(self, force: bool = False) -> int:
        """Delete events that finished (delivered or dead) and were created ``retention_days`` ago, at most
        once per ``prune_every`` seconds (``force``: now); how many went."""
        now = self.clock()
        if not force and self._pruned_at is not None and now - self._pruned_at < self.prune_every:
            return 0
        self._pruned_at = now
        async with self.db.engine.begin() as conn:
            return await prune_webhooks(conn, now - self.retention)

    def retry_delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt."""
        gap = min(self.max_retry, self.first_retry * 3.0 ** min(max(attempts - 1, 0), 40))
        return gap * (1.0 - 0.2 * self.rng.random())

    async def _deliver(self, row: Any) -> None:
        try:
            async with asyncio.timeout(2 * self.timeout):  # the target check's DNS too: within the lease
                error = await self._post(row)
        except TimeoutError:
            error = f"no answer within {2 * self.timeout:g} s"
        except Exception as exc:  # a bug: the attempt counts, the event is tried again
            log.exception("webhook %s: sending failed", row.id)
            error = f"internal error: {type(exc).__name__}"
        now = self.clock()
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts}
        if error is None:
            values.update(delivered_at=now, last_error=None, next_attempt_at=None)
        else:
            values["last_error"] = error[:1000]
            if attempts >= self.max_attempts or now - row.created_at >= self.max_age:
                values.update(dead_at=now, next_attempt_at=None)
                log.warning("webhook %s of task %s is dead after %d attempts: %s", row.id, row.task_id, attempts,
                            error)  # fmt: skip
            else:
                values["next_attempt_at"] = now + self.retry_delay(attempts)
        async with self.db.engine.begin() as conn:
            if not await settle_webhook(conn, row.seq, self.owner, values):
                log.info("webhook %s: lease lost before its result was recorded", row.id)

    async def _post(self, row: Any) -> str | None:
        """One attempt; None when a 2xx came back, else why not (no secret, no URL query in it)."""
        reason = await target_refusal(row.url, self.policy)
        if reason:
            return f"target refused: {reason}"
        body = render(row.payload, self.links)
        timestamp = int(self.wall())
        headers = {
            "content-type": "application/json",
            "user-agent": "omnirouter-webhooks/1",
            "webhook-id": row.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(signing_key(self.url_secret(), row.key_id), row.id, timestamp, body),
        }
        return await self.poster.post(row.url, body, headers, self.timeout)
