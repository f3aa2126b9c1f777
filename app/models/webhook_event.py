"""The webhook inbox: every verified delivery, recorded before it is acknowledged, and the queue
its processing is claimed from.

Layer: models (never commit). Unique on (platform, dedupe_key). `pending` rows are the queue:
claimed in id order with `FOR UPDATE SKIP LOCKED` once `next_attempt_at` (NULL: now) has passed;
`ix_webhook_events_pending` holds only them. The payload is personal data: dropped once the event
is processed; a customers/redact erases pending payloads of that customer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

EVENT_STATUSES = ("pending", "processed", "ignored", "failed")


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("platform", "dedupe_key"),
        Index("ix_webhook_events_status_received", "status", "received_at"),
        Index(
            "ix_webhook_events_pending",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    shop_id: Mapped[int | None] = mapped_column(
        ForeignKey("shops.id", ondelete="SET NULL"), index=True
    )
    shop_domain: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(80))
    event_id: Mapped[str | None] = mapped_column(String(100))
    api_version: Mapped[str | None] = mapped_column(String(20))
    resource_id: Mapped[str | None] = mapped_column(String(64), index=True)
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the retry's backoff
    request_id: Mapped[str | None] = mapped_column(String(128))  # of the delivery, for the logs
    # The last failure as support reads it (our own mapping message or an exception class, never
    # the exception text: it can quote personal data); `last_error_code` is the merchant's
    # message for it (`app.i18n.KEYED_MESSAGES`, `webhook_error.*`). NULL code: an older row.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_code: Mapped[str | None] = mapped_column(String(80))
