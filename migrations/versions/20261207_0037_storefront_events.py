"""Storefront product views and back-in-stock subscriptions

Revision ID: 20261207_storefront_events
Revises: 20261207_customer_birthdays
Create Date: 2026-12-07 19:00:00

`storefront_events`: product views and adds to cart from the Shopify web pixel and the
WooCommerce storefront script, unique on (shop, event key); anonymous rows carry only the
visitor id until the visitor identifies; rows older than 30 days are deleted daily.
`stock_subscriptions`: a shopper's request to hear when a product (variant) is back in stock,
one waiting row per address and product; notified rows are kept as the record of the notice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_storefront_events"
down_revision: str | None = "20261207_customer_birthdays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status = 'waiting'")


def upgrade() -> None:
    op.create_table(
        "storefront_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("product_external_id", sa.String(length=64), nullable=False),
        sa.Column("variant_external_id", sa.String(length=64), nullable=True),
        sa.Column("marketing_allowed", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_storefront_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_storefront_events_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storefront_events")),
        sa.UniqueConstraint(
            "shop_id", "event_key", name=op.f("uq_storefront_events_shop_id_event_key")
        ),
    )
    op.create_index(
        "ix_storefront_events_customer",
        "storefront_events",
        ["shop_id", "customer_id", "occurred_at"],
    )
    op.create_index("ix_storefront_events_visitor", "storefront_events", ["shop_id", "visitor_id"])
    op.create_index("ix_storefront_events_occurred_at", "storefront_events", ["occurred_at"])
    op.create_table(
        "stock_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("product_external_id", sa.String(length=64), nullable=False),
        sa.Column("variant_external_id", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_quantity", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_stock_subscriptions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_stock_subscriptions_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_subscriptions")),
    )
    op.create_index(op.f("ix_stock_subscriptions_shop_id"), "stock_subscriptions", ["shop_id"])
    op.create_index(
        op.f("ix_stock_subscriptions_customer_id"), "stock_subscriptions", ["customer_id"]
    )
    op.create_index(
        "uq_stock_subscriptions_waiting",
        "stock_subscriptions",
        ["shop_id", "email_normalized", "product_external_id", "variant_external_id"],
        unique=True,
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )
    op.create_index(
        "ix_stock_subscriptions_waiting",
        "stock_subscriptions",
        ["shop_id", "product_external_id", "subscribed_at"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def downgrade() -> None:
    op.drop_table("stock_subscriptions")
    op.drop_table("storefront_events")
