"""Back in stock: a shopper asked to hear when a product (variant) is available again; when
stock arrives, the first subscribers by subscription time get one email each, as many as
there are units.

Layer: flows, a flow module (above `post_purchase`, `runs`, `replay`, `content`, `reads`,
`definition`), inside the caller's transaction. Started by the `RESTOCKED` trigger (inventory
webhooks): waiting subscriptions of the product, oldest first, at most `available` of them, are
each marked notified and get a run keyed `restock:<subscription id>` (so a subscription is
notified once); the rest wait for the next restock. The request is the email's consent
(`requested`): an unsubscribed or suppressed address is passed over, its unit going to the next.
Buying the product, or the product going off sale, exits the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_pgettext
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.orchestration import FlowConfig
from app.flows.definition import (
    RESTOCKED,
    FlowDefinition,
    PreviewTarget,
    Restock,
    Trigger,
    every_step,
)
from app.flows.form import FlowForm
from app.flows.post_purchase import (
    PartEmails,
    Purchases,
    Recipient,
    available,
    last_ordered,
    load_products,
    render_part,
)
from app.flows.reads import ensure_flow_setting, flow_config, may_receive, suppressed
from app.flows.replay import FlowPlan, Window, stored_settings
from app.flows.replay import Trigger as ReplayTrigger
from app.flows.runs import start_run
from app.formatting import greeting_name
from app.models import Customer, Order, OrderLine, Shop
from app.models.flow import FlowRun
from app.models.order import order_time
from app.models.storefront import WAITING, StockSubscription

BACK_IN_STOCK = "back_in_stock"
NOTIFIED = "notified"
PASSED_OVER = "passed_over"  # unsubscribed or suppressed when the stock came
# One email at once, no holdout: the shopper asked for it.
DEFAULTS: Mapping[str, Any] = {"step_delay_hours": [0], "holdout_percent": 0}
PARTS = ("intro", "product")
SUBJECT = lazy_pgettext("email subject", "{product} is back in stock")


def trigger_subscription(trigger_key: str) -> int | None:
    kind, _, rest = trigger_key.partition(":")
    return int(rest) if kind == "restock" and rest.isdigit() else None


def _waiting(session: Session, shop_id: int, restock: Restock) -> Select[Any]:
    matches = StockSubscription.product_external_id == restock.product_external_id
    if restock.variant_external_id is not None:
        matches &= or_(
            StockSubscription.variant_external_id == restock.variant_external_id,
            StockSubscription.variant_external_id == "",
        )
    return (
        select(StockSubscription)
        .where(StockSubscription.shop_id == shop_id, StockSubscription.status == WAITING, matches)
        .order_by(StockSubscription.subscribed_at, StockSubscription.id)
        .with_for_update(skip_locked=True)
    )


def on_restock(session: Session, shop_id: int, restocks: Sequence[Restock]) -> list[int]:
    """First come, first served: for each restock the oldest waiting subscriptions, up to its
    `available` units, are notified (a run each); one the address may not receive is passed
    over and its unit goes to the next. → the runs started."""
    ensure_flow_setting(session, shop_id, BACK_IN_STOCK, DEFAULTS, enabled=True)
    enabled, config = flow_config(session, shop_id, BACK_IN_STOCK)
    if not enabled or config.steps == 0:
        return []
    now = utcnow()
    started: list[int] = []
    for restock in restocks:
        units = restock.available
        if units <= 0:
            continue
        rows = session.scalars(_waiting(session, shop_id, restock).limit(units * 2 + 10)).all()
        customers = (
            {
                c.id: c
                for c in session.scalars(
                    select(Customer).where(
                        Customer.shop_id == shop_id, Customer.id.in_({r.customer_id for r in rows})
                    )
                )
            }
            if rows
            else {}
        )
        for row in rows:
            if units <= 0:
                break
            customer = customers.get(row.customer_id)
            if (
                customer is None
                or customer.deleted_at is not None
                or customer.redacted_at is not None
                or not may_receive(customer, requested=True)
                or suppressed(session, shop_id, row.email_normalized)
            ):
                row.status = PASSED_OVER
                continue
            row.status, row.notified_at, row.notified_quantity = NOTIFIED, now, restock.available
            units -= 1
            run_id = _start(session, shop_id, row, config, now)
            if run_id is not None:
                started.append(run_id)
    return started


def _start(
    session: Session, shop_id: int, row: StockSubscription, config: FlowConfig, now: datetime
) -> int | None:
    return start_run(
        session,
        shop_id,
        BACK_IN_STOCK,
        row.customer_id,
        f"restock:{row.id}",
        config,
        now + config.step_delays[0],
        now,
    )


def _subscriptions(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, StockSubscription]:
    ids = {sid for run in runs if (sid := trigger_subscription(run.trigger_key)) is not None}
    if not ids:
        return {}
    return {
        row.id: row
        for row in session.scalars(
            select(StockSubscription).where(
                StockSubscription.shop_id == shop_id, StockSubscription.id.in_(sorted(ids))
            )
        )
    }


def load_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """Set-wise: the subscription is gone (a redact), the customer bought the product since
    subscribing, or the product is off sale."""
    subscriptions = _subscriptions(session, shop_id, runs)
    products = load_products(
        session, shop_id, {s.product_external_id for s in subscriptions.values()}, variants=False
    )
    latest = last_ordered(
        session,
        shop_id,
        {(s.customer_id, s.product_external_id) for s in subscriptions.values()},
    )
    exits: dict[int, tuple[str, ...]] = {}
    for run in runs:
        row = subscriptions.get(trigger_subscription(run.trigger_key) or 0)
        if row is None:
            exits[run.id] = ("subscription_gone",)
            continue
        bought = latest.get((row.customer_id, row.product_external_id))
        if bought is not None and bought >= row.subscribed_at:
            exits[run.id] = ("ordered",)
        elif not available(products.get(row.product_external_id)):
            exits[run.id] = ("product_unavailable",)
    return exits


# --- the email -------------------------------------------------------------------------------


@dataclass
class Restocked:
    purchases: Purchases
    subscriptions: dict[int, StockSubscription] = field(default_factory=dict)


def load_restocked(session: Session, shop: Shop, runs: Sequence[FlowRun]) -> Restocked:
    subscriptions = _subscriptions(session, shop.id, runs)
    wanted = {row.product_external_id for row in subscriptions.values()}
    return Restocked(
        Purchases(shop, products=load_products(session, shop.id, wanted)), subscriptions
    )


def parts(batch: Restocked, run: FlowRun, customer: Customer, lang: str) -> Recipient | None:
    row = batch.subscriptions.get(trigger_subscription(run.trigger_key) or 0)
    if row is None:
        return None
    purchases = batch.purchases
    shop = purchases.shop
    found = purchases.cards([row.product_external_id], lang)
    if not found:
        return None
    card = found[0]
    return Recipient(
        {
            "intro": render_part(
                BACK_IN_STOCK,
                "intro",
                lang,
                shop_name=shop.name or shop.domain,
                product_title=card["title"],
                greeting_name=greeting_name(customer.first_name, customer.last_name, lang),
            ),
            "product": purchases.once(
                ("product", lang, row.product_external_id),
                lambda: render_part(BACK_IN_STOCK, "product", lang, product=card),
            ),
        },
        product_title=card["title"],
    )


EMAILS = PartEmails(
    BACK_IN_STOCK,
    PARTS,
    SUBJECT,
    lambda session, shop, runs, _now: load_restocked(session, shop, runs),
    parts,
    "has no product to show",
)


# --- backtest --------------------------------------------------------------------------------


def simulate(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """The subscriptions notified in the window, replayed at their notice (restocks are not
    kept otherwise); buying the product after subscribing exits the run."""
    enabled, overrides = stored_settings(session, shop, BACK_IN_STOCK, DEFAULTS)
    config = FlowConfig.from_overrides(overrides)
    rows = session.scalars(
        select(StockSubscription)
        .where(
            StockSubscription.shop_id == shop.id,
            StockSubscription.status == NOTIFIED,
            StockSubscription.notified_at >= window.since,
            StockSubscription.notified_at <= window.until,
        )
        .order_by(StockSubscription.notified_at, StockSubscription.id)
    ).all()
    ids = sorted({row.customer_id for row in rows})
    customers = (
        {
            c.id: c
            for c in session.scalars(
                select(Customer).where(Customer.shop_id == shop.id, Customer.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    bought: dict[tuple[int, str], list[datetime]] = {}
    if rows:
        for customer_id, product, placed in session.execute(
            select(Order.customer_id, OrderLine.product_external_id, order_time())
            .join(
                OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.shop_id == Order.shop_id)
            )
            .where(
                Order.shop_id == shop.id,
                Order.customer_id.in_(ids),
                Order.cancelled_at.is_(None),
                OrderLine.product_external_id.in_({row.product_external_id for row in rows}),
            )
        ):
            bought.setdefault((int(customer_id or 0), str(product)), []).append(placed)
    triggers = []
    for row in rows:
        assert row.notified_at is not None  # noqa: S101 - notified rows have it
        exits = tuple(
            (at, "ordered")
            for at in sorted(bought.get((row.customer_id, row.product_external_id), ()))
            if at >= row.subscribed_at
        )
        customer = customers.get(row.customer_id)
        triggers.append(
            ReplayTrigger(
                label=f"restock of product {row.product_external_id}",
                started_at=row.notified_at,
                customer=customer,
                ineligible=None if customer is not None else "no_customer",
                exits=exits,
            )
        )
    return FlowPlan(enabled, config, triggers)


# --- settings and preview --------------------------------------------------------------------


FORM = FlowForm(BACK_IN_STOCK, steps=1, delays=1, first_delay_low=0, defaults=DEFAULTS)


def preview_query(shop: Shop) -> Select[Any]:
    """Customers with a back-in-stock request, the latest first."""
    joined = (StockSubscription.customer_id == Customer.id) & (StockSubscription.shop_id == shop.id)
    return select(Customer).join(StockSubscription, joined).order_by(StockSubscription.id.desc())


def preview_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    row = session.scalars(
        select(StockSubscription)
        .where(StockSubscription.shop_id == shop.id, StockSubscription.customer_id == customer.id)
        .order_by(StockSubscription.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    product = load_products(session, shop.id, {row.product_external_id}, variants=False).get(
        row.product_external_id
    )
    if not available(product):
        return None
    return PreviewTarget(
        customer,
        f"restock:{row.id}",
        "flows.preview.for_product",
        {"product": product.title if product is not None else ""},
    )


DEFINITION = FlowDefinition(
    key=BACK_IN_STOCK,
    form=FORM,
    priority=5,  # asked for, and stock may not last: after the cart (0), before browse (10)
    ends_on_order=False,  # only buying the product itself ends it (`load_exits`)
    load_exits=load_exits,
    render=EMAILS.render,
    simulate=simulate,
    preview_missing="flows.preview.no_stock_request",
    preview_query=preview_query,
    preview_target=preview_target,
    shares_content=every_step,
    sends_together=True,
    render_shared=EMAILS.render_shared,
    shared_email=EMAILS.shared_email,
    load_context=EMAILS.load_context,
    triggers=(Trigger(RESTOCKED, on_restock),),
    requested=True,
)
