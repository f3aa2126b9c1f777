"""Flows and their messages: settings per shop, one run per trigger, one message per step.

Layer: models (never commit). Idempotency lives in the unique keys: run (shop, flow, customer,
trigger key), message (run, step, customer; or campaign, customer), event (`sg_event_id` and
its natural key), suppression (shop, normalised email). Personal data:
`suppressions.email_normalized` only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

PERSONAL_COLUMNS = ("email_normalized",)  # of Suppression

RUN_STATUSES = ("running", "exited", "completed", "holdout")
MESSAGE_STATUSES = ("pending", "sending", "sent", "unknown", "failed", "suppressed", "skipped")


class FlowSetting(Base):
    __tablename__ = "flow_settings"
    __table_args__ = (UniqueConstraint("shop_id", "flow_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    flow_key: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # overrides of defaults
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


UNSETTLED = "status IN ('pending', 'sending')"


class FlowRun(Base):
    __tablename__ = "flow_runs"
    __table_args__ = (
        UniqueConstraint("shop_id", "flow_key", "customer_id", "trigger_key"),
        # The dispatcher's claim: running runs of a shop, flow and step by due time.
        Index(
            "ix_flow_runs_due",
            "shop_id",
            "flow_key",
            "next_step",
            "next_step_at",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        # The flow sweeper: running runs of every shop by due time.
        Index(
            "ix_flow_runs_overdue",
            "next_step_at",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    flow_key: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    trigger_key: Mapped[str] = mapped_column(String(120), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    exit_reason: Mapped[str | None] = mapped_column(String(60))
    next_step: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("flow_run_id", "step", "customer_id"),
        # A campaign emails each of its recipients once (`app/campaigns/sending.py`).
        UniqueConstraint("campaign_id", "customer_id", name="uq_messages_campaign_customer"),
        # A shop's messages by customer: the frequency cap's and smart sending's recent sends
        # (`app/flows/facts.recent_sends`), a batch's customers at a time.
        Index("ix_messages_shop_id_customer_id", "shop_id", "customer_id"),
        # The message sweeper: the few messages not yet settled, among millions sent.
        Index(
            "ix_messages_unsettled",
            "status",
            postgresql_where=text(UNSETTLED),
            sqlite_where=text(UNSETTLED),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    # A flow's message has its run; a campaign's has its campaign instead (step 0).
    flow_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    x_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)  # cap / quiet hours
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The worker process (`host:pid:tag`, its heartbeat name) that claimed it for sending.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The single-use code the send step created for this email (the cart flow's discount, a
    # flow's coupon step), so the Outbox shows it again; a campaign's is on its recipient row.
    coupon_code: Mapped[str | None] = mapped_column(String(64))


class MessageEvent(Base):
    __tablename__ = "message_events"
    __table_args__ = (UniqueConstraint("sg_event_id"), UniqueConstraint("natural_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sg_event_id: Mapped[str | None] = mapped_column(String(128))
    natural_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suppression(Base):
    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("shop_id", "email_normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    email_normalized: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
