"""Webhook bodies in the client's own dialect (docs/tasks.md "Webhooks").

An event is stored when its state change commits (``tasks/outbox.py``) as a *snapshot*: the task's view at
that moment, its outputs as gateway paths, and the name of the dialect that created the task
(``TaskRequest.dialect``).  It is rendered when sent (``render``): the view goes through that dialect's own
``encode_task`` (the one its fetch route answers with; no second encoder), and the task object a client
polls becomes the event's ``data`` — OpenAI's video object, new-api's ``TaskDto`` (video, or Suno's with
its clips or lyrics), Kling's task ``data``, Veo's operation — inside ``{type, id, created_at, dialect,
data}``.  Output paths become absolute signed URLs under the gateway's ``public_url`` (valid ``URL_LIFETIME``
from each attempt, so a late retry still carries working links), or stay gateway paths without one.

A task whose dialect is unknown (created before dialects were recorded, or by a caller that names none)
gets the common engine view as ``data`` (``object: "task"``), as do events stored before snapshots existed:
their stored body is sent as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import msgspec
import orjson

from omnirouter.http.signed_urls import signed_url
from omnirouter.protocols.tasks.base import TaskDialect, TaskView
from omnirouter.protocols.tasks.kling_native import KLING_TEXT2VIDEO
from omnirouter.protocols.tasks.mj_dialect import MJ_DIALECT
from omnirouter.protocols.tasks.omni_image import OMNI_IMAGE
from omnirouter.protocols.tasks.openai_videos import OPENAI_VIDEOS
from omnirouter.protocols.tasks.suno_dialect import SUNO_MUSIC_DIALECT
from omnirouter.protocols.tasks.unified_video import UNIFIED_VIDEO
from omnirouter.protocols.tasks.veo_native import VEO
from omnirouter.tasks.records import StoredOutput, TaskRecord

__all__ = [
    "DIALECTS",
    "URL_LIFETIME",
    "OutputLinks",
    "content_path",
    "render",
    "snapshot",
    "variant_of",
]

URL_LIFETIME: Final = 24 * 3600
"""How long a signed output URL in a task answer or a webhook works (seconds; each one is fresh)."""

DIALECTS: Final[Mapping[str, TaskDialect]] = {
    dialect.name: dialect
    for dialect in (OPENAI_VIDEOS, UNIFIED_VIDEO, KLING_TEXT2VIDEO, VEO, SUNO_MUSIC_DIALECT, MJ_DIALECT, OMNI_IMAGE)
}
"""The dialects whose tasks get webhook bodies in their own shape, by ``TaskDialect.name`` (Kling's two
endpoints answer one shape, as do Suno's music and lyrics: ``TaskView.details`` carries a lyrics task's
text, so its body needs no read of the result store; every Midjourney submit shows the proxy's task object)."""

_ENVELOPED: Final = frozenset({UNIFIED_VIDEO.name, KLING_TEXT2VIDEO.name, SUNO_MUSIC_DIALECT.name})
"""Dialects whose fetch answers an envelope (``{code, message, data}``): the event's ``data`` is its ``data``."""


def content_path(task_id: str) -> str:
    """The gateway path that serves a task's stored outputs (``?variant=`` picks one)."""
    return f"/v1/videos/{task_id}/content"


def variant_of(stored: StoredOutput) -> str:
    """The ``variant`` that names a stored output: its kind, ``-N`` for the N-th of a kind."""
    return stored.name.rsplit("/", 1)[-1]


def _output_path(task: TaskRecord, stored: StoredOutput) -> str:
    return f"{content_path(task.id)}?variant={variant_of(stored)}"


def engine_view(record: TaskRecord) -> TaskView:
    """``record`` as clients see it, its outputs as gateway paths (fetched with the client's key)."""
    view = record.view(_output_path)
    view.updated_at = int(record.updated_at)
    view.client_ref = record.request.client_ref
    return view


def snapshot(record: TaskRecord, event_id: str, now: float) -> dict[str, Any]:
    """What the outbox stores for the event announcing ``record``'s current status."""
    event: dict[str, Any] = {"type": f"task.{record.status.value}", "id": event_id, "created_at": int(now)}
    view = msgspec.to_builtins(engine_view(record))
    dialect = record.request.dialect
    if dialect in DIALECTS:
        return event | {"dialect": dialect, "task": view}
    return event | {"data": {"object": "task", **view}}  # the common shape, sent as stored


class OutputLinks:
    """Turns a stored output's gateway path into what a webhook carries: with ``public_url``, an absolute
    URL signed with the gateway's secret (read when called) and valid ``URL_LIFETIME`` from ``clock``'s
    now, which downloads without the client's key; without it, the path itself."""

    def __init__(
        self, public_url: str | None, secret: Callable[[], bytes], clock: Callable[[], float] = time.time
    ) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.secret = secret
        self.clock = clock

    def __call__(self, path: str) -> str:
        secret = self.secret()
        if self.public_url is None or not secret:
            return path
        parts = urlsplit(path)
        params = dict(parse_qsl(parts.query))
        return self.public_url + signed_url(parts.path, int(self.clock()) + URL_LIFETIME, secret, params)


def render(payload: str, link: Callable[[str], str]) -> bytes:
    """The bytes to POST for a stored event: a snapshot in its dialect's shape with its outputs linked by
    ``link``; anything else (the common shape, events stored before snapshots) as stored."""
    stored = orjson.loads(payload)
    dialect = DIALECTS.get(stored.get("dialect", ""))
    if dialect is None or "task" not in stored:
        return payload.encode()
    view = msgspec.convert(stored["task"], TaskView)
    for index, output in enumerate(view.outputs):
        view.outputs[index] = msgspec.structs.replace(output, url=link(output.url))
    _, body, _ = dialect.encode_task(view)
    shown = orjson.loads(body)
    data = shown["data"] if dialect.name in _ENVELOPED else shown
    event = {"type": stored["type"], "id": stored["id"], "created_at": stored["created_at"]}
    return orjson.dumps(event | {"dialect": dialect.name, "data": data})
