"""new-api's Suno routes: ``POST /suno/submit/{music,lyrics}``, ``GET /suno/fetch/{id}`` and
``POST /suno/fetch {ids}``, in the ``{code: "success", message, data}`` envelope
(``protocols/tasks/suno_dialect.py``).

The client key is checked by the route table in any of its usual headers.  A create goes to the engine
(write before you call, ``Idempotency-Key`` honoured) through ``tasks_native.NativeTasks``; a fetch shows
only the key's own tasks (another key's id: ``task_not_exist`` 404, as one that never was); the batch
fetch answers the key's tasks among ``ids`` in their order, silently leaving out the others (new-api's
behaviour).  Clip URLs are signed, expiring gateway URLs of the stored results.  A submit's ``notify_hook``
/ ``callback_url`` is checked as a webhook target (a 400 naming the field it came in); a continue's
``continue_clip_id`` must be a clip of one of the key's own succeeded tasks (``SunoTasks.continued``).
"""

from __future__ import annotations

import contextlib
from typing import Any, Final
from urllib.parse import unquote

import msgspec
import orjson

from omnirouter.api.task_common import client_view
from omnirouter.api.tasks_native import TASK_ERRORS, NativeTasks
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send, read_body, send_response
from omnirouter.http.json_body import parse_json_object
from omnirouter.http.routes import AUTH, PATH_PARAMS, Auth, ErrorEncoder, Handler, Route, RouteDoc
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskRequest, TaskStatus
from omnirouter.protocols.tasks.fields import invalid
from omnirouter.protocols.tasks.suno import VENDOR_CLIP_IDS
from omnirouter.protocols.tasks.suno_dialect import (
    SUNO_LYRICS,
    SUNO_MUSIC_DIALECT,
    SunoDialect,
    hook_field,
    suno_error,
    task_dto,
)
from omnirouter.storage import KeyRecord
from omnirouter.storage.blobs import BlobNotFound
from omnirouter.tasks import TaskRecord
from omnirouter.tasks.webhooks import check_callback_url

__all__ = ["MAX_FETCH_IDS", "suno_routes"]

MAX_FETCH_IDS: Final = 100
"""The most ids one batch fetch may name."""
MAX_FETCH_BODY: Final = 64 * 1024


