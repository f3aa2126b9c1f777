"""index of running flow runs by shop, flow, step and due time (the dispatcher's claim)

Revision ID: 0016_due_runs
Revises: 0015_merge
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_due_runs"
down_revision: str | None = "0015_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.create_index(
        "ix_flow_runs_due",
        "flow_runs",
        ["shop_id", "flow_key", "next_step", "next_step_at"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ix_flow_runs_due", table_name="flow_runs")
