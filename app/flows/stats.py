"""Flow performance for the admin: sends, engagement, attributed orders and holdout lift.

Layer: services (reads only). Every number is one SQL aggregate scoped by shop and flow; an order
is credited to one message at most; lift is intention to treat (`flow_performance` defines each).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.attribution import AttributionSettings
from app.models import Order, Shop
from app.models.flow import FlowRun, Message, MessageEvent
from app.models.order import order_time
from app.services.attribution import attributed_orders

ATTRIBUTION_WINDOW = AttributionSettings().window  # the default
DEFAULT_DAYS = 90
MIN_RUNS = 30  # per group
MIN_CONVERSIONS = 5  # treated + holdout
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Lift:
    treated_runs: int
    treated_conversions: int
    treated_revenue: Decimal
    holdout_runs: int
    holdout_conversions: int
    holdout_revenue: Decimal
    enough_data: bool
    conversion_difference: Interval | None  # treated − holdout, as proportions
    incremental_revenue: Interval | None  # over the treated runs

    @property
    def treated_rate(self) -> float | None:
        return self.treated_conversions / self.treated_runs if self.treated_runs else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_conversions / self.holdout_runs if self.holdout_runs else None


@dataclass(frozen=True)
class FlowPerformance:
    flow_key: str
    since: datetime
    until: datetime
    days: int
    runs: int
    running: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    orders: int
    revenue: Decimal
    lift: Lift

    def rate(self, count: int) -> float | None:
        return count / self.sent if self.sent else None


def proportion_difference(
    x_t: int, n_t: int, x_h: int, n_h: int, z: float = Z95
) -> Interval | None:
    """p_t − p_h with its normal-approximation interval; None when a group is empty."""
    if n_t <= 0 or n_h <= 0:
        return None
    p_t, p_h = x_t / n_t, x_h / n_h
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h)
    diff = p_t - p_h
    return Interval(diff, diff - z * se, diff + z * se)


def mean_difference_total(
    mean_t: float, var_t: float, n_t: int, mean_h: float, var_h: float, n_h: int, z: float = Z95
) -> Interval | None:
    """(mean_t − mean_h) × n_t with its normal-approximation interval (Welch standard error)."""
    if n_t <= 0 or n_h <= 0:
        return None
    se = math.sqrt(var_t / n_t + var_h / n_h)
    diff = mean_t - mean_h
    return Interval(diff * n_t, (diff - z * se) * n_t, (diff + z * se) * n_t)


def _sends(session: Session, shop_id: int, flow_key: str, since: datetime, until: datetime) -> Any:
    flags = (
        select(
            MessageEvent.message_id.label("message_id"),
            func.max(case((MessageEvent.event == "delivered", 1), else_=0)).label("delivered"),
            func.max(case((MessageEvent.event == "open", 1), else_=0)).label("opened"),
            func.max(case((MessageEvent.event == "click", 1), else_=0)).label("clicked"),
        )
        .where(MessageEvent.shop_id == shop_id, MessageEvent.message_id.is_not(None))
        .group_by(MessageEvent.message_id)
        .subquery()
    )

    def counted(stamp: Any, flag: Any) -> Any:
        return func.count(case(((stamp.is_not(None)) | (func.coalesce(flag, 0) == 1), 1)))

    return session.execute(
        select(
            func.count(),
            counted(Message.delivered_at, flags.c.delivered),
            counted(Message.opened_at, flags.c.opened),
            counted(Message.clicked_at, flags.c.clicked),
        )
        .select_from(Message)
        .join(FlowRun, and_(FlowRun.id == Message.flow_run_id, FlowRun.shop_id == shop_id))
        .outerjoin(flags, flags.c.message_id == Message.id)
        .where(
            Message.shop_id == shop_id,
            FlowRun.flow_key == flow_key,
            Message.status == "sent",
            Message.sent_at >= since,
            Message.sent_at < until,
        )
    ).one()


def _attributed(
    session: Session,
    shop_id: int,
    flow_key: str,
    since: datetime,
    until: datetime,
    settings: AttributionSettings,
) -> tuple[int, Decimal]:
    credited = [
        order
        for order in attributed_orders(session, shop_id, since, until, settings)
        if order.flow_key == flow_key
    ]
    return len(credited), sum((order.revenue for order in credited), Decimal(0))


def _var(values: list[Decimal]) -> float:
    """The sample variance (n − 1), 0 below two values."""
    if len(values) < 2:
        return 0.0
    floats = [float(value) for value in values]
    mean = sum(floats) / len(floats)
    return sum((value - mean) ** 2 for value in floats) / (len(floats) - 1)


def _lift(
    session: Session,
    shop_id: int,
    flow_key: str,
    since: datetime,
    until: datetime,
    min_runs: int,
    min_conversions: int,
    window: timedelta,
) -> Lift:
    when = order_time()
    runs = session.execute(
        select(FlowRun.customer_id, FlowRun.started_at, FlowRun.status == "holdout").where(
            FlowRun.shop_id == shop_id,
            FlowRun.flow_key == flow_key,
            FlowRun.started_at >= since,
            FlowRun.started_at < until,
        )
    ).all()
    in_runs = select(FlowRun.customer_id).where(
        FlowRun.shop_id == shop_id,
        FlowRun.flow_key == flow_key,
        FlowRun.started_at >= since,
        FlowRun.started_at < until,
    )
    orders: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for customer_id, placed, total in session.execute(
        select(Order.customer_id, when, Order.total_price).where(
            Order.shop_id == shop_id,
            Order.cancelled_at.is_(None),
            Order.customer_id.in_(in_runs),
            when >= since,
            when < until + window,
        )
    ):
        if customer_id is not None:
            orders[customer_id].append((placed, Decimal(total)))
    # Per run: the customer's orders within `window` after it started (portable: no SQL
    # interval arithmetic or var_samp, so SQLite in the demo computes the same numbers).
    per_group: dict[bool, list[tuple[bool, Decimal]]] = {False: [], True: []}
    for customer_id, started, holdout in runs:
        after = [
            total
            for placed, total in orders.get(int(customer_id), ())
            if started <= placed < started + window
        ]
        per_group[bool(holdout)].append((bool(after), sum(after, Decimal(0))))
    rows = [
        (
            holdout,
            len(outcomes),
            sum(1 for converted, _ in outcomes if converted),
            sum((amount for _, amount in outcomes), Decimal(0)),
            _var([amount for _, amount in outcomes]),
        )
        for holdout, outcomes in per_group.items()
        if outcomes
    ]
    groups = {bool(h): (int(n), int(x), Decimal(rev), float(var)) for h, n, x, rev, var in rows}
    n_t, x_t, rev_t, var_t = groups.get(False, (0, 0, Decimal(0), 0.0))
    n_h, x_h, rev_h, var_h = groups.get(True, (0, 0, Decimal(0), 0.0))
    enough = n_t >= min_runs and n_h >= min_runs and x_t + x_h >= min_conversions
    conversion = proportion_difference(x_t, n_t, x_h, n_h) if enough else None
    revenue = (
        mean_difference_total(float(rev_t) / n_t, var_t, n_t, float(rev_h) / n_h, var_h, n_h)
        if enough
        else None
    )
    return Lift(
        treated_runs=n_t,
        treated_conversions=x_t,
        treated_revenue=rev_t,
        holdout_runs=n_h,
        holdout_conversions=x_h,
        holdout_revenue=rev_h,
        enough_data=enough,
        conversion_difference=conversion,
        incremental_revenue=revenue,
    )


def flow_performance(
    session: Session,
    shop_id: int,
    flow_key: str,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    min_runs: int = MIN_RUNS,
    min_conversions: int = MIN_CONVERSIONS,
    attribution: AttributionSettings | None = None,
) -> FlowPerformance:
    """The flow's numbers over the last `days` days, `[since, until)`; attribution defaults to
    the shop's settings.

    - sent / delivered / opened / clicked: the flow's messages with status `sent` and `sent_at` in
      the period; delivered/opened/clicked when its timestamp is stamped or a matching
      `message_events` row (`delivered`, `open`, `click`) exists.
    - attributed orders and revenue: non-cancelled orders placed in the period whose last touch
      (`services.attribution`) is one of this flow's messages; an order is credited to one
      message of one flow at most.
    - lift: intention to treat over the flow's runs started in the period. Treated = every run
      not in the holdout (also those that exited before a send), holdout = `holdout` runs. A run
      converts when its customer places a non-cancelled order within the attribution window
      after the run started. Conversion difference: p_t − p_h ± z·sqrt(p_t(1−p_t)/n_t +
      p_h(1−p_h)/n_h), z = 1.96. Incremental revenue: (mean revenue per treated run − mean per
      holdout run) × treated runs, its interval from the per-run revenue sample variances. Below
      `min_runs` runs in either group or `min_conversions` conversions in all: "not enough
      data", no interval.

    Revenue is summed in the orders' own amounts: a store sells in its one currency.
    """
    if attribution is None:
        shop = session.get(Shop, shop_id)
        attribution = AttributionSettings.from_json(shop.attribution if shop else None)
    until = now or utcnow()
    since = until - timedelta(days=days)
    runs, running = session.execute(
        select(func.count(), func.count(case((FlowRun.status == "running", 1)))).where(
            FlowRun.shop_id == shop_id,
            FlowRun.flow_key == flow_key,
            FlowRun.started_at >= since,
            FlowRun.started_at < until,
        )
    ).one()
    sent, delivered, opened, clicked = _sends(session, shop_id, flow_key, since, until)
    orders, revenue = _attributed(session, shop_id, flow_key, since, until, attribution)
    return FlowPerformance(
        flow_key=flow_key,
        since=since,
        until=until,
        days=days,
        runs=int(runs),
        running=int(running),
        sent=int(sent),
        delivered=int(delivered),
        opened=int(opened),
        clicked=int(clicked),
        orders=orders,
        revenue=revenue,
        lift=_lift(
            session,
            shop_id,
            flow_key,
            since,
            until,
            min_runs,
            min_conversions,
            attribution.window,
        ),
    )
