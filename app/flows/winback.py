"""The win-back flow: a daily scan starts a run for each lapsing customer; two emails.

Layer: flows, a flow module (above `runs`, `replay`, `form`, `content`, `reads`, `definition`; the
registry lists it), inside the caller's transaction (the scan job commits). A run is unique on
(shop, `winback`, customer, `lapse:<last order id>`): one run per lapse however often the scan runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask_babel import LazyString, force_locale, lazy_pgettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.domain.orchestration import (
    WINBACK,
    WINBACK_DEFAULTS,
    WinbackConfig,
)
from app.flows.content import TemplateEmails
from app.flows.definition import (
    CUSTOMERS_ORDERED,
    DAILY_SCAN,
    EXIT_ORDER,
    FlowDefinition,
    PreviewTarget,
    Trigger,
    every_step,
)
from app.flows.form import FlowForm, Number, subject_override
from app.flows.reads import ensure_flow_setting, flow_config, flow_setting, is_subscribed
from app.flows.replay import winback_triggers
from app.flows.runs import RunStart, exit_on_customer_orders, load_order_exits, start_runs
from app.models import Customer, Order, Shop
from app.models.order import order_time
from app.services.unsubscribe import suppressed_emails
from app.services.upsert import normalize_email

log = logging.getLogger(__name__)


# The built-in subject of each step, translated when the email is rendered.
SUBJECTS: dict[int, LazyString] = {
    1: lazy_pgettext("email subject", "It has been a while — we miss you"),
    2: lazy_pgettext("email subject", "Still here for you"),
}


def _order_history(
    session: Session, shop_id: int, cutoff: datetime
) -> dict[int, list[tuple[datetime, int]]]:
    """(time, order id) of every live order of the shop's customers whose last order is older
    than `cutoff` (no one more recent can be lapsing)."""
    when = order_time()
    stale = (
        select(Order.customer_id)
        .where(
            Order.shop_id == shop_id, Order.customer_id.is_not(None), Order.cancelled_at.is_(None)
        )
        .group_by(Order.customer_id)
        .having(func.max(when) < cutoff)
    )
    rows = session.execute(
        select(Order.customer_id, when, Order.id).where(
            Order.shop_id == shop_id,
            Order.cancelled_at.is_(None),
            Order.customer_id.in_(stale),
        )
    )
    history: dict[int, list[tuple[datetime, int]]] = {}
    for customer_id, moment, order_id in rows:
        if customer_id is not None:
            history.setdefault(customer_id, []).append((moment, int(order_id)))
    return history


def scan_shop(session: Session, shop: Shop, now: datetime) -> list[int]:
    """Start a run for each lapsing, consenting customer of `shop`; → the new runs' ids."""
    row = ensure_flow_setting(session, shop.id, WINBACK, WINBACK_DEFAULTS, enabled=True)
    enabled, config = flow_config(session, shop.id, WINBACK)
    if not enabled or config.steps == 0:
        return []
    lapse = WinbackConfig.from_overrides(row.config)
    cutoff = now - timedelta(days=min(lapse.min_days, lapse.one_time_days))
    history = _order_history(session, shop.id, cutoff)
    if not history:
        return []
    customers = session.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id.in_(history))
    ).all()
    lapsing = [
        customer
        for customer in customers
        if not (customer.deleted_at or customer.redacted_at)
        and is_subscribed(customer)
        and lapse.is_lapsing([moment for moment, _ in history[customer.id]], now)
    ]
    blocked = suppressed_emails(session, shop.id, (c.email for c in lapsing))
    first_due = now + config.step_delays[0]
    starts = [
        RunStart(customer.id, f"lapse:{max(history[customer.id])[1]}", first_due)
        for customer in lapsing
        if normalize_email(customer.email) not in blocked
    ]
    started = start_runs(session, shop.id, WINBACK, config, starts, now)
    log.info("winback scan shop_id=%s started=%s", shop.id, len(started))
    return started


# --- at send time ----------------------------------------------------------------------------


def _subject(session: Session, shop: Shop, lang: str, step: int) -> str:
    setting = flow_setting(session, shop.id, WINBACK)
    with force_locale(lang):
        return subject_override(setting, lang, step) or str(SUBJECTS[step])


EMAILS = TemplateEmails(WINBACK, subject=_subject)


FORM = FlowForm(
    WINBACK,
    steps=2,
    delays=2,
    first_delay_low=0,
    numbers=(
        Number("lapse_min_days", 14, 730, WINBACK_DEFAULTS["lapse_min_days"], section="lapse"),
        Number(
            "lapse_multiplier",
            1,
            10,
            WINBACK_DEFAULTS["lapse_multiplier"],
            integer=False,
            unit="times",
            section="lapse",
        ),
        Number("one_time_days", 14, 730, WINBACK_DEFAULTS["one_time_days"], section="lapse"),
    ),
    defaults=WINBACK_DEFAULTS,
)


def preview_query(shop: Shop) -> Select[Any]:
    """Customers with an order that is not cancelled, newest order first."""
    joined = (Order.customer_id == Customer.id) & (Order.shop_id == shop.id)
    return (
        select(Customer)
        .join(Order, joined)
        .where(Order.cancelled_at.is_(None))
        .order_by(Order.id.desc())
    )


def preview_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    """A lapse after the customer's latest order that is not cancelled."""
    order = session.scalars(
        select(Order)
        .where(
            Order.shop_id == shop.id,
            Order.customer_id == customer.id,
            Order.cancelled_at.is_(None),
        )
        .order_by(Order.id.desc())
        .limit(1)
    ).first()
    if order is None:
        return None
    return PreviewTarget(
        customer,
        f"lapse:{order.id}",
        "flows.preview.for_order",
        {"order": order.name or order.external_id},
    )


DEFINITION = FlowDefinition(
    key=WINBACK,
    form=FORM,
    priority=40,
    ends_on_order=True,
    load_exits=load_order_exits,
    render=EMAILS.render,
    simulate=winback_triggers,
    preview_missing="flows.preview.no_order",
    preview_query=preview_query,
    preview_target=preview_target,
    shares_content=every_step,
    sends_together=True,
    render_shared=EMAILS.render_shared,
    shared_email=EMAILS.shared_email,
    triggers=(
        Trigger(DAILY_SCAN, scan_shop),
        Trigger(CUSTOMERS_ORDERED, exit_on_customer_orders(WINBACK), order=EXIT_ORDER),
    ),
)
