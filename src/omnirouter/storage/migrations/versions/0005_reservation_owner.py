"""Which gateway process holds each open reservation, so a restart only recovers those of dead processes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add reservations.owner."""
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(sa.Column("owner", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop reservations.owner."""
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("owner")
