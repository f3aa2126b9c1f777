"""Rule counts read live customers' totals from an index; scores no longer lock customers

Revision ID: 20261207_segment_counts
Revises: 20261207_customer_product_counts
Create Date: 2026-12-07 16:15:00

`ix_customers_live_totals`: the shop's live customers by id, carrying (on PostgreSQL, as INCLUDE
columns) the order totals the segment rules compare, so a rule count joins the scores to this
index alone instead of reading the customers table. `customer_scores` is derived and rewritten by
every scoring: its foreign key to `customers` (each checked row locked a customer: a million
locks per first scoring) and the index serving it go. Scores still go with their shop (its
foreign key stays); customers are only ever soft-deleted on their own, and a scoring deletes the
scores of customers it no longer scores.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_segment_counts"
down_revision: str | None = "20261207_customer_product_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "deleted_at IS NULL AND redacted_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_customers_live_totals",
        "customers",
        ["shop_id", "id"],
        unique=False,
        postgresql_include=["total_spent", "orders_count", "first_order_at", "last_order_at"],
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_constraint("fk_customer_scores_customer_id_customers", type_="foreignkey")
        batch_op.drop_index("ix_customer_scores_customer_id")


def downgrade() -> None:
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.create_index("ix_customer_scores_customer_id", ["customer_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_customer_scores_customer_id_customers",
            "customers",
            ["customer_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.drop_index("ix_customers_live_totals", table_name="customers")
