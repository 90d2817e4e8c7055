"""SQLAlchemy 2 declarative tables.

The schema is owned by the Alembic migrations in ``migrations/versions``; these
models mirror it (a test compares the two).  Room to grow by later migrations:

* ``usage_records.key_id`` is a plain integer, not a foreign key, so usage history
  survives key deletion and the hot insert path needs no lookups; a ``user_id``
  and cost columns (``Numeric``) can be added as nullable columns.
* Constraints and indexes follow a naming convention, so later migrations can
  drop or alter them by name (also through SQLite batch mode).
* ``usage_records.id`` is a BIGINT on PostgreSQL (an INTEGER rowid on SQLite).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiKeyRow",
    "Base",
    "DeadLetterRow",
    "KeyStatus",
    "ResponseStateRow",
    "UTCDateTime",
    "UsageRow",
    "api_keys_table",
    "dead_letters_table",
    "response_states_table",
    "usage_records_table",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
_BIG_INT = BigInteger()


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A ``TIMESTAMP WITH TIME ZONE`` that always binds and returns aware UTC datetimes.

    SQLite has no time zones: values are stored as UTC wall-clock text (which sorts
    chronologically) and given ``tzinfo=UTC`` again on the way out.  Naive values
    are rejected rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class KeyStatus(enum.StrEnum):
    """Lifecycle of a client key (stored as text so new states need no DDL)."""

    ACTIVE = "active"
    REVOKED = "revoked"


class ApiKeyRow(Base):
    """A client key, stored only as its SHA-256 hash plus a display prefix."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=KeyStatus.ACTIVE.value, server_default="active")
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    # Accounts (migration 0004).  Money is in integer nano-USD so sums are exact.
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quota_nano: Mapped[int | None] = mapped_column(_BIG_INT)  # NULL: unlimited
    used_nano: Mapped[int] = mapped_column(_BIG_INT, default=0, server_default="0")
    reserved_nano: Mapped[int] = mapped_column(_BIG_INT, default=0, server_default="0")
    models: Mapped[str | None] = mapped_column(Text)  # JSON list of glob patterns; NULL: every model
    ip_allow: Mapped[str | None] = mapped_column(Text)  # JSON list of CIDRs; NULL: any address
    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(Integer)
    max_concurrent: Mapped[int | None] = mapped_column(Integer)
    group_name: Mapped[str | None] = mapped_column(String(64))
    key_metadata: Mapped[str | None] = mapped_column(Text)  # JSON object
    source: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    callback_url: Mapped[str | None] = mapped_column(Text)  # tasks' default webhook target (migration 0012)


class UsageRow(Base):
    """One finished (or failed) request: who, which model and route, tokens, timings."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_key_id_created_at", "key_id", "created_at"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True, default=utcnow)
    key_id: Mapped[int | None] = mapped_column(Integer)
    key_name: Mapped[str | None] = mapped_column(String)
    model: Mapped[str] = mapped_column(String)
    upstream_model: Mapped[str | None] = mapped_column(String)
    channel: Mapped[str | None] = mapped_column(String)
    provider: Mapped[str | None] = mapped_column(String)
    inbound_protocol: Mapped[str] = mapped_column(String)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float] = mapped_column(Float)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    attempt_log: Mapped[str | None] = mapped_column(Text)
    # The ledger (migration 0004): who pays, and how much, in integer nano-USD.
    user_id: Mapped[int | None] = mapped_column(Integer)
    cost_nano: Mapped[int] = mapped_column(_BIG_INT, default=0, server_default="0")
    # Media (migration 0010): metered units, tokens by modality (parts of input/output_tokens) and the
    # size and quality a per-image price tier was chosen by.
    images: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    characters: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    image_input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    image_output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    audio_input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    audio_output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    image_size: Mapped[str] = mapped_column(String, default="", server_default="")
    image_quality: Mapped[str] = mapped_column(String, default="", server_default="")
    # Migration 0014: the part of cache_write_tokens written with Anthropic's 1-hour TTL.
    cache_write_1h_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DeadLetterRow(Base):
    """A usage record the database refused even on its own (migration 0006), set aside so the rest land.

    ``record`` is the whole record as ASCII JSON; its ``cost_nano`` was NOT charged to the key and its
    reservation (if any) was released, so the ledger still sums to the keys' balances.  See
    docs/operations.md for reading and replaying them.
    """

    __tablename__ = "usage_dead_letters"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(256), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    key_id: Mapped[int | None] = mapped_column(Integer)
    cost_nano: Mapped[int] = mapped_column(_BIG_INT, default=0)
    error: Mapped[str] = mapped_column(Text)
    record: Mapped[str] = mapped_column(Text)


class ResponseStateRow(Base):
    """The conversation behind a Responses API answer, so ``previous_response_id`` works on any upstream.

    ``conversation`` is the JSON list of Responses input items (earlier input plus this answer's output).
    """

    __tablename__ = "response_states"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True, default=utcnow)
    conversation: Mapped[str] = mapped_column(Text)


api_keys_table = cast(Table, ApiKeyRow.__table__)
usage_records_table = cast(Table, UsageRow.__table__)
response_states_table = cast(Table, ResponseStateRow.__table__)
dead_letters_table = cast(Table, DeadLetterRow.__table__)
