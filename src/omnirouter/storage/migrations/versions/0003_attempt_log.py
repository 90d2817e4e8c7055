"""Every attempt of a request, as JSON, on its usage row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add usage_records.attempt_log."""
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("attempt_log", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop usage_records.attempt_log."""
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("attempt_log")
