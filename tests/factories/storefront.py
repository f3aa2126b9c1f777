"""Storefront events and back-in-stock requests as the Shopify pixel and the WooCommerce script
post them, and the shop they go to.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.back_in_stock import BACK_IN_STOCK
from app.flows.back_in_stock import DEFAULTS as STOCK_DEFAULTS
from app.flows.browse import BROWSE
from app.flows.browse import DEFAULTS as BROWSE_DEFAULTS
from app.models import Customer, Shop
from app.models.flow import FlowSetting
from app.models.storefront import StockSubscription, StorefrontEvent
from tests.factories.post_purchase import CUSTOMER, setup_shop
from tests.factories.shopify_webhooks import DOMAIN

VISITOR = "visitor-0001"
_ids = itertools.count(1)


def storefront_shop(
    db: Session, *, consent: str = "SUBSCRIBED", domain: str = DOMAIN, **browse: Any
) -> tuple[Shop, Customer]:
    """The post-purchase shop (catalogue, customer 山田 花子) with browse and back-in-stock
    settings: no holdout, no quiet hours (`browse` overrides the browse config)."""
    shop, customer = setup_shop(db, consent=consent, domain=domain)
    quiet = {"holdout_percent": 0, "quiet_hours": None}
    db.add(
        FlowSetting(shop_id=shop.id, flow_key=BROWSE, config={**BROWSE_DEFAULTS, **quiet, **browse})
    )
    db.add(FlowSetting(shop_id=shop.id, flow_key=BACK_IN_STOCK, config={**STOCK_DEFAULTS, **quiet}))
    db.commit()
    return shop, customer


def event(
    product: str,
    kind: str = "product_viewed",
    *,
    at: datetime | None = None,
    event_id: str | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id or f"event-{next(_ids):06d}",
        "type": kind,
        "product": f"gid://shopify/Product/{product}",
    }
    if variant is not None:
        body["variant"] = variant
    if at is not None:
        body["at"] = at.isoformat()
    return body


def pixel_post(
    client: Any,
    events: list[dict[str, Any]],
    *,
    customer: int | None = CUSTOMER,
    visitor: str = VISITOR,
    analytics: bool = True,
    marketing: bool = True,
    domain: str = DOMAIN,
) -> Any:
    """What the web pixel posts (extensions/kizuna-pixel/src/index.js)."""
    body = {
        "visitor": visitor,
        "customer": str(customer) if customer is not None else None,
        "consent": {"analytics": analytics, "marketing": marketing},
        "events": events,
    }
    return client.post(
        f"/storefront/events?shop_domain={domain}",
        json=body,
        headers={"Origin": "https://kizuna-test.myshopify.com"},
    )


def stored_events(db: Session, shop: Shop) -> list[StorefrontEvent]:
    db.expire_all()
    return list(
        db.scalars(
            select(StorefrontEvent)
            .where(StorefrontEvent.shop_id == shop.id)
            .order_by(StorefrontEvent.id)
        )
    )


def subscriptions(db: Session, shop: Shop) -> list[StockSubscription]:
    db.expire_all()
    return list(
        db.scalars(
            select(StockSubscription)
            .where(StockSubscription.shop_id == shop.id)
            .order_by(StockSubscription.id)
        )
    )
