"""The post-purchase flows: thank-you with cross-sells, review request, replenishment reminder.

Layer: services, inside the caller's transaction. Runs start from each flow's order `Trigger`
for paid, uncancelled orders, unique on (shop, flow, customer, trigger key), so a replayed order
starts nothing new; a step already more than a day overdue (a backfill, an old order's late
edit) starts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import render_template
from flask_babel import LazyString, force_locale, lazy_pgettext
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.domain.orchestration import (
    POST_PURCHASE_DEFAULTS,
    REPLENISHMENT,
    REVIEW_REQUEST,
    THANK_YOU,
    FlowConfig,
    PostPurchaseTiming,
)
from app.domain.recommendations import (
    SAME_OCCASION,
    Purchase,
    choose,
    expected_reorder,
    product_histories,
)
from app.flows.registry import ORDERS_CHANGED, FlowDefinition, Trigger
from app.flows.runs import flow_config, flow_email, message_unsubscribe_link, start_run
from app.flows.settings import MAX_THANK_YOU_HOURS, FlowForm, Number, subject_override
from app.flows.settings import load as load_setting
from app.formatting import format_money, greeting_name
from app.links import safe_url, shop_home_url
from app.models import Customer, Order, OrderLine, Product, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from app.models.order import order_time
from app.services import purchase_stats
from app.services.upsert import dialect_insert
from connectors.base import OrderRecord
from connectors.sendgrid.mail import OutgoingEmail

if TYPE_CHECKING:
    from app.flows.preview import PreviewTarget

log = logging.getLogger(__name__)

# Financial states of an order that has been paid (Shopify REST and GraphQL lowercased; the
# WooCommerce mapping stores processing/completed as "paid").
PAID_STATUSES = frozenset({"paid", "partially_refunded"})
# Orders in these states were never paid or were given back: the customer does not own them.
REVERSED_STATUSES = ("refunded", "voided")
# A step more overdue than this when its trigger arrives is not sent (backfills, replays).
OVERDUE_LIMIT = timedelta(days=1)
# A thank-you only for orders placed this recently (late payments: bank transfer, konbini).
THANK_YOU_WINDOW = timedelta(days=3)
# Recommendations read the shop's most recent order lines within this window.
HISTORY_WINDOW = timedelta(days=365)
HISTORY_LINES = 50_000
RECOMMENDATIONS = 3
# Available products: Shopify's `active`, WooCommerce's `publish` (unknown counts as available).
AVAILABLE_STATUSES = ("active", "publish")

# The built-in subject of each flow, translated when the email is rendered; `{product}` is
# replaced by the product's name (as in a merchant's own subject).
SUBJECTS: dict[str, LazyString] = {
    THANK_YOU: lazy_pgettext("email subject", "Thank you for your order"),
    REVIEW_REQUEST: lazy_pgettext("email subject", "How do you like your purchase?"),
    REPLENISHMENT: lazy_pgettext("email subject", "Running low on {product}?"),
}


def settings(session: Session, shop_id: int, flow_key: str) -> FlowSetting:
    """The shop's settings row for a post-purchase flow, created with its defaults on first use
    (so the flow runs on its own steps, on by default, and the merchant sees what runs)."""
    session.execute(
        dialect_insert(session, FlowSetting)
        .values(
            shop_id=shop_id,
            flow_key=flow_key,
            enabled=True,
            config=dict(POST_PURCHASE_DEFAULTS[flow_key]),
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "flow_key"])
    )
    return session.scalars(
        select(FlowSetting).where(FlowSetting.shop_id == shop_id, FlowSetting.flow_key == flow_key)
    ).one()


def is_paid(order: Order) -> bool:
    return (order.financial_status or "").lower() in PAID_STATUSES


def placed_at(order: Order) -> datetime:
    return order.processed_at or order.platform_created_at or order.created_at


def _owned_order() -> ColumnElement[bool]:
    """Orders whose products the customer has: not cancelled, not refunded or voided."""
    return (Order.cancelled_at.is_(None)) & or_(
        Order.financial_status.is_(None),
        func.lower(Order.financial_status).not_in(REVERSED_STATUSES),
    )


def _purchases(
    session: Session, shop_id: int, *conditions: Any, limit: int | None = None
) -> list[Purchase]:
    when = order_time()
    statement = (
        select(Order.customer_id, Order.id, OrderLine.product_external_id, when)
        .join(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.shop_id == Order.shop_id))
        .where(
            Order.shop_id == shop_id,
            _owned_order(),
            OrderLine.product_external_id.is_not(None),
            *conditions,
        )
        .order_by(when.desc(), Order.id.desc())
        .limit(limit)
    )
    return [
        Purchase(customer_id, int(order_id), str(product), moment)
        for customer_id, order_id, product, moment in session.execute(statement)
    ]


def shop_purchases(
    session: Session, shop_id: int, now: datetime, products: Collection[str] | None = None
) -> list[Purchase]:
    """The shop's recent purchases (newest `HISTORY_LINES` lines of `HISTORY_WINDOW`), of
    `products` only when given."""
    conditions = [order_time() >= now - HISTORY_WINDOW]
    if products is not None:
        conditions.append(OrderLine.product_external_id.in_(sorted(products)))
    return _purchases(session, shop_id, *conditions, limit=HISTORY_LINES)


def customer_purchases(session: Session, shop_id: int, customer_id: int) -> list[Purchase]:
    return _purchases(session, shop_id, Order.customer_id == customer_id)


def last_purchases(purchases: Sequence[Purchase]) -> dict[str, datetime]:
    """Each product's latest purchase time."""
    owned: dict[str, datetime] = {}
    for purchase in purchases:
        known = owned.get(purchase.product_id)
        if known is None or purchase.at > known:
            owned[purchase.product_id] = purchase.at
    return owned


