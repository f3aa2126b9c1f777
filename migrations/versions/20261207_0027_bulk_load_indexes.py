"""indexes for reads after a bulk load: order lines by order, a customer's orders by placed time

Revision ID: 20261207_bulk_load_indexes
Revises: 20261207_purchase_stats
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_bulk_load_indexes"
down_revision: str | None = "20261207_purchase_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_order_lines_shop_id_order_id", "order_lines", ["shop_id", "order_id"])
    op.create_index(
        "ix_orders_shop_customer_placed", "orders", ["shop_id", "customer_id", "processed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_orders_shop_customer_placed", table_name="orders")
    op.drop_index("ix_order_lines_shop_id_order_id", table_name="order_lines")
