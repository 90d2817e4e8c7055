"""Token prices by modality (image and audio, in and out) and per-image price tiers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PRICES = ("image_input", "image_output", "audio_input", "audio_output")


def upgrade() -> None:
    """Add prices.image_input, image_output, audio_input, audio_output and per_image_tiers (JSON text)."""
    with op.batch_alter_table("prices") as batch:
        for name in _PRICES:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(sa.Column("per_image_tiers", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("prices") as batch:
        batch.drop_column("per_image_tiers")
        for name in reversed(_PRICES):
            batch.drop_column(name)
