"""Omni-Image's asynchronous image tasks, and synchronous image calls that wait on the task engine.

* ``POST /v1/images/generations?async=true`` (the Omni-Image or OpenAI body) → the task object
  (``protocols/tasks/omni_image.py``) at once; ``GET /v1/images/generations/{task_id}`` → the task, with
  ``data[{url}]`` (signed gateway URLs of the stored images) once completed, ``data[{b64_json}]`` when the
  create asked ``response_format: b64_json``.  Another key's id or an unknown one: 404 in OpenAI's shape.
* A synchronous ``POST /v1/images/generations`` for a model whose channels all have an image task codec of
  their own and no synchronous image codec (Kling images, Hunyuan panoramas; or a channel with the option
  ``image_via_task: "true"``) creates an engine task and waits for it, up to ``tasks.image_sync_wait``
  seconds, woken when this process ends the task (``TaskEngine.ends``) and re-reading the task row as the
  fallback (every 50 ms at first, backing off to once a second: an end on another replica), then answers
  OpenAI's ImagesResponse from the stored images.  At the deadline it answers 504 in OpenAI's shape naming
  the task id and its GET route (``x-should-retry: false``: the task goes on and is billed once if it
  succeeds; a retry would make another).

The key is checked here (the route shares its path with the synchronous handler, which checks it itself).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any, Final
from urllib.parse import parse_qs, unquote

import msgspec
import orjson

from omnirouter.accounts import check_access
from omnirouter.api.task_common import body_digest, client_view, idempotency_key, origin
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Message, Receive, Scope, Send, header, read_body, send_response
from omnirouter.http.routes import PATH_PARAMS, Handler
from omnirouter.http.signed_urls import signed_url
from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.ir.media import GeneratedImage, ImageRequest, ImageResult
from omnirouter.ir.task import TaskKind, TaskRequest
from omnirouter.protocols.media.openai_images_in import OPENAI_IMAGE_GENERATIONS_IN
from omnirouter.protocols.openai_chat.errors import encode_error
from omnirouter.protocols.tasks.image_vendors import InlineImageTask
from omnirouter.protocols.tasks.omni_image import OMNI_IMAGE, task_object, task_request
from omnirouter.providers import Capability
from omnirouter.routing import Attempt, plan_with_fallbacks
from omnirouter.storage import KeyRecord
from omnirouter.storage.blobs import BlobNotFound
from omnirouter.tasks import StoredOutput, TaskRecord
from omnirouter.tasks.webhook_body import URL_LIFETIME, content_path, variant_of
from omnirouter.usage.query import usage_of

__all__ = ["VIA_TASK_OPTION", "ImageTasks", "generations_handler"]

JSON: Final = b"application/json"
VIA_TASK_OPTION: Final = "image_via_task"
"""A channel option: ``"true"`` serves its synchronous image calls through the task engine (the vendor's
task codec) even where a synchronous codec exists."""
_WAIT_STEP: Final = 0.05
_WAIT_MAX: Final = 1.0


def _not_found(task_id: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"Image task '{task_id}' was not found.", code="task_not_found",
                        param="task_id")  # fmt: skip


class ImageTasks:
    """The asynchronous image routes and the engine-backed synchronous path of one worker."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    # ------------------------------------------------------------------ which path

    def _waits_on_engine(self, attempt: Attempt) -> bool:
        channel = attempt.channel
        vendor = self.gateway.tasks.vendor_for(channel, TaskKind.IMAGE)
        if vendor is None or isinstance(vendor, InlineImageTask):
            return False
        forced = channel.options.get(VIA_TASK_OPTION, "").lower() == "true"
        return forced or Capability.IMAGE_GENERATION not in channel.spec.media

    def via_engine(self, body: bytes) -> bool:
        """Whether a synchronous call with ``body`` is served by waiting on an engine task: every channel of
        its model has its own image task API and no synchronous image codec (or is told so)."""
        try:
            model = orjson.loads(body).get("model")
        except (orjson.JSONDecodeError, AttributeError):
            return False
        if not isinstance(model, str) or not model:
            return False
        gateway = self.gateway
        attempts = plan_with_fallbacks(model, gateway.catalog.channels_for, gateway.config.fallbacks)
        return bool(attempts) and all(self._waits_on_engine(attempt) for attempt in attempts)

    # ------------------------------------------------------------------ create

    async def _create(self, scope: Scope, key: KeyRecord, request: TaskRequest, body: bytes) -> TaskRecord:
        gateway = self.gateway
        check_access(key, scope, request.model)
        request = msgspec.structs.replace(request, dialect=OMNI_IMAGE.name)
        idempotency = idempotency_key(scope)
        digest = body_digest(body, "application/json") if idempotency is not None else None
        lease = await gateway.limiter.acquire(key)
        try:
            return await gateway.image_runs.create(key, OMNI_IMAGE.protocol, request, OMNI_IMAGE.budget(request),
                                                   idempotency_key=idempotency, digest=digest)  # fmt: skip
        finally:
            if lease is not None:
                await gateway.limiter.release(lease, 0)

    async def create_async(self, scope: Scope, body: bytes, send: Send) -> None:
        """``?async=true``: the task object at once."""
        key = self.gateway.auth.authenticate(scope)
        content_type = (header(scope, b"content-type") or b"application/json").decode("latin-1")
        request = OMNI_IMAGE.decode_create(body, content_type, None)
        record = await self._create(scope, key, request, body)
        status, answer, kind = OMNI_IMAGE.encode_created(client_view(self.gateway, scope, record))
        await send_response(send, status, answer, [(b"content-type", kind)])

    # ------------------------------------------------------------------ fetch

    async def _b64(self, record: TaskRecord) -> list[str]:
        images: list[str] = []
        for stored in self._images(record):
            try:
                _, _, chunks = await self.gateway.results.open(stored.name)
                images.append(base64.b64encode(b"".join([chunk async for chunk in chunks])).decode("ascii"))
            except BlobNotFound:  # swept by retention
                continue
        return images

    @staticmethod
    def _images(record: TaskRecord) -> list[StoredOutput]:
        return [stored for stored in record.summary.stored if stored.kind == "image"]

    async def fetch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/images/generations/{task_id}``: the key's own task only."""
        key = self.gateway.auth.authenticate(scope)
        task_id = unquote(scope[PATH_PARAMS]["task_id"])
        record = await self.gateway.tasks.get(task_id, key_id=key.id)
        if record is None or record.kind is not TaskKind.IMAGE:
            raise _not_found(task_id)
        view = client_view(self.gateway, scope, record)
        wants_b64 = record.request.answer_format == "b64_json"
        done = view.status.value == "succeeded"
        task = task_object(view, await self._b64(record) if wants_b64 and done else None)
        row = await usage_of(self.gateway.db, record.id, key.id) if done else None
        if row is not None:
            task["usage"] = _usage(row)
        await send_response(send, 200, orjson.dumps(task), [(b"content-type", JSON)])

    # ------------------------------------------------------------------ synchronous, waiting on the engine

    async def create_and_wait(self, scope: Scope, body: bytes, send: Send) -> None:
        """A synchronous call served by an engine task: OpenAI's ImagesResponse, or its error."""
        gateway = self.gateway
        key = gateway.auth.authenticate(scope)
        content_type = (header(scope, b"content-type") or b"application/json").decode("latin-1")
        image = OPENAI_IMAGE_GENERATIONS_IN.decode(body, content_type, None)
        record = await self._create(scope, key, task_request(image), body)
        wait = gateway.config.tasks.image_sync_wait
        record = await self._wait(record, wait)
        headers = [(b"x-omnirouter-task-id", record.id.encode())]
        if not record.status.terminal:
            error = GatewayError(ErrorKind.UPSTREAM_TIMEOUT,
                                 f"The image task '{record.id}' did not finish within {wait:g}s; it goes on: fetch it "
                                 f"with GET /v1/images/generations/{record.id}.", code="task_still_running",
                                 param="task_id")  # fmt: skip
            status, payload = encode_error(error)
            await send_response(send, status, payload, [(b"content-type", JSON), (b"x-should-retry", b"false"),
                                                        *headers])  # fmt: skip
            return
        if record.status.value != "succeeded":
            summary = record.summary
            raise GatewayError(ErrorKind.UPSTREAM, summary.failure or "The image task failed.",
                               code=summary.failure_code or "task_failed")  # fmt: skip
        result = await self._result(scope, record, image)
        answer, kind = OPENAI_IMAGE_GENERATIONS_IN.encode(result, image, image.model)
        await send_response(send, 200, answer, [(b"content-type", kind), *headers])

    async def _wait(self, record: TaskRecord, wait: float) -> TaskRecord:
        """The task once terminal, or as it is after ``wait`` seconds: woken when this process ends it
        (``TaskEngine.ends``), else by re-reading its row (soon at first, then at most once a second), which
        sees an end made by another replica."""
        engine = self.gateway.tasks
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait
        step = _WAIT_STEP
        with engine.ends.watch(record.id) as ended:
            while not record.status.terminal and loop.time() < give_up:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(step, max(0.0, give_up - loop.time()))):
                        await ended.wait()
                ended.clear()
                step = min(step * 1.5, _WAIT_MAX)
                record = await engine.load(record.id) or record
        return record

    async def _result(self, scope: Scope, record: TaskRecord, image: ImageRequest) -> ImageResult:
        """The stored images as the synchronous answer gives them: signed gateway URLs when ``url`` was asked,
        else their bytes."""
        stored = self._images(record)
        images: list[GeneratedImage] = []
        if image.response_format == "url":
            base, secret = origin(scope), self.gateway.url_secret
            expires = int(self.gateway.tasks.clock()) + URL_LIFETIME
            for one in stored:
                url = base + signed_url(content_path(record.id), expires, secret, {"variant": variant_of(one)})
                images.append(GeneratedImage(url=url, mime=one.mime or "image/png"))
        else:
            for one, data in zip(stored, await self._b64(record), strict=False):
                images.append(GeneratedImage(b64=data, mime=one.mime or "image/png"))
        return ImageResult(images=images, usage=Usage(images=len(images)), created=int(record.created_at))


