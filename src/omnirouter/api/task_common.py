"""What every task route shares, whatever dialect it speaks: one create (access, rate limit, the engine
with the ``Idempotency-Key`` header and the digest of the parsed body) and one client view (signed,
expiring gateway URLs of the stored outputs on the origin the client reached).

Used by ``api/tasks.py`` (OpenAI Videos, the unified video API) and ``api/tasks_native.py`` (Kling, Veo).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Final

import msgspec
import orjson

from omnirouter.accounts import check_access
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Scope, header
from omnirouter.http.multipart import parse_form
from omnirouter.http.signed_urls import signed_url
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskRequest
from omnirouter.protocols.tasks.base import TaskDialect, TaskView
from omnirouter.protocols.tasks.openai_videos import is_multipart
from omnirouter.routing import Attempt
from omnirouter.storage import KeyRecord
from omnirouter.tasks import StoredOutput, TaskRecord
from omnirouter.tasks.webhook_body import URL_LIFETIME, content_path, variant_of
from omnirouter.tasks.webhooks import check_callback_url

__all__ = [
    "MAX_IDEMPOTENCY_KEY",
    "URL_LIFETIME",
    "body_digest",
    "client_view",
    "content_path",
    "create_task",
    "idempotency_key",
    "origin",
    "variant_of",
]

MAX_IDEMPOTENCY_KEY: Final = 255


def origin(scope: Scope) -> str:
    """The gateway's origin as this request reached it: its scheme and ``Host`` header (the socket's
    address without one)."""
    host = header(scope, b"host")
    if host:
        name = host.decode("latin-1")
    else:
        server = scope.get("server") or ("127.0.0.1", None)
        name = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    return f"{scope.get('scheme', 'http')}://{name}"


def client_view(gateway: Gateway, scope: Scope, record: TaskRecord, clock: Callable[[], float] = time.time) -> TaskView:
    """The client's view of ``record``: its outputs as signed gateway URLs valid for ``URL_LIFETIME``."""
    base = origin(scope)
    expires = int(clock()) + URL_LIFETIME
    secret = gateway.url_secret

    def url(task: TaskRecord, stored: StoredOutput) -> str:
        return base + signed_url(content_path(task.id), expires, secret, {"variant": variant_of(stored)})

    view = record.view(url)
    view.updated_at = int(record.updated_at)
    view.client_ref = record.request.client_ref
    return view


def idempotency_key(scope: Scope) -> str | None:
    """The request's ``Idempotency-Key`` (1 to 255 characters), None when it sent none."""
    raw = header(scope, b"idempotency-key")
    if raw is None:
        return None
    value = raw.decode("latin-1").strip()
    if not value or len(value) > MAX_IDEMPOTENCY_KEY:
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"'Idempotency-Key' must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
            param="Idempotency-Key",
        )
    return value


def body_digest(body: bytes, content_type: str, model: str | None = None) -> str:
    """The SHA-256 of a create body as parsed (what the idempotency check compares): JSON with sorted keys
    (key order and spacing do not matter), or a form's text fields and each file's field, name, type and
    bytes in the order sent; with the model the route's path names."""
    if is_multipart(content_type):
        form = parse_form(body, content_type)
        files = [[p.field, p.filename, p.content_type, hashlib.sha256(p.data).hexdigest()] for p in form.files]
        parsed: object = {"fields": [list(pair) for pair in form.pairs], "files": files}
    else:
        parsed = orjson.loads(body)
    return hashlib.sha256(orjson.dumps([model, parsed], option=orjson.OPT_SORT_KEYS)).hexdigest()


async def create_task(
    gateway: Gateway,
    scope: Scope,
    key: KeyRecord,
    dialect: TaskDialect,
    request: TaskRequest,
    body: bytes,
    content_type: str,
    model: str | None = None,
    attempts: Sequence[Attempt] | None = None,
) -> TaskRecord:
    """Check the key's access to the model, hold a rate-limit lease for the create, and create the task
    (idempotent when the client sent an ``Idempotency-Key``), noting its dialect (its webhooks' shape);
    ``attempts``: the channels to try when the route chose them (a Midjourney chain, a mode)."""
    check_access(key, scope, request.model)
    request = msgspec.structs.replace(request, dialect=dialect.name)
    await check_callback_url(request.callback_url, gateway.config.image_fetch)
    idempotency = idempotency_key(scope)
    digest = body_digest(body, content_type, model) if idempotency is not None else None
    lease = await gateway.limiter.acquire(key)
    try:
        return await gateway.tasks.create(
            key,
            dialect.protocol,
            request,
            dialect.budget(request),
            idempotency_key=idempotency,
            digest=digest,
            attempts=attempts,
        )
    finally:
        if lease is not None:
            await gateway.limiter.release(lease, 0)
