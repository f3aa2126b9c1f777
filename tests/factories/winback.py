"""Lapsed customers and win-back runs.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.orchestration import WINBACK
from app.models import Customer, Order, Shop
from app.models.flow import FlowRun

NOW = datetime.now(UTC)


def add_customer(
    db: Session, shop: Shop, external_id: str, order_days_ago: list[int], consent: str
) -> Customer:
    email = f"c{external_id}@example.jp"
    customer = Customer(
        shop_id=shop.id,
        external_id=external_id,
        email=email,
        email_normalized=email,
        first_name="花子",
        last_name="山田",
        locale="ja",
        email_marketing_state=consent,
    )
    db.add(customer)
    db.flush()
    for index, days in enumerate(order_days_ago):
        db.add(
            Order(
                shop_id=shop.id,
                external_id=f"{external_id}-{index}",
                customer_id=customer.id,
                currency="JPY",
                total_price=Decimal(5000),
                processed_at=NOW - timedelta(days=days),
            )
        )
    return customer


def winback_runs(db: Session) -> list[FlowRun]:
    db.expire_all()
    return list(db.scalars(select(FlowRun).where(FlowRun.flow_key == WINBACK)))
