"""The account-wide store overview shared by the stores page (`/app/stores`) and the JSON API: each
store's customers, orders and revenue over the last 30 days, email sent, totals per currency, and
how many people shop in more than one of them.

Layer: services (reads only; no Flask request state). Every query is limited to the `shops` the
caller passes: the signed-in account's stores (inside the Shopify admin, the one store of the
session). Revenue is never summed across currencies: totals are per currency. Orders count when not
cancelled, placed at `processed_at` (else the platform's creation time), as on the analytics page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from app.models import Customer, Order, Shop
from app.models.flow import Message
from app.services.scoring import order_placed_at

WINDOW = timedelta(days=30)
EMAIL_WINDOW = timedelta(days=7)


@dataclass
class StoreRow:
    shop: Shop
    customers: int = 0
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # currency → sum
    emails_sent: int = 0


@dataclass
class Overview:
    stores: list[StoreRow]
    totals: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # currency → orders, sum
    customers: int = 0
    shared_people: int = 0


def overview(session: Session, shops: list[Shop], now: datetime) -> Overview:
    ids = [shop.id for shop in shops]
    rows = {shop.id: StoreRow(shop) for shop in shops}
    if not ids:
        return Overview([])
    live = Customer.deleted_at.is_(None) & Customer.redacted_at.is_(None)
    for shop_id, count in session.execute(
        select(Customer.shop_id, func.count())
        .where(Customer.shop_id.in_(ids), live)
        .group_by(Customer.shop_id)
    ):
        rows[shop_id].customers = int(count)
    placed = order_placed_at()
    totals: dict[str, tuple[int, Decimal]] = {}
    for shop_id, currency, count, total in session.execute(
        select(
            Order.shop_id,
            Order.currency,
            func.count(),
            func.coalesce(func.sum(Order.total_price), 0),
        )
        .where(Order.shop_id.in_(ids), Order.cancelled_at.is_(None), placed >= now - WINDOW)
        .group_by(Order.shop_id, Order.currency)
    ):
        row = rows[shop_id]
        row.orders += int(count)
        row.revenue[currency] = row.revenue.get(currency, Decimal(0)) + Decimal(total)
        orders, revenue = totals.get(currency, (0, Decimal(0)))
        totals[currency] = (orders + int(count), revenue + Decimal(total))
    for shop_id, count in session.execute(
        select(Message.shop_id, func.count())
        .where(
            Message.shop_id.in_(ids),
            Message.status == "sent",
            Message.sent_at >= now - EMAIL_WINDOW,
        )
        .group_by(Message.shop_id)
    ):
        rows[shop_id].emails_sent = int(count)
    person_id = cast(Table, Customer.__table__).c.person_id
    shared = (
        select(person_id)
        .where(Customer.shop_id.in_(ids), person_id.is_not(None), live)
        .group_by(person_id)
        .having(func.count(func.distinct(Customer.shop_id)) > 1)
        .subquery()
    )
    shared_people = session.scalar(select(func.count()).select_from(shared)) or 0
    return Overview(
        stores=[rows[shop.id] for shop in shops],
        totals=totals,
        customers=sum(row.customers for row in rows.values()),
        shared_people=int(shared_people),
    )
