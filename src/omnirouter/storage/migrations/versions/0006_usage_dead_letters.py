"""Usage records the database refused on their own, set aside so that every other record lands.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create usage_dead_letters."""
    op.create_table(
        "usage_dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("cost_nano", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_dead_letters")),
    )
    op.create_index(op.f("ix_usage_dead_letters_request_id"), "usage_dead_letters", ["request_id"], unique=False)


def downgrade() -> None:
    """Drop usage_dead_letters."""
    op.drop_index(op.f("ix_usage_dead_letters_request_id"), table_name="usage_dead_letters")
    op.drop_table("usage_dead_letters")
