"""Long-context price tiers and Anthropic's 1-hour cache writes.

``prices.cache_write_1h`` (USD per 1M 1-hour cache-write tokens; NULL: ``cache_write``),
``prices.above_tokens`` + ``prices.above`` (JSON text of the long-context token prices; NULL: none) and
``usage_records.cache_write_1h_tokens`` (the 1-hour part of ``cache_write_tokens``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the columns."""
    with op.batch_alter_table("prices") as batch:
        batch.add_column(sa.Column("cache_write_1h", sa.Float(), nullable=True))
        batch.add_column(sa.Column("above_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("above", sa.Text(), nullable=True))
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("cache_write_1h_tokens", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("cache_write_1h_tokens")
    with op.batch_alter_table("prices") as batch:
        batch.drop_column("above")
        batch.drop_column("above_tokens")
        batch.drop_column("cache_write_1h")
