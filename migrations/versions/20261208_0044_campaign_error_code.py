"""campaigns.last_error_code and last_error_params: the campaign's problem as a message key

Revision ID: 20261207_campaign_error_code
Revises: 20261208_shop_prefix_indexes
Create Date: 2026-12-07 23:00:00

`last_error` keeps the English text; the key and its values let the admin and the API word the
problem in the merchant's language. A held send stored its hold as a bare code in `last_error`:
those rows get their key and English text here, since the sender now finds a hold by its key.
Failures written before keep their text alone and are shown as it. Batch operations, so the
same migration runs on PostgreSQL and SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_campaign_error_code"
down_revision: str | None = "20261208_shop_prefix_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The hold's former bare code → its message key and English text.
HOLDS = {
    "waiting_for_sender_identity": (
        "campaign_error.waiting_for_sender",
        "Waiting for your sender details: the campaign goes out once they are set.",
    ),
    "shop_inactive": (
        "campaign_error.shop_inactive",
        "The store is disconnected: the campaign goes on once it is connected again.",
    ),
}

campaigns = sa.table(
    "campaigns",
    sa.column("last_error", sa.Text),
    sa.column("last_error_code", sa.String(80)),
)


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("last_error_code", sa.String(80), nullable=True))
        batch.add_column(sa.Column("last_error_params", sa.JSON(), nullable=True))
    for bare, (code, text) in HOLDS.items():
        op.execute(
            campaigns.update()
            .where(campaigns.c.last_error == bare)
            .values(last_error=text, last_error_code=code)
        )


def downgrade() -> None:
    for bare, (code, _text) in HOLDS.items():
        op.execute(
            campaigns.update().where(campaigns.c.last_error_code == code).values(last_error=bare)
        )
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("last_error_params")
        batch.drop_column("last_error_code")
