"""What holds each reservation: a request (released at start when its process is gone) or a task
(held for hours across restarts, released only by the task engine).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add reservations.holder (existing rows are requests')."""
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=16), nullable=False, server_default="request"))


def downgrade() -> None:
    """Drop reservations.holder."""
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("holder")
