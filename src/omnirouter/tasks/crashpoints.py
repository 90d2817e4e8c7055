"""Named crash points for the whole-process crash tests (``tests/tasks/test_crash_processes.py``).

``OMNIROUTER_CRASH_AT`` (comma-separated point names) is read ONCE, at import; ``crash_point(name)`` ends
the process at once with ``os._exit(137)`` (no cleanup, no flush: as a SIGKILL would) when ``name`` is
one of them.  Unset (production), each call costs one lookup in an empty frozenset.

Points on the task lifecycle (docs/tasks.md):

* ``task_created``: the create transaction committed (row ``pending``, quota held), nothing sent yet;
* ``submit_accepted``: the vendor accepted the submit, its id not yet recorded;
* ``outputs_stored``: a poll saw success and the outputs are in the result store, the settle not committed;
* ``task_settled``: right after the transaction that made a task terminal (its ledger row) committed.
"""

from __future__ import annotations

import os

__all__ = ["CRASH_AT", "CRASH_POINTS", "crash_point"]

CRASH_POINTS = ("task_created", "submit_accepted", "outputs_stored", "task_settled")
CRASH_AT: frozenset[str] = frozenset(
    name.strip() for name in os.environ.get("OMNIROUTER_CRASH_AT", "").split(",") if name.strip()
)


def crash_point(name: str) -> None:
    """End the process here (exit status 137) when ``OMNIROUTER_CRASH_AT`` named ``name`` at import."""
    if name in CRASH_AT:
        os._exit(137)
