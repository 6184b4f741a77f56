"""links: postback store visits

Revision ID: 0004_link_visits
Revises: 0003_privacy
Create Date: 2026-11-25 17:11:35.594950
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_link_visits"
down_revision: str | Sequence[str] | None = "0003_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postback_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column("click_id", sa.String(length=32), nullable=False),
        sa.Column("link_id", sa.String(length=24), nullable=False),
        sa.Column("visit_ts", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["click_id"], ["clicks.click_id"], name=op.f("fk_postback_visits_click_id_clicks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postback_visits")),
        sa.UniqueConstraint("retailer_id", "click_id", name="uq_postback_visits_retailer_click"),
    )
    with op.batch_alter_table("postback_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postback_visits_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("postback_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postback_visits_link_id"))

    op.drop_table("postback_visits")