def _usage(row: dict[str, Any]) -> dict[str, Any]:
    """What the task was billed for, as its usage row has it: the images and the tokens the vendor reported."""
    usage = {"images": int(row.get("images") or 0)}
    if row.get("input_tokens") or row.get("output_tokens"):
        usage |= {"input_tokens": int(row["input_tokens"] or 0), "output_tokens": int(row["output_tokens"] or 0),
                  "total_tokens": int(row["input_tokens"] or 0) + int(row["output_tokens"] or 0)}  # fmt: skip
    return usage


def generations_handler(gateway: Gateway, sync: Handler) -> Handler:
    """``POST /v1/images/generations``: ``?async=true`` makes a task; a model served only by image task
    vendors waits on one; anything else is ``sync`` (the media lifecycle), given the body read here."""
    tasks = ImageTasks(gateway)

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, gateway.config.max_body_bytes, scope)
        query = scope.get("query_string", b"").decode("latin-1")
        if _wants_async(query):
            await tasks.create_async(scope, body, send)
            return
        if tasks.via_engine(body):
            await tasks.create_and_wait(scope, body, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await sync(scope, replay, send)

    return handle


def _wants_async(query: str) -> bool:
    return any(value.lower() in ("true", "1") for value in parse_qs(query).get("async", []))
