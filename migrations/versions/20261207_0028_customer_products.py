"""customer_products (what each customer bought, for the segment rules) and the RFM group index

Revision ID: 20261207_customer_products
Revises: 20261207_bulk_load_indexes
Create Date: 2026-12-07 14:00:00

`customer_products` holds one row per customer and product bought in an order not cancelled;
it is filled here from the stored orders and kept current by the order upserts.
`ix_customer_scores_shop_group` serves the rule "RFM group is …" from the index; the shop-only
score index goes (the unique (shop_id, customer_id) index serves lookups by shop).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_customer_products"
down_revision: str | None = "20261207_bulk_load_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_products",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("product_external_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_products_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_customer_products_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "shop_id", "product_external_id", "customer_id", name=op.f("pk_customer_products")
        ),
    )
    op.create_index(
        "ix_customer_products_customer_id", "customer_products", ["customer_id"], unique=False
    )
    op.execute(
        "INSERT INTO customer_products (shop_id, product_external_id, customer_id)"
        " SELECT DISTINCT o.shop_id, l.product_external_id, o.customer_id"
        " FROM orders o JOIN order_lines l ON l.order_id = o.id AND l.shop_id = o.shop_id"
        " WHERE o.customer_id IS NOT NULL AND o.cancelled_at IS NULL"
        " AND l.product_external_id IS NOT NULL"
    )
    op.create_index(
        "ix_customer_scores_shop_group",
        "customer_scores",
        ["shop_id", "rfm_group", "customer_id"],
        unique=False,
    )
    # Its prefix of the unique (shop_id, customer_id) index serves every lookup by shop.
    op.drop_index("ix_customer_scores_shop_id", table_name="customer_scores")


def downgrade() -> None:
    op.create_index("ix_customer_scores_shop_id", "customer_scores", ["shop_id"], unique=False)
    op.drop_index("ix_customer_scores_shop_group", table_name="customer_scores")
    op.drop_index("ix_customer_products_customer_id", table_name="customer_products")
    op.drop_table("customer_products")