def _order_products(session: Session, order: Order) -> list[str]:
    """The order's products, read from the table (its lines may have just been replaced)."""
    rows = session.scalars(
        select(OrderLine.product_external_id)
        .where(
            OrderLine.shop_id == order.shop_id,
            OrderLine.order_id == order.id,
            OrderLine.product_external_id.is_not(None),
        )
        .distinct()
    )
    return sorted(str(product) for product in rows)


# --- starting runs ---------------------------------------------------------------------------


def _start_run(
    session: Session,
    order: Order,
    flow_key: str,
    trigger_key: str,
    due: datetime,
    config: FlowConfig,
    now: datetime,
) -> int | None:
    """Insert the run (a `holdout` run for the holdout share) and schedule its step at `due`."""
    customer_id = order.customer_id
    assert customer_id is not None  # noqa: S101 - callers start runs for known customers only
    return start_run(session, order.shop_id, flow_key, customer_id, trigger_key, config, due, now)


def _flow(session: Session, shop_id: int, flow_key: str) -> tuple[bool, FlowConfig, FlowSetting]:
    row = settings(session, shop_id, flow_key)
    enabled, config = flow_config(session, shop_id, flow_key)
    return enabled and config.steps > 0, config, row


def _due_or_none(due: datetime, now: datetime) -> datetime | None:
    """`due` (at the earliest `now`), or None when it is too overdue to be worth sending."""
    if now - due > OVERDUE_LIMIT:
        return None
    return max(due, now)


def start_thank_you(session: Session, order: Order, now: datetime) -> int | None:
    """The thank-you, `step_delay_hours[0]` after the payment: the order's time, or its update
    that recorded a later payment. An order placed before `THANK_YOU_WINDOW` gets none."""
    enabled, config, _row = _flow(session, order.shop_id, THANK_YOU)
    placed = placed_at(order)
    if not enabled or now - placed > THANK_YOU_WINDOW:
        return None
    paid = min(max(order.platform_updated_at or placed, placed), now)
    due = _due_or_none(paid + config.step_delays[0], now)
    if due is None:
        return None
    return _start_run(session, order, THANK_YOU, f"order:{order.id}", due, config, now)


def start_review_request(session: Session, order: Order, now: datetime) -> int | None:
    """The review request, `review_delay_days` after the order was fulfilled."""
    if order.fulfilled_at is None:
        return None
    enabled, config, row = _flow(session, order.shop_id, REVIEW_REQUEST)
    if not enabled:
        return None
    timing = PostPurchaseTiming.from_overrides(row.config)
    moment = order.fulfilled_at + timedelta(days=timing.review_delay_days)
    due = _due_or_none(moment + config.step_delays[0], now)
    if due is None:
        return None
    return _start_run(session, order, REVIEW_REQUEST, f"fulfilled:{order.id}", due, config, now)


