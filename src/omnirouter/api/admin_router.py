"""The admin API's resources: users, keys, groups, prices, channels, usage, ledger and the OpenAPI document.

Routes without path parameters go into the app's dict router (``routes()``); the app hands every other
``/admin/...`` path to ``dispatch``, which matches the route table.  Every route needs the admin key
(``api/admin.py``); bad input is a 400 naming the field, an unknown id a 404, a change to an object of
the config file (or a name clash) a 409.  Writes bump ``config_version``, so every replica reloads.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from omnirouter.api.admin import AdminAPI, AdminError, send_admin_error
from omnirouter.api.admin_catalog import catalog_routes
from omnirouter.api.admin_common import AdminContext, AdminRequest, AdminRoute, Reply, repo_failure
from omnirouter.api.admin_keys import key_routes, user_routes
from omnirouter.api.admin_openapi import openapi_document
from omnirouter.api.admin_usage import usage_routes
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, ClientDisconnected, Receive, Scope, Send, send_response
from omnirouter.storage.repo_common import RepoError

__all__ = ["AdminRouter"]

log = logging.getLogger("omnirouter.admin")

ASGIHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


def _pattern(template: str) -> re.Pattern[str]:
    """``{name}`` matches one path segment, ``{name:path}`` the rest of the path."""
    regex = ""
    for part in re.split(r"(\{\w+(?::path)?\})", template):
        if part.endswith(":path}"):
            regex += f"(?P<{part[1:-6]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


class AdminRouter:
    """The admin route table of one worker."""

    def __init__(self, gateway: Gateway) -> None:
        self.api = AdminAPI(gateway)
        self.ctx = AdminContext(gateway)
        self.table: list[AdminRoute] = [
            *user_routes(self.ctx),
            *key_routes(self.ctx),
            *catalog_routes(self.ctx),
            *usage_routes(self.ctx),
            AdminRoute("GET", "/admin/openapi.json", "This document (OpenAPI 3.1)", self._openapi, errors=(401,)),
        ]
        self._matchers = [(route, _pattern(route.path)) for route in self.table if route.handler is not None]
        self._document: bytes | None = None

    def routes(self) -> dict[tuple[str, str], ASGIHandler]:
        """The routes without path parameters, for the app's dict router."""
        return {
            (route.method, route.path): functools.partial(self._serve, route)
            for route in self.table
            if route.handler is not None and "{" not in route.path
        }

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an ``/admin/...`` path the dict router does not know."""
        try:
            self.api.check(scope)
            route, params = self._match(scope["method"], scope["path"])
        except AdminError as failure:
            await send_admin_error(send, failure)
            return
        await self._run(route, params, scope, receive, send)

    def _match(self, method: str, path: str) -> tuple[AdminRoute, dict[str, str]]:
        allowed: list[str] = []
        for route, pattern in self._matchers:
            found = pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed.append(route.method)
        if allowed:
            raise AdminError(
                405,
                f"Method {method} is not allowed on {path}; use {', '.join(sorted(set(allowed)))}.",
                "invalid_request_error",
                "method_not_allowed",
            )
        raise AdminError(404, f"Unknown admin endpoint: {method} {path}", "not_found_error", "unknown_endpoint")

    async def _serve(self, route: AdminRoute, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.api.check(scope)
        except AdminError as failure:
            await send_admin_error(send, failure)
            return
        await self._run(route, {}, scope, receive, send)

    async def _run(self, route: AdminRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send) -> None:
        assert route.handler is not None
        try:
            status, payload = await route.handler(AdminRequest(scope, receive, params))
        except AdminError as failure:
            await send_admin_error(send, failure)
            return
        except RepoError as error:
            await send_admin_error(send, repo_failure(error))
            return
        except ClientDisconnected:
            return
        body = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
        await send_response(send, status, body, JSON_HEADERS)

    async def _openapi(self, req: AdminRequest) -> Reply:
        if self._document is None:
            self._document = msgspec.json.encode(openapi_document(self.table))
        return 200, self._document

    def document(self) -> dict[str, Any]:
        """The OpenAPI document as a dict."""
        return openapi_document(self.table)
