"""Campaigns: a one-off email to saved segments and RFM groups, and its recipients.

Layer: models (never commit). A campaign's audience is snapshotted into `campaign_recipients`
when its send starts (one row per customer, unique on campaign and customer); each recipient
who is emailed becomes one `messages` row carrying `campaign_id` (unique on campaign and
customer), so the outbox, SendGrid's events and attribution read campaign emails as they read
flow emails. No personal data here beyond ids (a coupon code is not personal).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.db import Base, UTCDateTime, utcnow

CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "cancelled", "sent")
# queued: in the snapshot, not yet decided; emailed: its message exists (the message's status
# says how it went); holdout: kept out to measure lift; skipped: `skip_reason` says why;
# cancelled: the campaign was cancelled before their turn.
RECIPIENT_STATUSES = ("queued", "emailed", "holdout", "skipped", "cancelled")
MAX_NAME = 200


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # {"segments": [saved segment ids], "rfm_groups": [group keys]}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # app/campaigns/content.py: coupon, and per language subject, preheader and blocks
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    smart_sending_hours: Mapped[int | None] = mapped_column(Integer)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the send is held or what failed, in English; `last_error_code` is its message key
    # (`app.i18n.KEYED_MESSAGES`, `campaign_error.*`) and `last_error_params` the values that
    # fill it in (counts and reason keys, never personal data), set together with
    # `services.shop_errors.problem_columns`. A plain text written on its own clears the key,
    # as on `Shop`.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_code: Mapped[str | None] = mapped_column(String(80))
    last_error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("last_error")
    def _plain_error_drops_its_key(self, _name: str, value: str | None) -> str | None:
        self.last_error_code = None
        self.last_error_params = None
        return value


class CampaignRecipient(Base):
    __tablename__ = "campaign_recipients"
    __table_args__ = (
        # The sender's claim: a campaign's queued recipients in customer order.
        Index("ix_campaign_recipients_status", "campaign_id", "status", "customer_id"),
    )

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    skip_reason: Mapped[str | None] = mapped_column(String(60))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # The recipient's single-use code, created once on the platform and reused by a retry.
    coupon_code: Mapped[str | None] = mapped_column(String(64))
