"""messages: the shop's index also orders by customer

Revision ID: 20261207_messages_shop_customer
Revises: 20261207_problem_codes
Create Date: 2026-12-07 22:00:00

`ix_messages_shop_id_customer_id` replaces `ix_messages_shop_id` (its leading column serves
every read by shop). The recent sends a campaign or flow batch reads (frequency cap, smart
sending) are a shop's messages for a range of customers: one bounded scan of this index, where
the shop's index alone made each batch read every message the shop had sent.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_messages_shop_customer"
down_revision: str | None = "20261207_problem_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Concurrently on PostgreSQL, outside the migration's transaction: a store's emails keep
    # going out while a large `messages` table is indexed.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_messages_shop_id_customer_id",
            "messages",
            ["shop_id", "customer_id"],
            postgresql_concurrently=True,
        )
        op.drop_index("ix_messages_shop_id", table_name="messages", postgresql_concurrently=True)


def downgrade() -> None:
    op.create_index("ix_messages_shop_id", "messages", ["shop_id"])
    op.drop_index("ix_messages_shop_id_customer_id", table_name="messages")
