"""customer scores and rfm snapshots

Revision ID: 0005_scores
Revises: 0001
Create Date: 2026-11-25 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_scores"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("r", sa.SmallInteger(), nullable=False),
        sa.Column("f", sa.SmallInteger(), nullable=False),
        sa.Column("m", sa.SmallInteger(), nullable=False),
        sa.Column("fm", sa.SmallInteger(), nullable=False),
        sa.Column("rfm_group", sa.String(length=40), nullable=False),
        sa.Column("previous_group", sa.String(length=40), nullable=True),
        sa.Column("recency_days", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("monetary", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("probability_alive", sa.Float(), nullable=False),
        sa.Column("expected_orders_365", sa.Float(), nullable=False),
        sa.Column("expected_next_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("predicted_clv", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("confidence", sa.String(length=10), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_scores_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_customer_scores_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_scores")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", name=op.f("uq_customer_scores_shop_id_customer_id")
        ),
    )
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_scores_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_scores_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "rfm_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("group_counts", sa.JSON(), nullable=False),
        sa.Column("grid_counts", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_rfm_snapshots_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rfm_snapshots")),
        sa.UniqueConstraint("shop_id", "as_of", name=op.f("uq_rfm_snapshots_shop_id_as_of")),
    )
    with op.batch_alter_table("rfm_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rfm_snapshots_shop_id"), ["shop_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rfm_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rfm_snapshots_shop_id"))
    op.drop_table("rfm_snapshots")
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_scores_shop_id"))
        batch_op.drop_index(batch_op.f("ix_customer_scores_customer_id"))
    op.drop_table("customer_scores")
