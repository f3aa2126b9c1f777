"""The replenishment reminder: before a customer should run out of a product, remind them.

Layer: services, inside the caller's transaction. One run per product of an order
(`replenish:<product>:<order id>`), due `lead_days` before the expected re-order: the order's
time plus, in this order of precedence, the customer's own rhythm (two purchases or more), the
product's learned re-buy interval (`purchase_stats`, once enough customers re-bought it), or the
merchant's days of supply times the units ordered (so a product replenishes from its first
order); a later order of the
product stops earlier reminders, and so does the product leaving the catalogue. The email is
shared content plus the recipient's parts; its subject names the product.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.domain.orchestration import (
    POST_PURCHASE_DEFAULTS,
    REPLENISHMENT,
    PostPurchaseTiming,
)
from app.domain.recommendations import SAME_OCCASION, expected_reorder, supply_interval
from app.flows.definition import PreviewTarget
from app.flows.form import FlowForm, Number
from app.flows.post_purchase import (
    Emails,
    Purchases,
    Recipient,
    customer_purchases,
    definition,
    due_or_none,
    flow_settings,
    intro,
    order_products,
    order_quantities,
    placed_at,
    render_part,
    repeat_products,
    start_order_run,
    trigger_order,
    trigger_product,
)
from app.links import shop_home_url
from app.models import Customer, Order, Product, Shop
from app.models.flow import FlowRun
from app.services import purchase_stats, recommendation_settings


def _exit_earlier(session: Session, order: Order, product: str, now: datetime) -> None:
    """The product was bought again: reminders counted from earlier purchases of it stop."""
    running = session.scalars(
        select(FlowRun).where(
            FlowRun.shop_id == order.shop_id,
            FlowRun.flow_key == REPLENISHMENT,
            FlowRun.customer_id == order.customer_id,
            FlowRun.status == "running",
            FlowRun.trigger_key.startswith(f"replenish:{product}:", autoescape=True),
        )
    ).all()
    placed = placed_at(order)
    for run in running:
        earlier = trigger_order(session, run)
        if earlier is None or (earlier.id != order.id and placed_at(earlier) < placed):
            run.status, run.exit_reason = "exited", "reordered"
            run.next_step, run.ended_at = None, now


def start(session: Session, order: Order, now: datetime) -> Sequence[int]:
    """A reminder per product of the order that the customer should re-order: `lead_days`
    before the expected re-order date (their own rhythm, else the product's re-buy interval,
    else its days of supply times the units ordered).
    Earlier reminders for those products stop; a product re-ordered later starts none here."""
    products = order_products(session, order)
    if not products or order.customer_id is None:
        return []
    placed = placed_at(order)
    for product in products:
        _exit_earlier(session, order, product, now)
    enabled, config, row = flow_settings(session, order.shop_id, REPLENISHMENT)
    if not enabled:
        return []
    timing = PostPurchaseTiming.from_overrides(row.config)
    intervals = purchase_stats.rebuy_intervals(session, order.shop_id, products)
    supply = recommendation_settings.supply_days(session, order.shop_id, products)
    quantities = order_quantities(session, order) if supply else {}
    history = customer_purchases(session, order.shop_id, order.customer_id)
    started = []
    for product in products:
        own = [p.at for p in history if p.product_id == product]
        if any(moment >= placed + SAME_OCCASION for moment in own):
            continue  # a later order of the product has (or will have) its own reminder
        lasts = supply_interval(supply.get(product), quantities.get(product))
        expected = expected_reorder(own or [placed], intervals.get(product), lasts)
        if expected is None:
            continue
        moment = expected - timedelta(days=timing.lead_days) + config.step_delays[0]
        if moment - placed < SAME_OCCASION:
            continue  # re-bought so often that a reminder would follow the order itself
        due = due_or_none(moment, now)
        if due is None:
            continue
        trigger = f"replenish:{product}:{order.id}"
        run_id = start_order_run(session, order, REPLENISHMENT, trigger, due, config, now)
        if run_id is not None:
            started.append(run_id)
    return started


def parts(purchases: Purchases, run: FlowRun, customer: Customer, lang: str) -> Recipient | None:
    """The greeting and the product to buy again (its title also goes in the subject)."""
    order = purchases.order(run)
    if order is None:
        return None
    shop = purchases.shop
    product = trigger_product(run.trigger_key) or ""
    found = purchases.cards([product], lang)
    card = found[0] if found else None
    part = purchases.once(
        ("product", lang, product),
        lambda: render_part(
            REPLENISHMENT, "product", lang, product=card, shop_url=shop_home_url(shop)
        ),
    )
    return Recipient(
        {"intro": intro(REPLENISHMENT, shop, customer, order, lang), "product": part},
        product_title=card["title"] if card else "",
    )


EMAILS = Emails(REPLENISHMENT, ("intro", "product"), parts)


def _simulate(session: Session, shop: Shop, window: Any) -> Any:
    from app.flows.simulation import replenishment_triggers

    return replenishment_triggers(session, shop, window)


def preview_query(shop: Shop) -> Select[Any]:
    """Customers who bought a product in two orders or more (once, when it has days of
    supply), the latest first."""
    repeat = repeat_products(shop.id).subquery()
    return (
        select(Customer)
        .join(repeat, repeat.c.customer_id == Customer.id)
        .order_by(repeat.c.order_id.desc())
    )


def preview_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    """The replenishable product (`repeat_products`) the customer bought most recently."""

    repeat = repeat_products(shop.id).subquery()
    found = session.execute(
        select(repeat.c.product_external_id, repeat.c.order_id)
        .where(repeat.c.customer_id == customer.id)
        .order_by(repeat.c.order_id.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    product, order_id = str(found[0]), int(found[1])
    title = session.scalar(
        select(Product.title).where(Product.shop_id == shop.id, Product.external_id == product)
    )
    return PreviewTarget(
        customer,
        f"replenish:{product}:{order_id}",
        "flows.preview.for_product",
        {"product": title or product},
    )


FORM = FlowForm(
    REPLENISHMENT,
    steps=1,
    delays=0,
    numbers=(Number("lead_days", 0, 30, PostPurchaseTiming.lead_days),),
    defaults=POST_PURCHASE_DEFAULTS[REPLENISHMENT],
)

DEFINITION = definition(
    FORM,
    30,
    EMAILS,
    start,
    _simulate,
    "flows.preview.no_repeat_product",
    preview_query,
    preview_target,
)
