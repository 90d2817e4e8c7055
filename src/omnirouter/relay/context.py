"""Per-request state that ends up in the usage row (``api.lifecycle.usage_record`` builds the row from it)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from omnirouter.ir import Usage

# JSON string values of the fields that carry generated text in the four protocols' stream events
# (OpenAI ``content`` / ``reasoning_content`` / ``refusal`` / ``arguments``, Anthropic ``text`` /
# ``thinking`` / ``partial_json``, Responses ``delta``, Gemini ``text``): what was relayed, for the
# output estimate when the upstream never reports usage.
_FOLD_BYTES = 65536
_TEXT_VALUES = re.compile(
    rb'"(?:text|content|reasoning_content|refusal|arguments|thinking|partial_json|delta)":"([^"\\]*(?:\\.[^"\\]*)*)"'
)


def text_bytes(data: bytes) -> int:
    """Bytes of generated text in the stream events ``data`` (as JSON string values, escapes unresolved)."""
    return sum(len(text) for text in _TEXT_VALUES.findall(data))


_PROCESS_TAG = os.urandom(4).hex()  # tells this process's ids from other workers' and replicas'
_last_id = [0]  # (milliseconds << 16) | sequence of the last id made here


def new_request_id() -> str:
    """A unique request id (also sent to the client as ``x-request-id``), growing with time.

    ``req_`` + 48 bits of Unix milliseconds + a 16-bit sequence within the millisecond + a 32-bit
    random tag per process, in hex.  Ids that grow with time keep the database's request-id
    indexes appending at one end: about half the SQLite insert cost of random ids on a large
    usage table, and no random page touches on PostgreSQL either.
    """
    stamp = max(time.time_ns() // 1_000_000 << 16, _last_id[0] + 1)
    _last_id[0] = stamp
    return f"req_{stamp:016x}{_PROCESS_TAG}"


class RequestContext:
    """What the gateway learns about one request while serving it."""

    __slots__ = (
        "_attempt_started",
        "_current",
        "_relayed",
        "_relayed_pending",
        "_relayed_text",
        "attempt_log",
        "attempts",
        "channel",
        "cost_nano",
        "error_kind",
        "inbound_protocol",
        "key_id",
        "key_name",
        "model",
        "provider",
        "relayed_bytes",
        "request_id",
        "served",
        "started",
        "status",
        "stream",
        "ttfb",
        "upstream_model",
        "usage",
        "user_id",
    )

    def __init__(self, inbound_protocol: str) -> None:
        self.request_id = new_request_id()
        self.started = time.perf_counter()
        self.inbound_protocol = inbound_protocol
        self.key_id: int | None = None
        self.key_name: str | None = None
        self.user_id: int | None = None
        self.cost_nano = 0
        self.model = ""
        self.upstream_model: str | None = None
        self.channel: str | None = None
        self.provider: str | None = None
        self.stream = False
        self.status = 200
        self.error_kind: str | None = None
        self.attempts = 0
        self.attempt_log: list[dict[str, Any]] = []
        self._attempt_started = 0.0
        self._current: tuple[str, str] | None = None
        self.served: tuple[str, str] | None = None
        """``(public model, channel)`` of the attempt whose answer reached the client, once one did."""
        self.ttfb: float | None = None
        self.usage: Usage | None = None
        self.relayed_bytes = 0
        self._relayed: list[bytes] = []
        self._relayed_pending = 0
        self._relayed_text = 0

    def begin_attempt(self, channel: str, provider: str, model: str, upstream_model: str) -> None:
        """Note that an attempt starts on ``channel``."""
        self.attempts += 1
        self.channel, self.provider, self.upstream_model = channel, provider, upstream_model
        self._attempt_started = time.perf_counter()
        self._current = (model, channel)
        self.attempt_log.append({"channel": channel, "model": model, "upstream_model": upstream_model})

    def end_attempt(self, status: int, error: str | None = None) -> None:
        """Note how the current attempt ended."""
        entry = self.attempt_log[-1]
        entry["status"] = status
        entry["ms"] = round((time.perf_counter() - self._attempt_started) * 1000.0, 1)
        if error is not None:
            entry["error"] = error

    def note_skip(self, channel: str, reason: str) -> None:
        """Note a channel passed over without a request (breaker open, busy, no usable key)."""
        self.attempt_log.append({"channel": channel, "skipped": reason})

    def note_relayed(self, data: bytes) -> None:
        """Count bytes sent to the client and keep them for an output estimate.

        The generated text in them is only measured when asked for (usage missing, which is rare)
        or every 64 KB, so a normal stream pays a list append per chunk, not a regex scan.
        """
        self.relayed_bytes += len(data)
        self._relayed.append(data)
        self._relayed_pending += len(data)
        if self._relayed_pending > _FOLD_BYTES:
            self._fold_relayed()

    def _fold_relayed(self) -> None:
        self._relayed_text += sum(text_bytes(chunk) for chunk in self._relayed)
        self._relayed.clear()
        self._relayed_pending = 0

    def relayed_text(self) -> int:
        """Bytes of generated text (answer, reasoning, tool arguments) among what was relayed."""
        if self._relayed:
            self._fold_relayed()
        return self._relayed_text

    def mark_first_byte(self) -> None:
        """Note the time the first response byte went to the client."""
        if self.ttfb is None:
            self.ttfb = time.perf_counter() - self.started
            self.served = self._current
