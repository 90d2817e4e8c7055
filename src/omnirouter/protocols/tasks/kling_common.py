"""What Kling's task APIs (videos: ``kling.py``; images: ``kling_images.py``) share upstream: the JWT auth
of a channel's ``ACCESS|SECRET`` pair (``KlingAuth``, tokens reused per pair: ``signing.KlingTokens``), the
``{code, message, data}`` envelope with its error codes, the task statuses and the numeric strings Kling
writes (``final_unit_deduction``: ``"1.5"``).
"""

from __future__ import annotations

from typing import Any, Final

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskStatus
from omnirouter.protocols.media.base import Answer, UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.signing import KlingTokens, split_pair
from omnirouter.protocols.tasks.video_common import parse_json, text, vendor_error

__all__ = ["KLING_UPSTREAM_STATUS", "KLING_VENDOR", "KlingAuth", "kling_data", "kling_found", "kling_number"]

KLING_VENDOR: Final = "Kling"
KLING_UPSTREAM_STATUS: Final = {
    "submitted": TaskStatus.QUEUED,
    "processing": TaskStatus.RUNNING,
    "succeed": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
}
"""Kling's raw ``task_status`` values (videos and images alike); anything else is running."""


def _kind(code: int) -> ErrorKind:
    if 1000 <= code < 1100:
        return ErrorKind.AUTHENTICATION
    if 1100 <= code < 1200:
        return ErrorKind.INSUFFICIENT_QUOTA
    if code in (1302, 1303, 1304):
        return ErrorKind.RATE_LIMIT
    if 1200 <= code < 1400:
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.UPSTREAM


def kling_data(raw: bytes) -> dict[str, Any]:
    """The ``data`` of a 2xx answer; a ``code`` ≠ 0 raises the error it names (1000s auth, 1100s account,
    1200s parameters, 1301 content, 1302–1304 rate limits, 5000s server)."""
    parsed = parse_json(raw, KLING_VENDOR)
    code = parsed.get("code", 0)
    if code not in (0, None):
        number = code if isinstance(code, int) else -1
        message = text(parsed.get("message")) or "failed"
        raise GatewayError(_kind(number), f"Kling error {code}: {message}", code=str(code))
    data = parsed.get("data")
    if not isinstance(data, dict):
        raise GatewayError(ErrorKind.UPSTREAM, "Kling returned no task data")
    return data


def kling_found(answer: Answer, target: TaskTarget) -> str | None:
    """Kling's id of the task a look-up by ``external_task_id`` found; None when it has none (a 404, or a
    task of another external id).  Another non-2xx raises (``vendor_error``)."""
    if answer.status == 404:
        return None
    if answer.status >= 300:
        raise vendor_error(answer.status, answer.body, KLING_VENDOR)
    data = kling_data(answer.body)
    info = data.get("task_info")
    external = text(info.get("external_task_id")) if isinstance(info, dict) else None
    task_id = text(data.get("task_id"))
    if task_id is None or (external is not None and external != target.external_id):
        return None
    return task_id


def kling_number(value: Any) -> float | None:
    """A number Kling may write as a string (``"5.042"``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class KlingAuth:
    """The bearer JWT of a channel's ``ACCESS|SECRET`` pair, one token per pair for a few minutes rather
    than one per call (``signing.KlingTokens``); every Kling call carries it and no channel auth."""

    def __init__(self) -> None:
        self.tokens = KlingTokens()

    def headers(self, target: TaskTarget) -> dict[str, str]:
        """``Authorization: Bearer <jwt>`` for ``target``'s key at ``target.now``."""
        access, secret = split_pair(target.upstream_key, KLING_VENDOR)
        return {"Authorization": f"Bearer {self.tokens.token(access, secret, target.now)}"}

    def get(self, path: str, target: TaskTarget) -> UpstreamCall:
        """A signed ``GET`` of ``path``."""
        return UpstreamCall(path, method="GET", headers=self.headers(target), auth=False)

    def post(self, path: str, body: bytes, target: TaskTarget) -> UpstreamCall:
        """A signed JSON ``POST`` of ``body`` to ``path``."""
        return UpstreamCall(path, body, headers=self.headers(target), auth=False)
