"""Scoring a shop: RFM cells and groups plus purchase predictions for every customer with orders.

Layer: services; `score_shop` and `rescore_rfm` each commit once. Orders are read once as integer
arrays and scored on arrays; `customer_scores` is written in bulk, only changed rows on
PostgreSQL. Running twice the same day changes no score.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import redis
from sqlalchemy import (
    BigInteger,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.db import driver_errors, utcnow
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


DAY_MICROSECONDS = 86_400_000_000
# Customers the purchase models are fitted on when a shop has more (the rest are predicted with
# the same fit); the bench compares shop totals with a fit on every customer.
FIT_SAMPLE_CUSTOMERS = 100_000


@dataclass(frozen=True)
class CustomerHistories:
    """Per-customer order history of a shop at `as_of`, as aligned arrays (ascending ids).

    RFM: `orders`, `monetary_units` (spend in `rfm.MONEY_UNITS` per unit), `recency_days`.
    Predictions (orders on one UTC day are one purchase): `frequency` (repeat purchase days),
    `recency` and `age` in periods of `period_days`, `repeat_spend` (mean repeat-day spend).
    `history_days` is the most whole days since any first order.
    """

    customer_ids: Any
    orders: Any
    monetary_units: Any
    recency_days: Any
    history_days: int
    frequency: Any
    recency: Any
    age: Any
    repeat_spend: Any


def load_histories(
    session: Session,
    shop_id: int,
    as_of: datetime,
    period_days: float = predictions.DEFAULT_PERIOD_DAYS,
) -> CustomerHistories:
    """The histories `load_transactions` + `activities` + `predictions.summarise` give, from
    one read of (customer, time, amount) as integers and numpy aggregation: the same numbers
    with no per-order Python objects."""
    customer, placed, units = _order_arrays(session, shop_id, as_of)
    order = np.lexsort((placed, customer))
    customer, placed, units = customer[order], placed[order], units[order]
    count = len(customer)
    starts = (
        np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
        if count
        else np.zeros(0, dtype=np.int64)
    )
    ends = np.r_[starts[1:], count] if count else starts
    as_of_us = _epoch_microseconds(as_of)
    monetary = np.add.reduceat(units, starts) if count else np.zeros(0, dtype=np.int64)
    recency_days = np.maximum(0, (as_of_us - placed[ends - 1]) // DAY_MICROSECONDS)
    history_days = int(
        np.max(np.maximum(0, (as_of_us - placed[starts]) // DAY_MICROSECONDS), initial=0)
    )

    day = placed // DAY_MICROSECONDS
    day_starts = (
        np.flatnonzero(np.r_[True, (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])])
        if count
        else starts
    )
    day_customer, day_value = customer[day_starts], day[day_starts]
    day_spend = np.add.reduceat(units, day_starts) if count else monetary
    first_day_index = np.searchsorted(day_customer, customer[starts]) if count else starts
    purchase_days = np.diff(np.r_[first_day_index, len(day_starts)]) if count else starts
    frequency = purchase_days - 1
    first_day = day_value[first_day_index]
    last_day = day_value[first_day_index + purchase_days - 1]
    repeat_units = monetary - day_spend[first_day_index]
    repeat_spend = np.where(
        frequency > 0, repeat_units / rfm.MONEY_UNITS / np.maximum(frequency, 1), 0.0
    )
    as_of_day = as_of_us // DAY_MICROSECONDS
    return CustomerHistories(
        customer_ids=customer[starts],
        orders=(ends - starts).astype(np.int64),
        monetary_units=monetary.astype(np.int64),
        recency_days=recency_days.astype(np.int64),
        history_days=history_days,
        frequency=frequency.astype(np.float64),
        recency=(last_day - first_day) / period_days,
        age=(as_of_day - first_day) / period_days,
        repeat_spend=repeat_spend.astype(np.float64),
    )


def _epoch_microseconds(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _order_arrays(session: Session, shop_id: int, as_of: datetime) -> tuple[Any, Any, Any]:
    """(customer id, placed-at µs since the epoch, amount in `rfm.MONEY_UNITS`) of the orders
    `load_transactions` reads, as int64 arrays."""
    placed_at = order_placed_at()
    where = (
        Order.shop_id == shop_id,
        Customer.shop_id == shop_id,
        Customer.deleted_at.is_(None),
        Order.cancelled_at.is_(None),
        placed_at <= as_of,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = (
            select(
                Order.customer_id,
                cast(func.floor(func.extract("epoch", placed_at) * 1_000_000), BigInteger),
                cast(Order.total_price * rfm.MONEY_UNITS, BigInteger),
            )
            .join(Customer, Customer.id == Order.customer_id)
            .where(*where)
        )
        compiled = query.compile(session.get_bind())
        raw: Any = session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            # A plain cursor: millions of rows as tuples of ints, without ORM rows or Decimals.
            cursor.execute(str(compiled), compiled.params)
            rows: list[Any] = cursor.fetchall()
    else:
        rows = [
            (customer_id, _epoch_microseconds(at), int(amount * rfm.MONEY_UNITS))
            for customer_id, at, amount in session.execute(
                select(Order.customer_id, placed_at, Order.total_price)
                .join(Customer, Customer.id == Order.customer_id)
                .where(*where)
            )
        ]
    table = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


def score_shop(session: Session, shop_id: int, as_of: datetime | None = None) -> ScoringResult:
    """Score every customer of the shop at `as_of` (now by default), save the scores, commit."""
    as_of = as_of or utcnow()
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise LookupError(f"shop {shop_id} not found")
    period_days = predictions.DEFAULT_PERIOD_DAYS
    history = load_histories(session, shop_id, as_of, period_days)
    applied = rfm.thresholds_for_arrays(
        history.recency_days,
        history.orders,
        history.monetary_units,
        history.history_days,
        shop_thresholds(shop),
    )
    scored = rfm.score_arrays(history.recency_days, history.orders, history.monetary_units, applied)
    fitted = predictions.fit_shop_model(
        history.frequency,
        history.recency,
        history.age,
        history.repeat_spend,
        float(history.monetary_units.sum()) / rfm.MONEY_UNITS,
        period_days=period_days,
        fit_sample=FIT_SAMPLE_CUSTOMERS,
    )
    customers = len(history.customer_ids)
    run_at = utcnow()
    if customers:
        predicted = predictions.predict_arrays(
            fitted,
            history.frequency,
            history.recency,
            history.age,
            history.repeat_spend,
            period_days=period_days,
        )
        next_order_seconds = np.where(
            np.isfinite(predicted.periods_to_next),
            _epoch_microseconds(as_of) / 1e6 + predicted.periods_to_next * period_days * 86_400,
            np.nan,
        )
        columns = {
            "customer_id": history.customer_ids,
            "r": scored.r,
            "f": scored.f,
            "m": scored.m,
            "fm": scored.fm,
            "group": scored.group,
            "recency_days": history.recency_days,
            "orders": history.orders,
            "monetary_units": history.monetary_units,
            "probability_alive": predicted.probability_alive,
            "expected_orders_365": predicted.expected_purchases,
            "next_order_seconds": next_order_seconds,
            "predicted_clv": predicted.predicted_clv,
        }
        fixed = {
            "shop_id": shop_id,
            "as_of": as_of.date(),
            "currency": shop.currency,
            "confidence": fitted.confidence,
            "computed_at": run_at,
        }
        if session.get_bind().dialect.name == "postgresql":
            _copy_upsert_scores(session, columns, fixed)
        else:
            _upsert_scores(session, _score_rows(columns, fixed))
            _delete_unscored(session, shop_id, run_at)
    else:
        _delete_unscored(session, shop_id, run_at)
    _upsert_snapshot(
        session,
        shop_id,
        {
            "as_of": as_of.date(),
            "customers": customers,
            **_counts(scored),
            "applied": applied,
            "rfm_history_days": history.history_days,
        },
        fitted,
        run_at,
        score_totals(session, shop_id),
    )
    session.commit()
    vacuum_scores(session)
    log.info(
        "scored shop=%s customers=%s confidence=%s model=%s fitted_on=%s",
        shop_id,
        customers,
        fitted.confidence,
        fitted.model,
        fitted.fitted_on,
    )
    return ScoringResult(shop_id, as_of, customers, fitted.confidence, fitted.model)


def _delete_unscored(session: Session, shop_id: int, run_at: datetime) -> None:
    """Customers scored before but not now (every order cancelled, customer deleted)."""
    session.execute(
        delete(CustomerScore).where(
            CustomerScore.shop_id == shop_id, CustomerScore.computed_at < run_at
        )
    )


def _score_rows(columns: dict[str, Any], fixed: dict[str, Any]) -> list[dict[str, Any]]:
    """The portable path's rows (SQLite shops are small): one dict a customer."""
    day = fixed["as_of"]
    rows = []
    for i, customer_id in enumerate(columns["customer_id"].tolist()):
        seconds = float(columns["next_order_seconds"][i])
        rows.append(
            {
                "shop_id": fixed["shop_id"],
                "customer_id": customer_id,
                "as_of": day,
                "r": int(columns["r"][i]),
                "f": int(columns["f"][i]),
                "m": int(columns["m"][i]),
                "fm": int(columns["fm"][i]),
                "rfm_group": rfm.GROUP_KEYS[int(columns["group"][i])],
                "previous_group": None,
                "recency_days": int(columns["recency_days"][i]),
                "orders": int(columns["orders"][i]),
                "monetary": Decimal(int(columns["monetary_units"][i])).scaleb(-4),
                "probability_alive": float(columns["probability_alive"][i]),
                "expected_orders_365": float(columns["expected_orders_365"][i]),
                "expected_next_order_at": (
                    None if math.isnan(seconds) else datetime.fromtimestamp(seconds, UTC)
                ),
                "predicted_clv": _cents(float(columns["predicted_clv"][i])),
                "currency": fixed["currency"],
                "confidence": fixed["confidence"],
                "computed_at": fixed["computed_at"],
            }
        )
    return rows


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"))


