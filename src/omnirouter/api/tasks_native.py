"""Vendor-native task routes: Kling's own video API and Gemini's Veo long-running operations.

* Kling: ``POST /kling/v1/videos/{text2video,image2video}`` and ``GET /kling/v1/videos/{action}/{id}``,
  answered in Kling's envelope with Kling's error shape (``protocols/tasks/kling_native.py``);
* Veo: ``POST /v1beta/models/{m}:predictLongRunning`` → an operation, ``GET /v1beta/models/{m}/operations/{id}``
  (and ``GET /v1beta/operations/{id}``) → the operation, in Gemini's error shape
  (``protocols/tasks/veo_native.py``).

The client key is checked by the route table in any of its usual headers (``Authorization: Bearer``,
``x-goog-api-key``, ``x-api-key``, ``?key=``).  A create goes to ``gateway.tasks.create`` (the engine
writes the task before it calls the vendor); ``Idempotency-Key`` with the SHA-256 of the parsed body
(sorted JSON, the path's model included) makes a retried create return the same task.  A task of another
key is a 404 in the dialect's shape.  Output URLs in answers are signed, expiring gateway URLs of
``/v1/videos/{id}/content?variant=…`` (served by ``api/tasks.py``); Veo's dialect turns them into its own
``/v1beta/files/{name}:download`` URIs on the same origin.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote

from omnirouter.api.errors import GEMINI_ERRORS
from omnirouter.api.task_common import client_view, create_task
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send, header, read_body, send_response
from omnirouter.http.routes import AUTH, PATH_PARAMS, Auth, ErrorEncoder, Handler, Route, RouteDoc
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskRequest
from omnirouter.protocols.tasks.base import TaskDialect
from omnirouter.protocols.tasks.kling_native import KLING_IMAGE2VIDEO, KLING_TEXT2VIDEO, KlingDialect
from omnirouter.protocols.tasks.veo_native import VEO, task_id_of
from omnirouter.storage import KeyRecord
from omnirouter.tasks import TaskRecord

__all__ = ["native_task_routes"]

TASK_ERRORS: Final = (400, 401, 403, 404, 409, 413, 429, 502, 503, 504)


def _kling_error(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    status, body = KLING_TEXT2VIDEO.encode_error(error)
    return (409 if error.status == 409 else status), body  # an Idempotency-Key reused: 409 in every dialect


KLING_ERRORS = ErrorEncoder("Kling", _kling_error)
"""Kling's ``{code, message, request_id}`` with Kling's codes and statuses (409 kept for a reused key)."""


def _not_found(task_id: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"Task '{task_id}' was not found.", code="task_not_found",
                        param="task_id")  # fmt: skip


class NativeTasks:
    """The handlers of the vendor-native task routes of one worker."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def _answer(self, scope: Scope, send: Send, record: TaskRecord, dialect: TaskDialect, created: bool) -> None:
        view = client_view(self.gateway, scope, record)
        status, body, content_type = (dialect.encode_created if created else dialect.encode_task)(view)
        await send_response(send, status, body, [(b"content-type", content_type)])

    async def create(self, dialect: TaskDialect, model: str | None, scope: Scope, receive: Receive, send: Send) -> None:
        """Decode, check access, create (write before you call) and answer the task."""
        gateway = self.gateway
        key: KeyRecord = scope[AUTH]
        body = await read_body(receive, gateway.config.max_upload_bytes, scope)
        content_type = (header(scope, b"content-type") or b"application/json").decode("latin-1")
        request = await self.prepare(key, dialect.decode_create(body, content_type, model), body)
        record = await create_task(gateway, scope, key, dialect, request, body, content_type, model)
        await self._answer(scope, send, record, dialect, created=True)

    async def prepare(self, key: KeyRecord, request: TaskRequest, body: bytes) -> TaskRequest:
        """The decoded request as the engine gets it: as decoded here; a dialect's routes may check or
        resolve more (the key's own tasks, its webhook URL under its own field name)."""
        return request

    async def fetch(self, dialect: TaskDialect, task_id: str, scope: Scope, send: Send) -> None:
        """The task, only to the key that created it (another key's: 404, no existence oracle)."""
        key: KeyRecord = scope[AUTH]
        record = await self.gateway.tasks.get(task_id, key_id=key.id)
        if record is None:
            raise _not_found(task_id)
        await self._answer(scope, send, record, dialect, created=False)

    # ------------------------------------------------------------------ Kling

    def kling_create(self, dialect: KlingDialect) -> Handler:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            await self.create(dialect, None, scope, receive, send)

        return handle

    def kling_fetch(self, dialect: KlingDialect) -> Handler:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            await self.fetch(dialect, unquote(scope[PATH_PARAMS]["id"]), scope, send)

        return handle

    # ------------------------------------------------------------------ Veo

    async def veo_create(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.create(VEO, unquote(scope[PATH_PARAMS]["model"]), scope, receive, send)

    async def veo_operation(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = scope[PATH_PARAMS]
        operation = unquote(params["operation"])
        name = (
            f"models/{unquote(params['model'])}/operations/{operation}"
            if "model" in params
            else f"operations/{operation}"
        )
        await self.fetch(VEO, task_id_of(name), scope, send)


def native_task_routes(gateway: Gateway) -> list[Route]:
    """Kling's and Veo's native task routes (listed before ``/v1beta/models/{model}``, which they refine)."""
    tasks = NativeTasks(gateway)
    create_doc = RouteDoc(body=dict[str, Any], errors=TASK_ERRORS, tag="video")
    fetch_doc = RouteDoc(errors=(401, 404), tag="video")

    def route(method: str, path: str, handler: Handler, errors: ErrorEncoder, summary: str, doc: RouteDoc) -> Route:
        return Route(method, path, handler, errors, summary, Auth.CLIENT_KEY, doc=doc)

    routes: list[Route] = []
    for dialect in (KLING_TEXT2VIDEO, KLING_IMAGE2VIDEO):
        base = f"/kling/v1/videos/{dialect.action}"
        routes += [
            route("POST", base, tasks.kling_create(dialect), KLING_ERRORS,
                  f"Kling {dialect.action} video task (Kling's envelope)", create_doc),
            route("GET", f"{base}/{{id}}", tasks.kling_fetch(dialect), KLING_ERRORS,
                  f"A Kling {dialect.action} task (Kling's envelope)", fetch_doc),
        ]  # fmt: skip
    routes += [
        route("POST", "/v1beta/models/{model}:predictLongRunning", tasks.veo_create, GEMINI_ERRORS,
              "Gemini Veo video generation: a long-running operation", create_doc),
        route("GET", "/v1beta/models/{model}/operations/{operation}", tasks.veo_operation, GEMINI_ERRORS,
              "A Veo long-running operation", fetch_doc),
        route("GET", "/v1beta/operations/{operation}", tasks.veo_operation, GEMINI_ERRORS,
              "A Veo long-running operation (by its short name)", fetch_doc),
    ]  # fmt: skip
    return routes