def _exit_earlier_replenishments(
    session: Session, order: Order, product: str, now: datetime
) -> None:
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
        earlier = _trigger_order(session, run)
        if earlier is None or (earlier.id != order.id and placed_at(earlier) < placed):
            run.status, run.exit_reason = "exited", "reordered"
            run.next_step, run.ended_at = None, now


def start_replenishments(session: Session, order: Order, now: datetime) -> list[int]:
    """A reminder per product of the order that the customer should re-order: `lead_days`
    before the expected re-order date (their own rhythm, else the product's re-buy interval).
    Earlier reminders for those products stop; a product re-ordered later starts none here."""
    products = _order_products(session, order)
    if not products or order.customer_id is None:
        return []
    placed = placed_at(order)
    for product in products:
        _exit_earlier_replenishments(session, order, product, now)
    enabled, config, row = _flow(session, order.shop_id, REPLENISHMENT)
    if not enabled:
        return []
    timing = PostPurchaseTiming.from_overrides(row.config)
    intervals = purchase_stats.rebuy_intervals(session, order.shop_id, products)
    history = customer_purchases(session, order.shop_id, order.customer_id)
    started = []
    for product in products:
        own = [p.at for p in history if p.product_id == product]
        if any(moment >= placed + SAME_OCCASION for moment in own):
            continue  # a later order of the product has (or will have) its own reminder
        expected = expected_reorder(own or [placed], intervals.get(product))
        if expected is None:
            continue
        moment = expected - timedelta(days=timing.lead_days) + config.step_delays[0]
        if moment - placed < SAME_OCCASION:
            continue  # re-bought so often that a reminder would follow the order itself
        due = _due_or_none(moment, now)
        if due is None:
            continue
        trigger = f"replenish:{product}:{order.id}"
        run_id = _start_run(session, order, REPLENISHMENT, trigger, due, config, now)
        if run_id is not None:
            started.append(run_id)
    return started


def start_runs(
    session: Session,
    shop_id: int,
    order_external_ids: Collection[str],
    now: datetime | None = None,
    flows: Collection[str] = (THANK_YOU, REVIEW_REQUEST, REPLENISHMENT),
) -> list[int]:
    """Start the runs of `flows` (post-purchase ones) the shop's orders call for (paid, not
    cancelled, a known customer who is not deleted); → the new runs' ids. Safe to call again
    for the same orders."""
    now = now or utcnow()
    if not order_external_ids:
        return []
    orders = session.scalars(
        select(Order)
        .join(Customer, (Customer.id == Order.customer_id) & (Customer.shop_id == Order.shop_id))
        .where(
            Order.shop_id == shop_id,
            Order.external_id.in_(sorted(order_external_ids)),
            Order.cancelled_at.is_(None),
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
        )
        .order_by(Order.id)
    ).all()
    started: list[int] = []
    for order in orders:
        if not is_paid(order):
            continue
        if THANK_YOU in flows and (run_id := start_thank_you(session, order, now)) is not None:
            started.append(run_id)
        if (
            REVIEW_REQUEST in flows
            and (run_id := start_review_request(session, order, now)) is not None
        ):
            started.append(run_id)
        if REPLENISHMENT in flows:
            started.extend(start_replenishments(session, order, now))
    return started


def _order_trigger(flow_key: str) -> Trigger:
    """Orders arrived or changed: start `flow_key`'s runs for them (after the exits)."""

    def start(session: Session, shop_id: int, orders: Sequence[OrderRecord]) -> list[int]:
        external_ids = {record.external_id for record in orders}
        return start_runs(session, shop_id, external_ids, flows=(flow_key,))

    return Trigger(ORDERS_CHANGED, start)


# --- exits -----------------------------------------------------------------------------------


def _trigger_order_id(trigger_key: str) -> int | None:
    tail = trigger_key.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _trigger_product(trigger_key: str) -> str | None:
    """`replenish:<product>:<order id>` → the product's external id."""
    kind, _, rest = trigger_key.partition(":")
    if kind != "replenish":
        return None
    return rest.rpartition(":")[0] or None


