"""marketing opt-in ticked on a storefront checkout

Revision ID: 0014_checkout_opt_in
Revises: 0009_merge
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_checkout_opt_in"
down_revision: str | None = "0009_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(
            sa.Column("marketing_opt_in_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_column("marketing_opt_in_at")
