"""What the post-purchase flows share: paid orders, their runs' triggers and exits, product
cards, the batch's facts, and emails on shared content.

Layer: services, inside the caller's transaction. Each flow is its own module (`thank_you`,
`review_request`, `replenishment`) built on this one; `browse` and `back_in_stock` take their
part-based emails from it too (`PartEmails`). Runs start from each flow's order
`Trigger` for paid, uncancelled orders, unique on (shop, flow, customer, trigger key), so a
replayed order starts nothing new; a step already more than a day overdue (a backfill, an old
order's late edit) starts nothing. A batch of runs reads its orders, lines, products and
recommendations (`services.recommendations`) in a fixed number of queries, never the shop's
history; every email is shared content plus per-recipient substitutions, so a dispatch batch
sends up to 1,000 in one request and a message sent alone is the same email.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from flask import current_app, render_template
from flask_babel import LazyString, force_locale, lazy_pgettext
from markupsafe import escape
from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload

from app.config import Config
from app.db import utcnow
from app.domain.orchestration import (
    POST_PURCHASE_DEFAULTS,
    REPLENISHMENT,
    REVIEW_REQUEST,
    THANK_YOU,
    FlowConfig,
)
from app.domain.recommendations import Purchase, product_histories
from app.flows.definition import ORDERS_CHANGED, FlowDefinition, PreviewTarget, Trigger, every_step
from app.flows.form import FlowForm, subject_override
from app.flows.reads import ensure_flow_setting
from app.flows.reads import flow_setting as load_setting
from app.flows.runs import (
    RunStart,
    SharedContent,
    flow_config,
    flow_email,
    message_unsubscribe_link,
    shop_row,
    start_run,
    start_runs,
)
from app.formatting import format_money, greeting_name
from app.links import safe_url, shop_home_url
from app.models import Customer, CustomerProduct, Order, OrderLine, Product, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from app.models.order import order_time
from app.models.recommendation_settings import ProductSupply
from app.services import purchase_stats, recommendation_settings, recommendations
from app.services.recommendations import AVAILABLE_STATUSES
from connectors.base import OrderRecord
from connectors.sendgrid.mail import MAX_SUBSTITUTIONS_BYTES, OutgoingEmail

if TYPE_CHECKING:
    from app.flows.replay import Simulator

log = logging.getLogger(__name__)
T = TypeVar("T")
B = TypeVar("B")  # what a batch of runs shows (`PartEmails.load`)

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

# The built-in subject of each flow, translated when the email is rendered; `{product}` is
# replaced by the product's name (as in a merchant's own subject).
SUBJECTS: dict[str, LazyString] = {
    THANK_YOU: lazy_pgettext("email subject", "Thank you for your order"),
    REVIEW_REQUEST: lazy_pgettext("email subject", "How do you like your purchase?"),
    REPLENISHMENT: lazy_pgettext("email subject", "Running low on {product}?"),
}


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
    """The customer's purchases, newest first (read for every customer of a running batch at
    once: its orders are stored before its runs start)."""
    batch = order_batch(session, shop_id)
    if batch is None or customer_id not in batch.customer_ids():
        return _purchases(session, shop_id, Order.customer_id == customer_id)

    def read_all() -> dict[int, list[Purchase]]:
        by_customer: dict[int, list[Purchase]] = {}
        for chunk in _chunked(batch.customer_ids(), 1000):
            for purchase in _purchases(session, shop_id, Order.customer_id.in_(chunk)):
                if purchase.customer_id is not None:
                    by_customer.setdefault(purchase.customer_id, []).append(purchase)
        return by_customer

    return list(batch_read(session, shop_id, "customer_purchases", read_all).get(customer_id, []))


def last_purchases(purchases: Sequence[Purchase]) -> dict[str, datetime]:
    """Each product's latest purchase time."""
    owned: dict[str, datetime] = {}
    for purchase in purchases:
        known = owned.get(purchase.product_id)
        if known is None or purchase.at > known:
            owned[purchase.product_id] = purchase.at
    return owned


# --- what one trigger call reads for all its orders -----------------------------------------
#
# An order trigger starts its flow's runs order by order; what those starts read about the
# orders (their lines, their customers' purchases and running reminders) and the products
# (re-buy intervals, days of supply) is read once for the whole batch while the trigger runs,
# kept in `session.info` and dropped when it returns.

