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

import hashlib
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote

import msgspec
import orjson

from omnirouter.accounts import check_access
from omnirouter.api.errors import GEMINI_ERRORS
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send, header, read_body, send_response
from omnirouter.http.routes import AUTH, PATH_PARAMS, Auth, ErrorEncoder, Handler, Route, RouteDoc
from omnirouter.http.signed_urls import signed_url
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.tasks.base import TaskDialect
from omnirouter.protocols.tasks.kling_native import KLING_IMAGE2VIDEO, KLING_TEXT2VIDEO, KlingDialect
from omnirouter.protocols.tasks.veo_native import VEO, task_id_of
from omnirouter.storage import KeyRecord
from omnirouter.storage.signing_secret import url_signing_secret
from omnirouter.tasks import StoredOutput, TaskRecord

__all__ = ["OUTPUT_URL_LIFETIME", "ContentUrls", "content_path", "native_task_routes"]

OUTPUT_URL_LIFETIME: Final = 24 * 3600
"""Seconds a signed output URL in a task answer stays valid (a new one comes with every fetch)."""
MAX_IDEMPOTENCY_KEY: Final = 255
TASK_ERRORS: Final = (400, 401, 403, 404, 409, 413, 429, 502, 503, 504)


def _kling_error(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    status, body = KLING_TEXT2VIDEO.encode_error(error)
    return (409 if error.status == 409 else status), body  # an Idempotency-Key reused: 409 in every dialect


KLING_ERRORS = ErrorEncoder("Kling", _kling_error)
"""Kling's ``{code, message, request_id}`` with Kling's codes and statuses (409 kept for a reused key)."""


def content_path(task_id: str) -> str:
    """The gateway path that serves a task's stored outputs (``?variant=`` picks one)."""
    return f"/v1/videos/{task_id}/content"


def _origin(scope: Scope) -> str:
    """The origin the client reached the gateway at (its ``Host`` header; the socket's address else)."""
    scheme = scope.get("scheme", "http")
    host = header(scope, b"host")
    if host:
        return f"{scheme}://{host.decode('latin-1')}"
    server = scope.get("server") or ("127.0.0.1", 80)
    return f"{scheme}://{server[0]}:{server[1]}"


class ContentUrls:
    """Signed content URLs of stored outputs; the secret (``storage/signing_secret.py``) is read once."""

    def __init__(self, gateway: Gateway, clock: Callable[[], float] = time.time) -> None:
        self.gateway = gateway
        self.clock = clock
        self._secret: bytes | None = None

    async def secret(self) -> bytes:
        """The URL-signing secret shared by every replica (loaded on first use, then cached)."""
        if self._secret is None:
            self._secret = await url_signing_secret(self.gateway.db)
        return self._secret

    async def maker(self, scope: Scope) -> Callable[[TaskRecord, StoredOutput], str]:
        """The ``TaskRecord.view`` URL maker for a request: absolute URLs on the client's origin."""
        secret, origin = await self.secret(), _origin(scope)
        expires_at = int(self.clock()) + OUTPUT_URL_LIFETIME

        def url(record: TaskRecord, output: StoredOutput) -> str:
            return origin + signed_url(content_path(record.id), expires_at, secret, {"variant": output.kind})

        return url


def _digest(body: bytes, model: str | None) -> str:
    """The body as the idempotency check compares it: equal JSON after parsing, whatever its spacing."""
    try:
        canonical = orjson.dumps([model, orjson.loads(body)], option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = (model or "").encode() + b"\n" + body
    return hashlib.sha256(canonical).hexdigest()


def _idempotency_key(scope: Scope) -> str | None:
    raw = header(scope, b"idempotency-key")
    if raw is None:
        return None
    value = raw.decode("latin-1").strip()
    if not value or len(value) > MAX_IDEMPOTENCY_KEY:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"'Idempotency-Key' must be 1 to {MAX_IDEMPOTENCY_KEY} "
                           "characters.", code="invalid_idempotency_key", param="Idempotency-Key")  # fmt: skip
    return value


def _not_found(task_id: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"Task '{task_id}' was not found.", code="task_not_found",
                        param="task_id")  # fmt: skip


class NativeTasks:
    """The handlers of the vendor-native task routes of one worker."""

    def __init__(self, gateway: Gateway, urls: ContentUrls | None = None) -> None:
        self.gateway = gateway
        self.urls = urls or ContentUrls(gateway)

    async def _answer(self, scope: Scope, send: Send, record: TaskRecord, dialect: TaskDialect, created: bool) -> None:
        view = record.view(await self.urls.maker(scope))
        view = msgspec.structs.replace(view, updated_at=int(record.updated_at), client_ref=record.request.client_ref)
        status, body, content_type = (dialect.encode_created if created else dialect.encode_task)(view)
        await send_response(send, status, body, [(b"content-type", content_type)])

    async def create(self, dialect: TaskDialect, model: str | None, scope: Scope, receive: Receive, send: Send) -> None:
        """Decode, check access, create (write before you call) and answer the task."""
        gateway = self.gateway
        key: KeyRecord = scope[AUTH]
        body = await read_body(receive, gateway.config.max_upload_bytes, scope)
        content_type = (header(scope, b"content-type") or b"application/json").decode("latin-1")
        idempotency_key = _idempotency_key(scope)
        request = dialect.decode_create(body, content_type, model)
        check_access(key, scope, request.model)
        lease = await gateway.limiter.acquire(key)
        try:
            record = await gateway.tasks.create(key, dialect.protocol, request, dialect.budget(request),
                                                idempotency_key=idempotency_key,
                                                digest=_digest(body, model))  # fmt: skip
        finally:
            if lease is not None:
                await gateway.limiter.release(lease, 0)
        await self._answer(scope, send, record, dialect, created=True)

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
