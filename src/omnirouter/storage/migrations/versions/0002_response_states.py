"""Conversation state for the Responses API's previous_response_id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create response_states."""
    op.create_table(
        "response_states",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_states")),
    )
    op.create_index(op.f("ix_response_states_created_at"), "response_states", ["created_at"], unique=False)


def downgrade() -> None:
    """Drop response_states."""
    op.drop_index(op.f("ix_response_states_created_at"), table_name="response_states")
    op.drop_table("response_states")
