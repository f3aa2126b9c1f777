"""campaigns and their recipients; a message belongs to a flow run or to a campaign

Revision ID: 20261207_campaigns
Revises: 20261207_storefront_events
Create Date: 2026-12-07 19:00:00

A campaign's audience is snapshotted into `campaign_recipients` when its send starts; each
emailed recipient is one `messages` row with `campaign_id` (unique with the customer, so a
re-run send never creates a second), and no flow run.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_campaigns"
down_revision: str | None = "20261207_storefront_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("smart_sending_hours", sa.Integer(), nullable=True),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaigns_shop_id", "campaigns", ["shop_id"])
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("flow_run_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_messages_campaign_id", "campaigns", ["campaign_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_messages_campaign_id", ["campaign_id"])
        batch.create_unique_constraint(
            "uq_messages_campaign_customer", ["campaign_id", "customer_id"]
        )
    op.create_table(
        "campaign_recipients",
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("skip_reason", sa.String(length=60), nullable=True),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("coupon_code", sa.String(length=64), nullable=True),
    )
    op.create_index(
        "ix_campaign_recipients_status",
        "campaign_recipients",
        ["campaign_id", "status", "customer_id"],
    )
    op.create_index("ix_campaign_recipients_customer_id", "campaign_recipients", ["customer_id"])
    op.create_index("ix_campaign_recipients_shop_id", "campaign_recipients", ["shop_id"])


def downgrade() -> None:
    op.drop_table("campaign_recipients")
    op.execute("DELETE FROM messages WHERE campaign_id IS NOT NULL")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_campaign_customer", type_="unique")
        batch.drop_index("ix_messages_campaign_id")
        batch.drop_constraint("fk_messages_campaign_id", type_="foreignkey")
        batch.drop_column("campaign_id")
        batch.alter_column("flow_run_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_campaigns_shop_id", table_name="campaigns")
    op.drop_table("campaigns")
