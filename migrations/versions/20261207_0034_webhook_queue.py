"""webhook_events as the processing queue: a retry time and request id per event, the pending index

Revision ID: 20261207_webhook_queue
Revises: 20261207_accounts_team
Create Date: 2026-12-07 16:00:00

Workers claim pending events in id order (`FOR UPDATE SKIP LOCKED`); a failed attempt sets
`next_attempt_at` (the backoff), NULL meaning "now". The partial index holds only the pending
rows, so claiming stays cheap however many processed events the table keeps. `request_id` is the
delivering request's id, carried into the log lines of the event's processing. On PostgreSQL a
statement trigger NOTIFYs `kizuna_webhook_events` when an INSERT adds pending rows, so intake
wakes the workers without a statement of its own (they poll too).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_webhook_queue"
down_revision: str | None = "20261207_accounts_team"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")

NOTIFY_FUNCTION = """
CREATE FUNCTION kizuna_notify_webhook_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted WHERE status = 'pending') THEN
        PERFORM pg_notify('kizuna_webhook_events', '');
    END IF;
    RETURN NULL;
END;
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER webhook_events_notify AFTER INSERT ON webhook_events
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
EXECUTE FUNCTION kizuna_notify_webhook_events()
"""


def upgrade() -> None:
    op.add_column(
        "webhook_events", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("webhook_events", sa.Column("request_id", sa.String(length=128), nullable=True))
    op.create_index(
        "ix_webhook_events_pending",
        "webhook_events",
        ["id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER webhook_events_notify ON webhook_events")
        op.execute("DROP FUNCTION kizuna_notify_webhook_events()")
    op.drop_index("ix_webhook_events_pending", table_name="webhook_events")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("request_id")
        batch.drop_column("next_attempt_at")
