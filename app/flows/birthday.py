"""The birthday flow: on a customer's birthday (or from the first day of their birthday month),
in the shop's time zone, one email — by default with a single-use coupon (the coupon step).

Layer: flows, a flow module (above `runs`, `replay`, `content`, `reads`, `definition`; the
registry lists it), inside the caller's transaction (the scan job commits). The daily scan finds
the shop's customers whose birthday is due in one indexed query (`ix_customers_birthday`), never
a pass over every customer. A run is unique on (shop, `birthday`, customer, `birthday:<year>`):
once a year. Birthdays come from Shopify's `facts.birth_date` metafield, WooCommerce customer
meta or the storefront's birthday field (`customers.birth_month`, `birth_day`); 29 February is
celebrated on 28 February in other years.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from flask_babel import LazyString, force_locale, lazy_gettext
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from app.domain.orchestration import FlowConfig, shop_zone
from app.flows.content import TemplateEmails
from app.flows.definition import DAILY_SCAN, FlowDefinition, PreviewTarget, Trigger, every_step
from app.flows.form import Choice, FlowForm, subject_override
from app.flows.reads import ensure_flow_setting, flow_config, flow_setting
from app.flows.replay import FlowPlan, Window, scan_times, stored_settings
from app.flows.replay import Trigger as ReplayTrigger
from app.flows.runs import RunStart, start_runs
from app.models import Customer, Shop
from app.models.flow import FlowRun
from app.services.unsubscribe import suppressed_emails

log = logging.getLogger(__name__)

BIRTHDAY = "birthday"
DAY, MONTH = "day", "month"
GRANULARITIES = (DAY, MONTH)

DEFAULTS: Mapping[str, Any] = {
    "step_delay_hours": [0],
    "holdout_percent": 10,
    "granularity": DAY,
    # The birthday coupon: on by default, the flow's reason to be (誕生日クーポン).
    "coupon_step": 1,
    "coupon_kind": "percentage",
    "coupon_value": 10,
    "coupon_days": 30,
}

SUBJECTS: dict[str, LazyString] = {
    DAY: lazy_gettext("Happy birthday from {shop}"),
    MONTH: lazy_gettext("Happy birthday month from {shop}"),
}


def granularity(config: Mapping[str, Any] | None) -> str:
    chosen = (config or {}).get("granularity")
    return chosen if chosen in GRANULARITIES else DAY


def trigger_key(year: int) -> str:
    return f"birthday:{year}"


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def due_clause(today: date, kind: str) -> Any:
    """Whose birthday is due on the shop's local `today`: born on this day (29 February on 28
    February of a common year), or in this month (`MONTH`)."""
    if kind == MONTH:
        return Customer.birth_month == today.month
    on_day = and_(Customer.birth_month == today.month, Customer.birth_day == today.day)
    if (today.month, today.day) == (2, 28) and not _is_leap(today.year):
        return or_(on_day, and_(Customer.birth_month == 2, Customer.birth_day == 29))
    return on_day


def scan_shop(session: Session, shop: Shop, now: datetime) -> list[int]:
    """The daily scan: a run for each consenting customer whose birthday is due today in the
    shop's zone and who has none this year; → the new runs' ids. One query finds them."""
    row = ensure_flow_setting(session, shop.id, BIRTHDAY, DEFAULTS, enabled=False)
    enabled, config = flow_config(session, shop.id, BIRTHDAY)
    if not enabled or config.steps == 0:
        return []
    today = now.astimezone(shop_zone(shop.timezone)).date()
    key = trigger_key(today.year)
    celebrated = exists().where(
        FlowRun.shop_id == shop.id,
        FlowRun.flow_key == BIRTHDAY,
        FlowRun.customer_id == Customer.id,
        FlowRun.trigger_key == key,
    )
    due = session.scalars(
        select(Customer)
        .where(
            Customer.shop_id == shop.id,
            Customer.birth_month.is_not(None),
            due_clause(today, granularity(row.config)),
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
            Customer.email_normalized.is_not(None),
            func.upper(Customer.email_marketing_state) == "SUBSCRIBED",
            ~celebrated,
        )
        .order_by(Customer.id)
    ).all()
    blocked = suppressed_emails(session, shop.id, (c.email for c in due))
    first_due = now + config.step_delays[0]
    starts = [
        RunStart(customer.id, key, first_due)
        for customer in due
        if customer.email_normalized not in blocked
    ]
    started = start_runs(session, shop.id, BIRTHDAY, config, starts, now)
    log.info("birthday scan shop_id=%s started=%s", shop.id, len(started))
    return started


def load_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """A birthday email has no exit of its own: an order is no reason to skip it."""
    return {}


# --- emails ----------------------------------------------------------------------------------


def _subject(session: Session, shop: Shop, lang: str, step: int) -> str:
    setting = flow_setting(session, shop.id, BIRTHDAY)
    kind = granularity(setting.config if setting is not None else None)
    with force_locale(lang):
        subject = subject_override(setting, lang, step) or str(SUBJECTS[kind])
    return subject.replace("{shop}", shop.name or shop.domain)


def _template_values(session: Session, shop: Shop, step: int, lang: str) -> Mapping[str, Any]:
    setting = flow_setting(session, shop.id, BIRTHDAY)
    return {"month": granularity(setting.config if setting is not None else None) == MONTH}


EMAILS = TemplateEmails(BIRTHDAY, subject=_subject, values=_template_values)


# --- backtest --------------------------------------------------------------------------------


def simulate(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """The daily scan replayed on each day of the window: a customer enters at the first scan
    whose local date is their birthday (or falls in their birthday month), once a year."""
    enabled, overrides = stored_settings(session, shop, BIRTHDAY, DEFAULTS)
    enabled = enabled and flow_setting(session, shop.id, BIRTHDAY) is not None
    config = FlowConfig.from_overrides(overrides)
    kind = granularity(overrides)
    zone = shop_zone(shop.timezone)
    scans = [(moment, moment.astimezone(zone).date()) for moment in scan_times(window)]
    months = sorted({day.month for _moment, day in scans})
    customers = session.scalars(
        select(Customer)
        .where(Customer.shop_id == shop.id, Customer.birth_month.in_(months))
        .order_by(Customer.id)
    ).all()
    triggers = []
    for customer in customers:
        seen: set[int] = set()
        for moment, day in scans:
            if day.year in seen or not _due_on(customer, day, kind):
                continue
            seen.add(day.year)
            triggers.append(ReplayTrigger(f"birthday {day.year}", moment, customer))
    return FlowPlan(enabled, config, triggers)


def _due_on(customer: Customer, day: date, kind: str) -> bool:
    if customer.birth_month != day.month:
        return False
    if kind == MONTH:
        return True
    if customer.birth_day == day.day:
        return True
    leap_day = (customer.birth_month, customer.birth_day) == (2, 29)
    return leap_day and day.day == 28 and not _is_leap(day.year)


# --- settings and preview --------------------------------------------------------------------


FORM = FlowForm(
    BIRTHDAY,
    steps=1,
    delays=1,
    first_delay_low=0,
    delay_high=24 * 7,
    options=(Choice("granularity", GRANULARITIES, DAY, section="birthday"),),
    defaults=DEFAULTS,
    enabled_by_default=False,
)


def preview_query(shop: Shop) -> Select[Any]:
    """Customers with a known birthday, newest first."""
    return select(Customer).where(Customer.birth_month.is_not(None)).order_by(Customer.id.desc())


def preview_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    if customer.birth_month is None or customer.birth_day is None:
        return None
    today = datetime.now(shop_zone(shop.timezone)).date()
    shown = f"{customer.birth_month}/{customer.birth_day}"
    return PreviewTarget(
        customer, trigger_key(today.year), "flows.preview.for_birthday", {"birthday": shown}
    )


DEFINITION = FlowDefinition(
    key=BIRTHDAY,
    form=FORM,
    priority=15,  # a birthday is a date: it goes before the welcome series and later flows
    ends_on_order=False,
    load_exits=load_exits,
    render=EMAILS.render,
    simulate=simulate,
    preview_missing="flows.preview.no_birthday",
    preview_query=preview_query,
    preview_target=preview_target,
    shares_content=every_step,
    sends_together=True,
    render_shared=EMAILS.render_shared,
    shared_email=EMAILS.shared_email,
    triggers=(Trigger(DAILY_SCAN, scan_shop),),
)
