"""The ledger's metered units (images, seconds, characters, calls), tokens by modality and image size/quality.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = (
    "images",
    "characters",
    "calls",
    "image_input_tokens",
    "image_output_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)


def upgrade() -> None:
    """Add the columns (old rows: zero units, size and quality "")."""
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("images", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("seconds", sa.Float(), server_default="0", nullable=False))
        for name in _COUNTS[1:]:
            batch.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("image_size", sa.String(), server_default="", nullable=False))
        batch.add_column(sa.Column("image_quality", sa.String(), server_default="", nullable=False))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("usage_records") as batch:
        for name in ("image_quality", "image_size", *reversed(_COUNTS[1:]), "seconds", "images"):
            batch.drop_column(name)
