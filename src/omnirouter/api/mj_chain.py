"""Where a Midjourney submit goes (``api/tasks_mj.py``): the channels of its mode, or — for a submit that
works on a parent task (``change``, ``simple-change``, ``action``, ``modal``, a ``video`` of a task) — the
channel that made the parent, with the parent's vendor id in place of the client's.

The parent must be the key's own Midjourney task (else the proxy's "task not found", code 4, nothing
charged); a change or action needs it finished (``SUCCESS``); an ``action``'s ``customId`` must be one of
the parent's own buttons; a ``modal`` needs the parent waiting in ``MODAL``, and once the modal is
submitted the parent's ``MODAL`` deadline (``tasks.modal_wait``) gives way to its normal one.
"""

from __future__ import annotations

from typing import Any

import msgspec

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.tasks.fields import invalid
from omnirouter.routing import Attempt
from omnirouter.storage import KeyRecord
from omnirouter.storage.tasks_repo import move_task
from omnirouter.tasks import TaskEngine, TaskRecord
from omnirouter.tasks.vendor_state import MODAL

__all__ = ["Planned", "lift_modal_deadline", "plan_submit"]


class Planned(msgspec.Struct, frozen=True):
    """A submit ready for the engine: the request as the vendor gets it, the channels to try, the parent."""

    request: TaskRequest
    attempts: list[Attempt]
    parent: TaskRecord | None = None


def _not_found(task_id: str) -> GatewayError:
    return invalid(f"task_not_found: there is no task '{task_id}'.", "taskId")


def _buttons(parent: TaskRecord) -> set[str]:
    raw: Any = parent.summary.details.get("buttons") or []
    return {str(button.get("customId")) for button in raw if isinstance(button, dict)}


def _check_parent(request: TaskRequest, parent: TaskRecord) -> None:
    """A 400 (code 4) when ``parent`` cannot take this submit."""
    if request.action == "modal":
        if parent.status.terminal or parent.summary.vendor_status != MODAL:
            raise invalid(f"Task '{parent.id}' is not waiting in MODAL for a modal submit.", "taskId")
        return
    if parent.status is not TaskStatus.SUCCEEDED:
        raise invalid(f"task_status_not_success: task '{parent.id}' has not succeeded.", "taskId")
    if request.action == "action" and request.custom_id not in _buttons(parent):
        raise invalid(f"customId is not a button of task '{parent.id}'.", "customId")


async def plan_submit(engine: TaskEngine, key: KeyRecord, request: TaskRequest, mode: str | None) -> Planned:
    """The channels ``request`` goes to (a 400, code 4, naming what is wrong: nothing is reserved yet)."""
    planned = engine.plan(request.model, TaskKind.MIDJOURNEY)
    if request.parent_task_id is None:
        if mode is not None:
            planned = [a for a in planned if a.channel.options.get("mode", "") == mode]
            if not planned:
                raise GatewayError(ErrorKind.INVALID_REQUEST, f"No channel of this gateway serves Midjourney's "
                                   f"{mode} mode for '{request.model}'.", param="mode")  # fmt: skip
        return Planned(request, planned)
    parent = await engine.get(request.parent_task_id, key_id=key.id)
    if parent is None or parent.kind is not TaskKind.MIDJOURNEY or parent.upstream_id is None:
        raise _not_found(request.parent_task_id)
    _check_parent(request, parent)
    usable = [a for a in planned if a.channel.name == parent.channel][:1]
    if not usable:
        raise invalid(f"Task '{parent.id}' was made on a channel that no longer serves '{request.model}'.", "taskId")
    prompt = request.prompt if request.prompt is not None or request.action == "modal" else parent.request.prompt
    sent = msgspec.structs.replace(request, parent_task_id=parent.upstream_id, remix_of=parent.id, prompt=prompt)
    return Planned(sent, usable, parent)


async def lift_modal_deadline(engine: TaskEngine, parent: TaskRecord) -> None:
    """The modal was submitted: the parent waits no longer for it, its deadline is its normal one again."""
    channel = engine.channel(parent.channel)
    vendor = engine.vendor_for(channel, parent.kind) if channel is not None else None
    if channel is None or vendor is None:
        return
    deadline = max(parent.deadline_at, parent.created_at + engine.schedule(vendor, channel).deadline)
    async with engine.db.engine.begin() as conn:
        await move_task(conn, parent.id, {"deadline_at": deadline})