def rescore_rfm(session: Session, shop_id: int) -> int:
    """Rescore the RFM cells and groups of the last scoring under the shop's current boundaries.

    For a merchant's boundary change: each stored score keeps the activity the last scoring
    recorded (`recency_days`, `orders`, `monetary`). The automatic boundaries come from how
    many customers hold each value, counted in the database (`_stored_distributions`), by the
    same rule as the nightly scoring (`rfm.thresholds_for_arrays`); one UPDATE then sets R, F,
    M, FM and the group of every row whose cell changed, in the database, with the rules of
    `rfm.score_customers`. The latest snapshot's counts, boundaries and totals follow, summed in
    the database; predictions and `previous_group` stay, and new orders count from the next full
    `score_shop`. Commits; returns the customers rescored (0 before any scoring).
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
    detail = dict(latest.detail or {})
    stored = detail.get("thresholds") or {}
    history_days = int(stored.get("history_days", detail.get("history_days", 0)))
    overrides = shop_thresholds(shop)
    if _all_custom(overrides):
        # Every boundary is the merchant's: no distribution is read.
        days = orders = units = np.zeros(0, dtype=np.int64)
    else:
        days, orders, units = _stored_distributions(session, shop_id)
    applied = rfm.thresholds_for_arrays(days, orders, units, history_days, overrides)
    changed = _update_cells(session, shop_id, applied)

    totals = score_totals(session, shop_id)
    counts = _counts_of_totals(totals)
    rescored = sum(counts["group_counts"].values())
    latest.grid_counts = counts["grid_counts"]
    latest.group_counts = counts["group_counts"]
    detail["thresholds"] = {**_thresholds_detail(applied), "history_days": history_days}
    detail["totals"] = totals
    latest.detail = detail
    session.commit()
    vacuum_scores(session, analyze_columns=("rfm_group",))
    log.info("rescored rfm shop=%s customers=%s changed=%s", shop_id, rescored, changed)
    return rescored


def _all_custom(overrides: rfm.RfmThresholds) -> bool:
    return (
        overrides.recency_days is not None
        and overrides.frequency_orders is not None
        and overrides.monetary is not None
    )


def _counts_of_totals(totals: dict[str, Any]) -> dict[str, dict[str, int]]:
    """`_counts` of the scores as stored, from `score_totals`' cells and groups."""
    grid = {(int(r), int(fm)): int(n) for r, fm, n, _revenue in totals["cells"]}
    groups = {group: int(n) for group, n, _revenue, _clv in totals["groups"]}
    return {
        "group_counts": {key: groups.get(key, 0) for key in rfm.GROUP_KEYS},
        "grid_counts": {
            f"{r},{fm}": grid.get((r, fm), 0) for r in reversed(rfm.SCORES) for fm in rfm.SCORES
        },
    }


