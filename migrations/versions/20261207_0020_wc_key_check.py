"""a WooCommerce key waits on its pending request until a REST call with it succeeds

Revision ID: 20261207_wc_key_check
Revises: 0016_due_runs
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_wc_key_check"
down_revision: str | None = "0016_due_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pending_woocommerce_auth") as batch:
        batch.add_column(sa.Column("grant_encrypted", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("failure", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_woocommerce_auth") as batch:
        batch.drop_column("failure")
        batch.drop_column("outcome")
        batch.drop_column("grant_encrypted")
