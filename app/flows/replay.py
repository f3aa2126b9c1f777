"""What a flow's backtest replays: the window, the moments the flow would have started (or been
refused) with their exits, and the plan a flow's simulator returns; the cart's and win-back's
simulators (`FlowDefinition.simulate`).

Layer: flows, below the flow modules (they name their simulator here) and above `reads`; reads
only. `simulation.py` runs every plan through `rules.decide`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.domain.orchestration import (
    CART,
    WINBACK,
    WINBACK_DEFAULTS,
    FlowConfig,
    WinbackConfig,
)
from app.flows.reads import flow_config
from app.models import Checkout, Customer, Order, Shop
from app.models.flow import FlowSetting
from app.models.order import order_time
from app.services.upsert import normalize_email


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


@dataclass(frozen=True)
class Trigger:
    """One moment a flow would have started for a customer (or been refused).

    `ineligible` is a reason known from the trigger itself (no email, no linked customer);
    `exits` are the (moment, reason) pairs that stop the run once they have happened;
    `first_due` is when step 1 falls due when the flow counts it from its own moment (a
    fulfilment, an expected re-order), else it is `started_at` + the first step delay.
    """

    label: str
    started_at: datetime
    customer: Customer | None
    ineligible: str | None = None
    exits: tuple[tuple[datetime, str], ...] = ()
    first_due: datetime | None = None


@dataclass(frozen=True)
class FlowPlan:
    """What a simulator found: the flow's settings and its triggers in the window."""

    enabled: bool
    config: FlowConfig
    triggers: list[Trigger]


Simulator = Callable[[Session, Shop, Window], FlowPlan]


def mask_email(email: str | None) -> str:
    """`hanako@example.jp` → `h***@example.jp`: enough for a merchant to recognise."""
    local, at, domain = (email or "").strip().partition("@")
    if not local or not at:
        return "-"
    return f"{local[0]}***@{domain}"


# --- cart ------------------------------------------------------------------------------------


