"""Stored Responses-API conversations: what ``previous_response_id`` refers to, per client key."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
import sqlalchemy as sa

from omnirouter.storage.database import Database
from omnirouter.storage.models import response_states_table, utcnow

_CACHE_SIZE = 2048


class ResponseStateStore:
    """Conversation items by response id, in the database with a small per-worker cache in front."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: OrderedDict[str, tuple[int, list[Any]]] = OrderedDict()

    def _remember(self, response_id: str, key_id: int, items: list[Any]) -> None:
        self._cache[response_id] = (key_id, items)
        self._cache.move_to_end(response_id)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    async def get(self, response_id: str, key_id: int) -> list[Any] | None:
        """The items stored under ``response_id`` for this key, or ``None``."""
        cached = self._cache.get(response_id)
        if cached is not None:
            return cached[1] if cached[0] == key_id else None
        table = response_states_table
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(table.c.key_id, table.c.conversation).where(table.c.id == response_id))
            ).first()
        if row is None or row.key_id != key_id:
            return None
        items = orjson.loads(row.conversation)
        self._remember(response_id, key_id, items)
        return items if isinstance(items, list) else None

    async def put(self, response_id: str, key_id: int, items: list[Any]) -> None:
        """Store the conversation behind ``response_id`` (written before the client sees the end)."""
        self._remember(response_id, key_id, items)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.insert(response_states_table).values(
                    id=response_id,
                    key_id=key_id,
                    created_at=utcnow(),
                    conversation=orjson.dumps(items).decode(),
                )
            )
