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


def build_history(
    db: Session, shop: Shop, customers: int, seed: int, as_of: datetime = AS_OF
) -> list[Customer]:
    """`customers` customers with 1–8 orders spread over the two years before `as_of`; every
    fifth customer also has a cancelled order (which must never count)."""
    rng = random.Random(seed)
    made = []
    for n in range(customers):
        customer = Customer(
            shop_id=shop.id, external_id=f"{seed}-{n}", first_name=f"C{n}", currency=shop.currency
        )
        db.add(customer)
        db.flush()
        first_day = rng.randint(30, 730)
        for k in range(rng.randint(1, 8)):
            day = first_day if k == 0 else rng.randint(0, first_day)
            db.add(
                Order(
                    shop_id=shop.id,
                    external_id=f"{seed}-{n}-{k}",
                    customer_id=customer.id,
                    currency=shop.currency,
                    total_price=Decimal(rng.randrange(1000, 30000, 100)),
                    processed_at=as_of - timedelta(days=day, hours=rng.randint(0, 20)),
                )
            )
        if n % 5 == 0:
            db.add(
                Order(
                    shop_id=shop.id,
                    external_id=f"{seed}-{n}-cancelled",
                    customer_id=customer.id,
                    currency=shop.currency,
                    total_price=Decimal(999_999),
                    processed_at=as_of - timedelta(days=1),
                    cancelled_at=as_of - timedelta(hours=20),
                )
            )
        made.append(customer)
    db.commit()
    analyze_after_bulk_load(db, "customers", "orders")
    return made
