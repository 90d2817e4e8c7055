"""Tasks a client deleted (``DELETE /v1/videos/{id}``): ``deleted_at`` hides them from the client's reads
while the row stays for the ledger and the admin.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``tasks.deleted_at`` (unix seconds; NULL: not deleted)."""
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("deleted_at", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop ``tasks.deleted_at``."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("deleted_at")
