"""woocommerce: pending wc-auth requests, per-store webhook secret and sync watermark

Revision ID: 0002_woocommerce
Revises: 0001
Create Date: 2026-11-25 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_woocommerce"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_woocommerce_auth",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("store_url", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_pending_woocommerce_auth_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_pending_woocommerce_auth_shop_id_shops"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_woocommerce_auth")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pending_woocommerce_auth_token_hash")),
    )
    op.create_index(
        op.f("ix_pending_woocommerce_auth_account_id"),
        "pending_woocommerce_auth",
        ["account_id"],
        unique=False,
    )
    op.create_table(
        "woocommerce_shops",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("key_permissions", sa.String(length=20), nullable=True),
        sa.Column("webhook_secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_secret_previous_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_ids", sa.JSON(), nullable=False),
        sa.Column("synced_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_woocommerce_shops_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_woocommerce_shops")),
    )


def downgrade() -> None:
    op.drop_table("woocommerce_shops")
    op.drop_index(
        op.f("ix_pending_woocommerce_auth_account_id"), table_name="pending_woocommerce_auth"
    )
    op.drop_table("pending_woocommerce_auth")
