"""Metrics across worker processes: prometheus_client's multiprocess mode, one directory per run.

``omnirouter serve --workers N`` (N > 1) creates a fresh directory, names it in
``PROMETHEUS_MULTIPROC_DIR`` before the workers start (prometheus_client reads the variable when it is
imported) and deletes it when the server stops (``run_directory``).  Each worker writes its values to
files of its own there; the worker that serves a scrape reads them all.  A deployment that runs the
app under another process manager may set the variable itself (an empty directory per run).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator

from prometheus_client.multiprocess import mark_process_dead

__all__ = ["MULTIPROC_ENV", "metrics_dir", "prune_dead_workers", "run_directory"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def metrics_dir() -> str | None:
    """The multiprocess directory of this run, or None (one process: values in memory)."""
    return os.environ.get(MULTIPROC_ENV) or None


@contextlib.contextmanager
def run_directory(workers: int) -> Iterator[str | None]:
    """With several workers (and no directory named by the environment already): a fresh directory in
    ``PROMETHEUS_MULTIPROC_DIR`` for the block, deleted after it."""
    if workers <= 1 or metrics_dir() is not None:
        yield metrics_dir()
        return
    directory = tempfile.mkdtemp(prefix="omnirouter-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that died without saying so (killed): their last values would
    count forever.  Their counters stay: what they served was served."""
    pids = {int(m.group(1)) for name in os.listdir(directory) if (m := _LIVE_FILE.fullmatch(name))}
    for pid in pids:
        if pid != os.getpid() and not _alive(pid):
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