def _counts(scored: rfm.ScoredArrays) -> dict[str, dict[str, int]]:
    """Customers per group (every group) and per (R, FM) cell (all 25, R from 5 down)."""
    grid = np.bincount(scored.r * 6 + scored.fm, minlength=36)
    groups = np.bincount(scored.group, minlength=len(rfm.GROUP_KEYS))
    return {
        "group_counts": {key: int(groups[i]) for i, key in enumerate(rfm.GROUP_KEYS)},
        "grid_counts": {
            f"{r},{fm}": int(grid[r * 6 + fm]) for r in reversed(rfm.SCORES) for fm in rfm.SCORES
        },
    }


def score_totals(session: Session, shop_id: int) -> dict[str, Any]:
    """What the segments page shows, summed over the shop's scores as they are now.

    Stored in the snapshot (`detail["totals"]`) by every scoring, so the page reads one row
    instead of scanning a million scores: per (R, FM) cell [r, fm, customers, revenue], per group
    [group, customers, revenue, predicted CLV], and the group moves since the last scoring on an
    earlier day [from, to, customers], largest first. Money as decimal strings.

    One scan of the shop's scores, counted and summed per (R, FM, group, previous group) — a few
    hundred combinations — then added up here per cell, group and move.
    """
    scores = table_of(CustomerScore)
    r, fm, group, previous = scores.c.r, scores.c.fm, scores.c.rfm_group, scores.c.previous_group
    rows = session.execute(
        select(
            r,
            fm,
            group,
            previous,
            func.count(),
            func.sum(scores.c.monetary),
            func.sum(scores.c.predicted_clv),
        )
        .where(scores.c.shop_id == shop_id)
        .group_by(r, fm, group, previous)
    ).all()
    cells: dict[tuple[int, int], list[Any]] = {}
    groups: dict[str, list[Any]] = {}
    moves: dict[tuple[str, str], int] = {}
    for r_, fm_, group_, previous_, n, revenue, clv in rows:
        cell = cells.setdefault((r_, fm_), [0, Decimal(0)])
        cell[0] += n
        cell[1] += Decimal(revenue)
        totals = groups.setdefault(group_, [0, Decimal(0), Decimal(0)])
        totals[0] += n
        totals[1] += Decimal(revenue)
        totals[2] += Decimal(clv)
        if previous_ is not None and previous_ != group_:
            moves[(previous_, group_)] = moves.get((previous_, group_), 0) + n
    largest = sorted(moves.items(), key=lambda move: (-move[1], move[0]))[:MOVES_STORED]
    return {
        "cells": [[r_, fm_, n, str(rev)] for (r_, fm_), (n, rev) in sorted(cells.items())],
        "groups": [[g, n, str(rev), str(clv)] for g, (n, rev, clv) in sorted(groups.items())],
        "moves": [[a, b, n] for (a, b), n in largest],
    }


