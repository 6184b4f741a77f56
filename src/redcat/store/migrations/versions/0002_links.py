"""links: link keys, links, clicks, postback orders, nonces

Revision ID: 0002_links
Revises: 0001
Create Date: 2026-11-25 16:32:29.408339
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_links"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_keys",
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("retailer_id", sa.String(length=64), nullable=True),
        sa.Column("secret_hex", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_link_keys")),
    )
    with op.batch_alter_table("link_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_link_keys_purpose_retailer", ["purpose", "retailer_id"], unique=False
        )

    op.create_table(
        "links",
        sa.Column("link_id", sa.String(length=24), nullable=False),
        sa.Column("token", sa.String(length=96), nullable=False),
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("brand_id", sa.String(length=128), nullable=False),
        sa.Column("note_id", sa.String(length=128), nullable=False),
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_links")),
        sa.UniqueConstraint("token", name=op.f("uq_links_token")),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_links_note_id"), ["note_id"], unique=False)

    op.create_table(
        "postback_nonces",
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("retailer_id", "nonce", name=op.f("pk_postback_nonces")),
    )
    with op.batch_alter_table("postback_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postback_nonces_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "clicks",
        sa.Column("click_id", sa.String(length=32), nullable=False),
        sa.Column("link_id", sa.String(length=24), nullable=False),
        sa.Column("note_id", sa.String(length=128), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("ua_class", sa.String(length=16), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("bot_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.link_id"], name=op.f("fk_clicks_link_id_links")
        ),
        sa.PrimaryKeyConstraint("click_id", name=op.f("pk_clicks")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.create_index("ix_clicks_link_ts", ["link_id", "ts"], unique=False)

    op.create_table(
        "postback_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("click_id", sa.String(length=32), nullable=False),
        sa.Column("link_id", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("order_ts", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["click_id"], ["clicks.click_id"], name=op.f("fk_postback_orders_click_id_clicks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postback_orders")),
        sa.UniqueConstraint("retailer_id", "order_id", name="uq_postback_orders_retailer_order"),
    )
    with op.batch_alter_table("postback_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postback_orders_click_id"), ["click_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_postback_orders_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("postback_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postback_orders_link_id"))
        batch_op.drop_index(batch_op.f("ix_postback_orders_click_id"))

    op.drop_table("postback_orders")
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_clicks_link_ts")

    op.drop_table("clicks")
    with op.batch_alter_table("postback_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postback_nonces_seen_at"))

    op.drop_table("postback_nonces")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_links_note_id"))
        batch_op.drop_index(batch_op.f("ix_links_brand_id"))

    op.drop_table("links")
    with op.batch_alter_table("link_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_link_keys_purpose_retailer")

    op.drop_table("link_keys")
