"""``omnirouter tasks work``: a poll-only worker process, without HTTP.

It runs what a gateway runs in the background for tasks (``tasks.services.TaskServices``: the poller, the
retention sweep, the webhook sender) on the database of ``--config``, with the same ``Gateway`` a serving
worker builds (channels, keys and prices kept current by its ``ConfigReloader``).  Gateways started with
``tasks.run_pollers: false`` then serve requests only, and the polling's CPU stays off their event loops.
Any number of workers may run beside any number of gateways: tasks are claimed with leases.

SIGTERM or SIGINT stops it gracefully: claims stop, polls in flight are cancelled and their tasks' leases
lapse (another poller takes them then), and the database and HTTP pools are closed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from omnirouter.config import ConfigError, GatewayConfig, load_config
from omnirouter.gateway import Gateway
from omnirouter.observability import configure_logging
from omnirouter.storage import migrate, normalize_database_url

__all__ = ["add_work_command", "run_worker"]

log = logging.getLogger("omnirouter")


def add_work_command(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``tasks work`` under the ``tasks`` command's actions."""
    work = actions.add_parser(
        "work", help="poll tasks, sweep results and send webhooks without serving HTTP (a poll-only worker)"
    )
    work.add_argument("--config", help="YAML config file (default: embedded defaults)")
    work.set_defaults(run=_work)


def _work(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"omnirouter: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config)  # log_format, masked secrets: as ``omnirouter serve``
    try:
        import uvloop

        uvloop.run(run_worker(config))
    except KeyboardInterrupt:  # a second Ctrl-C during the stop
        return 130
    return 0


async def run_worker(config: GatewayConfig, stop: asyncio.Event | None = None) -> None:
    """Run the tasks' background services of ``config`` until ``stop`` is set, or SIGTERM / SIGINT."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await migrate(normalize_database_url(config.database_url))  # the schema, as ``tasks list`` ensures it
    gateway = Gateway(config)
    try:
        await gateway.start(task_services=True)
        print(f"omnirouter: task worker {gateway.tasks.owner} running (no HTTP)", flush=True)
        await stop.wait()
        log.info("task worker %s stopping", gateway.tasks.owner)
    finally:
        await gateway.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    print("omnirouter: task worker stopped", flush=True)
