"""``omnirouter serve``'s migrations in a child process, when the database needs any.

Migrating imports Alembic, Mako, Pygments and the migration scripts (~11 MB, never freed once
imported).  With one worker uvicorn serves in the process that ran ``serve``, so migrating there would
keep all of that for the worker's life; in a child it is gone when the child exits.  A database already
at the newest revision needs no child (``storage.migrate.is_current``: one read).  The child is a plain
interpreter (not ``multiprocessing``, whose spawn start leaves a resource-tracker process beside a
one-worker server): the config goes in on its stdin, pickled; the answer comes back on a pipe of its
own (its log lines go to stderr, as the parent's do).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys

from omnirouter.config import GatewayConfig

__all__ = ["migrate_in_child"]


def migrate_in_child(config: GatewayConfig) -> None:
    """Bring the config's database to the newest revision from a child interpreter; a ``RuntimeError``
    with the child's error message when it could not."""
    read_fd, write_fd = os.pipe()
    code = f"import sys; sys.path[:0] = {sys.path!r}; from omnirouter.cli_prepare import _child; _child({write_fd})"
    try:
        child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as answers:
        assert child.stdin is not None
        with child.stdin:
            child.stdin.write(pickle.dumps(config))
        answer = answers.read()
    status = child.wait()
    if not answer:
        raise RuntimeError(f"the migrating process exited with status {status}")
    error = pickle.loads(answer)
    if error is not None:
        raise RuntimeError(error)


def _child(answer_fd: int) -> None:
    from omnirouter.observability import configure_logging
    from omnirouter.storage import migrate, normalize_database_url

    config = pickle.loads(sys.stdin.buffer.read())
    configure_logging(config)
    try:
        asyncio.run(migrate(normalize_database_url(config.database_url)))
        error = None
    except Exception as exc:
        error = str(exc)
    with os.fdopen(answer_fd, "wb") as out:
        out.write(pickle.dumps(error))