def _stored_distributions(session: Session, shop_id: int) -> tuple[Any, Any, Any]:
    """Each stored score's recency days, orders and monetary (in minor units), each sorted
    ascending as int64 arrays: what the quintiles are judged on.

    On PostgreSQL the database counts the customers per value of each and only those counts
    travel: a million scores hold a few thousand distinct values.
    """
    if session.get_bind().dialect.name != "postgresql":
        rows = [
            (days, orders, int(monetary * rfm.MONEY_UNITS))
            for days, orders, monetary in session.execute(
                select(
                    CustomerScore.recency_days, CustomerScore.orders, CustomerScore.monetary
                ).where(CustomerScore.shop_id == shop_id)
            )
        ]
        table = np.array(rows, dtype=np.int64).reshape(-1, 3)
        return tuple(np.sort(table[:, k]) for k in range(3))  # type: ignore[return-value]
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT 0, recency_days::bigint, count(*) FROM customer_scores WHERE shop_id = %(s)s"
            " GROUP BY 2 UNION ALL"
            " SELECT 1, orders::bigint, count(*) FROM customer_scores WHERE shop_id = %(s)s"
            " GROUP BY 2 UNION ALL"
            " SELECT 2, (monetary * %(units)s)::bigint, count(*) FROM customer_scores"
            " WHERE shop_id = %(s)s GROUP BY 2",
            {"s": shop_id, "units": rfm.MONEY_UNITS},
        )
        rows = cursor.fetchall()
    arrays = []
    for dimension in range(3):
        pairs = sorted((value, count) for which, value, count in rows if which == dimension)
        values = np.array([v for v, _ in pairs], dtype=np.int64)
        counts = np.array([n for _, n in pairs], dtype=np.int64)
        arrays.append(np.repeat(values, counts))
    return arrays[0], arrays[1], arrays[2]


