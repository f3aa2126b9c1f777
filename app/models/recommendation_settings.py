"""What a merchant says about their catalogue for recommendations and replenishment.

Layer: models (never commit). `ProductGroup`: a collection or product type, the merchant's
durable/consumable mark (None: the default from its re-buy rate) and the re-buy counts the daily
history refresh stores. `ProductSupply`: how many days one unit of a product lasts.
`RecommendationSettings`: the shop's durable hold period and how products are grouped. No
personal data: products and groups by external id or name, counts only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class ProductGroup(Base):
    """One collection (`grouping` "collection", `group_key` its external id) or product type
    (`grouping` "product_type", `group_key` the type) of a shop."""

    __tablename__ = "product_groups"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    grouping: Mapped[str] = mapped_column(String(20), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # The merchant's mark, "durable" or "consumable"; None: the default from the counts.
    kind: Mapped[str | None] = mapped_column(String(20))
    # Customers who bought an item of the group, and those who bought one again on a later
    # occasion (the shop's recent history, refreshed daily).
    buyers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    repeat_buyers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stats_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductSupply(Base):
    """The merchant's days of supply of one product: how long one unit lasts."""

    __tablename__ = "product_supply"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    product_external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecommendationSettings(Base):
    """A shop's recommendation settings; no row: the defaults."""

    __tablename__ = "recommendation_settings"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    # After buying a durable item, no other item of its group is offered for this many days.
    durable_hold_days: Mapped[int] = mapped_column(Integer, default=365, server_default="365")
    # "collection" (a product without one falls back to its type) or "product_type".
    grouping: Mapped[str] = mapped_column(
        String(20), default="collection", server_default="collection"
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
