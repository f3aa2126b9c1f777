"""Scoring a shop: RFM cells and groups plus purchase predictions for every customer with orders.

Layer: services; `score_shop` owns its transaction and commits once. It reads the shop's
non-cancelled orders in one query, runs the pure `domain.rfm` and `domain.predictions` code, and
writes `customer_scores` in bulk (INSERT … ON CONFLICT on (shop_id, customer_id), on PostgreSQL
from a COPY into a temporary table), deletes the scores of customers no longer scored, and
upserts today's `rfm_snapshots` row (unique per shop and day) with the model's confidence and
reason. Running it twice the same day changes nothing but `computed_at`; `previous_group` moves
forward only when the day changes. `rescore_rfm` (after a merchant changed the boundaries)
rewrites only the RFM cells and groups of the last scoring, in one transaction.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import redis
from sqlalchemy import case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain import predictions, rfm
from app.models import Customer, CustomerScore, Order, RfmSnapshot, Shop
from app.queueing import enqueue, enqueue_after_commit, job_id
from app.services.upsert import dialect_insert, table_of
from app.tasks import RESCORE_RFM, SCORE_SHOP

log = logging.getLogger(__name__)


def scoring_job_id(shop_id: int) -> str:
    return job_id("score", shop_id, utcnow().strftime("%Y%m%d"))


def enqueue_scoring(
    connection: redis.Redis, shop_id: int, *, after_commit_of: Session | None = None
) -> None:
    """Score `shop_id` soon (for example when its first sync finished): one job per shop and UTC
    day. With `after_commit_of`, the job is enqueued only once that session commits."""
    key = scoring_job_id(shop_id)
    if after_commit_of is not None:
        enqueue_after_commit(after_commit_of, connection, SCORE_SHOP, shop_id, job_id=key)
    else:
        enqueue(connection, SCORE_SHOP, shop_id, job_id=key)


def enqueue_rescoring(
    connection: redis.Redis, shop_id: int, version: str, *, after_commit_of: Session
) -> None:
    """Rescore `shop_id`'s RFM cells once `after_commit_of` commits (its boundaries changed).

    The job id names the saved boundaries (`version`, for example a hash of them): saving the
    same boundaries twice enqueues once, while new ones get a job of their own even when the
    previous rescoring is already running with the old ones.
    """
    enqueue_after_commit(
        after_commit_of,
        connection,
        RESCORE_RFM,
        shop_id,
        job_id=job_id("rescore", shop_id, version),
    )


_CHUNK = 500
MOVES_STORED = 50  # group moves kept in the snapshot (the page shows the largest 15)


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


def shop_thresholds(shop: Shop) -> rfm.RfmThresholds:
    """The merchant's boundaries for `shop` (`shops.rfm_thresholds`); automatic when unset.

    Stored boundaries were validated when saved; unreadable ones are logged and ignored, so the
    nightly scoring still runs (on automatic boundaries) rather than failing.
    """
    try:
        return rfm.thresholds_from_json(shop.rfm_thresholds)
    except ValueError:
        log.warning("unreadable rfm_thresholds shop=%s: scoring on automatic ones", shop.id)
        return rfm.RfmThresholds()


def score_shop(session: Session, shop_id: int, as_of: datetime | None = None) -> ScoringResult:
    """Score every customer of the shop at `as_of` (now by default), save the scores, commit."""
    as_of = as_of or utcnow()
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise LookupError(f"shop {shop_id} not found")
    transactions = load_transactions(session, shop_id, as_of)
    activity = activities(transactions)
    snapshot = rfm.score_customers(activity, as_of, shop_thresholds(shop))
    history_days = max(
        (rfm.days_between(a.first_order_at, as_of) for a in activity if a.first_order_at),
        default=0,
    )
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
    _upsert_snapshot(
        session, shop_id, snapshot, forecast, run_at, history_days, score_totals(session, shop_id)
    )
    session.commit()
    log.info(
        "scored shop=%s customers=%s confidence=%s model=%s",
        shop_id,
        len(rows),
        forecast.confidence,
        forecast.model,
    )
    return ScoringResult(shop_id, as_of, len(rows), forecast.confidence, forecast.model)


def rescore_rfm(session: Session, shop_id: int) -> int:
    """Rescore the RFM cells and groups of the last scoring under the shop's current boundaries.

    For a merchant's boundary change: each stored score keeps the activity the last scoring
    recorded (`recency_days`, `orders`, `monetary`). The boundaries come from those values on
    arrays (`rfm.thresholds_for_arrays`, identical to `rfm.compute_thresholds`); one UPDATE then
    sets R, F, M, FM and the group of every row whose cell changed, in the database, with the
    rules of `rfm.score_customers`. The latest snapshot's counts and boundaries follow;
    predictions and `previous_group` stay, and new orders count from the next full `score_shop`.
    Commits; returns the customers rescored (0 before any scoring).
    """
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise LookupError(f"shop {shop_id} not found")
    latest = session.scalars(
        select(RfmSnapshot)
        .where(RfmSnapshot.shop_id == shop_id)
        .order_by(RfmSnapshot.as_of.desc())
        .limit(1)
    ).first()
    if latest is None:
        return 0
    days, orders, units = _stored_activity(session, shop_id)
    detail = dict(latest.detail or {})
    stored = detail.get("thresholds") or {}
    history_days = int(stored.get("history_days", detail.get("history_days", 0)))
    applied = rfm.thresholds_for_arrays(days, orders, units, history_days, shop_thresholds(shop))
    changed = _update_cells(session, shop_id, applied)

    scored = rfm.score_arrays(days, orders, units, applied)
    grid = np.bincount(scored.r * 6 + scored.fm, minlength=36)
    groups = np.bincount(scored.group, minlength=len(rfm.GROUP_KEYS))
    latest.grid_counts = {
        f"{r},{fm}": int(grid[r * 6 + fm]) for r in reversed(rfm.SCORES) for fm in rfm.SCORES
    }
    latest.group_counts = {key: int(groups[i]) for i, key in enumerate(rfm.GROUP_KEYS)}
    detail["thresholds"] = {**_thresholds_detail(applied), "history_days": history_days}
    detail["totals"] = score_totals(session, shop_id)
    latest.detail = detail
    session.commit()
    log.info("rescored rfm shop=%s customers=%s changed=%s", shop_id, len(days), changed)
    return len(days)


def score_totals(session: Session, shop_id: int) -> dict[str, Any]:
    """What the segments page shows, summed over the shop's scores as they are now.

    Stored in the snapshot (`detail["totals"]`) by every scoring, so the page reads one row
    instead of scanning a million scores: per (R, FM) cell [r, fm, customers, revenue], per group
    [group, customers, revenue, predicted CLV], and the group moves since the last scoring on an
    earlier day [from, to, customers], largest first. Money as decimal strings.
    """
    scores = table_of(CustomerScore)
    mine = scores.c.shop_id == shop_id
    cells = session.execute(
        select(scores.c.r, scores.c.fm, func.count(), func.coalesce(func.sum(scores.c.monetary), 0))
        .where(mine)
        .group_by(scores.c.r, scores.c.fm)
    )
    groups = session.execute(
        select(
            scores.c.rfm_group,
            func.count(),
            func.coalesce(func.sum(scores.c.monetary), 0),
            func.coalesce(func.sum(scores.c.predicted_clv), 0),
        )
        .where(mine)
        .group_by(scores.c.rfm_group)
    )
    moves = session.execute(
        select(scores.c.previous_group, scores.c.rfm_group, func.count())
        .where(
            mine,
            scores.c.previous_group.is_not(None),
            scores.c.previous_group != scores.c.rfm_group,
        )
        .group_by(scores.c.previous_group, scores.c.rfm_group)
        .order_by(func.count().desc(), scores.c.previous_group, scores.c.rfm_group)
        .limit(MOVES_STORED)
    )
    return {
        "cells": [[r, fm, n, str(Decimal(revenue))] for r, fm, n, revenue in cells],
        "groups": [[g, n, str(Decimal(rev)), str(Decimal(clv))] for g, n, rev, clv in groups],
        "moves": [[a, b, n] for a, b, n in moves],
    }


def _stored_activity(session: Session, shop_id: int) -> tuple[Any, Any, Any]:
    """(recency days, orders, monetary in minor units) of every stored score, as int64 arrays."""
    if session.get_bind().dialect.name == "postgresql":
        # A plain cursor: a million rows as tuples of ints, without ORM rows or Decimals.
        raw: Any = session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT recency_days, orders, (monetary * %s)::bigint FROM customer_scores"
                " WHERE shop_id = %s",
                (rfm.MONEY_UNITS, shop_id),
            )
            rows = cursor.fetchall()
    else:
        rows = [
            (days, orders, int(monetary * rfm.MONEY_UNITS))
            for days, orders, monetary in session.execute(
                select(
                    CustomerScore.recency_days, CustomerScore.orders, CustomerScore.monetary
                ).where(CustomerScore.shop_id == shop_id)
            )
        ]
    table = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


def _update_cells(session: Session, shop_id: int, applied: rfm.AppliedThresholds) -> int:
    """One UPDATE giving every score of the shop its cell and group under `applied`.

    The same rules as `rfm.score_arrays`: whole days ≤ ⌊boundary⌋ for recency, orders ≥
    ⌈boundary⌉, spend ≥ boundary; FM = ⌊(F + M) / 2⌋; the group from `DEFAULT_SEGMENT_MAP`.
    Only rows whose cell or group changes are written. Returns how many were.
    """
    table = table_of(CustomerScore)

    def points(compare: Any, bounds: Sequence[Any]) -> Any:
        return sum((case((compare(bound), 1), else_=0) for bound in bounds), literal(1))

    r = points(lambda b: table.c.recency_days <= math.floor(b), applied.recency_days)
    f = points(lambda b: table.c.orders >= math.ceil(b), applied.frequency_orders)
    m = points(lambda b: table.c.monetary >= b, applied.monetary)
    fm = (f + m) // 2
    groups = {r_ * 10 + fm_: group for (r_, fm_), group in rfm.DEFAULT_SEGMENT_MAP.items()}
    group = case(groups, value=r * 10 + fm)
    # One pass over the shop's rows, no self-join: the expressions are cheap next to the writes.
    statement = (
        update(table)
        .where(
            table.c.shop_id == shop_id,
            or_(
                table.c.r != r,
                table.c.f != f,
                table.c.m != m,
                table.c.fm != fm,
                table.c.rfm_group != group,
            ),
        )
        .values(r=r, f=f, m=m, fm=fm, rfm_group=group)
    )
    return session.execute(statement).rowcount  # type: ignore[attr-defined, no-any-return]


def _thresholds_detail(applied: rfm.AppliedThresholds) -> dict[str, Any]:
    return {
        "recency_days": [str(v) for v in applied.recency_days],
        "frequency_orders": [str(v) for v in applied.frequency_orders],
        "monetary": [str(v) for v in applied.monetary],
        "sources": [applied.recency_source, applied.frequency_source, applied.monetary_source],
    }


def _chunks(items: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _upsert_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _copy_upsert_scores(session, rows)
        return
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


def _copy_upsert_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT … ON CONFLICT from it.

    A multi-row VALUES statement per chunk costs more to build and parse than to execute; COPY
    streams a million rows in seconds. Same semantics as the portable path above.
    """
    columns = list(rows[0])
    names = ", ".join(columns)
    connection = session.connection()
    # `columns` are the keys of the rows built by `score_shop`: fixed names, never input.
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE _scores_in ON COMMIT DROP AS"  # noqa: S608
        f" SELECT {names} FROM customer_scores WITH NO DATA"
    )
    raw: Any = connection.connection.driver_connection  # psycopg, for COPY
    with raw.cursor() as cursor, cursor.copy(f"COPY _scores_in ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])
    kept = ("shop_id", "customer_id", "previous_group")
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in kept)
    connection.exec_driver_sql(
        f"INSERT INTO customer_scores ({names}) SELECT {names} FROM _scores_in"  # noqa: S608
        " ON CONFLICT (shop_id, customer_id) DO UPDATE SET "
        f"{updates}, previous_group = CASE WHEN customer_scores.as_of < excluded.as_of"
        " THEN customer_scores.rfm_group ELSE customer_scores.previous_group END"
    )


def _upsert_snapshot(
    session: Session,
    shop_id: int,
    snapshot: rfm.RfmSnapshot,
    forecast: predictions.ShopPredictions,
    run_at: datetime,
    rfm_history_days: int,
    totals: dict[str, Any],
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
                **_thresholds_detail(applied),
                "history_days": rfm_history_days,  # what the recency quintiles were judged on
            },
            "totals": totals,
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
