"""Every admin route, for the app's one route table, and how the ``/admin/`` area answers a miss.

The resources live in ``admin_keys`` (users, keys), ``admin_credits`` (top-ups, credits, redemption codes),
``admin_catalog`` (groups, prices, channels; the price table's export and import in ``admin_price_table``),
``admin_usage`` (usage, ledger, dead letters), ``admin_tasks`` (asynchronous tasks) and ``admin`` (channel
health and probes); each builds its routes with ``admin_common.admin_route``.  Every one needs the admin
key (``AdminAPI.check``, the table's guard for ``Auth.ADMIN_KEY``), and so does a miss under ``/admin/``:
an unknown admin path is a 404 and a known one with another method a 405, both in the admin error shape
and only after the key is checked.
``GET /admin/openapi.json`` describes them all (OpenAPI 3.1, ``api/openapi.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from omnirouter.api.admin import AdminAPI
from omnirouter.api.admin_catalog import catalog_routes
from omnirouter.api.admin_common import ADMIN_ERRORS, AdminContext, AdminRequest, Reply, admin_route, refusal
from omnirouter.api.admin_credits import credit_routes
from omnirouter.api.admin_keys import key_routes, user_routes
from omnirouter.api.admin_tasks import task_routes
from omnirouter.api.admin_usage import usage_routes
from omnirouter.api.admin_webhooks import webhook_routes
from omnirouter.api.openapi import openapi_document
from omnirouter.gateway import Gateway
from omnirouter.http.routes import Area, Auth, Guard, Route
from omnirouter.ir import GatewayError

__all__ = ["ADMIN_AREA", "AdminRoutes", "admin_document"]

_DESCRIPTION = (
    "Users, client keys, top-ups and redemption codes, groups, prices, channels, usage and the ledger. "
    "Send the admin key as 'Authorization: Bearer <admin key>' (the web console's session cookie works too, with "
    "its CSRF token in X-CSRF-Token on every change; see docs/console.md). Money is in US dollars. Objects of the "
    "config file are read-only here (409)."
)


def _not_found(method: str, path: str) -> GatewayError:
    return refusal(404, f"Unknown admin endpoint: {method} {path}", "unknown_endpoint")


def _not_allowed(method: str, path: str, allowed: tuple[str, ...]) -> GatewayError:
    return refusal(405, f"Method {method} is not allowed on {path}; use {', '.join(allowed)}.", "method_not_allowed")


ADMIN_AREA = Area("/admin/", ADMIN_ERRORS, _not_found, _not_allowed, Auth.ADMIN_KEY)
"""A miss under ``/admin/`` is checked for the admin key first, then answered in the admin shape."""


def admin_document(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the admin routes."""
    return openapi_document(routes, {"title": "omnirouter admin API", "version": "1", "description": _DESCRIPTION})


@dataclass(frozen=True, slots=True)
class AdminRoutes:
    """The admin routes of one worker and the guard that checks the admin key."""

    routes: list[Route]
    guard: Guard

    @classmethod
    def build(cls, gateway: Gateway) -> AdminRoutes:
        """Every admin route, the OpenAPI document's included."""
        api = AdminAPI(gateway)
        ctx = AdminContext(gateway)
        routes = [
            *user_routes(ctx),
            *key_routes(ctx),
            *credit_routes(ctx),
            *catalog_routes(ctx),
            *usage_routes(ctx),
            *task_routes(ctx),
            *webhook_routes(ctx),
            *api.routes(),
        ]
        document: list[bytes] = []

        async def openapi(req: AdminRequest) -> Reply:
            if not document:
                document.append(msgspec.json.encode(admin_document(routes)))
            return 200, document[0]

        routes.append(admin_route("GET", "/admin/openapi.json", "This document (OpenAPI 3.1)", openapi, errors=(401,)))
        return cls(routes, api.check)
