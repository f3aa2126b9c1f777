"""Admin analytics page (`/app/analytics`): revenue by month, repeat rate, churn, LTV, cohorts.

Layer: web. The numbers and their definitions come from `app.services.analytics_reads` (shared
with the JSON API), read for `g.shop`; this module draws the charts and renders the page.
"""

from __future__ import annotations

from decimal import Decimal

from flask import g, render_template
from flask_babel import gettext, npgettext
from markupsafe import Markup

from app.admin import bp
from app.admin.helpers import money, number
from app.auth.guard import admin_required
from app.charts import Bar, HeatCell, bar_chart, heat_map
from app.db import utcnow
from app.formatting import format_compact_money, format_month
from app.i18n import current_language
from app.kizuna import db_session
from app.services.analytics_reads import (
    CHURN_DAYS,
    CHURN_P_ALIVE,
    COHORT_MONTHS,
    cohort_retention,
    customer_stats,
    month_of,
    monthly_revenue,
    months_between,
)


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
            if months_between(cohort, now_key) < k:
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
        cohort_svg=cohort_chart(cohorts, month_of(now, shop)),
        churn_days=CHURN_DAYS,
        churn_p_alive=CHURN_P_ALIVE,
    )
