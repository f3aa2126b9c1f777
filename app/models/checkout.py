"""Checkouts (carts): abandoned or completed, with the platform's recovery URL.

Layer: models (never commit). `external_id` is the checkout token. Personal data: `email` only.
`marketing_opt_in_at` records a storefront tick, a request only: consent needs confirmation.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Money, UTCDateTime, utcnow

PERSONAL_COLUMNS = ("email",)


class Checkout(Base):
    __tablename__ = "checkouts"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    recovery_url: Mapped[str | None] = mapped_column(String(2000))
    total_price: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3))
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marketing_opt_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
