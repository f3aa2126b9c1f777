"""Shops and abandoned carts ready for batch dispatch.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Checkout, Customer, Shop
from app.models.flow import FlowRun, FlowSetting
from tests.factories.shopify_webhooks import make_shop

LINE_ITEMS = [
    {"title": "抹茶セット", "variant_title": "缶入り", "quantity": 1, "price": "12800",
     "image_url": "https://cdn.example/matcha.jpg"},
    {"title": "Tea <b>& Cups", "variant_title": None, "quantity": 2, "price": "1800"},
]  # fmt: skip


def _shop(db: Session, domain: str, **flow_config: Any) -> Shop:
    shop = make_shop(db, domain=domain)
    shop.timezone, shop.locale, shop.currency, shop.name = "UTC", "ja", "JPY", "絆ストア"
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key="cart",
            config={"holdout_percent": 0, "quiet_hours": None, **flow_config},
        )
    )
    db.commit()
    return shop


def _cart(
    db: Session, shop: Shop, n: int, *, name: str | None = "花子", locale: str = "ja", **kw: Any
) -> tuple[Customer, Checkout, FlowRun]:
    """A subscribed customer with an open checkout and a cart run whose step 1 is due."""
    now = utcnow()
    customer = Customer(
        shop_id=shop.id,
        external_id=str(8000 + n),
        email=f"c{n}@example.jp",
        email_normalized=f"c{n}@example.jp",
        first_name=name,
        locale=locale,
        country_code="JP",
        email_marketing_state="SUBSCRIBED",
    )
    db.add(customer)
    db.flush()
    token = f"tok-{n:05d}"
    checkout = Checkout(
        shop_id=shop.id,
        external_id=token,
        customer_id=customer.id,
        email=customer.email,
        recovery_url=f"https://{shop.domain}/checkouts/{token}/recover?key=k&n={n}",
        total_price=Decimal(16400),
        currency="JPY",
        line_items=kw.get("line_items", LINE_ITEMS),
        platform_created_at=now - timedelta(hours=1),
        platform_updated_at=now - timedelta(hours=1),
    )
    run = FlowRun(
        shop_id=shop.id,
        flow_key="cart",
        customer_id=customer.id,
        trigger_key=token,
        status="running",
        next_step=1,
        next_step_at=now - timedelta(seconds=5),
        started_at=now - timedelta(hours=1),
    )
    db.add_all([checkout, run])
    db.flush()
    return customer, checkout, run
