"""The welcome series (F2 step mail): a new subscriber or a first-time customer gets a few
emails — welcome, the store's story and best sellers, a nudge (with the optional coupon step) —
until their second purchase.

Layer: flows, a flow module (above `post_purchase`, `runs`, `replay`, `content`, `reads`,
`definition`; the registry lists it), inside the caller's transaction. A run is unique on (shop,
`welcome`, customer, `welcome`): one series per customer, ever. It starts when consent arrives
(`CUSTOMERS_CHANGED`: a platform customer created or updated with consent, a confirmed storefront
opt-in) within `ENTRY_WINDOW`, or at a subscriber's first order (`CUSTOMERS_ORDERED`); a first
order does not end it, the second does (`orders_count` ≥ 2, as the customer's totals count orders).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask_babel import LazyString, force_locale, lazy_gettext
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows.content import TemplateEmails
from app.flows.definition import (
    CUSTOMERS_CHANGED,
    CUSTOMERS_ORDERED,
    EXIT_ORDER,
    CustomerOrder,
    FlowDefinition,
    PreviewTarget,
    Trigger,
    every_step,
)
from app.flows.form import FlowForm, subject_override
from app.flows.post_purchase import cards, load_products
from app.flows.reads import ensure_flow_setting, flow_config, flow_setting
from app.flows.replay import FlowPlan, Window, stored_settings
from app.flows.replay import Trigger as ReplayTrigger
from app.flows.runs import RunStart, exit_runs, start_runs
from app.models import Customer, CustomerProduct, Order, Shop
from app.models.flow import FlowRun
from app.models.order import order_time
from app.services.unsubscribe import suppressed_emails

log = logging.getLogger(__name__)

WELCOME = "welcome"
TRIGGER_KEY = "welcome"  # one series per customer
SECOND_PURCHASE = "second_purchase"
# Consent (or a first order) older than this when it reaches us is not a new subscriber's: a
# reconcile or a customer's later edit welcomes nobody.
ENTRY_WINDOW = timedelta(days=3)
BEST_SELLERS = 3
STEPS = 3

DEFAULTS: Mapping[str, Any] = {
    "step_delay_hours": [0, 72, 168],
    "holdout_percent": 10,
    # The coupon step: off until the merchant turns it on (the form offers the last email).
    "coupon_step": 0,
    "coupon_kind": "percentage",
    "coupon_value": 10,
    "coupon_days": 14,
}

SUBJECTS: dict[int, LazyString] = {
    1: lazy_gettext("Welcome to {shop}"),
    2: lazy_gettext("Our story, and what customers love"),
    3: lazy_gettext("A little something for your next visit"),
}


def consent_moment() -> Any:
    """When the customer's consent was given (else when the platform created them)."""
    return func.coalesce(Customer.email_marketing_updated_at, Customer.platform_created_at)


def _newcomers(session: Session, shop_id: int, customer_ids: Sequence[int]) -> list[Customer]:
    """Those of `customer_ids` the series may start for: live, with an address, consenting, not
    suppressed, fewer than two orders."""
    if not customer_ids:
        return []
    found = session.scalars(
        select(Customer)
        .where(
            Customer.shop_id == shop_id,
            Customer.id.in_(sorted(set(customer_ids))),
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
            Customer.email_normalized.is_not(None),
            func.upper(Customer.email_marketing_state) == "SUBSCRIBED",
            Customer.orders_count < 2,
        )
        .order_by(Customer.id)
    ).all()
    blocked = suppressed_emails(session, shop_id, (c.email for c in found))
    return [customer for customer in found if customer.email_normalized not in blocked]


def _start(
    session: Session, shop_id: int, customers: Sequence[Customer], now: datetime
) -> list[int]:
    if not customers:
        return []
    ensure_flow_setting(session, shop_id, WELCOME, DEFAULTS, enabled=False)
    enabled, config = flow_config(session, shop_id, WELCOME)
    if not enabled or config.steps == 0:
        return []
    first_due = now + config.step_delays[0]
    starts = [RunStart(customer.id, TRIGGER_KEY, first_due) for customer in customers]
    started = start_runs(session, shop_id, WELCOME, config, starts, now)
    if started:
        log.info("welcome started shop_id=%s runs=%s", shop_id, len(started))
    return started


def on_customers(
    session: Session, shop_id: int, customer_ids: Sequence[int], now: datetime
) -> list[int]:
    """New subscribers: consent given within `ENTRY_WINDOW` → the series (once per customer)."""
    fresh = [
        customer
        for customer in _newcomers(session, shop_id, customer_ids)
        if (moment := customer.email_marketing_updated_at or customer.platform_created_at)
        is not None
        and moment >= now - ENTRY_WINDOW
    ]
    return _start(session, shop_id, fresh, now)


def on_first_orders(session: Session, orders: Sequence[CustomerOrder]) -> list[int]:
    """A consenting customer's first order (placed within `ENTRY_WINDOW`) starts the series,
    unless their subscription already did."""
    now = utcnow()
    by_shop: dict[int, set[int]] = {}
    for order in orders:
        if order.placed_at >= now - ENTRY_WINDOW:
            by_shop.setdefault(order.shop_id, set()).add(order.customer_id)
    started: list[int] = []
    for shop_id, ids in sorted(by_shop.items()):
        first_timers = [c for c in _newcomers(session, shop_id, sorted(ids)) if c.orders_count == 1]
        started.extend(_start(session, shop_id, first_timers, now))
    return started


