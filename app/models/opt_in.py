"""Storefront marketing opt-ins awaiting (or given) the shopper's confirmation: double opt-in.

Layer: models (never commit). One row per (shop, address) with the link's single-use `nonce`.
Personal data: `email_normalized` and the birthday the shopper typed (`birth_*`, applied to their
customer record only once they confirm; a customer redact deletes the row).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

PERSONAL_COLUMNS = ("email_normalized", "birth_month", "birth_day", "birth_year")
STOREFRONT_DOUBLE_OPT_IN = "storefront_double_opt_in"  # the consent's source, once confirmed


class OptInRequest(Base):
    __tablename__ = "opt_in_requests"
    __table_args__ = (UniqueConstraint("shop_id", "email_normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    email_normalized: Mapped[str] = mapped_column(String(320))
    checkout_external_id: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The storefront's optional birthday field, kept until the shopper confirms.
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
