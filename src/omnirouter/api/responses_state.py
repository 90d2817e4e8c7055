"""The Responses API's stored conversations: ``previous_response_id`` works on every upstream.

Before routing, a request naming ``previous_response_id`` gets the stored
conversation prepended to its ``input`` (and the id removed), so any upstream,
whatever its protocol, sees the whole conversation.  As the answer goes out, the
terminal response object (``ChatExtension.answered``: the whole answer, or the
one the stream's last event carries) is stored with the input as the
conversation under the response id the client sees, per client key, before the
client receives it.  ``store: false`` (Codex) skips storing.
"""

from __future__ import annotations

import logging
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.storage import KeyRecord, ResponseStateStore

log = logging.getLogger("omnirouter")


def _as_items(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return value
    return []


class ResponsesConversation:
    """One Responses request's conversation state (a ``ChatExtension``)."""

    def __init__(self, store: ResponseStateStore) -> None:
        self._store = store
        self._items: list[Any] = []
        self._enabled = True

    async def prepare(self, body: dict[str, Any], key: KeyRecord) -> dict[str, Any]:
        self._enabled = body.get("store", True) is not False
        items = _as_items(body.get("input"))
        previous = body.get("previous_response_id")
        if previous is not None:
            if not isinstance(previous, str) or not previous:
                raise GatewayError(
                    ErrorKind.INVALID_REQUEST,
                    "'previous_response_id' must be a string.",
                    param="previous_response_id",
                )
            stored = await self._store.get(previous, key.id)
            if stored is None:
                raise GatewayError(
                    ErrorKind.INVALID_REQUEST,
                    f"Previous response with id '{previous}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            items = [*stored, *items]
            body = {k: v for k, v in body.items() if k != "previous_response_id"}
            body["input"] = items
        self._items = items
        return body

    async def answered(self, answer: dict[str, Any], key: KeyRecord) -> None:
        """Store the conversation under the id of the response the client is about to get."""
        if self._enabled:
            await self._save(answer, key)

    async def _save(self, response: dict[str, Any], key: KeyRecord) -> None:
        if not isinstance(response.get("id"), str):
            return
        output = response.get("output")
        items = [*self._items, *(output if isinstance(output, list) else [])]
        try:
            await self._store.put(response["id"], key.id, items)
        except Exception:
            log.exception("could not store the conversation of response %s", response["id"])
