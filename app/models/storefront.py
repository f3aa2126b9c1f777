"""What shoppers do on the storefront: product views (and adds to cart) sent by the Shopify web
pixel or the WooCommerce storefront script, and back-in-stock subscriptions.

Layer: models (never commit). `storefront_events` is unique on (shop, event key), so a resent
event is stored once; a view of an anonymous visitor keeps only the visitor id until the visitor
identifies (then `customer_id` is set) and every row is deleted after `EVENT_RETENTION`.
`stock_subscriptions` is unique on (shop, email, product, variant; '' for the whole product)
while waiting; personal data: `email_normalized` (a customer redact deletes the rows).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

EVENT_RETENTION = timedelta(days=30)
PRODUCT_VIEWED = "product_viewed"
ADDED_TO_CART = "product_added_to_cart"
EVENT_KINDS = (PRODUCT_VIEWED, ADDED_TO_CART)
PERSONAL_COLUMNS = ("email_normalized",)
WAITING = "waiting"


class StorefrontEvent(Base):
    __tablename__ = "storefront_events"
    __table_args__ = (
        UniqueConstraint("shop_id", "event_key"),
        # A customer's recent views (the browse flow, recommendations): newest first.
        Index("ix_storefront_events_customer", "shop_id", "customer_id", "occurred_at"),
        # A visitor's views: linked when the visitor identifies, and who a visitor is.
        Index("ix_storefront_events_visitor", "shop_id", "visitor_id"),
        Index("ix_storefront_events_occurred_at", "occurred_at"),  # the retention sweep
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(30))
    visitor_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=True
    )
    product_external_id: Mapped[str] = mapped_column(String(64))
    variant_external_id: Mapped[str | None] = mapped_column(String(64))
    marketing_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockSubscription(Base):
    __tablename__ = "stock_subscriptions"
    __table_args__ = (
        # One waiting subscription per address and product (variant); notified ones are kept.
        Index(
            "uq_stock_subscriptions_waiting",
            "shop_id",
            "email_normalized",
            "product_external_id",
            "variant_external_id",
            unique=True,
            postgresql_where=text("status = 'waiting'"),
            sqlite_where=text("status = 'waiting'"),
        ),
        # Waiting subscribers of a product in subscription order (first come, first served).
        Index(
            "ix_stock_subscriptions_waiting",
            "shop_id",
            "product_external_id",
            "subscribed_at",
            postgresql_where=text("status = 'waiting'"),
            sqlite_where=text("status = 'waiting'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    email_normalized: Mapped[str] = mapped_column(String(320))
    product_external_id: Mapped[str] = mapped_column(String(64))
    variant_external_id: Mapped[str] = mapped_column(String(64), default="")
    locale: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default=WAITING)
    subscribed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_quantity: Mapped[int | None] = mapped_column(Integer)
