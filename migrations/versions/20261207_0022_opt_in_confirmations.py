"""storefront opt-ins awaiting the shopper's confirmation (double opt-in)

Revision ID: 20261207_opt_in_confirmations
Revises: 20261207_shop_schedule
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_opt_in_confirmations"
down_revision: str | None = "20261207_shop_schedule"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opt_in_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "shop_id",
            sa.Integer(),
            sa.ForeignKey("shops.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email_normalized", sa.String(320), nullable=False),
        sa.Column("checkout_external_id", sa.String(64), nullable=True),
        sa.Column("nonce", sa.String(64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("shop_id", "email_normalized"),
    )
    op.create_index("ix_opt_in_requests_shop_id", "opt_in_requests", ["shop_id"])


def downgrade() -> None:
    op.drop_index("ix_opt_in_requests_shop_id", table_name="opt_in_requests")
    op.drop_table("opt_in_requests")
