"""Segment write-back: a shop's settings and run progress, and the tags written per customer.

Layer: models (never commit). Written only by `services.tag_write_back`. `CustomerPlatformTags`
holds exactly what Kizuna last wrote to the platform, so a customer leaving a segment (or a
changed prefix) removes only Kizuna's own tags. No personal data: tags name segments, not people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.db import Base, UTCDateTime, utcnow

DEFAULT_PREFIX = "kizuna-"
MAX_PREFIX = 40


class TagWriteBack(Base):
    """One row a shop: what to write back and where the current run is (`cursor_customer_id`:
    customers up to it are done, so a run interrupted anywhere resumes after it)."""

    __tablename__ = "tag_write_backs"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    prefix: Mapped[str] = mapped_column(String(MAX_PREFIX), default=DEFAULT_PREFIX)
    include_rfm: Mapped[bool] = mapped_column(Boolean, default=True)
    include_value_band: Mapped[bool] = mapped_column(Boolean, default=True)
    segment_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="idle")  # idle|running|done|failed
    cursor_customer_id: Mapped[int] = mapped_column(Integer, default=0)
    total_customers: Mapped[int] = mapped_column(Integer, default=0)
    customers_checked: Mapped[int] = mapped_column(Integer, default=0)
    customers_changed: Mapped[int] = mapped_column(Integer, default=0)
    customers_failed: Mapped[int] = mapped_column(Integer, default=0)
    value_thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The problem of the last run in English; `last_error_code` and `last_error_params` word it
    # in the merchant's language (`services.shop_errors.problem_columns`). A plain text written
    # on its own clears the key, as on `Shop`.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_code: Mapped[str | None] = mapped_column(String(80))
    last_error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("last_error")
    def _plain_error_drops_its_key(self, _name: str, value: str | None) -> str | None:
        self.last_error_code = None
        self.last_error_params = None
        return value


class CustomerPlatformTags(Base):
    """The Kizuna tags a customer carries on the platform, as last written."""

    __tablename__ = "customer_platform_tags"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