def cart_triggers(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """Every checkout created in the window; exits on its completion, an order carrying its
    token, or any order of the customer from the start on (as `flows.exit_reason`)."""
    enabled, config = flow_config(session, shop.id, CART)
    created = func.coalesce(Checkout.platform_created_at, Checkout.created_at)
    checkouts = session.execute(
        select(Checkout, created)
        .where(Checkout.shop_id == shop.id, created >= window.since, created <= window.until)
        .order_by(created, Checkout.id)
    ).all()
    emails = {normalize_email(checkout.email) for checkout, _ in checkouts} - {None}
    linked_ids = {checkout.customer_id for checkout, _ in checkouts} - {None}
    customers = session.scalars(
        select(Customer)
        .where(
            Customer.shop_id == shop.id,
            or_(Customer.id.in_(linked_ids), Customer.email_normalized.in_(emails)),
        )
        .order_by(Customer.id)
    ).all()
    by_id = {customer.id: customer for customer in customers}
    by_email: dict[str, Customer] = {}
    for candidate in customers:  # lowest id wins, as `flows._link_customer`
        if candidate.email_normalized:
            by_email.setdefault(candidate.email_normalized, candidate)
    tokens = [checkout.external_id for checkout, _ in checkouts]
    when = order_time()
    orders = session.execute(
        select(Order.checkout_token, Order.customer_id, when).where(
            Order.shop_id == shop.id,
            or_(Order.checkout_token.in_(tokens), Order.customer_id.in_(list(by_id))),
            when >= window.since,
        )
    ).all()
    triggers = []
    for checkout, started in checkouts:
        email = normalize_email(checkout.email)
        if checkout.customer_id is not None:
            customer = by_id.get(checkout.customer_id)
        else:
            customer = by_email.get(email) if email else None
        ineligible = None
        if email is None:
            ineligible = "no_email"
        elif customer is None:
            ineligible = "no_customer"
        exits = [(checkout.completed_at, "checkout_completed")] if checkout.completed_at else []
        for token, customer_id, placed in orders:
            if token == checkout.external_id or (
                customer is not None and customer_id == customer.id and placed >= started
            ):
                exits.append((placed, "ordered"))
        triggers.append(
            Trigger(
                label=f"checkout {checkout.external_id}",
                started_at=started,
                customer=customer,
                ineligible=ineligible,
                exits=tuple(exits),
            )
        )
    return FlowPlan(enabled, config, triggers)


# --- win-back --------------------------------------------------------------------------------


def stored_settings(
    session: Session, shop: Shop, flow_key: str, defaults: Mapping[str, Any]
) -> tuple[bool, Mapping[str, Any]]:
    """(enabled, config) of a flow whose settings row is written with `defaults` on first use,
    as the live code would see them, without writing that row."""
    row = session.scalars(
        select(FlowSetting).where(FlowSetting.shop_id == shop.id, FlowSetting.flow_key == flow_key)
    ).one_or_none()
    if row is None:
        return True, defaults
    return row.enabled, row.config or {}


def _winback_settings(session: Session, shop: Shop) -> tuple[bool, FlowConfig, WinbackConfig]:
    """As `winback.scan_shop` would see them."""
    enabled, overrides = stored_settings(session, shop, WINBACK, WINBACK_DEFAULTS)
    return enabled, FlowConfig.from_overrides(overrides), WinbackConfig.from_overrides(overrides)


def scan_times(window: Window) -> list[datetime]:
    """The daily scans of the window: at its start, then every 24 hours up to its end."""
    moments, moment = [], window.since
    while moment <= window.until:
        moments.append(moment)
        moment += timedelta(days=1)
    return moments


def winback_triggers(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """The daily scan replayed for each day of the window with the orders known that day: a
    customer enters at the first scan after a lapse begins and before their next order, once
    per lapse (`lapse:<last order id>`); any later order exits the run."""
    enabled, config, lapse = _winback_settings(session, shop)
    scans = scan_times(window)
    cutoff = window.until - timedelta(days=min(lapse.min_days, lapse.one_time_days))
    when = order_time()
    old_enough = (
        select(Order.customer_id)
        .where(Order.shop_id == shop.id, Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
        .having(func.min(when) < cutoff)
    )
    rows = session.execute(
        select(Order.customer_id, when, Order.id, Order.cancelled_at).where(
            Order.shop_id == shop.id, Order.customer_id.in_(old_enough), when <= window.until
        )
    ).all()
    live: dict[int, list[tuple[datetime, int]]] = {}
    every: dict[int, list[datetime]] = {}
    for customer_id, placed, order_id, cancelled_at in rows:
        if customer_id is None:  # never: the query selects customers' orders
            continue
        every.setdefault(customer_id, []).append(placed)
        if cancelled_at is None:
            live.setdefault(customer_id, []).append((placed, order_id))
    lapses: list[tuple[int, datetime, int]] = []  # (customer id, scan, last order id)
    for customer_id, orders in live.items():
        orders.sort()
        times = [placed for placed, _ in orders]
        for index, (last, order_id) in enumerate(orders):
            limit = lapse.threshold(times[: index + 1]) or timedelta(0)
            following = times[index + 1] if index + 1 < len(times) else None
            scan = next(
                (
                    moment
                    for moment in scans
                    if moment - last > limit and (following is None or moment < following)
                ),
                None,
            )
            if scan is not None:
                lapses.append((customer_id, scan, order_id))
    customers = {
        customer.id: customer
        for customer in session.scalars(
            select(Customer).where(
                Customer.shop_id == shop.id, Customer.id.in_({c for c, _, _ in lapses})
            )
        )
    }
    triggers = [
        Trigger(
            label=f"lapse after order {order_id}",
            started_at=scan,
            customer=customers.get(customer_id),
            ineligible=None if customer_id in customers else "no_customer",
            exits=tuple(
                (placed, "ordered") for placed in every.get(customer_id, ()) if placed >= scan
            ),
        )
        for customer_id, scan, order_id in lapses
    ]
    return FlowPlan(enabled, config, triggers)