def _trigger_order(session: Session, run: FlowRun) -> Order | None:
    order_id = _trigger_order_id(run.trigger_key)
    if order_id is None:
        return None
    return session.scalars(
        select(Order).where(Order.shop_id == run.shop_id, Order.id == order_id)
    ).one_or_none()


def _product(session: Session, shop_id: int, external_id: str) -> Product | None:
    return session.scalars(
        select(Product).where(Product.shop_id == shop_id, Product.external_id == external_id)
    ).one_or_none()


def _available(product: Product | None) -> bool:
    return product is not None and (product.status is None or product.status in AVAILABLE_STATUSES)


def exit_reason(session: Session, run: FlowRun) -> str | None:
    """Why a post-purchase run stops (after the checks every flow makes), or None. A new order
    does not stop a thank-you or a review request; a later order of the product stops a
    replenishment reminder, and so does the product no longer being on sale."""
    order = _trigger_order(session, run)
    if order is None:
        return "order_gone"
    if order.cancelled_at is not None:
        return "order_cancelled"
    if not is_paid(order):
        return "order_refunded"
    if run.flow_key != REPLENISHMENT:
        return None
    product = _trigger_product(run.trigger_key)
    if product is None or not _available(_product(session, run.shop_id, product)):
        return "product_unavailable"
    reordered = session.scalar(
        select(Order.id)
        .join(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.shop_id == Order.shop_id))
        .where(
            Order.shop_id == run.shop_id,
            Order.customer_id == run.customer_id,
            Order.id != order.id,
            _owned_order(),
            OrderLine.product_external_id == product,
            order_time() > placed_at(order),
        )
        .limit(1)
    )
    return "reordered" if reordered is not None else None


# --- rendering -------------------------------------------------------------------------------


def product_url(shop: Shop, product: Product) -> str:
    base = shop_home_url(shop)
    if shop.platform == "woocommerce":
        # The product's id resolves under any permalink structure the store uses.
        return f"{base}/?post_type=product&p={product.external_id}"
    if product.handle:
        return f"{base}/products/{quote(product.handle, safe='')}"
    return base


def _price(product: Product, fallback_currency: str) -> tuple[Decimal, str] | None:
    if not product.variants:
        return None
    cheapest = min(product.variants, key=lambda variant: variant.price)
    return cheapest.price, cheapest.currency or fallback_currency


def product_cards(
    session: Session, shop: Shop, external_ids: Sequence[str], lang: str
) -> list[dict[str, Any]]:
    """Title, image, price and store link of each product, in the order given; unknown or
    unavailable products are left out."""
    if not external_ids:
        return []
    products = {
        product.external_id: product
        for product in session.scalars(
            select(Product).where(
                Product.shop_id == shop.id, Product.external_id.in_(list(external_ids))
            )
        )
    }
    cards = []
    for external_id in external_ids:
        product = products.get(external_id)
        if product is None or not _available(product):
            continue
        price = _price(product, shop.currency)
        image = product.image_url or next(
            (variant.image_url for variant in product.variants if variant.image_url), None
        )
        cards.append(
            {
                "title": product.title,
                "image_url": safe_url(image),
                "price": format_money(price[0], price[1], lang) if price else None,
                "url": product_url(shop, product),
            }
        )
    return cards


def recommendations_for(
    session: Session, shop: Shop, order: Order, customer_id: int, now: datetime
) -> list[str]:
    """Cross-sells for a customer who just placed `order`, by product external id, from the
    shop's precomputed history stats (`purchase_stats`)."""
    anchors = _order_products(session, order)
    candidates = purchase_stats.cross_sell_candidates(session, shop.id, anchors)
    if not candidates.ranked:
        return []
    available = set(
        session.scalars(
            select(Product.external_id).where(
                Product.shop_id == shop.id,
                Product.external_id.in_(sorted(set(candidates.ranked))),
                or_(Product.status.is_(None), Product.status.in_(AVAILABLE_STATUSES)),
            )
        )
    )
    owned = last_purchases(customer_purchases(session, shop.id, customer_id))
    return choose(
        anchors,
        candidates.ranked,
        owned,
        now,
        intervals=candidates.intervals,
        available=available,
        limit=RECOMMENDATIONS,
    )


