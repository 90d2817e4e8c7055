"""Account tables: users, groups, prices, API-managed channels, open reservations, the change counter,
credits (every change of a key's quota) and redemption codes."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Float, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnirouter.storage.models import Base, UTCDateTime, utcnow


class UserRow(Base):
    """Someone who owns client keys."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    user_metadata: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Migration 0015: an Argon2id hash (argon2-cffi's encoded form) for signing in; NULL: no password.
    password_hash: Mapped[str | None] = mapped_column(Text)


class GroupRow(Base):
    """A price group: every cost of its keys is multiplied by ``multiplier`` (e.g. vip: 0.8)."""

    __tablename__ = "groups"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    multiplier: Mapped[float] = mapped_column(Float, default=1.0)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="api", server_default="api")


class PriceRow(Base):
    """USD prices of a public model, per 1M tokens (and per image / second / call for media).

    ``channel`` is empty for the model's price and names a channel for a per-channel override.
    """

    __tablename__ = "prices"

    model: Mapped[str] = mapped_column(String(256), primary_key=True)
    channel: Mapped[str] = mapped_column(String(128), primary_key=True, default="", server_default="")
    input: Mapped[float] = mapped_column(Float, default=0.0)
    output: Mapped[float] = mapped_column(Float, default=0.0)
    cached_input: Mapped[float | None] = mapped_column(Float)
    cache_write: Mapped[float | None] = mapped_column(Float)
    reasoning: Mapped[float | None] = mapped_column(Float)
    per_image: Mapped[float | None] = mapped_column(Float)
    per_second: Mapped[float | None] = mapped_column(Float)
    per_1k_characters: Mapped[float | None] = mapped_column(Float)  # migration 0008
    per_call: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    # Migration 0009: token prices by modality (NULL: the plain input / output price) and per-image tiers
    # (JSON object of tier key -> USD per image; NULL: none).
    image_input: Mapped[float | None] = mapped_column(Float)
    image_output: Mapped[float | None] = mapped_column(Float)
    audio_input: Mapped[float | None] = mapped_column(Float)
    audio_output: Mapped[float | None] = mapped_column(Float)
    per_image_tiers: Mapped[str | None] = mapped_column(Text)
    # Migration 0014: Anthropic's 1-hour cache writes (NULL: cache_write) and long-context prices
    # (``above``: JSON object of token prices charged when the prompt is longer than ``above_tokens``).
    cache_write_1h: Mapped[float | None] = mapped_column(Float)
    above_tokens: Mapped[int | None] = mapped_column(Integer)
    above: Mapped[str | None] = mapped_column(Text)


class ChannelRow(Base):
    """A channel created through the admin API (config-file channels live in the config).

    ``settings`` is the channel's config as JSON (the same keys as in the YAML file).
    """

    __tablename__ = "channels"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    settings: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReservationRow(Base):
    """Money set aside for a request (or task) in flight; settled (deleted) with its ledger row, or recovered."""

    __tablename__ = "reservations"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, index=True)
    amount_nano: Mapped[int] = mapped_column(BigInteger)
    input_nano: Mapped[int] = mapped_column(BigInteger, default=0)
    model: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The gateway process that holds it (migration 0005); on PostgreSQL that process holds an advisory
    # lock on it while alive, so recovery at start leaves the reservations of live replicas alone.
    owner: Mapped[int | None] = mapped_column(Integer)
    # What holds it (migration 0007): "request" (resolved at start once its owner process is gone) or
    # "task" (an asynchronous job holds its money across restarts; only the task engine releases it).
    holder: Mapped[str] = mapped_column(String(16), default="request", server_default="request")


class SettingRow(Base):
    """Small shared values; ``config_version`` is bumped on every admin change so replicas reload."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class CreditRow(Base):
    """One change of a key's quota: a top-up, a redeemed code, or a quota set by the admin API / CLI.

    ``amount_nano`` is signed (a lowered quota is negative), so for a key managed through the API the
    sum of its rows is its ``quota_nano`` (0 while it is unlimited); ``quota_after_nano`` is the quota
    the change left.  ``actor`` says who made it: ``admin`` (the admin API), ``cli``, ``key`` (its holder
    redeeming a code) or ``migration`` (the opening balance of a key that existed before 0015).
    """

    __tablename__ = "credits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, index=True)
    amount_nano: Mapped[int] = mapped_column(BigInteger)
    quota_after_nano: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))  # top_up, redemption, quota, opening
    actor: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    redemption_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RedemptionCodeRow(Base):
    """A code worth ``amount_nano`` that one key holder may redeem once; stored only as its SHA-256 hash.

    ``status``: ``unused``, ``used`` (by ``used_by_key_id`` at ``used_at``) or ``disabled``; an unused code
    past ``expires_at`` is expired (derived, not stored).
    """

    __tablename__ = "redemption_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(128), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_prefix: Mapped[str] = mapped_column(String(16))
    amount_nano: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="unused", server_default="unused")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_key_id: Mapped[int | None] = mapped_column(Integer)


users_table = cast(Table, UserRow.__table__)
groups_table = cast(Table, GroupRow.__table__)
prices_table = cast(Table, PriceRow.__table__)
channels_table = cast(Table, ChannelRow.__table__)
reservations_table = cast(Table, ReservationRow.__table__)
settings_table = cast(Table, SettingRow.__table__)
credits_table = cast(Table, CreditRow.__table__)
redemption_codes_table = cast(Table, RedemptionCodeRow.__table__)
