"""What a vendor's answer leaves in a task row beside its status: the vendor's own status and the details a
dialect shows later (``TaskState.details``: Midjourney's buttons, final prompt, description), and the
deadline of a Midjourney task that waits in ``MODAL`` for the client's ``modal`` submit
(``TasksConfig.modal_wait``): pure, used by the engine's submit and the poller's writes."""

from __future__ import annotations

import msgspec

from omnirouter.ir.task import TaskState
from omnirouter.tasks.records import TaskRecord, TaskSummary

__all__ = ["MODAL", "deadline_failure", "modal_deadline", "with_state"]

MODAL = "MODAL"
"""The vendor status of a Midjourney task waiting for its dialog (a zoom, an inpaint, a remix)."""


def with_state(summary: TaskSummary, state: TaskState | None) -> TaskSummary:
    """``summary`` with the vendor status and details ``state`` tells (details kept when it tells none)."""
    if state is None:
        return summary
    details = state.details or summary.details
    return msgspec.structs.replace(summary, vendor_status=state.vendor_status or summary.vendor_status,
                                   details=details)  # fmt: skip


def modal_deadline(record: TaskRecord, state: TaskState | None, now: float, wait: float) -> float | None:
    """The task's new deadline when ``state`` says it has just begun waiting in ``MODAL``: ``wait`` seconds
    from ``now`` (never later than the deadline it had); None when nothing changes."""
    if state is None or state.vendor_status != MODAL or record.summary.vendor_status == MODAL:
        return None
    return min(record.deadline_at, now + wait)


def deadline_failure(record: TaskRecord) -> tuple[str, str]:
    """The failure (message, code) of a task whose deadline passed: a ``MODAL`` task's says it waited for
    its ``modal`` submit."""
    if record.summary.vendor_status == MODAL:
        return ("The task waited in MODAL for its modal submit longer than this gateway allows.",
                "modal_deadline_exceeded")  # fmt: skip
    return "The task did not finish before its deadline.", "deadline_exceeded"
