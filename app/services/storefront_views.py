"""Customers' recent product views, read set-wise for the recommendation paths.

Layer: services, reads only. One indexed read (`ix_storefront_events_customer`) for a batch of
customers, bounded by the storefront events' retention, never by the shop's history.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.storefront import EVENT_RETENTION, PRODUCT_VIEWED, StorefrontEvent

VIEWS_PER_CUSTOMER = 10


def recent_views(
    session: Session, shop_id: int, customer_ids: Collection[int], now: datetime
) -> dict[int, list[str]]:
    """Customer → products they viewed within the retention, newest first, distinct, at most
    `VIEWS_PER_CUSTOMER` each."""
    if not customer_ids:
        return {}
    found: dict[int, list[str]] = {}
    for customer_id, product in session.execute(
        select(StorefrontEvent.customer_id, StorefrontEvent.product_external_id)
        .where(
            StorefrontEvent.shop_id == shop_id,
            StorefrontEvent.customer_id.in_(sorted(customer_ids)),
            StorefrontEvent.kind == PRODUCT_VIEWED,
            StorefrontEvent.occurred_at >= now - EVENT_RETENTION,
        )
        .order_by(StorefrontEvent.occurred_at.desc(), StorefrontEvent.id.desc())
    ):
        products = found.setdefault(int(customer_id or 0), [])
        if len(products) < VIEWS_PER_CUSTOMER and str(product) not in products:
            products.append(str(product))
    return found
