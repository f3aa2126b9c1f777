"""customer_products counts each customer's orders of a product and the latest one's time

Revision ID: 20261207_customer_product_counts
Revises: 20261207_sender_identity
Create Date: 2026-12-07 16:00:00

An order then adds or removes what it contributes (one row per product it holds) without
reading the customer's history; the post-purchase emails read owned products and re-orders here.
Existing rows are filled from the stored orders.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_customer_product_counts"
down_revision: str | None = "20261207_sender_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_products") as batch:
        batch.add_column(sa.Column("orders", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("last_ordered_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE customer_products SET orders = x.orders, last_ordered_at = x.last_at FROM ("
        " SELECT o.shop_id, o.customer_id, l.product_external_id,"
        " count(DISTINCT o.id) AS orders,"
        " max(coalesce(o.processed_at, o.platform_created_at, o.created_at)) AS last_at"
        " FROM orders o JOIN order_lines l ON l.order_id = o.id AND l.shop_id = o.shop_id"
        " WHERE o.customer_id IS NOT NULL AND o.cancelled_at IS NULL"
        " AND l.product_external_id IS NOT NULL"
        " GROUP BY o.shop_id, o.customer_id, l.product_external_id) x"
        " WHERE customer_products.shop_id = x.shop_id"
        " AND customer_products.customer_id = x.customer_id"
        " AND customer_products.product_external_id = x.product_external_id"
    )


def downgrade() -> None:
    with op.batch_alter_table("customer_products") as batch:
        batch.drop_column("last_ordered_at")
        batch.drop_column("orders")