def _encode(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    return suno_error(error)


SUNO_ERRORS = ErrorEncoder("Suno", _encode)
"""``{code, message, data: null}`` (new-api's Suno envelope)."""


def _ids(body: bytes) -> list[str]:
    parsed = parse_json_object(body)
    ids: Any = parsed.get("ids")
    if not isinstance(ids, list) or not all(isinstance(one, str) and one for one in ids):
        raise invalid("'ids' must be a list of task ids.", "ids")
    if len(ids) > MAX_FETCH_IDS:
        raise invalid(f"'ids' may name at most {MAX_FETCH_IDS} tasks.", "ids")
    return list(dict.fromkeys(ids))


class SunoTasks(NativeTasks):
    """The handlers of the Suno routes of one worker."""

    def submit(self, dialect: SunoDialect) -> Handler:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            await self.create(dialect, None, scope, receive, send)

        return handle

    async def prepare(self, key: KeyRecord, request: TaskRequest, body: bytes) -> TaskRequest:
        """Check the webhook URL under the field the client named it with, and resolve a continue."""
        field = hook_field(parse_json_object(body))
        await check_callback_url(request.callback_url, self.gateway.config.image_fetch, field)
        clip_id = request.extra.get("continue_clip_id")
        return request if clip_id is None else await self.continued(key, request, str(clip_id))

    async def continued(self, key: KeyRecord, request: TaskRequest, clip_id: str) -> TaskRequest:
        """A continue of the clip ``{task id}-{index}`` of one of the key's succeeded tasks: Suno is sent its
        own id of that clip, on the channel that made it (``remix_of``: the engine pins the source's
        channel).  Any other id (another key's clip, one that never was) is a 400 naming the field."""
        task_id, _, index = clip_id.rpartition("-")
        record = await self.gateway.tasks.get(task_id, key_id=key.id) if task_id and index.isdigit() else None
        vendor_ids = record.summary.details.get(VENDOR_CLIP_IDS) if record is not None else None
        if record is None or record.status is not TaskStatus.SUCCEEDED or not isinstance(vendor_ids, list):
            vendor_ids = []
        vendor_id = vendor_ids[int(index)] if index.isdigit() and int(index) < len(vendor_ids) else None
        if record is None or not vendor_id:
            raise invalid(f"'continue_clip_id' names no finished clip of your tasks: '{clip_id}'.", "continue_clip_id")
        extra = request.extra | {"continue_clip_id": vendor_id}
        return msgspec.structs.replace(request, extra=extra, remix_of=record.id)

    async def dto(self, scope: Scope, record: TaskRecord) -> dict[str, Any]:
        """The task as new-api shows it (a lyrics task's text from its details; for tasks that finished
        before details were kept, read back from the result store)."""
        lyrics: dict[str, Any] | None = None
        stored = next((s for s in record.summary.stored if s.kind == "text"), None)
        if stored is not None and "lyrics" not in record.summary.details:
            with contextlib.suppress(BlobNotFound):  # swept by retention: the task without its text
                _, _, chunks = await self.gateway.results.open(stored.name)
                parsed = orjson.loads(b"".join([chunk async for chunk in chunks]))
                lyrics = {"text": str(parsed.get("text", "")), "title": str(parsed.get("title", ""))}
        return task_dto(client_view(self.gateway, scope, record), lyrics)

    async def fetch_one(self, scope: Scope, receive: Receive, send: Send) -> None:
        key: KeyRecord = scope[AUTH]
        task_id = unquote(scope[PATH_PARAMS]["id"])
        record = await self.gateway.tasks.get(task_id, key_id=key.id)
        if record is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"Task '{task_id}' was not found.", param="task_id")
        body = orjson.dumps({"code": "success", "message": "", "data": await self.dto(scope, record)})
        await send_response(send, 200, body, [(b"content-type", b"application/json")])

    async def fetch_many(self, scope: Scope, receive: Receive, send: Send) -> None:
        key: KeyRecord = scope[AUTH]
        ids = _ids(await read_body(receive, MAX_FETCH_BODY, scope))
        tasks: list[dict[str, Any]] = []
        for task_id in ids:
            record = await self.gateway.tasks.get(task_id, key_id=key.id)
            if record is not None:
                tasks.append(await self.dto(scope, record))
        body = orjson.dumps({"code": "success", "message": "", "data": tasks})
        await send_response(send, 200, body, [(b"content-type", b"application/json")])


def suno_routes(gateway: Gateway) -> list[Route]:
    """The Suno submit and fetch routes."""
    tasks = SunoTasks(gateway)
    create_doc = RouteDoc(body=dict[str, Any], errors=TASK_ERRORS, tag="music")
    fetch_doc = RouteDoc(errors=(401, 404), tag="music")
    batch_doc = RouteDoc(body=dict[str, Any], errors=(400, 401), tag="music")

    def route(method: str, path: str, handler: Handler, summary: str, doc: RouteDoc) -> Route:
        return Route(method, path, handler, SUNO_ERRORS, summary, Auth.CLIENT_KEY, doc=doc)

    return [
        route("POST", "/suno/submit/music", tasks.submit(SUNO_MUSIC_DIALECT), "Suno music task", create_doc),
        route("POST", "/suno/submit/lyrics", tasks.submit(SUNO_LYRICS), "Suno lyrics task", create_doc),
        route("GET", "/suno/fetch/{id}", tasks.fetch_one, "A Suno task", fetch_doc),
        route("POST", "/suno/fetch", tasks.fetch_many, "Suno tasks by id (the key's own)", batch_doc),
    ]
