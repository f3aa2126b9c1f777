"""Scoring a shop: RFM cells and groups plus purchase predictions for every customer with orders.

Layer: services; `score_shop` owns its transaction and commits once. It reads the shop's
non-cancelled orders in one query, runs the pure `domain.rfm` and `domain.predictions` code, and
writes `customer_scores` in bulk (INSERT … ON CONFLICT on (shop_id, customer_id)), deletes the
scores of customers no longer scored, and upserts today's `rfm_snapshots` row (unique per shop
and day) with the model's confidence and reason. Running it twice the same day changes nothing
but `computed_at`; `previous_group` moves forward only when the day changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain import predictions, rfm
from app.models import Customer, CustomerScore, Order, RfmSnapshot, Shop
from app.services.upsert import dialect_insert, table_of

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass(frozen=True)
class ScoringResult:
    shop_id: int
    as_of: datetime
    customers: int
    confidence: str
    model: str


def order_placed_at() -> Any:
    """When an order was placed: the platform's processing time, else its creation time."""
    return func.coalesce(Order.processed_at, Order.platform_created_at, Order.created_at)


def load_transactions(
    session: Session, shop_id: int, as_of: datetime
) -> list[predictions.Transaction]:
    """The shop's non-cancelled orders of live customers placed up to `as_of`, in one query."""
    placed_at = order_placed_at()
    rows = session.execute(
        select(Order.customer_id, placed_at, Order.total_price)
        .join(Customer, Customer.id == Order.customer_id)
        .where(
            Order.shop_id == shop_id,
            Customer.shop_id == shop_id,
            Customer.deleted_at.is_(None),
            Order.cancelled_at.is_(None),
            placed_at <= as_of,
        )
    )
    return [
        predictions.Transaction(customer_id=customer_id, ordered_at=at, amount=amount)
        for customer_id, at, amount in rows
    ]


def activities(transactions: Sequence[predictions.Transaction]) -> list[rfm.CustomerActivity]:
    """Per-customer first and last order, order count and spend, for `rfm.score_customers`."""
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    count: dict[int, int] = {}
    spend: dict[int, Decimal] = {}
    for tx in transactions:
        cid = tx.customer_id
        first[cid] = min(first.get(cid, tx.ordered_at), tx.ordered_at)
        last[cid] = max(last.get(cid, tx.ordered_at), tx.ordered_at)
        count[cid] = count.get(cid, 0) + 1
        spend[cid] = spend.get(cid, Decimal(0)) + tx.amount
    return [
        rfm.CustomerActivity(
            customer_id=cid,
            first_order_at=first[cid],
            last_order_at=last[cid],
            orders=count[cid],
            monetary=spend[cid],
        )
        for cid in sorted(count)
    ]


def score_shop(session: Session, shop_id: int, as_of: datetime | None = None) -> ScoringResult:
    """Score every customer of the shop at `as_of` (now by default), save the scores, commit."""
    as_of = as_of or utcnow()
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise LookupError(f"shop {shop_id} not found")
    transactions = load_transactions(session, shop_id, as_of)
    snapshot = rfm.score_customers(activities(transactions), as_of)
    forecast = predictions.predict_shop(transactions, as_of)
    predicted = {p.customer_id: p for p in forecast.customers}
    run_at = utcnow()
    day = as_of.date()

    rows = []
    for c in snapshot.customers:
        p = predicted.get(c.customer_id)
        rows.append(
            {
                "shop_id": shop_id,
                "customer_id": c.customer_id,
                "as_of": day,
                "r": c.r,
                "f": c.f,
                "m": c.m,
                "fm": c.fm,
                "rfm_group": c.group,
                "previous_group": None,
                "recency_days": c.recency_days,
                "orders": c.orders,
                "monetary": c.monetary,
                "probability_alive": p.probability_alive if p else 0.0,
                "expected_orders_365": p.expected_purchases if p else 0.0,
                "expected_next_order_at": p.expected_next_order_at if p else None,
                "predicted_clv": p.predicted_clv if p else Decimal(0),
                "currency": shop.currency,
                "confidence": forecast.confidence,
                "computed_at": run_at,
            }
        )
    _upsert_scores(session, rows)
    # Customers scored before but not now (every order cancelled, customer deleted).
    session.execute(
        delete(CustomerScore).where(
            CustomerScore.shop_id == shop_id, CustomerScore.computed_at < run_at
        )
    )
    _upsert_snapshot(session, shop_id, snapshot, forecast, run_at)
    session.commit()
    log.info(
        "scored shop=%s customers=%s confidence=%s model=%s",
        shop_id,
        len(rows),
        forecast.confidence,
        forecast.model,
    )
    return ScoringResult(shop_id, as_of, len(rows), forecast.confidence, forecast.model)


def _chunks(items: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _upsert_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    table = table_of(CustomerScore)
    for chunk in _chunks(rows):
        insert = dialect_insert(session, CustomerScore).values(list(chunk))
        new = insert.excluded
        updated = {
            name: getattr(new, name)
            for name in rows[0]
            if name not in ("shop_id", "customer_id", "previous_group")
        }
        # The group of the last run on an earlier day; a rerun the same day keeps it.
        updated["previous_group"] = case(
            (table.c.as_of < new.as_of, table.c.rfm_group), else_=table.c.previous_group
        )
        session.execute(
            insert.on_conflict_do_update(index_elements=["shop_id", "customer_id"], set_=updated)
        )


def _upsert_snapshot(
    session: Session,
    shop_id: int,
    snapshot: rfm.RfmSnapshot,
    forecast: predictions.ShopPredictions,
    run_at: datetime,
) -> None:
    grid = {f"{cell.r},{cell.column}": cell.customers for cell in rfm.rfm_grid(snapshot)}
    applied = snapshot.thresholds
    values = {
        "shop_id": shop_id,
        "as_of": snapshot.as_of.date(),
        "customers": len(snapshot.customers),
        "group_counts": rfm.group_counts(snapshot),
        "grid_counts": grid,
        "confidence": forecast.confidence,
        "reason": dict(forecast.reason),
        "model": forecast.model,
        "detail": {
            "repeat_buyers": forecast.repeat_buyers,
            "history_days": forecast.history_days,
            "horizon_days": forecast.horizon_days,
            "thresholds": {
                "recency_days": [str(v) for v in applied.recency_days],
                "frequency_orders": [str(v) for v in applied.frequency_orders],
                "monetary": [str(v) for v in applied.monetary],
                "sources": [
                    applied.recency_source,
                    applied.frequency_source,
                    applied.monetary_source,
                ],
            },
        },
        "computed_at": run_at,
    }
    insert = dialect_insert(session, RfmSnapshot).values(values)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["shop_id", "as_of"],
            set_={k: getattr(insert.excluded, k) for k in values if k not in ("shop_id", "as_of")},
        )
    )
