"""Asynchronous tasks (issue 13): one row per task, its schedule, lease and money.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``tasks`` with its indexes (the poller's claim; reads by key; idempotency keys)."""
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(32), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("upstream_model", sa.String(256), nullable=False),
        sa.Column("upstream_id", sa.String(512), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(256), nullable=True),
        sa.Column("body_digest", sa.String(128), nullable=True),
        sa.Column("reserved_nano", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost_nano", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("next_poll_at", sa.Float(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("poll_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("poll_errors", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deadline_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("key_id", "idempotency_key", name=op.f("uq_tasks_key_id_idempotency_key")),
    )
    op.create_index(op.f("ix_tasks_status_next_poll_at"), "tasks", ["status", "next_poll_at"])
    op.create_index(op.f("ix_tasks_key_id_created_at"), "tasks", ["key_id", "created_at"])
    op.create_index(op.f("ix_tasks_user_id_created_at"), "tasks", ["user_id", "created_at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index(op.f("ix_tasks_user_id_created_at"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_key_id_created_at"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_status_next_poll_at"), table_name="tasks")
    op.drop_table("tasks")
