"""The periodic check that fires operator alerts; every worker runs one, off the request path.

Each round looks at three things and fires an alert when its condition starts to hold:

* breakers (this worker's, in memory: no I/O unless one fires): a channel whose breaker left ``closed``
  ``breaker_open_for`` seconds ago and has not closed since (failed probes keep it open);
* balances: one indexed read of keys with a quota whose settled balance (quota minus spend; reservations of
  requests in flight are left out, so a long request cannot make it flap) is under their threshold, and
  one of the fired balance flags, re-armed once their key is at or above its threshold again;
* tasks: one count of unfinished tasks.

Firing is ``fire_flag`` and ``queue_alert`` in one transaction (``storage/notify_flags.py``), so however
many workers and replicas see a condition, one alert is queued; the sender (``notify/sender.py``) is poked.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select

from omnirouter.background import BackgroundLoop
from omnirouter.billing import nano_to_usd, usd_to_nano
from omnirouter.config.notifications import NotificationsConfig
from omnirouter.notify.alerts import BREAKER_OPEN, KEY_BALANCE_LOW, TASKS_BACKLOG, queue_alert
from omnirouter.routing import Channel
from omnirouter.storage import Database, api_keys_table
from omnirouter.storage.notify_flags import FLAG_PREFIX, fire_flag, fired_flags, rearm_flag
from omnirouter.storage.tasks_repo import LIVE, tasks_table

__all__ = ["NotificationChecker"]

log = logging.getLogger("omnirouter.notify")

_BALANCE = FLAG_PREFIX + "balance."
_TASKS = FLAG_PREFIX + "tasks"


def _breaker_flag(channel: str) -> str:
    return FLAG_PREFIX + "breaker." + hashlib.sha256(channel.encode()).hexdigest()[:40]


def _usd(nano: int) -> str:
    return format(nano_to_usd(nano).normalize(), "f")


class NotificationChecker(BackgroundLoop):
    """Checks every ``check_interval`` seconds; ``queued`` is called after a round that queued alerts."""

    name = "omnirouter-notify"
    log = log

    def __init__(
        self,
        db: Database,
        config: NotificationsConfig,
        channels: Callable[[], Iterable[Channel]],
        queued: Callable[[], None] = lambda: None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.check_interval)
        self.db = db
        self.config = config
        self.channels = channels
        self.queued = queued
        self.wall = wall
        self._spells: dict[str, float] = {}  # channel → the open spell (``open_since``) already dealt with

    async def run_once(self) -> int:
        """One round; how many alerts it queued."""
        fired = await self.check_breakers() + await self.check_balances() + await self.check_tasks()
        if fired:
            self.queued()
        return fired

    async def _fire(self, flag: str, subject: str, event_type: str, data: dict[str, Any]) -> int:
        now = self.wall()
        async with self.db.engine.begin() as conn:
            if not await fire_flag(conn, flag, int(now)):
                return 0  # another worker (or replica) fired it
            await queue_alert(conn, self.config, subject, event_type, data, now)
        log.warning("notification %s: %s", event_type, data)
        return 1

    async def _rearm(self, flag: str) -> None:
        async with self.db.engine.begin() as conn:
            await rearm_flag(conn, flag)

    async def check_breakers(self) -> int:
        """Fire for each channel open ``breaker_open_for`` seconds; re-arm once this worker sees its spell end."""
        open_for = self.config.breaker_open_for
        if open_for is None:
            return 0
        fired = 0
        for channel in list(self.channels()):
            breaker, name = channel.breaker, channel.name
            since = breaker.open_since
            spell = self._spells.get(name)
            if spell is not None and spell != since:  # the spell dealt with ended: the next one is news
                del self._spells[name]
                await self._rearm(_breaker_flag(name))
            if since is None or name in self._spells:
                continue
            seconds = breaker.now() - since
            if seconds < open_for:
                continue
            data = {
                "channel": name,
                "state": breaker.state,
                "open_since": round(self.wall() - seconds, 3),
                "open_seconds": round(seconds, 3),
            }
            fired += await self._fire(_breaker_flag(name), f"breaker:{name}", BREAKER_OPEN, data)
            self._spells[name] = since
        return fired

    def _threshold(self, key_name: str) -> float | None:
        return self.config.balance_per_key.get(key_name, self.config.balance_below_usd)

    async def check_balances(self) -> int:
        """Fire for each key under its threshold whose flag is armed; re-arm the flags of keys back above."""
        limits = [t for t in (self.config.balance_below_usd, *self.config.balance_per_key.values()) if t is not None]
        if not limits:
            return 0
        keys = api_keys_table
        left = keys.c.quota_nano - keys.c.used_nano
        query = select(keys.c.id, keys.c.name, keys.c.quota_nano, keys.c.used_nano).where(
            keys.c.quota_nano.is_not(None), keys.c.status == "active", left < usd_to_nano(max(limits))
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            flagged = {int(name.rsplit(".", 1)[1]) for name in await fired_flags(conn, _BALANCE)}
        low: dict[int, tuple[Any, int]] = {}
        for row in rows:
            threshold = self._threshold(row.name)
            if threshold is not None and row.quota_nano - row.used_nano < usd_to_nano(threshold):
                low[row.id] = (row, usd_to_nano(threshold))
        fired = 0
        for key_id, (row, threshold_nano) in low.items():
            if key_id in flagged:
                continue
            data = {
                "key_id": key_id,
                "key_name": row.name,
                "remaining_usd": _usd(row.quota_nano - row.used_nano),
                "threshold_usd": _usd(threshold_nano),
                "quota_usd": _usd(row.quota_nano),
                "used_usd": _usd(row.used_nano),
            }
            fired += await self._fire(f"{_BALANCE}{key_id}", f"balance:{key_id}", KEY_BALANCE_LOW, data)
        for key_id in flagged - low.keys():  # topped up (or unlimited, or revoked): the next crossing is news
            await self._rearm(f"{_BALANCE}{key_id}")
        return fired

    async def check_tasks(self) -> int:
        """Fire when more than ``tasks_unfinished_over`` tasks are unfinished; re-arm once they are not."""
        threshold = self.config.tasks_unfinished_over
        if threshold is None:
            return 0
        tasks = tasks_table
        async with self.db.engine.connect() as conn:
            count = int((await conn.execute(select(func.count()).where(tasks.c.status.in_(LIVE)))).scalar_one())
            flagged = bool(await fired_flags(conn, _TASKS))
        if count > threshold and not flagged:
            return await self._fire(_TASKS, "tasks", TASKS_BACKLOG, {"unfinished": count, "threshold": threshold})
        if count <= threshold and flagged:
            await self._rearm(_TASKS)
        return 0
