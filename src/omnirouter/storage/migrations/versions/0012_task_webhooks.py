"""Client webhooks (issue 13): the outbox of task events to deliver, and a key's default callback URL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``task_webhooks`` (one row per event to deliver) and add ``api_keys.callback_url``."""
    op.create_table(
        "task_webhooks",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("dead_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_task_webhooks")),
        sa.UniqueConstraint("id", name=op.f("uq_task_webhooks_id")),
    )
    op.create_index(op.f("ix_task_webhooks_next_attempt_at"), "task_webhooks", ["next_attempt_at"])
    op.create_index(op.f("ix_task_webhooks_task_id_seq"), "task_webhooks", ["task_id", "seq"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("callback_url", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("callback_url")
    op.drop_index(op.f("ix_task_webhooks_task_id_seq"), table_name="task_webhooks")
    op.drop_index(op.f("ix_task_webhooks_next_attempt_at"), table_name="task_webhooks")
    op.drop_table("task_webhooks")
