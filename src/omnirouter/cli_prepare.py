"""``omnirouter serve``'s database preparation (``gateway.prepare_database``) in a child process.

Migrating imports Alembic, Mako, Pygments and the migration scripts (~11 MB) and leaves more behind
(SQLAlchemy's ORM warm-up, the start-up queries' objects).  With one worker uvicorn serves in the
process that ran ``serve``, so preparing there would keep all of that for the worker's life; in a
child it is gone when the child exits.  The child is a plain interpreter (not ``multiprocessing``,
whose spawn start would leave a resource-tracker process beside a one-worker server): the config and
the demo setup go in on its stdin, pickled; the answer comes back on a pipe of its own (the child's
log lines go to stderr, as the parent's do).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys

from omnirouter.config import GatewayConfig

__all__ = ["prepare_in_child"]


def prepare_in_child(config: GatewayConfig, demo: object | None) -> bool:
    """``prepare_database(config, demo)`` run in a child interpreter; its answer (demo mode on), or a
    ``RuntimeError`` carrying the child's error message."""
    read_fd, write_fd = os.pipe()
    code = f"import sys; sys.path[:0] = {sys.path!r}; from omnirouter.cli_prepare import _child; _child({write_fd})"
    try:
        child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as answers:
        assert child.stdin is not None
        with child.stdin:
            child.stdin.write(pickle.dumps((config, demo)))
        answer = answers.read()
    code_ = child.wait()
    if not answer:
        raise RuntimeError(f"the preparing process exited with status {code_}")
    ok, value = pickle.loads(answer)
    if not ok:
        raise RuntimeError(value)
    return bool(value)


def _child(answer_fd: int) -> None:
    from omnirouter.gateway import prepare_database
    from omnirouter.observability import configure_logging

    config, demo = pickle.loads(sys.stdin.buffer.read())
    configure_logging(config)
    try:
        result: tuple[bool, object] = (True, asyncio.run(prepare_database(config, demo)))
    except Exception as exc:
        result = (False, str(exc))
    with os.fdopen(answer_fd, "wb") as out:
        out.write(pickle.dumps(result))
