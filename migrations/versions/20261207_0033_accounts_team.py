"""Merchant sign-up, team members and erased stores

Revision ID: 20261207_accounts_team
Revises: 20261207_segment_counts
Create Date: 2026-12-07 16:00:00

`accounts.email_verified`: false only for an account created by sign-up until its email link is
opened (accounts made by a Shopify install or the CLI need no verification: true by default).
`account_members`: the people an owner invited (role `staff`); the owner signs in with the
account's own email and password. `shops.erased_at`: when the store's data was erased (a
disconnect or `shop/redact`); an erased store is no longer listed in the admin.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_accounts_team"
down_revision: str | None = "20261207_segment_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "account_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("invite_nonce", sa.String(length=64), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_members_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_members")),
        sa.UniqueConstraint("email", name=op.f("uq_account_members_email")),
    )
    op.create_index(
        op.f("ix_account_members_account_id"), "account_members", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_members_account_id"), table_name="account_members")
    op.drop_table("account_members")
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("email_verified")
