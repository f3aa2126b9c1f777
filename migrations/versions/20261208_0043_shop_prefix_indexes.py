"""orders, order lines, customers, timeline events: no index on shop_id alone; customer_products:
no key to shops

Revision ID: 20261208_shop_prefix_indexes
Revises: 20261207_messages_shop_customer
Create Date: 2026-12-08 01:00:00

Each of these tables has composite indexes that lead with `shop_id` (its unique external id or
source key, and the orders' `(shop_id, customer_id, processed_at)`, the lines'
`(shop_id, order_id)`, the customers' `(shop_id, id)`): they serve every read by shop. The
single-column indexes only cost writes: every order, line, customer and timeline event a sync or
a webhook writes updated one more index.

`customer_products` keeps its key to customers (whose cascade clears its rows when a shop goes)
and drops its key to shops: a bulk load writes these derived rows by the hundred thousand, and
each key costs a lookup and a row lock per row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261208_shop_prefix_indexes"
down_revision: str | None = "20261207_messages_shop_customer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_orders_shop_id", "orders"),
    ("ix_order_lines_shop_id", "order_lines"),
    ("ix_customers_shop_id", "customers"),
    ("ix_timeline_events_shop_id", "timeline_events"),
)


def upgrade() -> None:
    # Concurrently on PostgreSQL, outside the migration's transaction: webhooks keep writing.
    with op.get_context().autocommit_block():
        for name, table in _INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
    with op.batch_alter_table("customer_products") as batch:
        batch.drop_constraint("fk_customer_products_shop_id_shops", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("customer_products") as batch:
        batch.create_foreign_key(
            "fk_customer_products_shop_id_shops", "shops", ["shop_id"], ["id"], ondelete="CASCADE"
        )
    for name, table in _INDEXES:
        op.create_index(name, table, ["shop_id"])
