"""Inquiries: a question or complaint a customer raised, logged by the merchant in the admin.

One row per inquiry, tenant-scoped by `shop_id`; `subject` and `notes` are free text typed by the
merchant and may hold personal data (`PERSONAL_COLUMNS`, blanked by a customer redact). An open
`complaint` pauses marketing email to that customer (`app.services.inquiries.marketing_paused`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

PERSONAL_COLUMNS = ("subject", "notes")


class Inquiry(Base):
    __tablename__ = "inquiries"
    __table_args__ = (Index("ix_inquiries_shop_id_customer_id", "shop_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))  # email, phone, chat, in_person, other
    kind: Mapped[str] = mapped_column(String(20))  # question, complaint, other
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, resolved
    subject: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
