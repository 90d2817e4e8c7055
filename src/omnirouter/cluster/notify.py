"""Change notices: tell every other worker that shared data changed, so each reloads it.

    await gateway.notifier.publish_change("keys")          # after committing the change
    gateway.notifier.subscribe(on_change)                  # any time; on_change(kind) is async

The worker that publishes applies its change itself; ``on_change`` runs on every *other* worker
(other processes and replicas) with the ``kind`` string it was given.  Pub/sub messages can be
lost while a worker's subscription is down, so after it reconnects every callback gets
``kind == "*"``: "anything may have changed, reload all".  Without Redis, ``publish_change``
does nothing and callbacks never run (one process, nothing to tell).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from omnirouter.cluster.bus import Bus

log = logging.getLogger("omnirouter.shared")

ChangeCallback = Callable[[str], Awaitable[None]]

TOPIC = "changes"
EVERYTHING = "*"


class ChangeNotifier:
    """``publish_change(kind)`` / ``subscribe(callback)`` on the deployment's bus."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._callbacks: list[ChangeCallback] = []
        if bus.enabled:
            bus.subscribe(TOPIC, self._on_message, self._on_resync)

    async def publish_change(self, kind: str) -> bool:
        """Tell the other workers that ``kind`` (e.g. ``"keys"``, ``"prices"``, ``"channels"``) changed.

        Never raises: False when there is no Redis or it did not take the notice (logged).
        """
        return await self._bus.publish(TOPIC, {"kind": kind})

    def subscribe(self, callback: ChangeCallback) -> None:
        """Run ``await callback(kind)`` for each change another worker announces (and ``"*"`` after a reconnect)."""
        self._callbacks.append(callback)

    async def _notify(self, kind: str) -> None:
        for callback in self._callbacks:
            try:
                await callback(kind)
            except Exception:
                log.exception("change notice %r: a callback failed", kind)

    async def _on_message(self, payload: dict[str, Any]) -> None:
        kind = payload.get("kind")
        if isinstance(kind, str):
            await self._notify(kind)

    async def _on_resync(self, reconnected: bool) -> None:
        if reconnected:
            await self._notify(EVERYTHING)
