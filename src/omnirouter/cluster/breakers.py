"""Circuit breakers shared between workers: each keeps its own synchronous breaker on the hot path
and mirrors its transitions through Redis.

When a worker's breaker of channel C opens (or re-opens after a failed probe) it publishes
``{"channel": C, "state": "open", "until": T, "at": now}`` on ``<prefix>breaker`` (T and now are
Unix times), and ``"closed"`` when a request through C works again.  Every other worker applies it
to its own breaker of C: ``force_open`` until T (then it probes C itself) or ``force_close``.
Open states are also retained in Redis, so a worker that starts or reconnects catches up.

A lost or late message only delays convergence: each worker's breaker still opens on its own
failures, and an open state runs out at T on its own.  A message older than the last transition a
worker knows for C (by ``at``) is ignored.  Each worker probes a channel on its own once T passes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from omnirouter.cluster.bus import Bus
from omnirouter.routing.channel import Channel

log = logging.getLogger("omnirouter.shared")

TOPIC = "breaker"


class BreakerSync:
    """Mirrors the breakers of ``channels()`` (looked up by name, so a reloaded catalog works) over ``bus``."""

    def __init__(self, bus: Bus, channels: Callable[[], Iterable[Channel]]) -> None:
        self._bus = bus
        self._channels = channels
        self._last_at: dict[str, float] = {}
        self._tasks: set[asyncio.Task[bool]] = set()
        self._order = asyncio.Lock()  # publish in transition order (the lock is FIFO)
        if bus.enabled:
            bus.subscribe(TOPIC, self._on_message, self._on_resync)

    def attach(self, channels: Iterable[Channel]) -> None:
        """Publish the transitions of these channels' breakers (call again for new ``Channel`` objects)."""
        if not self._bus.enabled:
            return
        for channel in channels:
            channel.breaker.listener = functools.partial(self._local_transition, channel)

    async def close(self) -> None:
        """Finish publishing what is pending."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _local_transition(self, channel: Channel, state: str, until: float | None) -> None:
        now = time.time()
        self._last_at[channel.name] = now
        payload: dict[str, Any] = {"channel": channel.name, "state": state, "at": now}
        if until is not None:
            payload["until"] = now + (until - channel.breaker.now())
        if state != "open":
            payload["forget"] = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous caller): nothing to publish with
            return
        task = loop.create_task(self._publish(channel.name, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, name: str, payload: dict[str, Any]) -> bool:
        async with self._order:
            return await self._bus.publish(TOPIC, payload, retain=name)

    async def _on_message(self, payload: dict[str, Any]) -> None:
        self._apply(payload)

    async def _on_resync(self, reconnected: bool) -> None:
        for payload in await self._bus.retained(TOPIC):
            self._apply(payload)

    def _apply(self, payload: dict[str, Any]) -> None:
        name, state, at, until = payload.get("channel"), payload.get("state"), payload.get("at"), payload.get("until")
        if not isinstance(name, str) or not isinstance(at, int | float):
            return
        if at < self._last_at.get(name, 0.0):
            return  # this worker knows of a later transition
        channel = next((c for c in self._channels() if c.name == name), None)
        if channel is None:
            return
        if state == "open" and isinstance(until, int | float):
            remaining = until - time.time()
            if remaining <= 0:
                return  # already over: the breaker would only go half-open
            self._last_at[name] = at
            channel.breaker.force_open(channel.breaker.now() + remaining)
            log.info("channel %s: breaker opened by another worker for %.0f s", name, remaining)
        elif state == "closed":
            self._last_at[name] = at
            channel.breaker.force_close()
