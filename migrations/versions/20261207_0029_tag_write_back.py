"""tag_write_backs and customer_platform_tags: segments written back to the platform as tags

Revision ID: 20261207_tag_write_back
Revises: 20261207_customer_products
Create Date: 2026-12-07 16:00:00

One settings-and-progress row per shop, and per customer the Kizuna tags it carries on the
platform as last written (so only Kizuna's own tags are ever removed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_tag_write_back"
down_revision: str | None = "20261207_customer_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tag_write_backs",
        sa.Column(
            "shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("prefix", sa.String(length=40), nullable=False),
        sa.Column("include_rfm", sa.Boolean(), nullable=False),
        sa.Column("include_value_band", sa.Boolean(), nullable=False),
        sa.Column("segment_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("cursor_customer_id", sa.Integer(), nullable=False),
        sa.Column("total_customers", sa.Integer(), nullable=False),
        sa.Column("customers_checked", sa.Integer(), nullable=False),
        sa.Column("customers_changed", sa.Integer(), nullable=False),
        sa.Column("customers_failed", sa.Integer(), nullable=False),
        sa.Column("value_thresholds", sa.JSON(), nullable=False),
        sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "customer_platform_tags",
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_customer_platform_tags_shop_id", "customer_platform_tags", ["shop_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_customer_platform_tags_shop_id", table_name="customer_platform_tags")
    op.drop_table("customer_platform_tags")
    op.drop_table("tag_write_backs")
