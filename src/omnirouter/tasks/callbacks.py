"""Vendor callbacks: the unguessable per-task URL a vendor is given, and the hint a callback gives.

A vendor that takes a ``callback_url`` (Kling, Vidu, MiniMax, Ark) is sent
``{public_url}/callbacks/tasks/{task id}/{token}`` when the gateway knows its public URL (``public_url``
in the configuration).  The token is HMAC-SHA256 of the task id under the gateway's signing secret
(``storage/signing_secret.py``, the same on every replica, so any replica accepts any task's callback),
url-safe base64 without padding, checked in constant time.

A callback is only a hint (``PollHints``): a live task's next poll is moved to now and this replica's
poller is woken.  The body is never read for state or money: the poll that follows asks the vendor, as
every other poll does.  A task being polled or submitted right now (its lease live) is hinted again once
that step has released it, so a callback arriving mid-poll is not lost to the schedule the poll writes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable
from urllib.parse import quote

from omnirouter.storage.tasks_repo import hint_poll
from omnirouter.tasks.engine import TaskEngine

__all__ = ["CALLBACK_PATH", "CallbackLinks", "PollHints", "callback_token", "valid_token"]

log = logging.getLogger("omnirouter.tasks")

CALLBACK_PATH = "/callbacks/tasks"
"""Where vendor callbacks arrive: ``{CALLBACK_PATH}/{task_id}/{token}``."""
_DOMAIN = b"omnirouter task callback\n"  # a callback token can never equal a signed URL's signature


def callback_token(task_id: str, secret: bytes) -> str:
    """The token of ``task_id``'s callback URL."""
    if not secret:
        raise ValueError("the signing secret is empty")
    mac = hmac.new(secret, _DOMAIN + task_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def valid_token(task_id: str, token: str, secret: bytes) -> bool:
    """Whether ``token`` is ``task_id``'s callback token (constant time; an empty secret accepts nothing)."""
    if not secret:
        return False
    return hmac.compare_digest(callback_token(task_id, secret).encode(), token.encode("utf-8", "replace"))


class CallbackLinks:
    """The callback URLs of one gateway: ``public_url`` (None: no callbacks are asked for) and the signing
    secret, read when needed (the gateway loads it at start)."""

    def __init__(self, public_url: str | None, secret: Callable[[], bytes]) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self._secret = secret

    def url(self, task_id: str) -> str | None:
        """The URL a vendor calls back for ``task_id``; None without a public URL or a secret."""
        secret = self._secret()
        if self.public_url is None or not secret:
            return None
        return f"{self.public_url}{CALLBACK_PATH}/{quote(task_id, safe='')}/{callback_token(task_id, secret)}"

    def valid(self, task_id: str, token: str) -> bool:
        """Whether a callback for ``task_id`` carries its token."""
        return valid_token(task_id, token, self._secret())


class PollHints:
    """Turns callbacks into immediate polls: ``hint(task_id)`` moves a live, unleased task's next poll to
    now and wakes the poller (``poke``); a leased one is followed until its lease is released (checked with
    a growing gap, ``first_wait`` up to ``max_wait`` seconds, at most until the lease would lapse), then
    hinted.  One follower per task; ``close`` stops them."""

    def __init__(
        self, engine: TaskEngine, poke: Callable[[], None], *, first_wait: float = 0.05, max_wait: float = 2.0
    ) -> None:
        self.engine = engine
        self.poke = poke
        self.first_wait = first_wait
        self.max_wait = max_wait
        self._following: dict[str, asyncio.Task[None]] = {}

    async def hint(self, task_id: str) -> bool:
        """Poll ``task_id`` soon if it is unfinished; whether it is (False: unknown or finished)."""
        if await self._apply(task_id):
            return True
        record = await self.engine.load(task_id)
        if record is None or record.status.terminal:
            return False
        if record.lease_until is not None and task_id not in self._following:
            follower = asyncio.create_task(self._follow(task_id, record.lease_until), name=f"hint-{task_id}")
            self._following[task_id] = follower
            follower.add_done_callback(lambda _: self._following.pop(task_id, None))
        return True

    async def _apply(self, task_id: str) -> bool:
        engine = self.engine
        async with engine.db.engine.begin() as conn:
            moved = await hint_poll(conn, task_id, engine.clock())
        if moved:
            self.poke()
        return moved

    async def _follow(self, task_id: str, lease_until: float) -> None:
        wait = self.first_wait
        try:
            while self.engine.clock() <= lease_until:
                await asyncio.sleep(wait)
                wait = min(wait * 1.5, self.max_wait)
                if await self._apply(task_id):
                    return
                record = await self.engine.load(task_id)
                if record is None or record.status.terminal:
                    return
                lease_until = record.lease_until if record.lease_until is not None else lease_until
        except Exception:  # the database: the task keeps its own schedule
            log.warning("task %s: a callback's poll hint was not applied", task_id, exc_info=True)

    async def close(self) -> None:
        """Stop following leased tasks (their own schedules stand)."""
        followers = list(self._following.values())
        for follower in followers:
            follower.cancel()
        for follower in followers:
            with contextlib.suppress(asyncio.CancelledError):
                await follower
