"""What a key holder may see with their own client key: its record, its balance and its usage.

* ``GET /v1/key``: the key's name, quota / used / reserved / remaining (USD), limits, models, IPs,
  expiry, group, default ``callback_url`` and ``webhook_secret`` (what its task webhooks are signed with;
  docs/tasks.md "Webhooks"), never its hash;
* ``GET /v1/dashboard/billing/usage?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD``: OpenAI's legacy
  shape, ``{"object": "list", "total_usage": <cents>, "daily_costs": [...]}`` (``end_date`` exclusive);
* ``GET /v1/dashboard/billing/subscription``: OpenAI's legacy quota shape (``hard_limit_usd``);
* ``POST /v1/key/redeem`` ``{"code": ...}``: redeem a redemption code for this key (``billing.credits``);
  unknown, used, disabled and expired codes are 404 / 409 naming the problem, and a key with
  :data:`REDEEM_FAILURES` failed attempts in a minute is refused (429) until the minute has passed.
* ``GET /v1/key/requests?limit=N``: the key's latest requests from the ledger, newest first (model,
  status, tokens, cost, latency; never a channel or another key's);
* ``GET /v1/key/models``: the models the key may call with its prices (USD, the key's group multiplier
  applied).

Errors are in OpenAI's format.  The key's IP allow-list and expiry apply as on every request: the route
table checks them (``Auth.KEY_HOLDER``, :meth:`KeySelfAPI.guard`) before a handler runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

import msgspec

from omnirouter.accounts import check_access
from omnirouter.accounts.access import model_allowed
from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.billing.credits import Redeemed, redeem
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send, read_body, send_response
from omnirouter.http.routes import AUTH, Auth, Handler, QueryParam, Route, RouteDoc
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.limits import FailureLimit
from omnirouter.storage import KeyRecord
from omnirouter.storage.keys_repo import KeyView, get_key
from omnirouter.storage.ownership import config_owned
from omnirouter.storage.repo_common import Conflict, NotFound, RepoError
from omnirouter.tasks.webhooks import webhook_secret
from omnirouter.usage.report import UsageFilters, daily_model_costs, ledger_page

__all__ = ["REDEEM_FAILURES", "KeySelfAPI", "RedeemRequest"]

MAX_DAYS = 100
REDEEM_FAILURES = 5
"""Failed redemptions (unknown, used, disabled, expired codes) a key may make per minute before a 429."""
_MAX_REDEEM_BODY = 4096
_CODE_FAILURES = frozenset(
    {"redemption_code_invalid", "redemption_code_used", "redemption_code_disabled", "redemption_code_expired"}
)


class RedeemRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/key/redeem``: the code to redeem for the calling key."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


MAX_REQUESTS = 200


class KeySelfAPI:
    """The key holders' routes; the route table checks the key with :meth:`guard` before each."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._owned = config_owned(gateway.config)
        self._failures = FailureLimit(
            "redeem", REDEEM_FAILURES, 60.0, gateway.shared.redis, gateway.config.redis_prefix
        )

    def routes(self) -> list[Route]:
        """The key holders' routes (each legacy billing path also without its ``/v1`` prefix)."""
        usage = "Daily costs per model in cents (OpenAI's legacy billing shape; end_date exclusive)"
        dates = (
            QueryParam("start_date", "the first day (YYYY-MM-DD; default 30 days before end_date)", "date"),
            QueryParam("end_date", "the day after the last (YYYY-MM-DD; default tomorrow)", "date"),
        )
        subscription = "The key's quota in OpenAI's legacy subscription shape (hard_limit_usd)"
        doc = RouteDoc(errors=(400, 401, 403), tag="key")

        def route(path: str, summary: str, handler: Handler, route_doc: RouteDoc = doc) -> Route:
            return Route("GET", path, handler, OPENAI_ERRORS, summary, Auth.KEY_HOLDER, doc=route_doc)

        return [
            route("/v1/key", "The calling key: quota, used, reserved and remaining USD, limits, models, expiry",
                  self.key, RouteDoc(errors=(401, 403), tag="key")),
            *(route(f"{prefix}/dashboard/billing/usage", usage, self.usage,
                    RouteDoc(query=dates, errors=(400, 401, 403), tag="key")) for prefix in ("/v1", "")),
            *(route(f"{prefix}/dashboard/billing/subscription", subscription, self.subscription)
              for prefix in ("/v1", "")),
            Route("POST", "/v1/key/redeem", self.redeem, OPENAI_ERRORS, "Redeem a redemption code: its worth is "
                  "added to the calling key's quota", Auth.KEY_HOLDER,
                  doc=RouteDoc(body=RedeemRequest, response=Redeemed, errors=(400, 401, 403, 404, 409, 429),
                               tag="key")),
            route("/v1/key/requests", "The key's latest requests, newest first (no channel internals)",
                  self.requests, RouteDoc(query=(QueryParam("limit", f"how many, 1 to {MAX_REQUESTS} (default 50)",
                                                            "integer"),), response=KeyRequest, many=True,
                                          errors=(400, 401, 403), tag="key")),
            route("/v1/key/models", "The models this key may call, with their prices in USD (group multiplier "
                  "applied)", self.models, RouteDoc(response=KeyModel, many=True, errors=(401, 403), tag="key")),
        ]  # fmt: skip

    def guard(self, scope: Scope) -> KeyRecord:
        """The calling key, if it is valid, unexpired and used from an allowed address (else a 401 / 403)."""
        key = self.gateway.auth.authenticate(scope)
        check_access(msgspec.structs.replace(key, models=None), scope, "")  # expiry and IP allow-list
        return key

    async def _view(self, scope: Scope) -> KeyView:
        key: KeyRecord = scope[AUTH]
        async with self.gateway.db.engine.connect() as conn:
            try:
                return await get_key(conn, key.id, self._owned)
            except NotFound:
                raise GatewayError(ErrorKind.AUTHENTICATION, "Invalid API key.", code="invalid_api_key") from None

    async def key(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/key``."""
        view = await self._view(scope)
        record = msgspec.to_builtins(view)
        del record["source"]
        record["webhook_secret"] = webhook_secret(self.gateway.url_secret, view.id)  # verifies its task webhooks
        await _send_json(send, {"object": "key", **record})

    async def subscription(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/dashboard/billing/subscription``: the quota as OpenAI's legacy endpoint shows it."""
        view = await self._view(scope)
        limit = view.quota_usd if view.quota_usd is not None else 0.0
        access_until = int(view.expires_at.timestamp()) if view.expires_at is not None else 0
        await _send_json(
            send,
            {
                "object": "billing_subscription",
                "has_payment_method": view.quota_usd is None,
                "soft_limit_usd": limit,
                "hard_limit_usd": limit,
                "system_hard_limit_usd": limit,
                "access_until": access_until,
            },
        )

    async def redeem(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/key/redeem``: credit the code's worth to the calling key, exactly once."""
        key: KeyRecord = scope[AUTH]
        wait = await self._failures.retry_after(key.id)
        if wait is not None:
            raise GatewayError(
                ErrorKind.RATE_LIMIT,
                f"Too many failed redemption attempts with this key; try again in {max(1, round(wait))} s.",
                code="too_many_redemption_attempts",
                retry_after=wait,
            )
        body = await _redeem_body(receive)
        try:
            async with self.gateway.db.engine.begin() as conn:
                done = await redeem(conn, body.code, key.id, self._owned)
        except RepoError as error:
            if error.code in _CODE_FAILURES:
                await self._failures.failed(key.id)
            raise _client_error(error) from None
        await _send_json(send, done)

    async def usage(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/dashboard/billing/usage``: daily costs per model, in cents."""
        key: KeyRecord = scope[AUTH]
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
        await _send_json(send, {"object": "list", "daily_costs": daily, "total_usage": total_nano / 10_000_000})

    async def requests(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/key/requests``: the key's latest ledger records, without channel internals."""
        key: KeyRecord = scope[AUTH]
        raw: bytes = scope.get("query_string", b"")
        value = dict(parse_qsl(raw.decode("latin-1"))).get("limit") or "50"
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_REQUESTS):
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, f"'limit' must be an integer from 1 to {MAX_REQUESTS}.", param="limit"
            )
        async with self.gateway.db.engine.connect() as conn:
            page = await ledger_page(conn, limit=int(value), filters=UsageFilters(key_id=key.id))
        rows = [KeyRequest(**{field: getattr(entry, field) for field in KeyRequest.__struct_fields__})
                for entry in page.data]  # fmt: skip
        await _send_json(send, {"object": "list", "data": rows})

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/key/models``: the models this key may call and what they cost it."""
        key: KeyRecord = scope[AUTH]
        book = self.gateway.billing.prices
        multiplier = book.multiplier(key.group)
        found = []
        for name in self.gateway.catalog.public_models():
            if not model_allowed(key, name):
                continue
            price = book.price_for(name)
            values: dict[str, float | None] = {}
            for field in _PRICE_FIELDS:
                amount = getattr(price, field) if price is not None else None
                values[field] = float(amount * multiplier) if amount is not None else None
            found.append(KeyModel(id=name, priced=price is not None, **values))
        await _send_json(send, {"object": "list", "data": found})


class KeyRequest(msgspec.Struct, kw_only=True):
    """``GET /v1/key/requests``: one request as its key holder sees it."""

    id: int
    request_id: str
    created_at: datetime
    model: str
    inbound_protocol: str
    stream: bool
    status_code: int
    error_kind: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    latency_ms: float
    cost_usd: float


_PRICE_FIELDS = ("input", "output", "cached_input", "per_image", "per_second", "per_1k_characters", "per_call")


class KeyModel(msgspec.Struct, kw_only=True):
    """``GET /v1/key/models``: a model and its prices for this key (USD per 1M tokens, per image, per second,
    per 1,000 characters, per call; ``null`` where the model has no such price; ``priced`` false: no price
    is set, the gateway's ``unknown`` price policy applies)."""

    id: str
    priced: bool
    input: float | None
    output: float | None
    cached_input: float | None
    per_image: float | None
    per_second: float | None
    per_1k_characters: float | None
    per_call: float | None


async def _redeem_body(receive: Receive) -> RedeemRequest:
    raw = await read_body(receive, _MAX_REDEEM_BODY)
    try:
        return msgspec.json.decode(raw, type=RedeemRequest)
    except msgspec.ValidationError as exc:
        raise GatewayError(
            ErrorKind.INVALID_REQUEST, f'Invalid body: {exc}; send {{"code": "rc-..."}}.', param="code"
        ) from None
    except msgspec.DecodeError:
        raise GatewayError(
            ErrorKind.INVALID_REQUEST, 'The body must be JSON: {"code": "rc-..."}.', code="invalid_json"
        ) from None


def _client_error(error: RepoError) -> GatewayError:
    """A refused redemption in the client's (OpenAI) error shape: 404, 409 or 400."""
    if isinstance(error, NotFound):
        return GatewayError(ErrorKind.NOT_FOUND, error.message, code=error.code, param=error.param)
    status = 409 if isinstance(error, Conflict) else 400
    return GatewayError(ErrorKind.INVALID_REQUEST, error.message, status=status, code=error.code, param=error.param)


async def _send_json(send: Send, payload: Any) -> None:
    await send_response(send, 200, msgspec.json.encode(payload), JSON_HEADERS)


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
