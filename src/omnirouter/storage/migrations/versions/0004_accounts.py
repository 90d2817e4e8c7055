"""Accounts and money: users, groups, prices, API channels, reservations, key limits, ledger costs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the account tables and extend keys and the ledger."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("user_metadata", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "groups",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("multiplier", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), server_default="api", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_groups")),
    )
    op.create_table(
        "prices",
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("channel", sa.String(length=128), server_default="", nullable=False),
        sa.Column("input", sa.Float(), nullable=False),
        sa.Column("output", sa.Float(), nullable=False),
        sa.Column("cached_input", sa.Float(), nullable=True),
        sa.Column("cache_write", sa.Float(), nullable=True),
        sa.Column("reasoning", sa.Float(), nullable=True),
        sa.Column("per_image", sa.Float(), nullable=True),
        sa.Column("per_second", sa.Float(), nullable=True),
        sa.Column("per_call", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=16), server_default="api", nullable=False),
        sa.PrimaryKeyConstraint("model", "channel", name=op.f("pk_prices")),
    )
    op.create_table(
        "channels",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_channels")),
    )
    op.create_table(
        "reservations",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("amount_nano", sa.BigInteger(), nullable=False),
        sa.Column("input_nano", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_reservations")),
    )
    op.create_index(op.f("ix_reservations_key_id"), "reservations", ["key_id"])
    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("expires_at", _TS, nullable=True))
        batch.add_column(sa.Column("quota_nano", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("used_nano", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("reserved_nano", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("models", sa.Text(), nullable=True))
        batch.add_column(sa.Column("ip_allow", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rpm", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tpm", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_concurrent", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("group_name", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("key_metadata", sa.Text(), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=16), server_default="api", nullable=False))
        batch.create_index(batch.f("ix_api_keys_user_id"), ["user_id"])
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cost_nano", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("cost_nano")
        batch.drop_column("user_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index(batch.f("ix_api_keys_user_id"))
        for column in (
            "source",
            "key_metadata",
            "group_name",
            "max_concurrent",
            "tpm",
            "rpm",
            "ip_allow",
            "models",
            "reserved_nano",
            "used_nano",
            "quota_nano",
            "expires_at",
            "user_id",
        ):
            batch.drop_column(column)
    for table in ("settings", "reservations", "channels", "prices", "groups", "users"):
        op.drop_table(table)