_ORDER_BATCH = "kizuna.flows.post_purchase.order_batch"


@dataclass
class OrderBatch:
    """The paid orders one trigger call starts runs for, and what was read about them."""

    shop_id: int
    orders: list[Order]
    reads: dict[Any, Any] = field(default_factory=dict)
    # Runs to insert together when the trigger call ends (`start_with_batch`), by flow.
    starts: dict[str, tuple[FlowConfig, list[RunStart]]] = field(default_factory=dict)

    def customer_ids(self) -> list[int]:
        return sorted({o.customer_id for o in self.orders if o.customer_id is not None})


def order_batch(session: Session, shop_id: int) -> OrderBatch | None:
    batch: OrderBatch | None = session.info.get(_ORDER_BATCH)
    return batch if batch is not None and batch.shop_id == shop_id else None


def batch_read(session: Session, shop_id: int, key: Any, read: Callable[[], T]) -> T:
    """`read()` once per trigger call (every call when no batch is running)."""
    batch = order_batch(session, shop_id)
    if batch is None:
        return read()
    if key not in batch.reads:
        batch.reads[key] = read()
    value: T = batch.reads[key]
    return value


def _batch_quantities(session: Session, shop_id: int) -> dict[int, dict[str, int]]:
    batch = order_batch(session, shop_id)
    assert batch is not None  # noqa: S101 - called only while a batch runs
    found: dict[int, dict[str, int]] = {order.id: {} for order in batch.orders}
    for chunk in _chunked(sorted(found), 1000):
        for order_id, product, quantity in session.execute(
            select(OrderLine.order_id, OrderLine.product_external_id, func.sum(OrderLine.quantity))
            .where(
                OrderLine.shop_id == shop_id,
                OrderLine.order_id.in_(chunk),
                OrderLine.product_external_id.is_not(None),
            )
            .group_by(OrderLine.order_id, OrderLine.product_external_id)
        ):
            found[int(order_id)][str(product)] = int(quantity or 0)
    return found


