"""privacy: budget per brand and period, releases with their stored answers

Revision ID: 0003_privacy
Revises: 0002_links
Create Date: 2026-11-25 16:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_privacy"
down_revision: str | Sequence[str] | None = "0002_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_budgets",
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("brand_id", "period", name=op.f("pk_privacy_budgets")),
    )
    op.create_table(
        "privacy_releases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("query_hash", sa.String(length=64), nullable=False),
        sa.Column("query_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("epsilon", sa.BigInteger(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_releases")),
        sa.UniqueConstraint(
            "brand_id", "period", "query_hash", name=op.f("uq_privacy_releases_brand_id")
        ),
    )
    with op.batch_alter_table("privacy_releases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_privacy_releases_brand_id"), ["brand_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("privacy_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_releases_brand_id"))
    op.drop_table("privacy_releases")
    op.drop_table("privacy_budgets")