def vacuum_scores(session: Session, analyze_columns: Sequence[str] = ()) -> None:
    """PostgreSQL, after a scoring committed: VACUUM (ANALYZE) `customer_scores`, so the rule
    counts plan on fresh statistics and read the group index alone (index-only scans need the
    pages marked all-visible). VACUUM skips pages already all-visible: its cost follows the rows
    this scoring wrote. `analyze_columns` limits the statistics to the columns that changed
    (an RFM rescoring changes only the cells and groups); every column by default."""
    if session.get_bind().dialect.name != "postgresql":
        return
    known = table_of(CustomerScore).c
    columns = ", ".join(known[name].name for name in analyze_columns)
    statement = "VACUUM (ANALYZE) customer_scores" + (f" ({columns})" if columns else "")
    engine: Any = session.get_bind()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(statement)


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


# Columns COPYed for each customer, and how each becomes a customer_scores column.
_COPIED = (
    ("customer_id", "bigint"),
    ("r", "smallint"),
    ("f", "smallint"),
    ("m", "smallint"),
    ("fm", "smallint"),
    ("group", "smallint"),
    ("recency_days", "integer"),
    ("orders", "integer"),
    ("monetary_units", "bigint"),
    ("probability_alive", "double precision"),
    ("expected_orders_365", "double precision"),
    ("next_order_seconds", "double precision"),
    ("predicted_clv", "double precision"),
)
_GROUP_NAMES = ", ".join(f"'{key}'" for key in rfm.GROUP_KEYS)
_SCORE_VALUES = {
    "customer_id": "i.customer_id",
    "r": "i.r",
    "f": "i.f",
    "m": "i.m",
    "fm": "i.fm",
    "rfm_group": f"(ARRAY[{_GROUP_NAMES}])[i.group + 1]",
    "recency_days": "i.recency_days",
    "orders": "i.orders",
    "monetary": f"i.monetary_units::numeric / {rfm.MONEY_UNITS}",
    "probability_alive": "i.probability_alive",
    "expected_orders_365": "i.expected_orders_365",
    "expected_next_order_at": "to_timestamp(nullif(i.next_order_seconds, 'NaN'))",
    "predicted_clv": "round(i.predicted_clv::numeric, 2)",
}
# Compared to decide whether a stored score changed (computed_at alone never rewrites a row).
_COMPARED = (*(k for k in _SCORE_VALUES if k != "customer_id"), "as_of", "currency", "confidence")