def refresh_history_stats(session: Session, shop_id: int, now: datetime | None = None) -> int:
    """Recompute the shop's history stats from its recent purchases (`shop_purchases`) and
    commit; → the number of products with stats. Run daily per shop and after a first sync."""
    now = now or utcnow()
    orders, histories = product_histories(shop_purchases(session, shop_id, now))
    purchase_stats.save(session, shop_id, orders, histories, now)
    session.commit()
    return len(histories)


def render(
    config: Config,
    session: Session,
    shop: Shop,
    customer: Customer,
    run: FlowRun,
    msg: Message,
    lang: str,
    now: datetime,
    *,
    discount_code: str | None = None,
) -> OutgoingEmail:
    """A post-purchase step's email in `lang` (ja or en)."""
    order = _trigger_order(session, run)
    if order is None:
        raise LookupError(f"run {run.id} has no order")
    link = message_unsubscribe_link(config, shop, customer, msg)
    context: dict[str, Any] = {
        "lang": lang,
        "shop_name": shop.name or shop.domain,
        "shop_url": shop_home_url(shop),
        "greeting_name": greeting_name(customer.first_name, customer.last_name, lang),
        "order_name": order.name,
        "unsubscribe_url": link,
    }
    product_title = ""
    if run.flow_key == THANK_YOU:
        context["total"] = format_money(order.total_price, order.currency, lang)
        context["items"] = [
            {"title": line.title, "quantity": line.quantity} for line in order.lines
        ]
        picks = recommendations_for(session, shop, order, customer.id, now)
        context["recommendations"] = product_cards(session, shop, picks, lang)
    elif run.flow_key == REVIEW_REQUEST:
        context["products"] = product_cards(session, shop, _order_products(session, order), lang)
    else:
        product = _trigger_product(run.trigger_key) or ""
        cards = product_cards(session, shop, [product], lang)
        context["product"] = cards[0] if cards else None
        product_title = cards[0]["title"] if cards else ""
    setting = load_setting(session, shop.id, run.flow_key)
    with force_locale(lang):
        subject = subject_override(setting, lang, msg.step) or str(SUBJECTS[run.flow_key])
        html = render_template(f"email/{run.flow_key}/step{msg.step}.html", **context)
        text = render_template(f"email/{run.flow_key}/step{msg.step}.txt", **context)
    return flow_email(
        config,
        shop,
        customer,
        msg,
        run.flow_key,
        subject=subject.replace("{product}", product_title)[:500],
        html=html,
        text=text,
        link=link,
    )


def load_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """`exit_reason` of each run (one lookup per run: these runs are sent one at a time)."""
    exits: dict[int, tuple[str, ...]] = {}
    for run in runs:
        reason = exit_reason(session, run)
        if reason is not None:
            exits[run.id] = (reason,)
    return exits


# The backtests live with the other flows' in `simulation`, which reads this module's rules.
def _simulate_thank_you(session: Session, shop: Shop, window: Any) -> Any:
    from app.flows.simulation import thank_you_triggers

    return thank_you_triggers(session, shop, window)


def _simulate_review_request(session: Session, shop: Shop, window: Any) -> Any:
    from app.flows.simulation import review_request_triggers

    return review_request_triggers(session, shop, window)


def _simulate_replenishment(session: Session, shop: Shop, window: Any) -> Any:
    from app.flows.simulation import replenishment_triggers

    return replenishment_triggers(session, shop, window)


# --- preview ---------------------------------------------------------------------------------


def _paid_clause(shop_id: int) -> ColumnElement[bool]:
    return (
        (Order.shop_id == shop_id)
        & Order.cancelled_at.is_(None)
        & func.lower(Order.financial_status).in_(sorted(PAID_STATUSES))
    )


def _repeat_products(shop_id: int) -> Any:
    """(customer id, product, newest order id) for products a customer bought in 2+ orders."""
    return (
        select(
            Order.customer_id,
            OrderLine.product_external_id,
            func.max(Order.id).label("order_id"),
        )
        .join(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.shop_id == Order.shop_id))
        .where(
            _paid_clause(shop_id),
            Order.customer_id.is_not(None),
            OrderLine.product_external_id.is_not(None),
        )
        .group_by(Order.customer_id, OrderLine.product_external_id)
        .having(func.count(func.distinct(Order.id)) >= 2)
    )


