"""flows: flow_settings, flow_runs, messages, message_events, suppressions

Revision ID: 0003_flows
Revises: 0001
Create Date: 2026-11-25 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_flows"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _shop_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shop_id"], ["shops.id"], name=op.f(f"fk_{table}_shop_id_shops"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "flow_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("flow_key", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        _shop_fk("flow_settings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_settings")),
        sa.UniqueConstraint("shop_id", "flow_key", name=op.f("uq_flow_settings_shop_id_flow_key")),
    )
    op.create_index(op.f("ix_flow_settings_shop_id"), "flow_settings", ["shop_id"])

    op.create_table(
        "flow_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("flow_key", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("trigger_key", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("exit_reason", sa.String(length=60), nullable=True),
        sa.Column("next_step", sa.Integer(), nullable=True),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("next_step_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        _shop_fk("flow_runs"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_flow_runs_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
        sa.UniqueConstraint(
            "shop_id",
            "flow_key",
            "customer_id",
            "trigger_key",
            name=op.f("uq_flow_runs_shop_id_flow_key_customer_id_trigger_key"),
        ),
    )
    op.create_index(op.f("ix_flow_runs_shop_id"), "flow_runs", ["shop_id"])
    op.create_index(op.f("ix_flow_runs_customer_id"), "flow_runs", ["customer_id"])
    op.create_index(op.f("ix_flow_runs_trigger_key"), "flow_runs", ["trigger_key"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("x_message_id", sa.String(length=128), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("not_before", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("opened_at", TZ, nullable=True),
        sa.Column("clicked_at", TZ, nullable=True),
        _shop_fk("messages"),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_messages_flow_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_messages_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "flow_run_id",
            "step",
            "customer_id",
            name=op.f("uq_messages_flow_run_id_step_customer_id"),
        ),
    )
    op.create_index(op.f("ix_messages_shop_id"), "messages", ["shop_id"])
    op.create_index(op.f("ix_messages_flow_run_id"), "messages", ["flow_run_id"])
    op.create_index(op.f("ix_messages_customer_id"), "messages", ["customer_id"])
    op.create_index(op.f("ix_messages_x_message_id"), "messages", ["x_message_id"])

    op.create_table(
        "message_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("sg_event_id", sa.String(length=128), nullable=True),
        sa.Column("natural_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _shop_fk("message_events"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_events_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
        sa.UniqueConstraint("sg_event_id", name=op.f("uq_message_events_sg_event_id")),
        sa.UniqueConstraint("natural_key", name=op.f("uq_message_events_natural_key")),
    )
    op.create_index(op.f("ix_message_events_shop_id"), "message_events", ["shop_id"])
    op.create_index(op.f("ix_message_events_message_id"), "message_events", ["message_id"])

    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _shop_fk("suppressions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint(
            "shop_id", "email_normalized", name=op.f("uq_suppressions_shop_id_email_normalized")
        ),
    )
    op.create_index(op.f("ix_suppressions_shop_id"), "suppressions", ["shop_id"])


def downgrade() -> None:
    for table in ("suppressions", "message_events", "messages", "flow_runs", "flow_settings"):
        op.drop_table(table)
