"""What the post-purchase flows need from a shop's order history, precomputed per shop.

Layer: models (never commit). Written only by `services.purchase_stats`, read by primary key.
No personal data: products by external id and counts only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class ShopPurchaseStats(Base):
    """One row a shop: the orders counted and the shop's best sellers (most orders first)."""

    __tablename__ = "shop_purchase_stats"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    orders: Mapped[int] = mapped_column(Integer, default=0)
    best_sellers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductPurchaseStats(Base):
    """One row a purchased product: orders with it, its re-buy interval (consumables only) and
    the products most often bought with it (`[[product, orders together], …]`, best first)."""

    __tablename__ = "product_purchase_stats"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    product_external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    rebuy_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    together: Mapped[list[Any]] = mapped_column(JSON, default=list)
