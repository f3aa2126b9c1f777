"""Admin analytics page (`/app/analytics`): revenue by month, repeat rate, churn, LTV, cohorts.

Layer: web (reads only). Every query filters on the shop and aggregates in SQL; months are the
shop's local months on PostgreSQL. `customer_stats` and `cohort_retention` define them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import g, render_template
from flask_babel import gettext, npgettext
from markupsafe import Markup
from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from app.admin import bp
from app.admin.helpers import money, number
from app.auth.guard import admin_required
from app.charts import Bar, HeatCell, bar_chart, heat_map
from app.db import utcnow
from app.formatting import format_compact_money, format_month, to_local
from app.i18n import current_language
from app.kizuna import db_session
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
    keys = _month_keys(_shift_month(_month_of(now, shop), -(months - 1)), months)
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
    first_keys = _month_keys(_shift_month(_month_of(now, shop), -(cohorts - 1)), cohorts)
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
            table[cohort][_months_between(cohort, month)] = customers
    return [(k, table[k].get(0, 0), table[k]) for k in first_keys]


# --- months as 'YYYY-MM' strings -------------------------------------------------------------


def _month_of(moment: datetime, shop: Shop) -> str:
    local = to_local(moment, shop.timezone)
    return f"{local.year:04d}-{local.month:02d}"


def _shift_month(key: str, months: int) -> str:
    year, month = int(key[:4]), int(key[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_keys(first: str, count: int) -> list[str]:
    return [_shift_month(first, i) for i in range(count)]


def _months_between(earlier: str, later: str) -> int:
    return (int(later[:4]) - int(earlier[:4])) * 12 + int(later[5:7]) - int(earlier[5:7])


def month_label(key: str) -> str:
    """`2026-11` → `Nov 2026` / `2026年11月`."""
    return format_month(int(key[:4]), int(key[5:7]), current_language())


def compact_money(value: float, currency: str) -> str:
    """Axis labels: $1.2M / ¥123.5万, short enough for the chart's margin."""
    return format_compact_money(value, currency, current_language())


# --- charts ----------------------------------------------------------------------------------


def _bar_text(revenue: Decimal, orders: int, currency: str) -> str:
    return f"{money(revenue, currency)} · {orders_text(orders)}"


def orders_text(orders: int) -> str:
    return npgettext(
        "analytics.orders_n", "%(count)s order", "%(count)s orders", orders, count=number(orders)
    )


def revenue_chart(months: list[tuple[str, Decimal, int]], currency: str) -> Markup:
    bars = [
        Bar(
            month_label(k),
            revenue,
            f"{money(revenue, currency)} · {orders_text(n)}",
        )
        for k, revenue, n in months
    ]
    if not any(n for _, _, n in months):
        bars = []
    return bar_chart(
        bars,
        title=gettext("Revenue by month"),
        y_format=lambda v: compact_money(v, currency),
        empty_text=gettext("No orders yet"),
    )


def cohort_chart(cohorts: list[tuple[str, int, dict[int, int]]], now_key: str) -> Markup:
    offsets = range(1, COHORT_MONTHS)
    rows = []
    for cohort, size, by_offset in cohorts:
        row: list[HeatCell | None] = []
        for k in offsets:
            if _months_between(cohort, now_key) < k:
                row.append(None)  # that month has not happened yet
                continue
            returning = by_offset.get(k, 0)
            share = returning / size if size else 0.0
            row.append(
                HeatCell(
                    value=share,
                    lines=(f"{share * 100:.0f}%",) if size else ("—",),
                    title=gettext(
                        "%(cohort)s, %(months)s months later: %(count)s of %(size)s customers",
                        cohort=month_label(cohort),
                        months=k,
                        count=number(returning),
                        size=number(size),
                    ),
                )
            )
        rows.append(row)
    return heat_map(
        rows,
        row_labels=[f"{month_label(c)} ({number(size)})" for c, size, _ in cohorts],
        column_labels=[gettext("+%(months)s", months=k) for k in offsets],
        title=gettext("Retention by first-order month"),
        x_title=gettext("Months after the first order"),
        cell_width=58,
        cell_height=28,
        label_width=118,
    )


@bp.get("/analytics")
@admin_required
def analytics():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    shop = g.shop
    now = utcnow()
    months = monthly_revenue(session, shop, now=now)
    cohorts = cohort_retention(session, shop, now=now)
    return render_template(
        "admin/analytics.html",
        stats=customer_stats(session, shop, now=now),
        months=months,
        period_revenue=sum((revenue for _, revenue, _ in months), Decimal(0)),
        revenue_svg=revenue_chart(months, shop.currency),
        cohort_svg=cohort_chart(cohorts, _month_of(now, shop)),
        churn_days=CHURN_DAYS,
        churn_p_alive=CHURN_P_ALIVE,
    )
