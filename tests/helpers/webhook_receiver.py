"""A real HTTP receiver of client webhooks (an aiohttp server on 127.0.0.1) for the webhook tests.

It keeps every POST (headers and raw body), answers the statuses ``script`` lists (then 200), can take
``delay`` seconds per request, and counts how many requests of one ``webhook-id`` are in flight at once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.helpers.local_http import serving

__all__ = ["Delivery", "Receiver", "webhook_receiver"]


@dataclass
class Delivery:
    """One POST as received."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """What the receiver saw; ``url`` is where it listens."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Delivery] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)  # every request's webhook-id as it arrives
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: int = 0

    def accepted(self) -> list[Delivery]:
        """The deliveries it answered 2xx, in order (``script`` consumed first)."""
        return [d for d in self.received if d.headers.get("x-answered") == "200"]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        event_id = headers.get("webhook-id", "")
        self.arrived.append(event_id)
        self.in_flight[event_id] += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight[event_id])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self.script.pop(0) if self.script else 200
        finally:
            self.in_flight[event_id] -= 1
        headers["x-answered"] = str(status)
        self.received.append(Delivery(headers, body))
        return web.Response(status=status, text="ok" if status < 300 else "no")


@asynccontextmanager
async def webhook_receiver(path: str = "/hooks") -> AsyncIterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a free port) at ``path``."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    async with serving(app) as base:
        receiver.url = base + path
        yield receiver
