"""``omnirouter serve``'s migrations in a forked child process, when the database needs any.

Migrating imports Alembic, Mako, Pygments and the migration scripts (~11 MB, never freed once
imported).  With one worker uvicorn serves in the process that ran ``serve``, so migrating there would
keep all of that for the worker's life; in a child it is gone when the child exits.  A database already
at the newest revision needs no child (``storage.migrate.is_current``: one read).  The child is a fork
(this process has no threads at that point): it starts at once with everything already imported and
configured (logging included), imports only Alembic, and reports an error on a pipe.  ``multiprocessing``
is not used: its spawn start leaves a resource-tracker process beside a one-worker server.
"""

from __future__ import annotations

import asyncio
import os
import sys

__all__ = ["migrate_in_child"]


def migrate_in_child(database_url: str) -> None:
    """Bring the database to the newest revision in a forked child; a ``RuntimeError`` carrying the child's
    error message when it could not."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: migrate, report, and leave without the parent's exit handlers
        os.close(read_fd)
        status = 0
        try:
            from omnirouter.storage import migrate

            asyncio.run(migrate(database_url))
        except BaseException as exc:
            os.write(write_fd, (str(exc) or type(exc).__name__).encode(errors="replace"))
            status = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        error = pipe.read()
    _, status = os.waitpid(pid, 0)
    if error:
        raise RuntimeError(error.decode(errors="replace"))
    if status != 0:
        raise RuntimeError(f"the migrating process ended with status {os.waitstatus_to_exitcode(status)}")
