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
    Purchases,
    Recipient,
    batch_products,
    batch_read,
    customer_purchases,
    definition,
    due_or_none,
    flow_settings,
    intro,
    order_batch,
    order_quantities,
    orders_of,
    placed_at,
    purchase_emails,
    render_part,
    repeat_products,
    start_order_run,
    trigger_order_id,
    trigger_product,
)
from app.flows.post_purchase_replay import replenishment_triggers
from app.links import shop_home_url
from app.models import Customer, Order, Product, Shop
from app.models.flow import FlowRun
from app.services import purchase_stats, recommendation_settings


def _running_reminders(session: Session, shop_id: int, customer_id: int) -> list[FlowRun]:
    """The customer's running reminders (read for every customer of a running batch at once;
    read again after a reminder is started for them)."""

    def read(customer_ids: Sequence[int]) -> dict[int, list[FlowRun]]:
        found: dict[int, list[FlowRun]] = {customer: [] for customer in customer_ids}
        for run in session.scalars(
            select(FlowRun).where(
                FlowRun.shop_id == shop_id,
                FlowRun.flow_key == REPLENISHMENT,
                FlowRun.customer_id.in_(customer_ids),
                FlowRun.status == "running",
            )
        ):
            found.setdefault(run.customer_id, []).append(run)
        return found

    batch = order_batch(session, shop_id)
    if batch is None:
        return read([customer_id])[customer_id]
    runs = batch_read(session, shop_id, "reminders", lambda: read(batch.customer_ids()))
    if customer_id not in runs:
        runs.update(read([customer_id]))
    return runs[customer_id]


def _forget_reminders(session: Session, shop_id: int, customer_id: int) -> None:
    """A reminder was started for the customer: their running reminders are read again."""
    batch = order_batch(session, shop_id)
    if batch is not None:
        batch.reads.get("reminders", {}).pop(customer_id, None)


def _exit_earlier(session: Session, order: Order, products: Sequence[str], now: datetime) -> None:
    """The products were bought again: reminders counted from earlier purchases stop."""
    assert order.customer_id is not None  # noqa: S101 - checked by the caller
    running = [
        run
        for run in _running_reminders(session, order.shop_id, order.customer_id)
        if run.status == "running" and trigger_product(run.trigger_key) in products
    ]
    if not running:
        return
    placed = placed_at(order)
    earlier_orders = orders_of(session, order.shop_id, running)
    for run in running:
        earlier = earlier_orders.get(trigger_order_id(run.trigger_key) or 0)
        if earlier is None or (earlier.id != order.id and placed_at(earlier) < placed):
            run.status, run.exit_reason = "exited", "reordered"
            run.next_step, run.ended_at = None, now


def start(session: Session, order: Order, now: datetime) -> Sequence[int]:
    """A reminder per product of the order that the customer should re-order: `lead_days`
    before the expected re-order date (their own rhythm, else the product's re-buy interval,
    else its days of supply times the units ordered).
    Earlier reminders for those products stop; a product re-ordered later starts none here.
    Within an order trigger's batch, lines, purchases, reminders and product settings are read
    once for all its orders."""
    quantities = order_quantities(session, order)
    products = sorted(quantities)
    if not products or order.customer_id is None:
        return []
    placed = placed_at(order)
    _exit_earlier(session, order, products, now)
    enabled, config, row = flow_settings(session, order.shop_id, REPLENISHMENT)
    if not enabled:
        return []
    timing = PostPurchaseTiming.from_overrides(row.config)
    wanted = batch_products(session, order)
    intervals = batch_read(
        session,
        order.shop_id,
        ("rebuy_intervals", *wanted),
        lambda: purchase_stats.rebuy_intervals(session, order.shop_id, wanted),
    )
    supply = batch_read(
        session,
        order.shop_id,
        ("supply_days", *wanted),
        lambda: recommendation_settings.supply_days(session, order.shop_id, wanted),
    )
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
            _forget_reminders(session, order.shop_id, order.customer_id)
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


EMAILS = purchase_emails(REPLENISHMENT, ("intro", "product"), parts)


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
    replenishment_triggers,
    "flows.preview.no_repeat_product",
    preview_query,
    preview_target,
)
