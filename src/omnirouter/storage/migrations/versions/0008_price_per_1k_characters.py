"""A price per 1,000 characters (text-to-speech) beside the per-image, per-second and per-call ones.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add prices.per_1k_characters."""
    with op.batch_alter_table("prices") as batch:
        batch.add_column(sa.Column("per_1k_characters", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop prices.per_1k_characters."""
    with op.batch_alter_table("prices") as batch:
        batch.drop_column("per_1k_characters")
