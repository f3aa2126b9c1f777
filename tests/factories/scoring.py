"""Order histories for RFM scoring (ANALYZE after the load).

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.models import Customer, Order, Shop
from tests.conftest import analyze_after_bulk_load
from tests.factories.shops import build_shop

AS_OF = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_shop(db: Session, domain: str, **values: Any) -> Shop:
    defaults: dict[str, Any] = {
        "name": domain.split(".")[0].title(),
        "timezone": "Asia/Tokyo",
        "currency": "JPY",
        "locale": "en",
    }
    return build_shop(db, domain, account_name=f"Owner of {domain}", **{**defaults, **values})


def add_cancelled_order(
    db: Session, shop: Shop, customer: Customer, external_id: str, total: int, as_of: datetime
) -> Order:
    """A big order placed the day before `as_of` and cancelled since: it must never count."""
    order = Order(
        shop_id=shop.id,
        external_id=external_id,
        customer_id=customer.id,
        currency=shop.currency,
        total_price=Decimal(total),
        processed_at=as_of - timedelta(days=1),
        cancelled_at=as_of - timedelta(hours=20),
    )
    db.add(order)
    return order


def build_history(
    db: Session,
    shop: Shop,
    customers: int,
    seed: int,
    as_of: datetime = AS_OF,
    *,
    first_order_days: tuple[int, int] = (30, 730),
    most_orders: int = 8,
    prices: tuple[int, int] = (1000, 30000),
    cancelled_every: int = 5,
    cancelled_total: int = 999_999,
) -> list[Customer]:
    """`customers` customers with 1 to `most_orders` orders, the first within `first_order_days`
    before `as_of` (the others after it), priced within `prices`; every `cancelled_every`th
    customer also has a cancelled order of `cancelled_total` (which must never count)."""
    rng = random.Random(seed)
    made = []
    for n in range(customers):
        customer = Customer(
            shop_id=shop.id, external_id=f"{seed}-{n}", first_name=f"C{n}", currency=shop.currency
        )
        db.add(customer)
        db.flush()
        first_day = rng.randint(*first_order_days)
        for k in range(rng.randint(1, most_orders)):
            day = first_day if k == 0 else rng.randint(0, first_day)
            db.add(
                Order(
                    shop_id=shop.id,
                    external_id=f"{seed}-{n}-{k}",
                    customer_id=customer.id,
                    currency=shop.currency,
                    total_price=Decimal(rng.randrange(*prices, 100)),
                    processed_at=as_of - timedelta(days=day, hours=rng.randint(0, 20)),
                )
            )
        if n % cancelled_every == 0:
            add_cancelled_order(db, shop, customer, f"{seed}-{n}-cancelled", cancelled_total, as_of)
        made.append(customer)
    db.commit()
    analyze_after_bulk_load(db, "customers", "orders")
    return made