def exit_on_second_purchase(session: Session, orders: Sequence[CustomerOrder]) -> None:
    """The series' goal: a customer with two orders leaves it."""
    by_shop: dict[int, set[int]] = {}
    for order in orders:
        by_shop.setdefault(order.shop_id, set()).add(order.customer_id)
    for shop_id, ids in sorted(by_shop.items()):
        repeaters = session.scalars(
            select(Customer.id).where(
                Customer.shop_id == shop_id,
                Customer.id.in_(sorted(ids)),
                Customer.orders_count >= 2,
            )
        ).all()
        if repeaters:
            exit_runs(session, shop_id, SECOND_PURCHASE, customer_ids=repeaters, flows=(WELCOME,))


def load_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """A run whose customer has two orders stops (`second_purchase`), in one query."""
    if not runs:
        return {}
    repeaters = set(
        session.scalars(
            select(Customer.id).where(
                Customer.shop_id == shop_id,
                Customer.id.in_(sorted({run.customer_id for run in runs})),
                Customer.orders_count >= 2,
            )
        )
    )
    return {run.id: (SECOND_PURCHASE,) for run in runs if run.customer_id in repeaters}


# --- emails ----------------------------------------------------------------------------------


def best_sellers(session: Session, shop: Shop, lang: str) -> list[dict[str, Any]]:
    """Up to `BEST_SELLERS` products on sale that most customers bought (`customer_products`,
    one grouped read of the shop's rows), as product cards."""
    ranked = [
        str(product)
        for product in session.scalars(
            select(CustomerProduct.product_external_id)
            .where(CustomerProduct.shop_id == shop.id)
            .group_by(CustomerProduct.product_external_id)
            .order_by(func.count().desc(), CustomerProduct.product_external_id)
            .limit(BEST_SELLERS * 3)
        )
    ]
    products = load_products(session, shop.id, ranked)
    return cards(shop, products, ranked, lang)[:BEST_SELLERS]


def _subject(session: Session, shop: Shop, lang: str, step: int) -> str:
    setting = flow_setting(session, shop.id, WELCOME)
    with force_locale(lang):
        subject = subject_override(setting, lang, step) or str(SUBJECTS[step])
    return subject.replace("{shop}", shop.name or shop.domain)


def _template_values(session: Session, shop: Shop, step: int, lang: str) -> Mapping[str, Any]:
    return {"products": best_sellers(session, shop, lang) if step == 2 else []}


EMAILS = TemplateEmails(WELCOME, subject=_subject, values=_template_values)


# --- backtest --------------------------------------------------------------------------------


def simulate(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """The series replayed: each customer enters once, at the earlier of their consent (with
    fewer than two orders placed by then) and their first order, when it falls in the window;
    their second order exits the run. Consent is read as it is now, as every backtest does."""
    from app.domain.orchestration import FlowConfig

    enabled, overrides = stored_settings(session, shop, WELCOME, DEFAULTS)
    enabled = enabled and flow_setting(session, shop.id, WELCOME) is not None
    config = FlowConfig.from_overrides(overrides)
    consent = consent_moment()
    candidates = session.scalars(
        select(Customer).where(
            Customer.shop_id == shop.id,
            or_(
                consent.between(window.since, window.until),
                Customer.first_order_at.between(window.since, window.until),
            ),
        )
    ).all()
    by_id = {customer.id: customer for customer in candidates}
    placed: dict[int, list[datetime]] = {}
    if by_id:
        when = order_time()
        for customer_id, moment in session.execute(
            select(Order.customer_id, when).where(
                Order.shop_id == shop.id, Order.customer_id.in_(sorted(by_id))
            )
        ):
            if customer_id is not None and moment is not None:
                placed.setdefault(customer_id, []).append(moment)
    triggers = []
    for customer in candidates:
        times = sorted(placed.get(customer.id, ()))
        starts = []
        given = customer.email_marketing_updated_at or customer.platform_created_at
        if (
            given is not None
            and window.since <= given <= window.until
            and sum(1 for moment in times if moment <= given) < 2
        ):
            starts.append((given, "subscribed"))
        if times and window.since <= times[0] <= window.until:
            starts.append((times[0], "first order"))
        if not starts:
            continue
        started, label = min(starts)
        exits = ((times[1], SECOND_PURCHASE),) if len(times) > 1 and times[1] > started else ()
        if len(times) > 1 and times[1] <= started:
            continue  # already a repeat buyer: the series never starts
        triggers.append(ReplayTrigger(label, started, customer, exits=exits))
    return FlowPlan(enabled, config, triggers)


# --- settings and preview --------------------------------------------------------------------


FORM = FlowForm(
    WELCOME,
    steps=STEPS,
    delays=STEPS,
    first_delay_low=0,
    defaults=DEFAULTS,
    enabled_by_default=False,
)


def preview_query(shop: Shop) -> Select[Any]:
    """Customers who have not bought twice, newest first."""
    return select(Customer).where(Customer.orders_count < 2).order_by(Customer.id.desc())


def preview_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    if customer.orders_count >= 2:
        return None
    return PreviewTarget(customer, TRIGGER_KEY, "flows.preview.for_customer", {})


DEFINITION = FlowDefinition(
    key=WELCOME,
    form=FORM,
    priority=20,
    ends_on_order=False,  # a first order does not end it; the second does (`load_exits`)
    load_exits=load_exits,
    render=EMAILS.render,
    simulate=simulate,
    preview_missing="flows.preview.repeat_buyer",
    preview_query=preview_query,
    preview_target=preview_target,
    shares_content=every_step,
    sends_together=True,
    render_shared=EMAILS.render_shared,
    shared_email=EMAILS.shared_email,
    triggers=(
        Trigger(CUSTOMERS_CHANGED, on_customers),
        Trigger(CUSTOMERS_ORDERED, exit_on_second_purchase, order=EXIT_ORDER),
        Trigger(CUSTOMERS_ORDERED, on_first_orders),
    ),
)
