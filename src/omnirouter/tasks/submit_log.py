"""The ``routing.executor.AttemptLog`` of a task's submit: it only tells the engine which channel is being
tried (the engine records it on the task row); a task's usage row is written when it ends."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["SubmitLog"]


class SubmitLog:
    """The ``routing.executor.AttemptLog`` of a submit: which channel is being tried."""

    def __init__(self, model: str, on_begin: Callable[[str, str], None]) -> None:
        self.model = model
        self.attempts = 0
        self.status = 200
        self.error_kind: str | None = None
        self._on_begin = on_begin

    def begin_attempt(self, channel: str, provider: str, model: str, upstream_model: str) -> None:
        self.attempts += 1
        self._on_begin(channel, upstream_model)

    def end_attempt(self, status: int, error: str | None = None) -> None:
        pass

    def note_skip(self, channel: str, reason: str) -> None:
        pass