def _chunked(values: Sequence[T], size: int) -> list[Sequence[T]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def batch_products(session: Session, order: Order) -> list[str]:
    """Every product of the orders of the running batch (of `order` alone without one)."""
    batch = order_batch(session, order.shop_id)
    if batch is None or order not in batch.orders:
        return order_products(session, order)
    quantities = batch_read(
        session, order.shop_id, "quantities", lambda: _batch_quantities(session, order.shop_id)
    )
    return sorted({product for lines in quantities.values() for product in lines})


def order_quantities(session: Session, order: Order) -> dict[str, int]:
    """Each of the order's products → the units ordered (its lines added up)."""
    batch = order_batch(session, order.shop_id)
    if batch is not None and order in batch.orders:
        quantities = batch_read(
            session, order.shop_id, "quantities", lambda: _batch_quantities(session, order.shop_id)
        )
        return dict(quantities.get(order.id, {}))
    rows = session.execute(
        select(OrderLine.product_external_id, func.sum(OrderLine.quantity))
        .where(
            OrderLine.shop_id == order.shop_id,
            OrderLine.order_id == order.id,
            OrderLine.product_external_id.is_not(None),
        )
        .group_by(OrderLine.product_external_id)
    )
    return {str(product): int(quantity or 0) for product, quantity in rows}


def order_products(session: Session, order: Order) -> list[str]:
    """The order's products, read from the table (its lines may have just been replaced)."""
    batch = order_batch(session, order.shop_id)
    if batch is not None and order in batch.orders:
        return sorted(order_quantities(session, order))
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


def start_order_run(
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


def start_with_batch(
    session: Session,
    order: Order,
    flow_key: str,
    trigger_key: str,
    due: datetime,
    config: FlowConfig,
    now: datetime,
) -> list[int]:
    """`start_order_run` for a flow whose starts read no runs of their own batch (thank-you,
    review request): while an order trigger runs, the run joins the batch's other runs of the
    flow in one INSERT when the trigger call ends (its id is returned then); else at once."""
    batch = order_batch(session, order.shop_id)
    if batch is None:
        return one_run(start_order_run(session, order, flow_key, trigger_key, due, config, now))
    assert order.customer_id is not None  # noqa: S101 - callers start runs for known customers only
    _config, starts = batch.starts.setdefault(flow_key, (config, []))
    starts.append(RunStart(order.customer_id, trigger_key, due))
    return []


def flow_settings(
    session: Session, shop_id: int, flow_key: str
) -> tuple[bool, FlowConfig, FlowSetting]:
    """(runs, config, settings row) of a post-purchase flow for the shop."""
    row = ensure_flow_setting(
        session, shop_id, flow_key, POST_PURCHASE_DEFAULTS[flow_key], enabled=True
    )
    enabled, config = flow_config(session, shop_id, flow_key)
    return enabled and config.steps > 0, config, row


def due_or_none(due: datetime, now: datetime) -> datetime | None:
    """`due` (at the earliest `now`), or None when it is too overdue to be worth sending."""
    if now - due > OVERDUE_LIMIT:
        return None
    return max(due, now)


def paid_orders(session: Session, shop_id: int, order_external_ids: Collection[str]) -> list[Order]:
    """The shop's orders among `order_external_ids` that start post-purchase runs: paid, not
    cancelled, of a known customer who is not deleted or redacted."""
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
    return [order for order in orders if is_paid(order)]


OrderStarter = Callable[[Session, Order, datetime], Sequence[int]]


def order_trigger(start: OrderStarter) -> Trigger:
    """Orders arrived or changed: `start` the flow's runs for each paid one (after the exits);
    → the new runs' ids. Safe to run again for the same orders."""

    def handle(
        session: Session, shop_id: int, orders: Sequence[OrderRecord], now: datetime | None = None
    ) -> list[int]:
        moment = now or utcnow()
        external_ids = {record.external_id for record in orders}
        started: list[int] = []
        paid = paid_orders(session, shop_id, external_ids)
        batch = session.info[_ORDER_BATCH] = OrderBatch(shop_id, paid)
        try:
            for order in paid:
                started.extend(start(session, order, moment))
            for flow_key, (config, starts) in batch.starts.items():
                started.extend(start_runs(session, shop_id, flow_key, config, starts, moment))
        finally:
            session.info.pop(_ORDER_BATCH, None)
        return started

    return Trigger(ORDERS_CHANGED, handle)


def one_run(run_id: int | None) -> list[int]:
    return [] if run_id is None else [run_id]


# --- triggers and exits ----------------------------------------------------------------------


def trigger_order_id(trigger_key: str) -> int | None:
    tail = trigger_key.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def trigger_product(trigger_key: str) -> str | None:
    """`replenish:<product>:<order id>` → the product's external id."""
    kind, _, rest = trigger_key.partition(":")
    if kind != "replenish":
        return None
    return rest.rpartition(":")[0] or None


def trigger_order(session: Session, run: FlowRun) -> Order | None:
    order_id = trigger_order_id(run.trigger_key)
    if order_id is None:
        return None
    return session.scalars(
        select(Order).where(Order.shop_id == run.shop_id, Order.id == order_id)
    ).one_or_none()


def orders_of(session: Session, shop_id: int, runs: Sequence[FlowRun]) -> dict[int, Order]:
    """The trigger orders of `runs`, by order id (one query)."""
    ids = {order_id for run in runs if (order_id := trigger_order_id(run.trigger_key))}
    if not ids:
        return {}
    return {
        order.id: order
        for order in session.scalars(
            select(Order).where(Order.shop_id == shop_id, Order.id.in_(sorted(ids)))
        )
    }


def available(product: Product | None) -> bool:
    return product is not None and (product.status is None or product.status in AVAILABLE_STATUSES)


def last_ordered(
    session: Session, shop_id: int, pairs: Collection[tuple[int, str]]
) -> dict[tuple[int, str], datetime | None]:
    """(customer, product) → when the customer last ordered it (not cancelled), for the pairs
    they bought, from `customer_products` (one indexed read)."""
    if not pairs:
        return {}
    return {
        (int(customer_id), str(product)): at
        for customer_id, product, at in session.execute(
            select(
                CustomerProduct.customer_id,
                CustomerProduct.product_external_id,
                CustomerProduct.last_ordered_at,
            ).where(
                CustomerProduct.shop_id == shop_id,
                tuple_(CustomerProduct.customer_id, CustomerProduct.product_external_id).in_(
                    sorted(pairs)
                ),
            )
        )
    }


def load_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """Why each post-purchase run stops (after the checks every flow makes), set-wise. A new
    order does not stop a thank-you or a review request; a later order of the product stops a
    replenishment reminder (`customer_products`' latest order), and so does the product no
    longer being on sale."""
    orders = orders_of(session, shop_id, runs)
    wanted = {product for run in runs if (product := trigger_product(run.trigger_key))}
    products = load_products(session, shop_id, wanted, variants=False)
    pairs = {
        (run.customer_id, product)
        for run in runs
        if run.flow_key == REPLENISHMENT and (product := trigger_product(run.trigger_key))
    }
    latest = last_ordered(session, shop_id, pairs)
    exits: dict[int, tuple[str, ...]] = {}
    for run in runs:
        order = orders.get(trigger_order_id(run.trigger_key) or 0)
        reason: str | None = None
        if order is None:
            reason = "order_gone"
        elif order.cancelled_at is not None:
            reason = "order_cancelled"
        elif not is_paid(order):
            reason = "order_refunded"
        elif run.flow_key == REPLENISHMENT:
            product = trigger_product(run.trigger_key)
            if product is None or not available(products.get(product)):
                reason = "product_unavailable"
            else:
                last = latest.get((run.customer_id, product))
                if last is not None and last > placed_at(order):
                    reason = "reordered"
        if reason is not None:
            exits[run.id] = (reason,)
    return exits


def exit_reason(session: Session, run: FlowRun) -> str | None:
    """`load_exits` for one run."""
    found = load_exits(session, run.shop_id, [run]).get(run.id)
    return found[0] if found else None


# --- products --------------------------------------------------------------------------------


def load_products(
    session: Session, shop_id: int, external_ids: Collection[str], *, variants: bool = True
) -> dict[str, Product]:
    """The shop's products among `external_ids` (with their variants), by external id."""
    if not external_ids:
        return {}
    statement = select(Product).where(
        Product.shop_id == shop_id, Product.external_id.in_(sorted(external_ids))
    )
    if variants:
        statement = statement.options(selectinload(Product.variants))
    return {product.external_id: product for product in session.scalars(statement)}


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


def cards(
    shop: Shop, products: Mapping[str, Product], external_ids: Sequence[str], lang: str
) -> list[dict[str, Any]]:
    """Title, image, price and store link of each product, in the order given; unknown or
    unavailable products are left out."""
    found = []
    for external_id in external_ids:
        product = products.get(external_id)
        if product is None or not available(product):
            continue
        price = _price(product, shop.currency)
        image = product.image_url or next(
            (variant.image_url for variant in product.variants if variant.image_url), None
        )
        found.append(
            {
                "title": product.title,
                "image_url": safe_url(image),
                "price": format_money(price[0], price[1], lang) if price else None,
                "url": product_url(shop, product),
            }
        )
    return found


def product_cards(
    session: Session, shop: Shop, external_ids: Sequence[str], lang: str
) -> list[dict[str, Any]]:
    """`cards` of these products, read from the database."""
    return cards(shop, load_products(session, shop.id, set(external_ids)), external_ids, lang)


# --- a batch's facts -------------------------------------------------------------------------


@dataclass
class Purchases:
    """What a batch of one shop's post-purchase runs shows, read set-wise: each run's order and
    lines, the products shown (with variants), and the thank-you cross-sells per order."""

    shop: Shop
    orders: dict[int, Order] = field(default_factory=dict)
    lines: dict[int, list[OrderLine]] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    recommendations: dict[int, list[str]] = field(default_factory=dict)
    # What many recipients of the batch share (a product's card, a list of cross-sells, in one
    # language) is rendered once.
    rendered: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def once(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """`make()`, computed once per batch for `key`."""
        if key not in self.rendered:
            self.rendered[key] = make()
        found: T = self.rendered[key]
        return found

    def cards(self, external_ids: Sequence[str], lang: str) -> list[dict[str, Any]]:
        """`cards` of these products, each made once per batch and language."""
        found: list[dict[str, Any]] = []
        for product in external_ids:
            key = ("card", product, lang)
            if key not in self.rendered:
                self.rendered[key] = cards(self.shop, self.products, [product], lang)
            found.extend(self.rendered[key])
        return found

    def order(self, run: FlowRun) -> Order | None:
        return self.orders.get(trigger_order_id(run.trigger_key) or 0)

    def order_products(self, order: Order) -> list[str]:
        """The order's products, in external-id order."""
        lines = self.lines.get(order.id, ())
        return sorted({line.product_external_id for line in lines if line.product_external_id})


def load_purchases(
    session: Session,
    shop: Shop,
    runs: Sequence[FlowRun],
    now: datetime,
    *,
    recommend: bool = False,
) -> Purchases:
    """The batch's `Purchases`: its orders and their lines; products of the orders and of the
    replenishment triggers; with `recommend`, each order's recommendations from the one
    recommendation path (`services.recommendations`: cross-sells, owned products, durable
    goods)."""
    batch = Purchases(shop, orders=orders_of(session, shop.id, runs))
    if batch.orders:
        for line in session.scalars(
            select(OrderLine)
            .where(OrderLine.shop_id == shop.id, OrderLine.order_id.in_(sorted(batch.orders)))
            .order_by(OrderLine.id)
        ):
            batch.lines.setdefault(line.order_id, []).append(line)
    wanted = {product for order in batch.orders.values() for product in batch.order_products(order)}
    wanted |= {product for run in runs if (product := trigger_product(run.trigger_key))}
    if not recommend:
        batch.products = load_products(session, shop.id, wanted)
        return batch
    requests = {
        order_id: recommendations.Request(order.customer_id, tuple(batch.order_products(order)))
        for order_id, order in batch.orders.items()
    }
    batch.recommendations = {
        order_id: picks
        for order_id, picks in recommendations.recommend(
            session, shop.id, requests, now, limit=RECOMMENDATIONS
        ).items()
        if picks
    }
    picked = {product for picks in batch.recommendations.values() for product in picks}
    batch.products = load_products(session, shop.id, wanted | picked)
    return batch


# --- emails on shared content ----------------------------------------------------------------


UNSUBSCRIBE_TAG = "-pp_unsubscribe-"


def tags(part: str) -> tuple[str, str]:
    """The substitution tags of a per-recipient part of a post-purchase email (HTML, text)."""
    return f"-pp_{part}_html-", f"-pp_{part}_text-"


@dataclass(frozen=True)
class Part:
    """A per-recipient piece of an email: its partial template's HTML (escaped) and text."""

    html: str
    text: str


def render_part(flow_key: str, part: str, lang: str, **context: Any) -> Part:
    """`email/<flow>/_<part>.{html,txt}` rendered in `lang`."""
    env = current_app.jinja_env
    with force_locale(lang):
        html = env.get_template(f"email/{flow_key}/_{part}.html").render(lang=lang, **context)
        text = env.get_template(f"email/{flow_key}/_{part}.txt").render(lang=lang, **context)
    return Part(html, text)


# Stand-ins for the recipient's own values in `_intro`, rendered once per shop and language and
# then replaced per recipient (escaped for the HTML part): control characters that neither
# Jinja's escaping nor a translation changes.
_NAME_SLOT, _ORDER_SLOT = "\x1fname\x1f", "\x1forder\x1f"


@lru_cache(maxsize=512)
def _intro_template(
    flow_key: str, lang: str, shop_name: str, named: bool, with_order: bool
) -> Part:
    return render_part(
        flow_key,
        "intro",
        lang,
        shop_name=shop_name,
        greeting_name=_NAME_SLOT if named else None,
        order_name=_ORDER_SLOT if with_order else None,
    )


def intro(flow_key: str, shop: Shop, customer: Customer, order: Order | None, lang: str) -> Part:
    """The greeting and opening sentence (`_intro`): the customer's name and order name."""
    name = greeting_name(customer.first_name, customer.last_name, lang)
    order_name = order.name if order is not None else None
    template = _intro_template(
        flow_key, lang, shop.name or shop.domain, bool(name), bool(order_name)
    )
    html, text = template.html, template.text
    for slot, value in ((_NAME_SLOT, name), (_ORDER_SLOT, order_name)):
        if value:
            html, text = html.replace(slot, str(escape(value))), text.replace(slot, value)
    return Part(html, text)


@dataclass(frozen=True)
class Recipient:
    """One recipient's parts and the product named in the subject (`{product}`)."""

    parts: Mapping[str, Part]
    product_title: str = ""


Parts = Callable[[Purchases, FlowRun, Customer, str], Recipient | None]


def shared_content(
    session: Session,
    shop: Shop,
    flow_key: str,
    step: int,
    lang: str,
    part_names: Sequence[str],
    default_subject: LazyString,
) -> SharedContent:
    """The step's email every recipient of this shop and language shares: each part and the
    unsubscribe link are substitution tags; the subject (the merchant's override, else
    `default_subject`) keeps `{product}`. Every flow whose email is made of parts uses it."""
    context = {
        "lang": lang,
        "shop_name": shop.name or shop.domain,
        "shop_url": shop_home_url(shop),
    }
    setting = load_setting(session, shop.id, flow_key)
    with force_locale(lang):
        subject = subject_override(setting, lang, step) or str(default_subject)
        html = render_template(
            f"email/{flow_key}/step{step}.html",
            unsubscribe_url=UNSUBSCRIBE_TAG,
            **{name: tags(name)[0] for name in part_names},
            **context,
        )
        text = render_template(
            f"email/{flow_key}/step{step}.txt",
            unsubscribe_url=UNSUBSCRIBE_TAG,
            **{name: tags(name)[1] for name in part_names},
            **context,
        )
    return SharedContent(lang, subject, html, text)


def recipient_email(
    config: Config,
    shop: Shop,
    customer: Customer,
    msg: Message,
    flow_key: str,
    content: SharedContent,
    recipient: Recipient,
    *,
    inline: bool,
) -> OutgoingEmail | None:
    """This recipient's email on `content`: its parts and unsubscribe link as substitutions
    (SendGrid fills them in), or filled in here (`inline`: a message sent on its own). None
    when the substitutions exceed SendGrid's per-recipient limit and not `inline`."""
    link = message_unsubscribe_link(config, shop, customer, msg)
    substitutions = {UNSUBSCRIBE_TAG: link}
    for name, part in recipient.parts.items():
        html_tag, text_tag = tags(name)
        substitutions[html_tag], substitutions[text_tag] = part.html, part.text
    subject = content.subject.replace("{product}", recipient.product_title)[:500]
    html, text = content.html, content.text
    if inline:
        for tag, value in substitutions.items():
            html, text = html.replace(tag, value), text.replace(tag, value)
        substitutions = {}
    elif len(json.dumps(substitutions).encode()) > MAX_SUBSTITUTIONS_BYTES:
        return None
    return flow_email(
        config,
        shop,
        customer,
        msg,
        flow_key,
        subject=subject,
        html=html,
        text=text,
        link=link,
        substitutions=substitutions,
    )


@dataclass(frozen=True)
class PartEmails(Generic[B]):
    """A flow's emails made of parts on shared content (`shared_content`): `load` reads what a
    batch of runs shows, in a fixed number of queries; `parts` makes one recipient's parts
    from it (None: nothing left to show, `missing` says what). Every email goes through the
    same shared content, so a dispatch batch and a message sent alone (a batch of one) give
    the same email."""

    flow_key: str
    part_names: tuple[str, ...]
    subject: LazyString  # the built-in subject; `{product}` is the recipient's product
    load: Callable[[Session, Shop, Sequence[FlowRun], datetime], B]
    parts: Callable[[B, FlowRun, Customer, str], Recipient | None]
    missing: str  # "has no order": what a run without parts lacks

    def load_context(
        self, session: Session, shop_id: int, runs: Sequence[FlowRun]
    ) -> Mapping[str, Any]:
        shop = shop_row(session, shop_id)
        if shop is None:
            return {}
        return {"batch": self.load(session, shop, runs, utcnow())}

    def render_shared(self, session: Session, shop: Shop, step: int, lang: str) -> SharedContent:
        return shared_content(
            session, shop, self.flow_key, step, lang, self.part_names, self.subject
        )

    def shared_email(
        self,
        config: Config,
        shop: Shop,
        customer: Customer,
        run: FlowRun,
        msg: Message,
        content: SharedContent,
        context: Mapping[str, Any],
    ) -> OutgoingEmail | None:
        batch = context.get("batch")
        if batch is None:
            return None
        recipient = self.parts(batch, run, customer, content.lang)
        if recipient is None:
            return None
        return recipient_email(
            config, shop, customer, msg, self.flow_key, content, recipient, inline=False
        )

    def render(
        self,
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
        """The email of a message sent on its own (a batch of one), in `lang`."""
        recipient = self.parts(self.load(session, shop, [run], now), run, customer, lang)
        if recipient is None:
            raise LookupError(f"run {run.id} {self.missing}")
        content = self.render_shared(session, shop, msg.step, lang)
        email = recipient_email(
            config, shop, customer, msg, self.flow_key, content, recipient, inline=True
        )
        assert email is not None  # noqa: S101 - inline always gives one
        return email


def purchase_emails(
    flow_key: str, part_names: tuple[str, ...], parts: Parts, *, recommend: bool = False
) -> PartEmails[Purchases]:
    """A post-purchase flow's emails: `parts` makes one recipient's parts from the batch's
    `Purchases`; `recommend`: the batch reads cross-sells."""
    return PartEmails(
        flow_key,
        part_names,
        SUBJECTS[flow_key],
        partial(load_purchases, recommend=recommend),
        parts,
        "has no order",
    )


def refresh_history_stats(session: Session, shop_id: int, now: datetime | None = None) -> int:
    """Recompute the shop's history stats from its recent purchases (`shop_purchases`): the
    products' (`purchase_stats`) and the re-buy counts of its collections and product types
    (`recommendation_settings`), and commit; → the number of products with stats. Run daily
    per shop and after a first sync."""
    now = now or utcnow()
    purchases = shop_purchases(session, shop_id, now)
    orders, histories = product_histories(purchases)
    purchase_stats.save(session, shop_id, orders, histories, now)
    recommendation_settings.refresh_counts(session, shop_id, purchases, now)
    session.commit()
    return len(histories)


# --- preview ---------------------------------------------------------------------------------


def paid_clause(shop_id: int) -> ColumnElement[bool]:
    return (
        (Order.shop_id == shop_id)
        & Order.cancelled_at.is_(None)
        & func.lower(Order.financial_status).in_(sorted(PAID_STATUSES))
    )


def repeat_products(shop_id: int) -> Any:
    """(customer id, product, newest order id) for products a customer bought in 2+ orders, or
    once when the product has days of supply (both start replenishment reminders)."""
    supplied = select(ProductSupply.product_external_id).where(ProductSupply.shop_id == shop_id)
    return (
        select(
            Order.customer_id,
            OrderLine.product_external_id,
            func.max(Order.id).label("order_id"),
        )
        .join(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.shop_id == Order.shop_id))
        .where(
            paid_clause(shop_id),
            Order.customer_id.is_not(None),
            OrderLine.product_external_id.is_not(None),
        )
        .group_by(Order.customer_id, OrderLine.product_external_id)
        .having(
            or_(
                func.count(func.distinct(Order.id)) >= 2,
                OrderLine.product_external_id.in_(supplied),
            )
        )
    )


def orders_preview(condition: Callable[[int], ColumnElement[bool]]) -> Callable[[Shop], Any]:
    def query(shop: Shop) -> Select[Any]:
        joined = (Order.customer_id == Customer.id) & (Order.shop_id == shop.id)
        return (
            select(Customer).join(Order, joined).where(condition(shop.id)).order_by(Order.id.desc())
        )

    return query


def fulfilled_clause(shop_id: int) -> ColumnElement[bool]:
    return paid_clause(shop_id) & Order.fulfilled_at.is_not(None)


def order_target(
    condition: Callable[[int], ColumnElement[bool]], prefix: str
) -> Callable[[Session, Shop, Customer], Any]:
    def target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
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


# --- definitions -----------------------------------------------------------------------------


def definition(
    form: FlowForm,
    priority: int,
    emails: PartEmails[Purchases],
    start: OrderStarter,
    simulate: Simulator,
    preview_missing: str,
    preview_query: Callable[[Shop], Any],
    preview_target: Callable[[Session, Shop, Customer], Any],
) -> FlowDefinition:
    """A post-purchase flow: started by orders, not stopped by new ones, its emails sent
    set-wise on shared content."""
    return FlowDefinition(
        key=form.key,
        form=form,
        preview_query=preview_query,
        preview_target=preview_target,
        priority=priority,
        ends_on_order=False,  # a new order is no reason to stop a post-purchase email
        load_exits=load_exits,
        render=emails.render,
        simulate=simulate,
        preview_missing=preview_missing,
        shares_content=every_step,
        render_shared=emails.render_shared,
        shared_email=emails.shared_email,
        load_context=emails.load_context,
        triggers=(order_trigger(start),),
    )
