"""the local hour of each shop's daily jobs (scoring, win-back scan)

Revision ID: 20261207_shop_schedule
Revises: 20261207_wc_key_check
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_shop_schedule"
down_revision: str | None = "20261207_wc_key_check"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shops", sa.Column("daily_hours", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("shops", "daily_hours")
