"""Derived customer scores (RFM cell and group, predictions) and daily `rfm_snapshots`.

Layer: models (never commit). Written only by `services.scoring`; unique on (shop_id,
customer_id), one snapshot per shop and day. `previous_group` is the last earlier day's group.
No personal data.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Money, UTCDateTime, utcnow


class CustomerScore(Base):
    __tablename__ = "customer_scores"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id"),
        # The rule "RFM group is …": the group's customers in id order, from the index alone.
        Index("ix_customer_scores_shop_group", "shop_id", "rfm_group", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Found by shop through the unique (shop_id, customer_id) index; a shop-only index would
    # only cost every scoring's writes.
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    # No foreign key: scores are derived and rewritten by every scoring (a key would lock each
    # scored customer); they go with their shop, and a scoring drops customers it no longer
    # scores. Found by (shop_id, customer_id).
    customer_id: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    r: Mapped[int] = mapped_column(SmallInteger)
    f: Mapped[int] = mapped_column(SmallInteger)
    m: Mapped[int] = mapped_column(SmallInteger)
    fm: Mapped[int] = mapped_column(SmallInteger)  # ⌊(f + m) / 2⌋: the grid's column
    rfm_group: Mapped[str] = mapped_column(String(40))
    previous_group: Mapped[str | None] = mapped_column(String(40))
    recency_days: Mapped[int] = mapped_column(Integer)
    orders: Mapped[int] = mapped_column(Integer)
    monetary: Mapped[Decimal] = mapped_column(Money)
    probability_alive: Mapped[float] = mapped_column(Float)
    expected_orders_365: Mapped[float] = mapped_column(Float)
    expected_next_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    predicted_clv: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    confidence: Mapped[str] = mapped_column(String(10))  # high | medium | low
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RfmSnapshot(Base):
    __tablename__ = "rfm_snapshots"
    __table_args__ = (UniqueConstraint("shop_id", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    group_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    grid_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # "r,fm" → customers
    confidence: Mapped[str] = mapped_column(String(10))
    reason: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # language → message
    model: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # thresholds, fit sizes
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
