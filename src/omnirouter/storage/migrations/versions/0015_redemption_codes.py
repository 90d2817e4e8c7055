"""Credits (every change of a key's quota), redemption codes and users' password hashes.

``credits``: one row per top-up, redeemed code or quota set (signed nano-USD), so a key's quota is the
sum of its rows; keys that already had a quota get one ``opening`` row of that amount.
``redemption_codes``: codes worth credit, stored as SHA-256 hashes.  ``users.password_hash``: Argon2id.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables, add the column, record the opening quotas."""
    op.create_table(
        "credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("amount_nano", sa.BigInteger(), nullable=False),
        sa.Column("quota_after_nano", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("redemption_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credits")),
    )
    op.create_index(op.f("ix_credits_key_id"), "credits", ["key_id"])
    op.create_table(
        "redemption_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=128), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_prefix", sa.String(length=16), nullable=False),
        sa.Column("amount_nano", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unused", nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
        sa.Column("used_by_key_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_redemption_codes_code_hash")),
    )
    op.create_index(op.f("ix_redemption_codes_batch"), "redemption_codes", ["batch"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.Text(), nullable=True))

    keys = sa.table("api_keys", sa.column("id", sa.Integer()), sa.column("quota_nano", sa.BigInteger()))
    credits = sa.table(
        "credits",
        sa.column("key_id", sa.Integer()),
        sa.column("amount_nano", sa.BigInteger()),
        sa.column("quota_after_nano", sa.BigInteger()),
        sa.column("source", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("note", sa.Text()),
        sa.column("created_at", _TS),
    )
    bind = op.get_bind()
    quotas = bind.execute(sa.select(keys.c.id, keys.c.quota_nano).where(keys.c.quota_nano.is_not(None))).all()
    if quotas:
        now = datetime.now(UTC)
        rows = [
            {
                "key_id": key_id,
                "amount_nano": quota,
                "quota_after_nano": quota,
                "source": "opening",
                "actor": "migration",
                "note": "the quota before credits were recorded",
                "created_at": now,
            }
            for key_id, quota in quotas
        ]
        bind.execute(sa.insert(credits), rows)


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
    op.drop_index(op.f("ix_redemption_codes_batch"), table_name="redemption_codes")
    op.drop_table("redemption_codes")
    op.drop_index(op.f("ix_credits_key_id"), table_name="credits")
    op.drop_table("credits")
