"""What a key holder may see with their own client key: its record, its balance and its usage.

* ``GET /v1/key``: the key's name, quota / used / reserved / remaining (USD), limits, models, IPs,
  expiry and group (never its hash);
* ``GET /v1/dashboard/billing/usage?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD``: OpenAI's legacy
  shape, ``{"object": "list", "total_usage": <cents>, "daily_costs": [...]}`` (``end_date`` exclusive);
* ``GET /v1/dashboard/billing/subscription``: OpenAI's legacy quota shape (``hard_limit_usd``).

Errors are in OpenAI's format.  The key's IP allow-list and expiry apply as on every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from omnirouter.accounts import check_access
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send, send_response
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.storage import KeyRecord
from omnirouter.storage.keys_repo import KeyView, get_key
from omnirouter.storage.ownership import config_owned
from omnirouter.storage.repo_common import NotFound
from omnirouter.usage.report import daily_model_costs

__all__ = ["KeySelfAPI"]

ASGIHandler = Callable[[Scope, Receive, Send], Awaitable[None]]
MAX_DAYS = 100


class KeySelfAPI:
    """The key holders' routes."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._owned = config_owned(gateway.config)

    def routes(self) -> dict[tuple[str, str], ASGIHandler]:
        """The ``(method, path) -> handler`` entries for the app's router."""
        return {
            ("GET", "/v1/key"): self.key,
            ("GET", "/v1/dashboard/billing/usage"): self.usage,
            ("GET", "/dashboard/billing/usage"): self.usage,
            ("GET", "/v1/dashboard/billing/subscription"): self.subscription,
            ("GET", "/dashboard/billing/subscription"): self.subscription,
        }

    async def _answer(self, send: Send, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            payload = await work()
        except GatewayError as error:
            status, body = OPENAI_CHAT.encode_error(error)
            await send_response(send, status, body, JSON_HEADERS)
            return
        await send_response(send, 200, msgspec.json.encode(payload), JSON_HEADERS)

    def _caller(self, scope: Scope) -> KeyRecord:
        key = self.gateway.auth.authenticate(scope)
        check_access(msgspec.structs.replace(key, models=None), scope, "")  # expiry and IP allow-list
        return key

    async def _view(self, key: KeyRecord) -> KeyView:
        async with self.gateway.db.engine.connect() as conn:
            try:
                return await get_key(conn, key.id, self._owned)
            except NotFound:
                raise GatewayError(ErrorKind.AUTHENTICATION, "Invalid API key.", code="invalid_api_key") from None

    async def key(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/key``."""

        async def work() -> dict[str, Any]:
            view = await self._view(self._caller(scope))
            record = msgspec.to_builtins(view)
            del record["source"]
            return {"object": "key", **record}

        await self._answer(send, work)

    async def subscription(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/dashboard/billing/subscription``: the quota as OpenAI's legacy endpoint shows it."""

        async def work() -> dict[str, Any]:
            view = await self._view(self._caller(scope))
            limit = view.quota_usd if view.quota_usd is not None else 0.0
            access_until = int(view.expires_at.timestamp()) if view.expires_at is not None else 0
            return {
                "object": "billing_subscription",
                "has_payment_method": view.quota_usd is None,
                "soft_limit_usd": limit,
                "hard_limit_usd": limit,
                "system_hard_limit_usd": limit,
                "access_until": access_until,
            }

        await self._answer(send, work)

    async def usage(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/dashboard/billing/usage``: daily costs per model, in cents."""

        async def work() -> dict[str, Any]:
            key = self._caller(scope)
            start, end = _date_range(scope)
            async with self.gateway.db.engine.connect() as conn:
                rows = await daily_model_costs(conn, key.id, _midnight(start), _midnight(end))
            days: dict[str, list[dict[str, Any]]] = {}
            total_nano = 0
            for day, model, cost_nano in rows:
                days.setdefault(day, []).append({"name": model, "cost": cost_nano / 10_000_000})
                total_nano += cost_nano
            daily = [
                {"timestamp": _midnight(date.fromisoformat(day)).timestamp(), "line_items": items}
                for day, items in sorted(days.items())
            ]
            return {"object": "list", "daily_costs": daily, "total_usage": total_nano / 10_000_000}

        await self._answer(send, work)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _date_range(scope: Scope) -> tuple[date, date]:
    """``start_date`` (inclusive) and ``end_date`` (exclusive); defaults: the last 30 days up to today."""
    raw: bytes = scope.get("query_string", b"")
    query = dict(parse_qsl(raw.decode("latin-1")))
    found: dict[str, date | None] = {}
    for name in ("start_date", "end_date"):
        value = query.get(name)
        try:
            found[name] = date.fromisoformat(value) if value else None
        except ValueError:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, f"'{name}' must be a date as YYYY-MM-DD; got {value!r}.", param=name
            ) from None
    end = found["end_date"] or datetime.now(UTC).date() + timedelta(days=1)
    start = found["start_date"] or end - timedelta(days=30)
    if start >= end:
        raise GatewayError(ErrorKind.INVALID_REQUEST, "'start_date' must be before 'end_date'.", param="start_date")
    if (end - start).days > MAX_DAYS:
        raise GatewayError(
            ErrorKind.INVALID_REQUEST, f"The date range may span at most {MAX_DAYS} days.", param="end_date"
        )
    return start, end
