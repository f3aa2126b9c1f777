"""shops.sender_identity: the sender name, reply-to, postal address and contact of a shop's emails

Revision ID: 20261207_sender_identity
Revises: 20261207_tag_write_back
Create Date: 2026-12-07 16:00:00

NULL until the merchant sets it; marketing email of a shop without it waits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_sender_identity"
down_revision: str | None = "20261207_tag_write_back"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shops", sa.Column("sender_identity", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("shops", "sender_identity")
