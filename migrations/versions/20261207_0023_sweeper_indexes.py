"""partial indexes for the sweepers: overdue running flow runs, unsettled messages

Revision ID: 20261207_sweeper_indexes
Revises: 20261207_opt_in_confirmations
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_sweeper_indexes"
down_revision: str | None = "20261207_opt_in_confirmations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("status = 'running'")
UNSETTLED = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    op.create_index(
        "ix_flow_runs_overdue",
        "flow_runs",
        ["next_step_at"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )
    op.create_index(
        "ix_messages_unsettled",
        "messages",
        ["status"],
        postgresql_where=UNSETTLED,
        sqlite_where=UNSETTLED,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unsettled", table_name="messages")
    op.drop_index("ix_flow_runs_overdue", table_name="flow_runs")
