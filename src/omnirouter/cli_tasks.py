"""``omnirouter tasks list|show|cancel``: asynchronous tasks from a shell, on the database of ``--config``.

``list`` and ``show`` only read.  ``cancel`` cancels and refunds an unfinished task as ``POST
/admin/tasks/{id}/cancel`` does: a worker-less ``Gateway`` (its channels, prices and HTTP client, no
poller, no listener) asks the vendor to stop where it can and ends the task with its refund in one
transaction (``TaskEngine.cancel``), so a gateway polling it at the same time cannot settle it twice.
``work`` (``cli_worker.py``) runs a poll-only worker.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from omnirouter.api.admin_tasks import TaskAdminView, admin_task_view
from omnirouter.cli_channels import format_table
from omnirouter.cli_worker import add_work_command
from omnirouter.config import ConfigError, GatewayConfig, load_config
from omnirouter.gateway import Gateway
from omnirouter.ir.task import TaskStatus
from omnirouter.storage import migrate, normalize_database_url
from omnirouter.tasks import TaskRecord

__all__ = ["add_tasks_commands"]

T = TypeVar("T")
_STATUSES = tuple(status.value for status in TaskStatus)


def add_tasks_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``tasks list|show|cancel|work``."""
    tasks = commands.add_parser("tasks", help="list, show or cancel asynchronous tasks (video generation), or "
                                "run a poll-only worker")  # fmt: skip
    actions = tasks.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="print tasks, newest first")
    listing.add_argument("--status", choices=_STATUSES, action="append", help="only this state (repeatable)")
    listing.add_argument("--model", help="only this public model")
    listing.add_argument("--channel", help="only this channel")
    listing.add_argument("--key", type=int, metavar="ID", help="only this key's tasks")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    show = actions.add_parser("show", help="print one task as JSON")
    show.add_argument("id")
    cancel = actions.add_parser("cancel", help="cancel an unfinished task and refund its reservation")
    cancel.add_argument("id")
    for parser in (listing, show, cancel):
        parser.add_argument("--config", help="YAML config file (for database_url; default: embedded defaults)")
    listing.set_defaults(run=_list)
    show.set_defaults(run=_show)
    cancel.set_defaults(run=_cancel)
    add_work_command(actions)


def _run(args: argparse.Namespace, work: Callable[[Gateway], Awaitable[T]]) -> T | int:
    """``work`` on a worker-less gateway of ``--config`` (its catalog and prices loaded from the database)."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"omnirouter: config error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_with_gateway(config, work))


async def _with_gateway(config: GatewayConfig, work: Callable[[Gateway], Awaitable[T]]) -> T:
    await migrate(normalize_database_url(config.database_url))
    gateway = Gateway(config)
    await gateway.client.start()
    try:
        await gateway.reloader.refresh(force=True)
        return await work(gateway)
    finally:
        await gateway.client.close()
        await gateway.db.close()


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _show_json(view: TaskAdminView) -> None:
    print(msgspec.json.format(msgspec.json.encode(view), indent=2).decode())


def _missing(task_id: str) -> int:
    print(f"omnirouter: no task with id {task_id!r}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    async def work(gateway: Gateway) -> list[TaskRecord]:
        return await gateway.tasks.list(status=tuple(args.status or ()), model=args.model, channel=args.channel,
                                        key_id=args.key, limit=max(1, args.limit), include_deleted=True)  # fmt: skip

    found = _run(args, work)
    if isinstance(found, int):
        return found
    if not found:
        print("No tasks.")
        return 0
    rows = [
        [r.id, r.status.value, str(r.progress) if r.progress is not None else "-", r.model, r.channel, str(r.key_id),
         f"{r.cost_nano / 1e9:.6f}", _when(r.created_at), _when(r.finished_at)]
        for r in found
    ]  # fmt: skip
    print(
        format_table(["ID", "STATUS", "PROGRESS", "MODEL", "CHANNEL", "KEY", "COST USD", "CREATED", "FINISHED"], rows)
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    async def work(gateway: Gateway) -> TaskRecord | None:
        return await gateway.tasks.get(args.id, include_deleted=True)

    found = _run(args, work)
    if isinstance(found, int):
        return found
    if found is None:
        return _missing(args.id)
    _show_json(admin_task_view(found))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    async def work(gateway: Gateway) -> tuple[TaskRecord | None, bool]:
        record = await gateway.tasks.get(args.id, include_deleted=True)
        if record is None or record.status.terminal:
            return record, False
        return await gateway.tasks.cancel(args.id), True

    done = _run(args, work)
    if isinstance(done, int):
        return done
    record, cancelled = done
    if record is None:
        return _missing(args.id)
    if not cancelled:
        print(f"omnirouter: task {record.id} is already {record.status.value}", file=sys.stderr)
        return 1
    print(f"Cancelled task {record.id} ({record.status.value}); its reservation was released.")
    return 0
