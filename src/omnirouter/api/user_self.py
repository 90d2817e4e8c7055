"""What a user signed in to the console with a name and password may see: its own keys.

* ``GET /v1/user/keys``: the user (id, name, email) and its keys that are not revoked, each with its
  quota, spend, reservation and remaining balance (USD) and its requests in the ledger (count, errors,
  latest), plus their totals.

Only a user's console session opens it (``Auth.USER_SESSION``; ``dashboard/sessions.py``): there is no key
for users.  A key's own details (its requests, models, daily costs, redeeming a code) are the key holder's
routes, which a user's session reaches for one of its keys with ``?key_id=`` (``api/key_self.py``).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.dashboard.sessions import ConsoleUser
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send, send_response
from omnirouter.http.routes import AUTH, Auth, Route, RouteDoc
from omnirouter.storage.keys_repo import list_keys
from omnirouter.storage.ownership import config_owned
from omnirouter.storage.repo_common import nano_to_usd, usd_to_nano
from omnirouter.storage.users_repo import get_user
from omnirouter.usage.report import KeyActivity, key_activity

__all__ = ["UserKey", "UserKeys", "UserSelfAPI"]

_NONE = KeyActivity(requests=0, errors=0, last_request_at=None)


class UserKey(msgspec.Struct, kw_only=True):
    """One of the user's keys as the user sees it (never its secret or hash)."""

    id: int
    name: str
    prefix: str
    status: str
    group: str | None
    quota_usd: float | None
    used_usd: float
    reserved_usd: float
    remaining_usd: float | None
    models: list[str] | None
    expires_at: datetime | None
    requests: int
    errors: int
    last_request_at: datetime | None


class UserTotals(msgspec.Struct, kw_only=True):
    """Sums over the user's keys listed."""

    used_usd: float
    requests: int
    errors: int


class UserInfo(msgspec.Struct, kw_only=True):
    """Who is signed in."""

    id: int
    name: str
    email: str | None


class UserKeys(msgspec.Struct, kw_only=True):
    """``GET /v1/user/keys``."""

    object: str
    user: UserInfo
    data: list[UserKey]
    totals: UserTotals


class UserSelfAPI:
    """The signed-in user's routes (the route table checks the session first)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._owned = config_owned(gateway.config)

    def routes(self) -> list[Route]:
        """``GET /v1/user/keys``."""
        doc = RouteDoc(response=UserKeys, errors=(401,), tag="user")
        summary = "The signed-in user's keys (not revoked) with quota, spend, remaining balance and requests"
        return [Route("GET", "/v1/user/keys", self.keys, OPENAI_ERRORS, summary, Auth.USER_SESSION, doc=doc)]

    async def keys(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/user/keys``."""
        user: ConsoleUser = scope[AUTH]
        async with self.gateway.db.engine.connect() as conn:
            views = [k for k in await list_keys(conn, self._owned, user_id=user.id) if k.status != "revoked"]
            activity = await key_activity(conn, [view.id for view in views])
            email = (await get_user(conn, user.id)).email
        keys = []
        for view in views:
            seen = activity.get(view.id, _NONE)
            keys.append(
                UserKey(
                    **{name: getattr(view, name) for name in _VIEW_FIELDS},
                    requests=seen.requests,
                    errors=seen.errors,
                    last_request_at=seen.last_request_at,
                )
            )
        used_nano = sum(usd_to_nano(str(key.used_usd), "used_usd") for key in keys)  # exact: 9 decimals
        totals = UserTotals(
            used_usd=nano_to_usd(used_nano) or 0.0,
            requests=sum(key.requests for key in keys),
            errors=sum(key.errors for key in keys),
        )
        info = UserInfo(id=user.id, name=user.name, email=email)
        answer = UserKeys(object="list", user=info, data=keys, totals=totals)
        await send_response(send, 200, msgspec.json.encode(answer), JSON_HEADERS)


_VIEW_FIELDS = tuple(f for f in UserKey.__struct_fields__ if f not in ("requests", "errors", "last_request_at"))
