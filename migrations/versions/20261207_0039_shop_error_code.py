"""shops.last_error_code and last_error_params: the store's problem as a message key

Revision ID: 20261207_shop_error_code
Revises: 20261207_campaigns
Create Date: 2026-12-07 19:45:00

`last_error` keeps the English text; the key and its values let each page word the problem in
the merchant's language. Rows written before have no key and are shown as their text. Batch
operations, so the same migration runs on PostgreSQL and SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_shop_error_code"
down_revision: str | None = "20261207_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("last_error_code", sa.String(80), nullable=True))
        batch.add_column(sa.Column("last_error_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("last_error_params")
        batch.drop_column("last_error_code")
