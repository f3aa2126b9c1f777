"""messages.coupon_code: the single-use code a flow email carried when it was sent

Revision ID: 20261207_message_coupon_code
Revises: 20261207_shop_error_code
Create Date: 2026-12-07 22:00:00

The send step stores the code it created on the platform (the cart flow's discount, a flow's
coupon step), so the Outbox renders the email again with the code its recipient got instead of
creating another one. Emails sent before have no code stored and are shown without one; a
campaign's codes stay on `campaign_recipients.coupon_code`. Nullable, no default: adding it
rewrites nothing on PostgreSQL. Batch operations, so the same migration runs on SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_message_coupon_code"
down_revision: str | None = "20261207_shop_error_code"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("coupon_code", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("coupon_code")
