"""webhook_events.last_error_code, tag_write_backs.last_error_code and last_error_params

Revision ID: 20261207_problem_codes
Revises: 20261207_message_coupon_code
Create Date: 2026-12-07 22:00:00

A failed webhook delivery and a segment write-back keep their problem as a message key (and
values) beside the stored text, so the admin words it in the merchant's language. Rows written
before have no key and are shown as their text. Batch operations, so the same migration runs on
PostgreSQL and SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_problem_codes"
down_revision: str | None = "20261207_message_coupon_code"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("last_error_code", sa.String(80), nullable=True))
    with op.batch_alter_table("tag_write_backs") as batch:
        batch.add_column(sa.Column("last_error_code", sa.String(80), nullable=True))
        batch.add_column(sa.Column("last_error_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tag_write_backs") as batch:
        batch.drop_column("last_error_params")
        batch.drop_column("last_error_code")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("last_error_code")
