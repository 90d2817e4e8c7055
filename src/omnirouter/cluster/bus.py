"""Messages between the workers of one deployment, over Redis pub/sub; without Redis, nothing travels.

A topic ``t`` is the Redis channel ``<prefix>t`` (``omnirouter:breaker``, ``omnirouter:changes``).
Messages are JSON objects; the bus adds ``from`` (the sending worker's id) and never hands a worker
its own messages.  Pub/sub delivers only to those listening at that moment, so the design assumes
messages can be lost: after every (re)subscription each topic's ``resync`` hook runs (with
``reconnected=True`` after a lost connection), and ``publish(..., retain=FIELD)`` also keeps the
message as the topic's last word on ``FIELD`` (a Redis hash ``<prefix>t:state``, read back with
``retained``) for workers that start or reconnect later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from omnirouter.storage.redis import redis_failures, subscriber_client

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("omnirouter.shared")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Resync = Callable[[bool], Awaitable[None]]

RETAIN_TTL = 24 * 3600
"""Seconds a topic's retained messages outlive its last retained publish."""


class Bus:
    """Publish to and listen on topics shared by every worker using the same Redis and prefix.

    ``redis`` is the command client (owned by the caller); ``redis_url`` gives the subscription its
    own connection.  Both ``None``: a disabled bus (publish does nothing, nothing is received).
    """

    def __init__(self, redis: Redis | None = None, redis_url: str | None = None, prefix: str = "omnirouter:") -> None:
        self.redis = redis
        self._failures = redis_failures(redis)
        self.prefix = prefix
        self.worker_id = secrets.token_hex(8)
        self._url = redis_url
        self._handlers: dict[str, Handler] = {}
        self._resyncs: list[Resync] = []
        self._task: asyncio.Task[None] | None = None
        self._first_try = asyncio.Event()  # set once the first subscription attempt succeeded or failed

    @property
    def enabled(self) -> bool:
        """Whether messages travel (a Redis is configured)."""
        return self.redis is not None and self._url is not None

    def subscribe(self, topic: str, handler: Handler, resync: Resync | None = None) -> None:
        """Call ``handler`` with each message other workers publish on ``topic`` (register before ``start``)."""
        self._handlers[self.prefix + topic] = handler
        if resync is not None:
            self._resyncs.append(resync)

    async def start(self, ready_timeout: float = 2.0) -> None:
        """Start listening; waits up to ``ready_timeout`` s for the first subscription attempt (retries go on)."""
        if not self.enabled or not self._handlers or self._task is not None:
            return
        self._task = asyncio.create_task(self._listen(), name="omnirouter-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_try.wait(), ready_timeout)

    async def close(self) -> None:
        """Stop listening."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def publish(self, topic: str, payload: dict[str, Any], *, retain: str | None = None) -> bool:
        """Send ``payload`` to the other workers; False (logged) if Redis did not take it.

        ``retain``: also keep it as the last word on that field of the topic (replacing the previous);
        ``payload["forget"] = True`` drops the field instead of keeping this message.
        """
        if self.redis is None:
            return False
        message = orjson.dumps({**payload, "from": self.worker_id})
        try:
            if retain is None:
                await self.redis.publish(self.prefix + topic, message)
                return True
            state = f"{self.prefix}{topic}:state"
            async with self.redis.pipeline(transaction=True) as pipe:
                if payload.get("forget"):
                    pipe.hdel(state, retain)
                else:
                    pipe.hset(state, retain, message)
                    pipe.expire(state, RETAIN_TTL)
                pipe.publish(self.prefix + topic, message)
                await pipe.execute()
            return True
        except self._failures as exc:
            log.warning("shared state: could not publish on %s%s: %s", self.prefix, topic, exc)
            return False

    async def retained(self, topic: str) -> list[dict[str, Any]]:
        """The messages kept by ``publish(..., retain=...)`` on ``topic``, other workers' only."""
        if self.redis is None:
            return []
        raw = await self.redis.hgetall(f"{self.prefix}{topic}:state")
        messages = []
        for value in raw.values():
            message = _decode(value.encode() if isinstance(value, str) else value)
            if message is not None and message.get("from") != self.worker_id:
                messages.append(message)
        return messages

    async def _listen(self) -> None:
        assert self._url is not None
        client = subscriber_client(self._url, f"omnirouter-bus-{self.worker_id}")
        reconnected = False
        delay = 0.1
        failing = False
        try:
            while True:
                pubsub = client.pubsub()
                try:
                    await self._subscribe(pubsub)
                    for resync in self._resyncs:
                        await self._run(resync(reconnected))
                    if failing:
                        log.warning("shared state: Redis subscription is back")
                    self._first_try.set()
                    failing, delay = False, 0.1
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                        if message is not None and message.get("type") == "message":
                            await self._dispatch(message)
                except self._failures as exc:
                    if not failing:
                        log.warning("shared state: Redis subscription lost (%s); retrying", exc)
                    failing = True
                    self._first_try.set()
                finally:
                    with contextlib.suppress(*self._failures):
                        await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8.2
                reconnected = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        finally:
            with contextlib.suppress(*self._failures):
                await client.aclose()

    async def _subscribe(self, pubsub: Any) -> None:
        """Subscribe to every topic and wait for Redis to confirm (so nothing published after is missed)."""
        await pubsub.subscribe(*self._handlers)
        confirmed = 0
        async with asyncio.timeout(5.0):
            while confirmed < len(self._handlers):
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "subscribe":
                    confirmed += 1

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        handler = self._handlers.get(channel.decode() if isinstance(channel, bytes) else str(channel))
        data = message.get("data")
        payload = _decode(data) if isinstance(data, bytes) else None
        if handler is None or payload is None or payload.get("from") == self.worker_id:
            return
        await self._run(handler(payload))

    async def _run(self, call: Awaitable[None]) -> None:
        try:
            await call
        except self._failures:
            raise
        except Exception:
            log.exception("shared state: a message handler failed")


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
