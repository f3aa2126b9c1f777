"""messages.claimed_by: the worker process that claimed a message for sending

Revision ID: 20261207_message_claimed_by
Revises: 20261207_sweeper_indexes
Create Date: 2026-12-07 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_message_claimed_by"
down_revision: str | None = "20261207_sweeper_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("claimed_by", sa.String(length=80), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "claimed_by")