def _copy_upsert_scores(session: Session, columns: dict[str, Any], fixed: dict[str, Any]) -> None:
    """PostgreSQL: COPY the per-customer arrays into a temporary table, then, set-wise, one
    UPDATE … FROM it of the stored scores that changed (a new day always changes `as_of`, so
    `previous_group` moves; a rerun the same day writes only what moved), one INSERT of the
    customers scored for the first time and one DELETE of the shop's scores not in the table.
    Unchanged rows are neither written nor locked.
    """
    connection = session.connection()
    definition = ", ".join(f'"{name}" {kind}' for name, kind in _COPIED)
    names = ", ".join(f'"{name}"' for name, _ in _COPIED)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE _scores_in ({definition}, PRIMARY KEY (customer_id))"
        " ON COMMIT DROP"
    )
    raw: Any = connection.connection.driver_connection  # psycopg, for COPY
    series = [columns[name].tolist() for name, _ in _COPIED]
    statement = f"COPY _scores_in ({names}) FROM STDIN"
    with (
        driver_errors(connection.dialect, statement),
        raw.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in zip(*series, strict=True):
            copy.write_row(row)
    connection.exec_driver_sql("ANALYZE _scores_in")
    fixed_values = {
        "as_of": "%(as_of)s",
        "currency": "%(currency)s",
        "confidence": "%(confidence)s",
        "computed_at": "%(computed_at)s",
    }
    computed = {**_SCORE_VALUES, **fixed_values}
    changed = " OR ".join(f"s.{name} IS DISTINCT FROM {computed[name]}" for name in _COMPARED)
    updates = ", ".join(
        f"{name} = {value}" for name, value in computed.items() if name != "customer_id"
    )
    previous = "CASE WHEN s.as_of < %(as_of)s THEN s.rfm_group ELSE s.previous_group END"
    # Every name and expression here is fixed in this module; values are bound parameters.
    connection.exec_driver_sql(
        f"UPDATE customer_scores s SET {updates}, previous_group = {previous}"  # noqa: S608
        " FROM _scores_in i WHERE s.shop_id = %(shop_id)s AND s.customer_id = i.customer_id"
        f" AND ({changed})",
        fixed,
    )
    targets = [*computed, "shop_id"]
    values = [*computed.values(), "%(shop_id)s"]
    connection.exec_driver_sql(
        f"INSERT INTO customer_scores ({', '.join(targets)})"  # noqa: S608
        f" SELECT {', '.join(values)} FROM _scores_in i WHERE NOT EXISTS (SELECT 1"
        " FROM customer_scores s WHERE s.shop_id = %(shop_id)s AND s.customer_id = i.customer_id)"
        " ORDER BY i.customer_id",
        fixed,
    )
    connection.exec_driver_sql(
        "DELETE FROM customer_scores s WHERE s.shop_id = %(shop_id)s"
        " AND NOT EXISTS (SELECT 1 FROM _scores_in i WHERE i.customer_id = s.customer_id)",
        fixed,
    )


def _upsert_snapshot(
    session: Session,
    shop_id: int,
    rfm_result: dict[str, Any],
    fitted: predictions.ShopModel,
    run_at: datetime,
    totals: dict[str, Any],
) -> None:
    """Today's snapshot row: `rfm_result` holds as_of, customers, group and grid counts, the
    applied boundaries and the history days the recency quintiles were judged on."""
    values = {
        "shop_id": shop_id,
        "as_of": rfm_result["as_of"],
        "customers": rfm_result["customers"],
        "group_counts": rfm_result["group_counts"],
        "grid_counts": rfm_result["grid_counts"],
        "confidence": fitted.confidence,
        "reason": dict(fitted.reason),
        "model": fitted.model,
        "detail": {
            "repeat_buyers": fitted.repeat_buyers,
            "history_days": fitted.history_days,
            "horizon_days": predictions.DEFAULT_HORIZON_DAYS,
            "fitted_on": fitted.fitted_on,
            "thresholds": {
                **_thresholds_detail(rfm_result["applied"]),
                "history_days": rfm_result["rfm_history_days"],
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
