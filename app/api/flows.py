"""API routes for the flows (`/flows`) and the account's stores (`/stores`).

Layer: web (reads only), from the same code as the pages, so page and API agree.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from app.api import bp
from app.api.errors import api_required
from app.api.serialize import money, ratio, when
from app.db import utcnow
from app.flows import settings as flow_settings
from app.flows import stats as flow_stats
from app.kizuna import db_session
from app.services import attribution
from app.services.shop_errors import shop_error
from app.services.store_overview import overview


def _interval(value: flow_stats.Interval | None, scale: float = 1.0) -> dict[str, float] | None:
    if value is None:
        return None
    return {
        "estimate": round(value.estimate * scale, 4),
        "low": round(value.low * scale, 4),
        "high": round(value.high * scale, 4),
    }


def _performance(stats: flow_stats.FlowPerformance, currency: str) -> dict[str, Any]:
    lift = stats.lift
    return {
        "since": when(stats.since),
        "until": when(stats.until),
        "runs": stats.runs,
        "running": stats.running,
        "sent": stats.sent,
        "delivered": stats.delivered,
        "opened": stats.opened,
        "clicked": stats.clicked,
        "orders": stats.orders,
        "revenue": money(stats.revenue, currency),
        "holdout": {
            "treated_runs": lift.treated_runs,
            "treated_conversions": lift.treated_conversions,
            "treated_rate": ratio(lift.treated_rate),
            "holdout_runs": lift.holdout_runs,
            "holdout_conversions": lift.holdout_conversions,
            "holdout_rate": ratio(lift.holdout_rate),
            "enough_data": lift.enough_data,
            "conversion_difference": _interval(lift.conversion_difference),
            "incremental_revenue": _interval(lift.incremental_revenue),
        },
    }


@bp.get("/flows")
@api_required
def flows():  # type: ignore[no-untyped-def]
    session = db_session()
    credit = attribution.settings_of(g.shop)
    items = []
    for key in flow_settings.FLOW_KEYS:
        setting = flow_settings.load(session, g.shop.id, key)
        stats = flow_stats.flow_performance(session, g.shop.id, key, attribution=credit)
        items.append(
            {
                "key": key,
                "enabled": flow_settings.is_enabled(setting, key),
                "performance": _performance(stats, g.shop.currency),
            }
        )
    return jsonify(flows=items, attribution=credit.to_json())


@bp.get("/stores")
@api_required
def stores():  # type: ignore[no-untyped-def]
    found = overview(db_session(), g.shops, utcnow())
    return jsonify(
        stores=[
            {
                "id": row.shop.id,
                "name": row.shop.name,
                "domain": row.shop.domain,
                "platform": row.shop.platform,
                "status": row.shop.status,
                "customers": row.customers,
                "orders_30d": row.orders,
                "revenue_30d": [
                    money(amount, code) for code, amount in sorted(row.revenue.items())
                ],
                "emails_sent_7d": row.emails_sent,
                "last_error": shop_error(row.shop),
                "last_error_code": row.shop.last_error_code if row.shop.last_error else None,
            }
            for row in found.stores
        ],
        totals=[
            {"orders_30d": orders, "revenue_30d": money(revenue, code)}
            for code, (orders, revenue) in sorted(found.totals.items())
        ],
        customers=found.customers,
        shared_people=found.shared_people,
    )
