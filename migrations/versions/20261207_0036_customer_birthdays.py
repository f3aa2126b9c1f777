"""customers' birthdays: month and day (and the year when known), for the birthday flow

Revision ID: 20261207_customer_birthdays
Revises: 20261207_durable_goods
Create Date: 2026-12-07 19:20:00

Read from Shopify's `facts.birth_date` metafield, WooCommerce customer meta or the storefront's
birthday field. The daily scan finds the shop's customers whose birthday is due in one indexed
read: `ix_customers_birthday` on (shop_id, birth_month, birth_day), only rows with a birthday.
A birthday typed into the storefront waits on its `opt_in_requests` row until the shopper
confirms the email.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_customer_birthdays"
down_revision: str | None = "20261207_durable_goods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KNOWN = sa.text("birth_month IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("birth_month", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("birth_day", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("birth_year", sa.SmallInteger(), nullable=True))
    with op.batch_alter_table("opt_in_requests") as batch:
        batch.add_column(sa.Column("birth_month", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("birth_day", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("birth_year", sa.SmallInteger(), nullable=True))
    op.create_index(
        "ix_customers_birthday",
        "customers",
        ["shop_id", "birth_month", "birth_day"],
        postgresql_where=KNOWN,
        sqlite_where=KNOWN,
    )


def downgrade() -> None:
    op.drop_index("ix_customers_birthday", table_name="customers")
    with op.batch_alter_table("opt_in_requests") as batch:
        batch.drop_column("birth_year")
        batch.drop_column("birth_day")
        batch.drop_column("birth_month")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("birth_year")
        batch.drop_column("birth_day")
        batch.drop_column("birth_month")
