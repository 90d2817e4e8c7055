"""The client routes of video tasks: OpenAI's Videos API, new-api's unified video API and the Gemini file
download of Veo's operations, each a thin shell over the task engine (``tasks/``) and the result store.

One small lifecycle per create: the client key (any usual header) → the dialect decodes the body (4xx
naming the field; nothing is sent) → the key's access to the model → ``TaskEngine.create`` (with the
``Idempotency-Key`` header and the digest of the parsed body) → the dialect's answer.  Reads are scoped to
the key: another key's task is a 404, never a 403 (no existence oracle).  Task answers link stored outputs
with signed, expiring gateway URLs (``/v1/videos/{id}/content?variant=…&expires=…&signature=…``), which
work without the key until they expire; with the key, the content route serves them too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from omnirouter.accounts.auth import extract_client_key
from omnirouter.api.errors import GEMINI_ERRORS, OPENAI_ERRORS
from omnirouter.api.task_common import client_view, create_task, variant_of
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Receive, Scope, Send, header, read_body, send_response
from omnirouter.http.blob_response import send_blob
from omnirouter.http.routes import PATH_PARAMS, Auth, ErrorEncoder, FormField, Handler, QueryParam, Route, RouteDoc
from omnirouter.http.signed_urls import SIGNATURE, verify
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.tasks.base import TaskDialect, TaskView
from omnirouter.protocols.tasks.fields import invalid
from omnirouter.protocols.tasks.openai_videos import OPENAI_VIDEOS, decode_list_query
from omnirouter.protocols.tasks.unified_video import UNIFIED_VIDEO
from omnirouter.protocols.tasks.veo_native import parse_file_name
from omnirouter.storage import KeyRecord
from omnirouter.storage.blobs import BlobNotFound
from omnirouter.tasks import StoredOutput, TaskRecord

__all__ = ["TaskRoutes", "task_routes"]

VARIANTS = ("video", "thumbnail", "spritesheet", "last_frame", "image", "audio", "text")  # audio, image, text: Suno
_ERRORS = (400, 401, 403, 404, 409, 413, 429, 502, 503, 504)
_CACHE = (b"cache-control", b"private, max-age=3600")


def _not_found(what: str, name: str, param: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"{what} '{name}' was not found.", code="not_found", param=param)


def _query(scope: Scope) -> dict[str, str]:
    raw: bytes = scope.get("query_string", b"")
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


def _content_type(scope: Scope) -> str:
    value = header(scope, b"content-type")
    return value.decode("latin-1") if value else ""


class TaskRoutes:
    """The task routes of one worker."""

    def __init__(self, gateway: Gateway, clock: Callable[[], float] = time.time) -> None:
        self.gateway = gateway
        self.engine = gateway.tasks
        self.clock = clock

    # ------------------------------------------------------------------ shared steps

    def key(self, scope: Scope) -> KeyRecord:
        return self.gateway.auth.authenticate(scope)

    def view(self, scope: Scope, record: TaskRecord) -> TaskView:
        """The client's view of ``record`` with signed gateway URLs for its outputs."""
        return client_view(self.gateway, scope, record, self.clock)

    async def owned(self, key: KeyRecord, task_id: str) -> TaskRecord:
        """The key's task ``task_id`` (404 for a task that is not there or not this key's)."""
        record = await self.engine.get(task_id, key_id=key.id)
        if record is None:
            raise _not_found("Video", task_id, "video_id")
        return record

    async def create(self, dialect: TaskDialect, scope: Scope, receive: Receive, send: Send) -> None:
        """The create lifecycle of ``dialect``."""
        key = self.key(scope)
        body = await read_body(receive, self.gateway.config.max_upload_bytes, scope)
        content_type = _content_type(scope)
        request = dialect.decode_create(body, content_type, None)
        await self.submit(dialect, scope, send, key, request, body, content_type)

    async def submit(
        self, dialect: Any, scope: Scope, send: Send, key: KeyRecord, request: Any, body: bytes, content_type: str
    ) -> None:
        record = await create_task(self.gateway, scope, key, dialect, request, body, content_type)
        await self.answer(send, dialect.encode_created(self.view(scope, record)))

    @staticmethod
    async def answer(send: Send, answer: tuple[int, bytes, bytes]) -> None:
        status, body, content_type = answer
        await send_response(send, status, body, [(b"content-type", content_type)])

    # ------------------------------------------------------------------ OpenAI videos

    async def videos_create(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.create(OPENAI_VIDEOS, scope, receive, send)

    async def videos_get(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.key(scope)
        record = await self.owned(key, unquote(scope[PATH_PARAMS]["video_id"]))
        await self.answer(send, OPENAI_VIDEOS.encode_task(self.view(scope, record)))

    async def videos_list(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.key(scope)
        page = decode_list_query(_query(scope))
        # The cursor may name a video deleted since its page was read: it still marks a place in the order.
        if page.after is not None and await self.engine.get(page.after, key_id=key.id, include_deleted=True) is None:
            raise invalid(f"'after' names no video of this key: '{page.after}'.", "after")
        records = await self.engine.list(key_id=key.id, after=page.after, limit=page.limit + 1,
                                         newest_first=page.order == "desc")  # fmt: skip
        views = [self.view(scope, record) for record in records[: page.limit]]
        await self.answer(send, OPENAI_VIDEOS.encode_list(views, len(records) > page.limit))

    async def videos_delete(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Delete a video: an unfinished one is cancelled and refunded; its files are removed and it is gone
        for the key (404 on every read, left out of lists; the row stays for the ledger and the admin)."""
        key = self.key(scope)
        task_id = unquote(scope[PATH_PARAMS]["video_id"])
        record = await self.engine.delete(task_id, key_id=key.id)
        if record is None:
            raise _not_found("Video", task_id, "video_id")
        await self.answer(send, OPENAI_VIDEOS.encode_deleted(record.id))

    async def videos_remix(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A new video from a completed one of this key (same model and channel; the vendor gets its own id)."""
        key = self.key(scope)
        source = await self.owned(key, unquote(scope[PATH_PARAMS]["video_id"]))
        body = await read_body(receive, self.gateway.config.max_body_bytes, scope)
        content_type = _content_type(scope)
        request = OPENAI_VIDEOS.decode_remix(body, content_type, self.view(scope, source))
        await self.submit(OPENAI_VIDEOS, scope, send, key, request, body, content_type)

    async def videos_content(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A stored output: to the task's key, or to anyone holding a valid signed URL."""
        task_id = unquote(scope[PATH_PARAMS]["video_id"])
        query = _query(scope)
        variant = query.get("variant", "video")
        if variant not in VARIANTS and variant.rsplit("-", 1)[0] not in VARIANTS:
            raise invalid(f"'variant' must be one of {', '.join(VARIANTS)}.", "variant")
        raw: bytes = scope.get("query_string", b"")
        record: TaskRecord | None
        if SIGNATURE in query and extract_client_key(scope) is None:
            path = f"/v1/videos/{task_id}/content"
            if not verify(path, raw.decode("latin-1"), self.clock(), self.gateway.url_secret):
                raise GatewayError(ErrorKind.AUTHENTICATION, "This signed URL is invalid or has expired.",
                                   code="invalid_signature")  # fmt: skip
            record = await self.engine.get(task_id)
            if record is None:
                raise _not_found("Video", task_id, "video_id")
        else:
            record = await self.owned(self.key(scope), task_id)
        stored = next((s for s in record.summary.stored if variant_of(s) == variant), None)
        if stored is None:
            raise _not_found("Content", f"{task_id}?variant={variant}", "variant")
        await self.send_stored(scope, send, stored, task_id, variant)

    async def send_stored(self, scope: Scope, send: Send, stored: StoredOutput, task_id: str, what: str) -> None:
        try:
            await send_blob(send, scope, self.gateway.results, stored.name, [_CACHE])
        except BlobNotFound:
            raise _not_found("Content", f"{task_id}/{what}", "variant") from None

    # ------------------------------------------------------------------ new-api's unified video, Veo files

    async def unified_create(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.create(UNIFIED_VIDEO, scope, receive, send)

    async def unified_get(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.key(scope)
        record = await self.owned(key, unquote(scope[PATH_PARAMS]["task_id"]))
        await self.answer(send, UNIFIED_VIDEO.encode_task(self.view(scope, record)))

    async def veo_file(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1beta/files/{name}:download``: a Veo operation's video, to the task's key."""
        key = self.key(scope)
        name = unquote(scope[PATH_PARAMS]["name"])
        task_id, index = parse_file_name(name)
        record = await self.engine.get(task_id, key_id=key.id)
        videos = [s for s in record.summary.stored if s.kind == "video"] if record is not None else []
        if not 0 <= index < len(videos):
            raise _not_found("File", name, "name")
        await self.send_stored(scope, send, videos[index], task_id, name)

    # ------------------------------------------------------------------ the route table

    def routes(self) -> list[Route]:
        def route(method: str, path: str, handler: Handler, summary: str, doc: RouteDoc,
                  errors: ErrorEncoder = OPENAI_ERRORS) -> Route:  # fmt: skip
            return Route(method, path, handler, errors, summary, Auth.CLIENT_KEY, auth_in_handler=True, doc=doc)

        create = RouteDoc(body=dict[str, Any], body_types=("application/json", "multipart/form-data"),
                          form=_CREATE_FORM, errors=_ERRORS, tag="videos")  # fmt: skip
        read = RouteDoc(errors=(401, 404), tag="videos")
        listing = RouteDoc(errors=(400, 401), tag="videos", query=_LIST_QUERY)
        binary = RouteDoc(answers=("video/mp4", "image/jpeg", "image/webp", "image/png"), errors=(400, 401, 404),
                          tag="videos", query=_CONTENT_QUERY)  # fmt: skip
        unified = RouteDoc(body=dict[str, Any], body_types=("application/json", "multipart/form-data"),
                           errors=_ERRORS, tag="videos")  # fmt: skip
        remix = RouteDoc(body=dict[str, Any], errors=_ERRORS, tag="videos")
        return [
            route("POST", "/v1/videos", self.videos_create, "OpenAI video creation (JSON or multipart with "
                  "input_reference); an asynchronous task", create),
            route("GET", "/v1/videos", self.videos_list, "OpenAI videos of this key, paged", listing),
            route("GET", "/v1/videos/{video_id}", self.videos_get, "One OpenAI video (a task's state)", read),
            route("DELETE", "/v1/videos/{video_id}", self.videos_delete, "Delete a video (an unfinished one is "
                  "cancelled and refunded)", read),
            route("POST", "/v1/videos/{video_id}/remix", self.videos_remix, "Remix a completed video", remix),
            route("GET", "/v1/videos/{video_id}/content", self.videos_content, "A video's stored bytes (the key, "
                  "or a signed URL from a task answer); Range requests served", binary),
            route("POST", "/v1/video/generations", self.unified_create, "Unified video creation (new-api's shape; "
                  "Omni-Create bodies)", unified),
            route("GET", "/v1/video/generations/{task_id}", self.unified_get, "A unified video task (new-api's "
                  "envelope)", read),
            route("GET", "/v1beta/files/{name}:download", self.veo_file, "A Veo operation's video file (Gemini "
                  "files download)", RouteDoc(answers=("video/mp4",), errors=(401, 404), tag="videos"),
                  GEMINI_ERRORS),
        ]  # fmt: skip


_CREATE_FORM = (
    FormField("model", "the public model", required=True),
    FormField("prompt", "what the video shows", required=True),
    FormField("seconds", "the duration (mapped to the nearest one the vendor makes)"),
    FormField("size", "WIDTHxHEIGHT"),
    FormField("input_reference", "one image: the first frame (PNG, JPEG, WebP, GIF)", "file"),
)
_LIST_QUERY = (
    QueryParam("after", "the id of the last video of the previous page"),
    QueryParam("limit", "page size, 1-100 (default 20)", "integer"),
    QueryParam("order", "by creation time (default desc)", enum=("asc", "desc")),
)
_CONTENT_QUERY = (
    QueryParam("variant", "which output (default video)", enum=VARIANTS),
    QueryParam("expires", "a signed URL's expiry (Unix seconds)", "integer"),
    QueryParam("signature", "a signed URL's signature"),
)


def task_routes(gateway: Gateway) -> list[Route]:
    """Every task route of one worker."""
    return TaskRoutes(gateway).routes()