def _orders_preview(condition: Callable[[int], ColumnElement[bool]]) -> Callable[[Shop], Any]:
    def query(shop: Shop) -> Select[Any]:
        joined = (Order.customer_id == Customer.id) & (Order.shop_id == shop.id)
        return (
            select(Customer).join(Order, joined).where(condition(shop.id)).order_by(Order.id.desc())
        )

    return query


def _fulfilled_clause(shop_id: int) -> ColumnElement[bool]:
    return _paid_clause(shop_id) & Order.fulfilled_at.is_not(None)


def _order_target(
    condition: Callable[[int], ColumnElement[bool]], prefix: str
) -> Callable[[Session, Shop, Customer], Any]:
    def target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
        from app.flows.preview import PreviewTarget

        order = session.scalars(
            select(Order)
            .where(Order.customer_id == customer.id, condition(shop.id))
            .order_by(Order.id.desc())
            .limit(1)
        ).first()
        if order is None:
            return None
        return PreviewTarget(
            customer,
            f"{prefix}:{order.id}",
            "flows.preview.for_order",
            {"order": order.name or order.external_id},
        )

    return target


def _replenishment_query(shop: Shop) -> Select[Any]:
    repeat = _repeat_products(shop.id).subquery()
    return (
        select(Customer)
        .join(repeat, repeat.c.customer_id == Customer.id)
        .order_by(repeat.c.order_id.desc())
    )


def _replenishment_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    """The product the customer bought in 2+ orders most recently."""
    from app.flows.preview import PreviewTarget

    repeat = _repeat_products(shop.id).subquery()
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


# --- definitions -----------------------------------------------------------------------------


def _definition(
    form: FlowForm,
    priority: int,
    simulate: Any,
    preview_missing: str,
    preview_query: Callable[[Shop], Any],
    preview_target: Callable[[Session, Shop, Customer], Any],
) -> FlowDefinition:
    return FlowDefinition(
        key=form.key,
        form=form,
        preview_query=preview_query,
        preview_target=preview_target,
        priority=priority,
        ends_on_order=False,  # a new order is no reason to stop a post-purchase email
        load_exits=load_exits,
        render=render,
        simulate=simulate,
        preview_missing=preview_missing,
        triggers=(_order_trigger(form.key),),
    )


THANK_YOU_FORM = FlowForm(
    THANK_YOU,
    steps=1,
    delays=1,
    first_delay_low=0,
    delay_high=MAX_THANK_YOU_HOURS,
    defaults=POST_PURCHASE_DEFAULTS[THANK_YOU],
)
REVIEW_REQUEST_FORM = FlowForm(
    REVIEW_REQUEST,
    steps=1,
    delays=0,
    numbers=(Number("review_delay_days", 1, 90, PostPurchaseTiming.review_delay_days),),
    defaults=POST_PURCHASE_DEFAULTS[REVIEW_REQUEST],
)
REPLENISHMENT_FORM = FlowForm(
    REPLENISHMENT,
    steps=1,
    delays=0,
    numbers=(Number("lead_days", 0, 30, PostPurchaseTiming.lead_days),),
    defaults=POST_PURCHASE_DEFAULTS[REPLENISHMENT],
)

DEFINITIONS = (
    _definition(
        THANK_YOU_FORM,
        25,
        _simulate_thank_you,
        "flows.preview.no_paid_order",
        _orders_preview(_paid_clause),
        _order_target(_paid_clause, "order"),
    ),
    _definition(
        REVIEW_REQUEST_FORM,
        35,
        _simulate_review_request,
        "flows.preview.no_fulfilled_order",
        _orders_preview(_fulfilled_clause),
        _order_target(_fulfilled_clause, "fulfilled"),
    ),
    _definition(
        REPLENISHMENT_FORM,
        30,
        _simulate_replenishment,
        "flows.preview.no_repeat_product",
        _replenishment_query,
        _replenishment_target,
    ),
)
