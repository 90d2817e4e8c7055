"""Errors an OpenAI-compatible vendor answers inside an HTTP 200 body: MiniMax's ``base_resp``.

MiniMax's chat endpoints report a failure as ``base_resp: {status_code, status_msg}`` with a non-zero
code, sometimes with HTTP 200 and ``choices: null`` (CherryHQ/cherry-studio issue 11287; its error code
table: 1002 rate limit, 1004 authentication, 1008 balance, 1026/1027 sensitive content, 1039 token
limit, 1041 connection limit, 1042 invalid characters, 2013 invalid parameters).  Read as the error it
is, with the status it stands for, so a parameter the vendor rejects is a 400 (not retried) and never
an empty answer.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["base_resp_error"]

_KINDS: dict[int, ErrorKind] = {
    1001: ErrorKind.UPSTREAM_TIMEOUT,
    1002: ErrorKind.RATE_LIMIT,
    1041: ErrorKind.RATE_LIMIT,
    1004: ErrorKind.AUTHENTICATION,
    1008: ErrorKind.INSUFFICIENT_QUOTA,
    1026: ErrorKind.INVALID_REQUEST,
    1027: ErrorKind.INVALID_REQUEST,
    1039: ErrorKind.INVALID_REQUEST,
    1042: ErrorKind.INVALID_REQUEST,
    2013: ErrorKind.INVALID_REQUEST,
}


def base_resp_error(body: dict[str, Any]) -> GatewayError | None:
    """The error a ``base_resp`` with a non-zero ``status_code`` reports; ``None`` when there is none."""
    base = body.get("base_resp")
    if not isinstance(base, dict):
        return None
    code = base.get("status_code")
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        return None
    message = base.get("status_msg")
    text = message if isinstance(message, str) and message else "the vendor reported a failure"
    return GatewayError(_KINDS.get(code, ErrorKind.UPSTREAM), f"{text} ({code})", code=str(code))
