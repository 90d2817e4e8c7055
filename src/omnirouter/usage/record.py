"""``UsageRecord``: one finished request, as the hot path hands it to the recorder."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from omnirouter.ir.usage import Usage

__all__ = ["COLUMNS", "UsageRecord", "to_params", "usage_columns"]

_MAX_TEXT = 256
_MAX_INT = 2**31 - 1
_MAX_LOG = 16_000
_MAX_BIG = 2**63 - 1
# The order ``to_params`` emits; equal to the table's column order without ``id`` (tested).
COLUMNS: tuple[str, ...] = (
    "request_id",
    "created_at",
    "key_id",
    "key_name",
    "model",
    "upstream_model",
    "channel",
    "provider",
    "inbound_protocol",
    "stream",
    "status_code",
    "error_kind",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "usage_estimated",
    "latency_ms",
    "ttfb_ms",
    "attempts",
    "attempt_log",
    "user_id",
    "cost_nano",
    "images",
    "seconds",
    "characters",
    "calls",
    "image_input_tokens",
    "image_output_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "image_size",
    "image_quality",
    "cache_write_1h_tokens",
)


class UsageRecord(msgspec.Struct, kw_only=True):
    """The columns of ``usage_records`` except the primary key.

    ``created_at`` is a float Unix epoch (``time.time()``, the cheapest clock read
    on the hot path); the recorder turns it into an aware UTC datetime when it
    writes.  Token counts follow ``ir.Usage``: input includes cached reads and
    cache writes, output includes reasoning; the image and audio token counts are parts of them.
    Metered units (``images``, ``seconds``, ``characters``, ``calls``) and the image ``image_size`` /
    ``image_quality`` ("" unknown) are as in ``ir.Usage``.  ``key_id``/``key_name`` are absent
    for requests rejected before authentication; ``upstream_model``, ``channel``
    and ``provider`` for requests that never reached an upstream.
    """

    request_id: str
    model: str
    inbound_protocol: str
    status_code: int
    latency_ms: float
    created_at: float = msgspec.field(default_factory=time.time)
    key_id: int | None = None
    key_name: str | None = None
    upstream_model: str | None = None
    channel: str | None = None
    provider: str | None = None
    stream: bool = False
    error_kind: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    usage_estimated: bool = False
    ttfb_ms: float | None = None
    attempts: int = 1
    attempt_log: str | None = None
    user_id: int | None = None
    cost_nano: int = 0
    images: int = 0
    seconds: float = 0.0
    characters: int = 0
    calls: int = 0
    image_input_tokens: int = 0
    image_output_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    image_size: str = ""
    image_quality: str = ""
    cache_write_1h_tokens: int = 0

    def with_usage(self, usage: Usage) -> UsageRecord:
        """A copy carrying the token counts, metered units (and estimated flag) of an IR ``Usage``."""
        return msgspec.structs.replace(self, **usage_columns(usage))


def usage_columns(usage: Usage) -> dict[str, Any]:
    """The columns of a usage row that an IR ``Usage`` fills: tokens, metered units, the estimated flag."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "usage_estimated": usage.estimated,
        "images": usage.images,
        "seconds": usage.seconds,
        "characters": usage.characters,
        "calls": usage.calls,
        "image_input_tokens": usage.image_input_tokens,
        "image_output_tokens": usage.image_output_tokens,
        "audio_input_tokens": usage.audio_input_tokens,
        "audio_output_tokens": usage.audio_output_tokens,
        "image_size": usage.image_size,
        "image_quality": usage.image_quality,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
    }


def _text(value: str) -> str:
    """Cut to 256 chars and make storable anywhere: no NUL, no lone surrogates."""
    if len(value) <= _MAX_TEXT and value.isascii() and "\x00" not in value:
        return value
    value = value[:_MAX_TEXT]
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "\ufffd")


def _opt_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _count(value: int) -> int:
    """Clamp into the 32-bit column range (negative counts become 0)."""
    if 0 <= value <= _MAX_INT:
        return value
    return 0 if value < 0 else _MAX_INT


def _seconds(value: float) -> float:
    """A duration as stored: finite and non-negative, else 0."""
    return value if 0.0 <= value < math.inf else 0.0


def _timestamp(epoch: float) -> datetime:
    try:
        return datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.now(UTC)


def to_params(rec: UsageRecord) -> list[Any]:
    """One record's values in ``COLUMNS`` order, sanitised so one bad value cannot block a batch.

    Strings can come from clients (model names, request ids): they are cut and
    cleaned; integers are clamped into the 32-bit column range; non-finite floats
    (SQLite would store NaN as NULL) are dropped; ``created_at`` becomes an aware
    UTC datetime.
    """
    key_id = rec.key_id
    ttfb = rec.ttfb_ms
    return [
        _text(rec.request_id),
        _timestamp(rec.created_at),
        None if key_id is None else max(min(key_id, _MAX_INT), -_MAX_INT),
        _opt_text(rec.key_name),
        _text(rec.model),
        _opt_text(rec.upstream_model),
        _opt_text(rec.channel),
        _opt_text(rec.provider),
        _text(rec.inbound_protocol),
        bool(rec.stream),
        _count(rec.status_code),
        _opt_text(rec.error_kind),
        _count(rec.input_tokens),
        _count(rec.output_tokens),
        _count(rec.cached_tokens),
        _count(rec.cache_write_tokens),
        _count(rec.reasoning_tokens),
        bool(rec.usage_estimated),
        rec.latency_ms if math.isfinite(rec.latency_ms) else 0.0,
        ttfb if ttfb is not None and math.isfinite(ttfb) else None,
        _count(rec.attempts),
        rec.attempt_log[:_MAX_LOG] if rec.attempt_log is not None else None,
        rec.user_id,
        max(0, min(rec.cost_nano, _MAX_BIG)),
        _count(rec.images),
        _seconds(rec.seconds),
        _count(rec.characters),
        _count(rec.calls),
        _count(rec.image_input_tokens),
        _count(rec.image_output_tokens),
        _count(rec.audio_input_tokens),
        _count(rec.audio_output_tokens),
        _text(rec.image_size),
        _text(rec.image_quality),
        _count(rec.cache_write_1h_tokens),
    ]
