"""API routes: `/shop`, `/customers`, `/customers/<id>`, `/segments`, `/analytics`.

Layer: web (reads only). Each route validates its parameters (400 on a bad one), reads through the
read modules in `app.services` it shares with the admin pages, with `g.shop` (another shop's
customer is a 404, exactly as on the pages) and serialises with `app.api.serialize`. Shapes are
documented in `docs/openapi.yaml`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import g, jsonify, request

from app.api import bp
from app.api.errors import api_required, bad_parameter, not_found
from app.api.saved_segments import saved_segments_json
from app.api.serialize import (
    checkout_json,
    customer_json,
    customer_summary_json,
    money,
    order_json,
    ratio,
    score_json,
    timeline_json,
    when,
)
from app.db import utcnow
from app.domain.rfm import DEFAULT_SEGMENT_MAP, SCORES
from app.i18n import current_language
from app.kizuna import db_session, kizuna
from app.services import analytics_reads, customer_reads, segment_reads
from app.services.customer_reads import MAX_QUERY_LENGTH
from app.services.shop_status import jsonable, shop_status

MAX_ID = 2**31 - 1  # ids are PostgreSQL `integer`


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit():
        raise bad_parameter(name, "must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise bad_parameter(name, f"must be between {low} and {high}")
    return value


@bp.get("/shop")
@api_required
def shop():  # type: ignore[no-untyped-def]
    runtime = kizuna()
    status = shop_status(
        db_session(), runtime.redis, g.shop, wanted_scopes=runtime.config.shopify_scopes
    )
    return jsonify(jsonable(status))


@bp.get("/customers")
@api_required
def customers():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY_LENGTH:
        raise bad_parameter("q", f"at most {MAX_QUERY_LENGTH} characters")
    if "\x00" in q:
        raise bad_parameter("q", "must not contain NUL characters")
    after = _int_arg("after", None, 1, MAX_ID)
    limit = _int_arg("limit", None, 1, customer_reads.MAX_PAGE_SIZE) or customer_reads.PAGE_SIZE
    page = customer_reads.customer_page(db_session(), g.shop, q=q, after=after, limit=limit)
    return jsonify(
        customers=[customer_summary_json(c) for c in page.customers],
        next_after=page.next_after,
        count=page.count,
        count_capped=page.count_capped,
        limit=limit,
    )


@bp.get("/customers/<int:customer_id>")
@api_required
def customer(customer_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    found = (
        customer_reads.get_customer(session, g.shop, customer_id) if customer_id <= MAX_ID else None
    )
    if found is None:
        raise not_found("No such customer in this store.")
    events = customer_reads.timeline(session, g.shop, found)
    payload: dict[str, Any] = customer_json(found)
    payload["orders"] = [
        order_json(o) for o in customer_reads.customer_orders(session, g.shop, found)
    ]
    payload["checkouts"] = [
        checkout_json(c) for c in customer_reads.open_checkouts(session, g.shop, found)
    ]
    payload["timeline"] = [timeline_json(e) for e in events]
    payload["timeline_truncated"] = len(events) >= customer_reads.TIMELINE_LIMIT
    score = segment_reads.customer_score(session, g.shop, found)
    payload["scores"] = score_json(score) if score is not None else None
    payload.update(customer_email_json(found))
    return jsonify(payload)


def customer_email_json(found: Any) -> dict[str, Any]:
    """The customer page's email part: suppression, messages with events, flow runs."""
    session = db_session()
    suppression = customer_reads.customer_suppression(session, g.shop, found)
    return {
        "suppression": (
            {"reason": suppression.reason, "since": when(suppression.created_at)}
            if suppression is not None
            else None
        ),
        "messages": [
            {
                "id": row.message.id,
                "flow": row.flow_key,
                "campaign_id": row.message.campaign_id,
                "step": row.message.step,
                "status": row.message.status,
                "subject": row.message.subject,
                "sent_at": when(row.message.sent_at),
                "events": [{"event": e.event, "at": when(e.occurred_at)} for e in row.events],
            }
            for row in customer_reads.customer_messages(session, g.shop, found)
        ],
        "flow_runs": [
            {
                "id": run.id,
                "flow": run.flow_key,
                "status": run.status,
                "exit_reason": run.exit_reason,
                "started_at": when(run.started_at),
                "next_step_at": when(run.next_step_at),
            }
            for run in customer_reads.customer_flow_runs(session, g.shop, found)
        ],
    }


@bp.get("/segments")
@api_required
def segments_():  # type: ignore[no-untyped-def]
    session = db_session()
    shop = g.shop
    snapshots = segment_reads.latest_snapshots(session, shop)
    latest = snapshots[0] if snapshots else None
    previous = snapshots[1] if len(snapshots) > 1 else None
    groups = segment_reads.group_rows(session, shop, previous, current_language())
    cells = segment_reads.grid_totals(session, shop)
    grid = []
    for r in SCORES:
        for fm in SCORES:
            count, revenue = cells.get((r, fm), (0, Decimal(0)))
            grid.append(
                {
                    "r": r,
                    "fm": fm,
                    "group": DEFAULT_SEGMENT_MAP[(r, fm)],
                    "customers": count,
                    "revenue": money(revenue, shop.currency),
                }
            )
    return jsonify(
        saved=saved_segments_json(session, shop.id),
        as_of=latest.as_of.isoformat() if latest else None,
        previous_as_of=previous.as_of.isoformat() if previous else None,
        confidence=latest.confidence if latest else None,
        model=latest.model if latest else None,
        scored_customers=sum(row.customers for row in groups),
        revenue=money(sum((row.revenue for row in groups), Decimal(0)), shop.currency),
        groups=[
            {
                "key": row.key,
                "name": row.name,
                "customers": row.customers,
                "share": ratio(row.share),
                "revenue": money(row.revenue, shop.currency),
                "predicted_clv": money(row.predicted_clv, shop.currency),
                "customers_before": row.before,
            }
            for row in groups
        ],
        grid=grid,
        moves=[
            {"from": m.from_group, "to": m.to_group, "customers": m.customers}
            for m in segment_reads.group_moves(session, shop)
        ],
    )


@bp.get("/analytics")
@api_required
def analytics_():  # type: ignore[no-untyped-def]
    session = db_session()
    shop = g.shop
    now = utcnow()
    months = analytics_reads.monthly_revenue(session, shop, now=now)
    stats = analytics_reads.customer_stats(session, shop, now=now)
    cohorts = analytics_reads.cohort_retention(session, shop, now=now)
    currency = shop.currency
    return jsonify(
        currency=currency,
        timezone=shop.timezone,
        monthly_revenue=[
            {"month": key, "revenue": money(revenue, currency), "orders": orders}
            for key, revenue, orders in months
        ],
        period_revenue=money(sum((r for _, r, _ in months), Decimal(0)), currency),
        customers=stats.customers,
        repeat_customers=stats.repeat_customers,
        repeat_rate=ratio(stats.repeat_rate),
        churned=stats.churned,
        churn_rate=ratio(stats.churn_rate),
        churn_days=analytics_reads.CHURN_DAYS,
        churn_p_alive=analytics_reads.CHURN_P_ALIVE,
        ltv={
            "historic": money(stats.historic_ltv, currency),
            "predicted": money(stats.predicted_ltv, currency),
            "scored_customers": stats.scored,
        },
        cohorts=[
            {
                "month": key,
                "customers": size,
                "returning": [
                    {"months_later": k, "customers": n} for k, n in sorted(by.items()) if k > 0
                ],
            }
            for key, size, by in cohorts
        ],
    )
