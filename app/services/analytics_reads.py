"""The analytics reads shared by the admin analytics page and the JSON API: revenue by month,
repeat rate, churn, LTV inputs and cohort retention.

Layer: services (reads only; no Flask request state: the caller passes the session and the `Shop`).
Every query filters on the shop and aggregates in SQL; months are the shop's local months on
PostgreSQL. `customer_stats` and `cohort_retention` define them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.formatting import to_local
from app.models import CustomerScore, Order, Shop
from app.services.scoring import order_placed_at

CHURN_DAYS = 180
CHURN_P_ALIVE = 0.3
REVENUE_MONTHS = 24
COHORT_MONTHS = 12


@dataclass(frozen=True)
class CustomerStats:
    customers: int  # with at least one non-cancelled order
    repeat_customers: int
    churned: int
    revenue: Decimal  # of those customers' orders
    scored: int
    predicted_clv_total: Decimal

    @property
    def repeat_rate(self) -> float | None:
        return self.repeat_customers / self.customers if self.customers else None

    @property
    def churn_rate(self) -> float | None:
        return self.churned / self.customers if self.customers else None

    @property
    def historic_ltv(self) -> Decimal | None:
        return self.revenue / self.customers if self.customers else None

    @property
    def predicted_ltv(self) -> Decimal | None:
        return self.predicted_clv_total / self.scored if self.scored else None


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def month_key(session: Session, shop: Shop, moment: Any) -> Any:
    """'YYYY-MM' of `moment` in the shop's zone (UTC on SQLite)."""
    if _is_postgres(session):
        return func.to_char(func.timezone(shop.timezone or "UTC", moment), "YYYY-MM")
    return func.strftime("%Y-%m", moment)


def _counted_orders(shop: Shop) -> Any:
    return and_(
        Order.shop_id == shop.id, Order.cancelled_at.is_(None), Order.customer_id.is_not(None)
    )


def monthly_revenue(
    session: Session, shop: Shop, months: int = REVENUE_MONTHS, now: datetime | None = None
) -> list[tuple[str, Decimal, int]]:
    """(month, revenue, orders) for the last `months` months, oldest first, gaps filled."""
    now = now or utcnow()
    keys = _month_keys(_shift_month(month_of(now, shop), -(months - 1)), months)
    placed_at = order_placed_at()
    key = month_key(session, shop, placed_at)
    rows = session.execute(
        select(key, func.coalesce(func.sum(Order.total_price), 0), func.count())
        .where(
            Order.shop_id == shop.id,
            Order.cancelled_at.is_(None),
            # One month of slack for the zone shift; months outside `keys` are dropped below.
            placed_at >= now - timedelta(days=31 * months + 31),
        )
        .group_by(key)
    )
    found = {k: (Decimal(revenue), n) for k, revenue, n in rows}
    return [(k, *found.get(k, (Decimal(0), 0))) for k in keys]


def customer_stats(session: Session, shop: Shop, now: datetime | None = None) -> CustomerStats:
    """Repeat rate, churn and LTV inputs in one query over the shop's orders and scores.

    Orders count when not cancelled, placed at `processed_at` (else the platform's creation time).
    - repeat-purchase rate: customers with 2+ orders ÷ customers with 1+ order;
    - churned: a customer with orders whose last order is more than `CHURN_DAYS` days old, or
      whose latest scored P(alive) is below `CHURN_P_ALIVE` (BG/NBD puts every one-time buyer
      at 1, so the day rule is what catches them);
    - average LTV: historic = revenue ÷ customers with orders; predicted = mean predicted CLV
      over the next 365 days of the scored customers (`customer_scores`, refreshed nightly).
    """
    now = now or utcnow()
    placed_at = order_placed_at()
    per_customer = (
        select(
            Order.customer_id.label("customer_id"),
            func.count().label("orders"),
            func.sum(Order.total_price).label("spent"),
            func.max(placed_at).label("last_at"),
        )
        .where(_counted_orders(shop))
        .group_by(Order.customer_id)
        .subquery()
    )
    score = CustomerScore
    churned = or_(
        per_customer.c.last_at < now - timedelta(days=CHURN_DAYS),
        score.probability_alive < CHURN_P_ALIVE,
    )
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((per_customer.c.orders >= 2, 1), else_=0)), 0),
            func.coalesce(func.sum(case((churned, 1), else_=0)), 0),
            func.coalesce(func.sum(per_customer.c.spent), 0),
            func.count(score.id),
            func.coalesce(func.sum(score.predicted_clv), 0),
        ).select_from(
            per_customer.outerjoin(
                score,
                and_(score.shop_id == shop.id, score.customer_id == per_customer.c.customer_id),
            )
        )
    ).one()
    return CustomerStats(
        customers=int(row[0]),
        repeat_customers=int(row[1]),
        churned=int(row[2]),
        revenue=Decimal(row[3]),
        scored=int(row[4]),
        predicted_clv_total=Decimal(row[5]),
    )


def cohort_retention(
    session: Session, shop: Shop, cohorts: int = COHORT_MONTHS, now: datetime | None = None
) -> list[tuple[str, int, dict[int, int]]]:
    """(first-order month, customers, {months later: customers ordering}) for recent cohorts:
    of the customers whose first order fell in a month, who ordered again in each later month.
    Months are the shop's local months on PostgreSQL; SQLite (development only) buckets in UTC."""
    now = now or utcnow()
    first_keys = _month_keys(_shift_month(month_of(now, shop), -(cohorts - 1)), cohorts)
    placed_at = order_placed_at()
    key = month_key(session, shop, placed_at)
    firsts = (
        select(Order.customer_id.label("customer_id"), func.min(key).label("cohort"))
        .where(_counted_orders(shop))
        .group_by(Order.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(firsts.c.cohort, key, func.count(distinct(Order.customer_id)))
        .join(firsts, firsts.c.customer_id == Order.customer_id)
        .where(_counted_orders(shop), firsts.c.cohort >= first_keys[0])
        .group_by(firsts.c.cohort, key)
    )
    table: dict[str, dict[int, int]] = {k: {} for k in first_keys}
    for cohort, month, customers in rows:
        if cohort in table:
            table[cohort][months_between(cohort, month)] = customers
    return [(k, table[k].get(0, 0), table[k]) for k in first_keys]


# --- months as 'YYYY-MM' strings -------------------------------------------------------------


def month_of(moment: datetime, shop: Shop) -> str:
    local = to_local(moment, shop.timezone)
    return f"{local.year:04d}-{local.month:02d}"


def _shift_month(key: str, months: int) -> str:
    year, month = int(key[:4]), int(key[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_keys(first: str, count: int) -> list[str]:
    return [_shift_month(first, i) for i in range(count)]


def months_between(earlier: str, later: str) -> int:
    return (int(later[:4]) - int(earlier[:4])) * 12 + int(later[5:7]) - int(earlier[5:7])
