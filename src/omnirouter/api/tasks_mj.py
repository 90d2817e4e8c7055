"""The midjourney-proxy routes new-api-based services expose (``protocols/tasks/mj_dialect.py``):

* ``POST /mj/submit/{imagine,blend,describe,shorten,change,simple-change,action,modal,edits,video,
  upload-discord-images}`` and ``POST /mj/insight-face/swap`` → ``{code, description, result, properties}``;
* ``GET /mj/task/{id}/fetch`` → the task object (a task the key does not have: ``null``, as the proxy
  answers an unknown id); ``POST /mj/task/list-by-condition {ids}`` → the key's tasks among ``ids``, in
  their order; ``GET /mj/task/{id}/image-seed`` → ``{code: 1, result: <seed>}``, asked of the channel that
  made the task; ``GET /mj/image/{id}`` → the task's stored image (authenticated, unlike new-api's);
* the same under ``/mj-fast/mj/…``, ``/mj-relax/mj/…`` and ``/mj-turbo/mj/…`` (new-api's ``/:mode/mj``
  group): a submit there goes only to channels whose option ``mode`` is that mode (a chain follows its
  parent's channel whatever the prefix).

The client key is read from the usual headers or from ``mj-api-secret`` (``accounts/auth.py``).  A submit
that works on a parent task is planned by ``api/mj_chain.py``; every submit is one engine task billed
``per_call`` at its action's model's price (reserved, then settled or refunded exactly once).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote

import orjson

from omnirouter.api.mj_chain import lift_modal_deadline, plan_submit
from omnirouter.api.task_common import client_view, create_task
from omnirouter.api.tasks_native import TASK_ERRORS, NativeTasks
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send, header, read_body, send_response
from omnirouter.http.blob_response import send_blob
from omnirouter.http.json_body import parse_json_object
from omnirouter.http.routes import AUTH, PATH_PARAMS, Auth, ErrorEncoder, Handler, Route, RouteDoc
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind
from omnirouter.protocols.tasks.fields import invalid
from omnirouter.protocols.tasks.midjourney import ACTIONS as VENDOR_ACTIONS
from omnirouter.protocols.tasks.midjourney import UPLOAD, MidjourneyProxy, parse_image_seed
from omnirouter.protocols.tasks.mj_dialect import JSON, MJ_SUBMITS, mj_error, mj_task
from omnirouter.storage import KeyRecord
from omnirouter.storage.blobs import BlobNotFound
from omnirouter.tasks import TaskRecord
from omnirouter.tasks.webhooks import check_callback_url
from omnirouter.transport import AttemptFailure

__all__ = ["MJ_ERRORS", "MODES", "mj_routes"]

MODES: Final = ("fast", "relax", "turbo")
"""The mode prefixes (``/mj-{mode}/mj/…``)."""
MAX_IDS: Final = 100
MAX_LIST_BODY: Final = 64 * 1024
_SUBMIT_PATHS: Final = {action: f"submit/{action}" for action in MJ_SUBMITS} | {"swap_face": "insight-face/swap"}


def _encode(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    return mj_error(error)


MJ_ERRORS = ErrorEncoder("Midjourney", _encode)
"""``{code, description, result: null, properties: {}}`` (the proxy's own shape)."""


def _not_found(task_id: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"task_not_found: there is no task '{task_id}'.", param="id")


def _ids(body: bytes) -> list[str]:
    ids: Any = parse_json_object(body).get("ids")
    if not isinstance(ids, list) or not all(isinstance(one, str) and one for one in ids):
        raise invalid("'ids' must be a list of task ids.", "ids")
    if len(ids) > MAX_IDS:
        raise invalid(f"'ids' may name at most {MAX_IDS} tasks.", "ids")
    return list(dict.fromkeys(ids))


class MjTasks(NativeTasks):
    """The handlers of the Midjourney routes of one worker."""

    def submit(self, action: str, mode: str | None) -> Handler:
        dialect = MJ_SUBMITS[action]

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            gateway = self.gateway
            key: KeyRecord = scope[AUTH]
            body = await read_body(receive, gateway.config.max_upload_bytes, scope)
            content_type = (header(scope, b"content-type") or b"application/json").decode("latin-1")
            request = dialect.decode_create(body, content_type, None)
            if action not in VENDOR_ACTIONS and action != UPLOAD:
                raise invalid(f"Midjourney's {action} is not supported by this gateway's channel.", "action")
            await check_callback_url(request.callback_url, gateway.config.image_fetch, "notifyHook")
            planned = await plan_submit(gateway.tasks, key, request, mode)
            record = await create_task(gateway, scope, key, dialect, planned.request, body, content_type,
                                       attempts=planned.attempts)  # fmt: skip
            if action == "modal" and planned.parent is not None:
                await lift_modal_deadline(gateway.tasks, planned.parent)
            uploaded = record.summary.details.get("uploaded") if action == UPLOAD else None
            if isinstance(uploaded, list):  # synchronous: the proxy's own answer, the images' URLs
                answer = {"code": 1, "description": "Submit success", "result": uploaded, "properties": {}}
                await send_response(send, 200, orjson.dumps(answer), [(b"content-type", JSON)])
                return
            await self._answer(scope, send, record, dialect, created=True)

        return handle

    async def owned(self, scope: Scope, task_id: str) -> TaskRecord | None:
        """The key's Midjourney task of that id (None: it has none)."""
        key: KeyRecord = scope[AUTH]
        record = await self.gateway.tasks.get(task_id, key_id=key.id)
        return record if record is not None and record.kind is TaskKind.MIDJOURNEY else None

    async def fetch_one(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = await self.owned(scope, unquote(scope[PATH_PARAMS]["id"]))
        body = b"null" if record is None else orjson.dumps(mj_task(client_view(self.gateway, scope, record)))
        await send_response(send, 200, body, [(b"content-type", JSON)])

    async def list_by_condition(self, scope: Scope, receive: Receive, send: Send) -> None:
        tasks: list[dict[str, Any]] = []
        for task_id in _ids(await read_body(receive, MAX_LIST_BODY, scope)):
            record = await self.owned(scope, task_id)
            if record is not None:
                tasks.append(mj_task(client_view(self.gateway, scope, record)))
        await send_response(send, 200, orjson.dumps(tasks), [(b"content-type", JSON)])

    async def image_seed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Asked of the channel that made the task, with its key (never shown)."""
        task_id = unquote(scope[PATH_PARAMS]["id"])
        record = await self.owned(scope, task_id)
        if record is None or record.upstream_id is None:
            raise _not_found(task_id)
        engine = self.gateway.tasks
        channel = engine.channel(record.channel)
        vendor = engine.vendor_for(channel, record.kind) if channel is not None else None
        upstream_key = channel.upstream_keys.next_key() if channel is not None else None
        if channel is None or upstream_key is None or not isinstance(vendor, MidjourneyProxy):
            raise invalid("Midjourney's image-seed is not supported by this gateway's channel.", "id")
        call = vendor.image_seed(record.upstream_id, engine.target(channel, record.upstream_model, upstream_key,
                                                                   record.id))  # fmt: skip
        try:
            seed = parse_image_seed(await engine.answer(channel, call, upstream_key, vendor))
        except AttemptFailure as failure:
            raise failure.error from None
        body = {"code": 1, "description": "Success", "result": seed, "properties": {}}
        await send_response(send, 200, orjson.dumps(body), [(b"content-type", JSON)])

    async def image(self, scope: Scope, receive: Receive, send: Send) -> None:
        task_id = unquote(scope[PATH_PARAMS]["id"])
        record = await self.owned(scope, task_id)
        stored = next((s for s in record.summary.stored if s.kind == "image"), None) if record else None
        if stored is None:
            raise _not_found(task_id)
        try:
            await send_blob(send, scope, self.gateway.results, stored.name, [(b"cache-control", b"private")])
        except BlobNotFound:
            raise _not_found(task_id) from None


def mj_routes(gateway: Gateway) -> list[Route]:
    """Every Midjourney route, under ``/mj`` and each mode prefix."""
    tasks = MjTasks(gateway)
    submit_doc = RouteDoc(body=dict[str, Any], errors=TASK_ERRORS, tag="midjourney")
    read_doc = RouteDoc(errors=(401,), tag="midjourney")
    list_doc = RouteDoc(body=dict[str, Any], errors=(400, 401), tag="midjourney")
    seed_doc = RouteDoc(errors=(400, 401, 404, 502), tag="midjourney")
    image_doc = RouteDoc(answers=("image/png", "image/webp", "image/jpeg"), errors=(401, 404), tag="midjourney")

    def route(method: str, path: str, handler: Handler, summary: str, doc: RouteDoc) -> Route:
        return Route(method, path, handler, MJ_ERRORS, summary, Auth.CLIENT_KEY, doc=doc)

    routes: list[Route] = []
    for mode in (None, *MODES):
        base = "/mj" if mode is None else f"/mj-{mode}/mj"
        where = "" if mode is None else f" ({mode} mode)"
        routes += [route("POST", f"{base}/{path}", tasks.submit(action, mode), f"Midjourney {action} task{where}",
                         submit_doc) for action, path in _SUBMIT_PATHS.items()]  # fmt: skip
        routes += [
            route("GET", f"{base}/task/{{id}}/fetch", tasks.fetch_one, f"A Midjourney task{where}", read_doc),
            route("POST", f"{base}/task/list-by-condition", tasks.list_by_condition,
                  f"Midjourney tasks by id (the key's own){where}", list_doc),
            route("GET", f"{base}/task/{{id}}/image-seed", tasks.image_seed, f"A Midjourney task's image seed{where}",
                  seed_doc),
            route("GET", f"{base}/image/{{id}}", tasks.image, f"A Midjourney task's stored image{where}", image_doc),
        ]  # fmt: skip
    return routes
