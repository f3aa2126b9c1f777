"""product groups (durable or consumable), days of supply, recommendation settings

Revision ID: 20261207_durable_goods
Revises: 20261207_webhook_queue
Create Date: 2026-12-07 19:00:00

`product_groups` holds the merchant's durable/consumable mark of a collection or product type and
the re-buy counts behind its default; `product_supply` the days one unit of a product lasts
(replenishment from the first order); `recommendation_settings` the shop's durable hold period.
New tables only, so the same statements run on PostgreSQL and SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_durable_goods"
down_revision: str | None = "20261207_webhook_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _shop_id() -> sa.Column:
    return sa.Column(
        "shop_id",
        sa.Integer(),
        sa.ForeignKey("shops.id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "product_groups",
        _shop_id(),
        sa.Column("grouping", sa.String(20), primary_key=True, nullable=False),
        sa.Column("group_key", sa.String(255), primary_key=True, nullable=False),
        sa.Column("kind", sa.String(20), nullable=True),
        sa.Column("buyers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("repeat_buyers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stats_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "product_supply",
        _shop_id(),
        sa.Column("product_external_id", sa.String(64), primary_key=True, nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "recommendation_settings",
        _shop_id(),
        sa.Column("durable_hold_days", sa.Integer(), server_default="365", nullable=False),
        sa.Column("grouping", sa.String(20), server_default="collection", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("recommendation_settings")
    op.drop_table("product_supply")
    op.drop_table("product_groups")
