"""Customers and their timeline.

Personal data of a customer lives only in the columns listed in `PERSONAL_COLUMNS` (and in
order/checkout columns named in their modules); a redact blanks exactly those and sets
`redacted_at`. Rows are unique on (shop_id, external_id); upserts are "newer wins" on
`platform_updated_at`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Money, UTCDateTime, utcnow

PERSONAL_COLUMNS = ("email", "email_normalized", "first_name", "last_name", "phone", "city")


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320), index=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(200))
    country_code: Mapped[str | None] = mapped_column(String(2))
    locale: Mapped[str | None] = mapped_column(String(10))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    email_marketing_state: Mapped[str | None] = mapped_column(String(20))
    email_marketing_opt_in_level: Mapped[str | None] = mapped_column(String(30))
    email_marketing_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    currency: Mapped[str | None] = mapped_column(String(3))
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email or f"Customer {self.external_id}"


class TimelineEvent(Base):
    """One line of a customer's history: an order, a checkout, a consent change, a message."""

    __tablename__ = "timeline_events"
    __table_args__ = (UniqueConstraint("shop_id", "kind", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str] = mapped_column(String(120))  # idempotency: the event's own id
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never personal data
