"""shop_purchase_stats, product_purchase_stats: per-shop history stats read by order processing

Revision ID: 20261207_purchase_stats
Revises: 20261207_message_claimed_by
Create Date: 2026-12-07 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_purchase_stats"
down_revision: str | None = "20261207_message_claimed_by"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shop_purchase_stats",
        sa.Column(
            "shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("best_sellers", sa.JSON(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "product_purchase_stats",
        sa.Column(
            "shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("product_external_id", sa.String(length=64), primary_key=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("rebuy_interval_seconds", sa.Integer(), nullable=True),
        sa.Column("together", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("product_purchase_stats")
    op.drop_table("shop_purchase_stats")
