"""Runs, messages and orders for the flow statistics and attribution tests.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.models import Customer, Shop
from app.models.flow import FlowRun, Message
from tests.factories.admin import make_order

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


T0 = NOW - timedelta(days=20)


S = T0 - timedelta(hours=1)


_events = iter(range(1, 10**6))


def run(db: Session, shop: Shop, customer: Customer, status: str, started: datetime = S) -> FlowRun:
    row = FlowRun(
        shop_id=shop.id,
        flow_key="cart",
        customer_id=customer.id,
        trigger_key=f"token-{customer.id}-{started.timestamp()}",
        status=status,
        started_at=started,
    )
    db.add(row)
    db.commit()
    return row


def message(
    db: Session, flow_run: FlowRun, step: int, status: str = "sent", **stamps: Any
) -> Message:
    row = Message(
        shop_id=flow_run.shop_id,
        flow_run_id=flow_run.id,
        step=step,
        customer_id=flow_run.customer_id,
        status=status,
        sent_at=stamps.pop("sent_at", T0 if status == "sent" else None),
        **stamps,
    )
    db.add(row)
    db.commit()
    return row


def order(
    db: Session, shop: Shop, customer: Customer, amount: str, at: datetime, **kw: Any
) -> None:
    make_order(db, shop, customer, f"#{next(_events)}", [("Tea", 1, amount)], processed_at=at, **kw)
