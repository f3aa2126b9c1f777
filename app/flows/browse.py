"""Browse abandonment: a consenting customer viewed products on the storefront and did not add
one to a cart, start a checkout or order: one email with what they looked at and what goes
with it.

Layer: flows, a flow module (above `post_purchase`, `runs`, `replay`, `content`, `reads`,
`definition`), inside the caller's transaction. Started by the storefront events a post stores
(`STOREFRONT_EVENTS`), only for a known customer whose views the shopper's consent allowed for
marketing and who consents to email; at most one run per customer per lookback period (the
trigger key names the period). An add to cart, a checkout (the cart flow takes over: it ranks
first) or an order ends the run. Work per post is bounded by the lookback, never the history.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_pgettext
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.orchestration import FlowConfig
from app.flows.definition import (
    CHECKOUTS_CHANGED,
    CUSTOMERS_ORDERED,
    DAILY_SCAN,
    EXIT_ORDER,
    STOREFRONT_EVENTS,
    FlowDefinition,
    PreviewTarget,
    Trigger,
    every_step,
)
from app.flows.form import FlowForm, Number
from app.flows.post_purchase import (
    Part,
    PartEmails,
    Purchases,
    Recipient,
    available,
    load_products,
    render_part,
)
from app.flows.reads import (
    ensure_flow_setting,
    flow_config,
    flow_setting,
    is_subscribed,
    suppressed,
)
from app.flows.replay import FlowPlan, Window, stored_settings
from app.flows.replay import Trigger as ReplayTrigger
from app.flows.runs import exit_on_customer_orders, exit_runs, load_order_exits, start_run
from app.formatting import greeting_name
from app.models import Checkout, Customer, Order, Shop
from app.models.flow import FlowRun
from app.models.order import order_time
from app.models.storefront import (
    ADDED_TO_CART,
    EVENT_RETENTION,
    PRODUCT_VIEWED,
    StorefrontEvent,
)
from app.services import recommendations

BROWSE = "browse"
DEFAULTS: Mapping[str, Any] = {"step_delay_hours": [2], "min_views": 1, "lookback_days": 3}
VIEWED_SHOWN = 3
RECOMMENDED = 3
PARTS = ("intro", "viewed", "recommendations")
SUBJECT = lazy_pgettext("email subject", "Still thinking about {product}?")


@dataclass(frozen=True)
class BrowseSettings:
    """`min_views`: distinct products viewed within `lookback` before a run starts; one run per
    customer per `lookback`."""

    min_views: int = 1
    lookback: timedelta = timedelta(days=3)

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None) -> BrowseSettings:
        values = {**DEFAULTS, **(overrides or {})}
        days = min(max(float(values["lookback_days"]), 1.0), EVENT_RETENTION.days)
        return cls(max(1, int(values["min_views"])), timedelta(days=days))


def period_key(moment: datetime, lookback: timedelta) -> str:
    """The run's trigger key: the lookback period `moment` falls in (one run per period)."""
    return f"browse:{int(moment.timestamp() // lookback.total_seconds())}"


# --- starting and ending runs ----------------------------------------------------------------


def _distinct_views(
    session: Session, shop_id: int, customer_ids: Collection[int], since: datetime
) -> dict[int, int]:
    """Distinct products each customer viewed since `since` with marketing allowed."""
    rows = session.execute(
        select(
            StorefrontEvent.customer_id,
            func.count(func.distinct(StorefrontEvent.product_external_id)),
        )
        .where(
            StorefrontEvent.shop_id == shop_id,
            StorefrontEvent.customer_id.in_(sorted(customer_ids)),
            StorefrontEvent.occurred_at >= since,
            StorefrontEvent.kind == PRODUCT_VIEWED,
            StorefrontEvent.marketing_allowed.is_(True),
        )
        .group_by(StorefrontEvent.customer_id)
    )
    return {int(customer_id or 0): int(count) for customer_id, count in rows}


def _busy_customers(
    session: Session, shop_id: int, customer_ids: Collection[int], since: datetime
) -> set[int]:
    """Customers who already had a browse run this lookback, added to a cart, or have a
    checkout open since `since` (the cart flow's business)."""
    ids = sorted(customer_ids)
    ran = session.scalars(
        select(FlowRun.customer_id).where(
            FlowRun.shop_id == shop_id,
            FlowRun.flow_key == BROWSE,
            FlowRun.customer_id.in_(ids),
            FlowRun.started_at >= since,
        )
    )
    carted = session.scalars(
        select(StorefrontEvent.customer_id).where(
            StorefrontEvent.shop_id == shop_id,
            StorefrontEvent.customer_id.in_(ids),
            StorefrontEvent.kind == ADDED_TO_CART,
            StorefrontEvent.occurred_at >= since,
        )
    )
    checkouts = session.scalars(
        select(Checkout.customer_id).where(
            Checkout.shop_id == shop_id,
            Checkout.customer_id.in_(ids),
            func.coalesce(Checkout.platform_created_at, Checkout.created_at) >= since,
            Checkout.completed_at.is_(None),
        )
    )
    return {int(c) for c in (*ran, *carted, *checkouts) if c is not None}


def on_events(session: Session, shop_id: int, events: Sequence[StorefrontEvent]) -> list[int]:
    """New storefront events: an add to cart ends the customer's browse run; views of a
    consenting customer reaching `min_views` within the lookback start one (after `wait`)."""
    now = utcnow()
    carted = {e.customer_id for e in events if e.kind == ADDED_TO_CART and e.customer_id}
    if carted:
        exit_runs(session, shop_id, "added_to_cart", customer_ids=carted, flows=(BROWSE,))
    viewers = {
        e.customer_id
        for e in events
        if e.kind == PRODUCT_VIEWED and e.customer_id is not None and e.marketing_allowed
    }
    viewers = {customer_id for customer_id in viewers if customer_id is not None}
    if not viewers:
        return []
    row = ensure_flow_setting(session, shop_id, BROWSE, DEFAULTS, enabled=True)
    enabled, config = flow_config(session, shop_id, BROWSE)
    if not enabled or config.steps == 0:
        return []
    browse = BrowseSettings.from_overrides(row.config)
    since = now - browse.lookback
    counts = _distinct_views(session, shop_id, viewers, since)
    busy = _busy_customers(session, shop_id, viewers, since)
    candidates = [
        c for c in sorted(viewers) if c not in busy and counts.get(c, 0) >= browse.min_views
    ]
    if not candidates:
        return []
    customers = session.scalars(
        select(Customer).where(Customer.shop_id == shop_id, Customer.id.in_(candidates))
    ).all()
    started = []
    for customer in customers:
        if customer.deleted_at or customer.redacted_at or not is_subscribed(customer):
            continue
        if suppressed(session, shop_id, customer.email):
            continue
        run_id = _start(session, shop_id, customer.id, browse, config, now)
        if run_id is not None:
            started.append(run_id)
    return started


def _start(
    session: Session,
    shop_id: int,
    customer_id: int,
    browse: BrowseSettings,
    config: FlowConfig,
    now: datetime,
) -> int | None:
    trigger = period_key(now, browse.lookback)
    return start_run(
        session, shop_id, BROWSE, customer_id, trigger, config, now + config.step_delays[0], now
    )


def exit_on_checkouts(session: Session, shop_id: int, checkouts: Sequence[Checkout]) -> None:
    """A checkout of the customer: the cart flow takes over, their browse run ends."""
    customer_ids = {c.customer_id for c in checkouts if c.customer_id is not None}
    if customer_ids:
        exit_runs(session, shop_id, "cart_started", customer_ids=customer_ids, flows=(BROWSE,))


def prune_events(session: Session, shop: Shop, now: datetime) -> list[int]:
    """The daily scan: the shop's storefront events older than `EVENT_RETENTION` go."""
    session.execute(
        delete(StorefrontEvent)
        .where(
            StorefrontEvent.shop_id == shop.id, StorefrontEvent.occurred_at < now - EVENT_RETENTION
        )
        .execution_options(synchronize_session=False)
    )
    return []


def load_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """Why each run stops, set-wise: an order since it started, a checkout or an add to cart
    since it started (the cart flow takes over), or nothing viewed still on sale."""
    exits = {
        run_id: list(found) for run_id, found in load_order_exits(session, shop_id, runs).items()
    }
    if not runs:
        return {}
    ids = sorted({run.customer_id for run in runs})
    earliest = min(run.started_at for run in runs)
    created = func.coalesce(Checkout.platform_created_at, Checkout.created_at)
    carts: dict[int, list[datetime]] = {}
    for customer_id, moment in session.execute(
        select(Checkout.customer_id, created).where(
            Checkout.shop_id == shop_id, Checkout.customer_id.in_(ids), created >= earliest
        )
    ):
        carts.setdefault(int(customer_id or 0), []).append(moment)
    for customer_id, moment in session.execute(
        select(StorefrontEvent.customer_id, StorefrontEvent.occurred_at).where(
            StorefrontEvent.shop_id == shop_id,
            StorefrontEvent.customer_id.in_(ids),
            StorefrontEvent.kind == ADDED_TO_CART,
            StorefrontEvent.occurred_at >= earliest,
        )
    ):
        carts.setdefault(int(customer_id or 0), []).append(moment)
    views = load_views(session, shop_id, runs)
    products = load_products(
        session, shop_id, {p for found in views.values() for p in found}, variants=False
    )
    for run in runs:
        found = exits.setdefault(run.id, [])
        if any(moment >= run.started_at for moment in carts.get(run.customer_id, ())):
            found.append("cart_started")
        if not any(available(products.get(p)) for p in views.get(run.id, ())):
            found.append("product_unavailable")
    return {run_id: tuple(found) for run_id, found in exits.items() if found}


# --- what the email shows --------------------------------------------------------------------


def _lookback(session: Session, shop_id: int) -> timedelta:
    row = flow_setting(session, shop_id, BROWSE)
    return BrowseSettings.from_overrides(row.config if row is not None else None).lookback


def load_views(session: Session, shop_id: int, runs: Sequence[FlowRun]) -> dict[int, list[str]]:
    """Each run's viewed products, newest first, distinct: the customer's views from a lookback
    before the run started on (one query for the batch)."""
    if not runs:
        return {}
    lookback = _lookback(session, shop_id)
    earliest = min(run.started_at for run in runs) - lookback
    seen: dict[int, list[tuple[datetime, str]]] = {}
    for customer_id, product, moment in session.execute(
        select(
            StorefrontEvent.customer_id,
            StorefrontEvent.product_external_id,
            StorefrontEvent.occurred_at,
        )
        .where(
            StorefrontEvent.shop_id == shop_id,
            StorefrontEvent.customer_id.in_(sorted({run.customer_id for run in runs})),
            StorefrontEvent.kind == PRODUCT_VIEWED,
            StorefrontEvent.occurred_at >= earliest,
        )
        .order_by(StorefrontEvent.occurred_at.desc(), StorefrontEvent.id.desc())
    ):
        seen.setdefault(int(customer_id or 0), []).append((moment, str(product)))
    found: dict[int, list[str]] = {}
    for run in runs:
        products: list[str] = []
        for moment, product in seen.get(run.customer_id, ()):
            if moment >= run.started_at - lookback and product not in products:
                products.append(product)
        found[run.id] = products
    return found


@dataclass
class Browsing:
    """A batch's viewed products per run, the products shown and the recommendations."""

    purchases: Purchases
    viewed: dict[int, list[str]] = field(default_factory=dict)
    recommendations: dict[int, list[str]] = field(default_factory=dict)


def load_browsing(session: Session, shop: Shop, runs: Sequence[FlowRun], now: datetime) -> Browsing:
    """What a batch of browse emails shows, in a fixed number of queries: the viewed products
    still on sale, and recommendations from the one recommendation path with the viewed
    products as anchors (`services.recommendations`: cross-sells, owned products, durable
    goods)."""
    views = load_views(session, shop.id, runs)
    requests = {
        run.id: recommendations.Request(run.customer_id, tuple(views.get(run.id, [])))
        for run in runs
    }
    picks = recommendations.recommend(session, shop.id, requests, now, limit=RECOMMENDED)
    wanted = {p for found in views.values() for p in found}
    wanted |= {p for found in picks.values() for p in found}
    purchases = Purchases(shop, products=load_products(session, shop.id, wanted))
    on_sale = {key for key, product in purchases.products.items() if available(product)}
    batch = Browsing(purchases)
    for run in runs:
        batch.viewed[run.id] = [p for p in views.get(run.id, []) if p in on_sale][:VIEWED_SHOWN]
        batch.recommendations[run.id] = picks.get(run.id, [])
    return batch


def _intro(shop: Shop, customer: Customer, lang: str) -> Part:
    return render_part(
        BROWSE,
        "intro",
        lang,
        shop_name=shop.name or shop.domain,
        greeting_name=greeting_name(customer.first_name, customer.last_name, lang),
    )


def parts(batch: Browsing, run: FlowRun, customer: Customer, lang: str) -> Recipient | None:
    """The greeting, the viewed products' cards and the recommendations; None when nothing
    viewed is on sale any more."""
    purchases = batch.purchases
    viewed = batch.viewed.get(run.id, [])
    if not viewed:
        return None
    shop = purchases.shop
    cards = purchases.cards(viewed, lang)
    recommended = batch.recommendations.get(run.id, [])
    return Recipient(
        {
            "intro": _intro(shop, customer, lang),
            "viewed": purchases.once(
                ("viewed", lang, *viewed),
                lambda: render_part(BROWSE, "viewed", lang, products=cards),
            ),
            "recommendations": purchases.once(
                ("recommendations", lang, *recommended),
                lambda: render_part(
                    BROWSE,
                    "recommendations",
                    lang,
                    recommendations=purchases.cards(recommended, lang),
                ),
            ),
        },
        product_title=cards[0]["title"] if cards else "",
    )


EMAILS = PartEmails(BROWSE, PARTS, SUBJECT, load_browsing, parts, "has no viewed product on sale")


# --- backtest --------------------------------------------------------------------------------


def simulate(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """The storefront views of the window replayed in time order: a consenting customer's view
    starts a run when their distinct products viewed within the lookback reach `min_views`,
    they had no run within the lookback and no checkout or add to cart in it; an order, a
    checkout or an add to cart from the start on exits it."""
    enabled, overrides = stored_settings(session, shop, BROWSE, DEFAULTS)
    config = FlowConfig.from_overrides(overrides)
    browse = BrowseSettings.from_overrides(overrides)
    earliest = window.since - browse.lookback
    events = session.execute(
        select(
            StorefrontEvent.customer_id,
            StorefrontEvent.kind,
            StorefrontEvent.product_external_id,
            StorefrontEvent.occurred_at,
            StorefrontEvent.marketing_allowed,
        )
        .where(
            StorefrontEvent.shop_id == shop.id,
            StorefrontEvent.customer_id.is_not(None),
            StorefrontEvent.occurred_at >= earliest,
            StorefrontEvent.occurred_at <= window.until,
        )
        .order_by(StorefrontEvent.occurred_at, StorefrontEvent.id)
    ).all()
    ids = sorted({int(row[0] or 0) for row in events})
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
    created = func.coalesce(Checkout.platform_created_at, Checkout.created_at)
    checkouts: dict[int, list[tuple[datetime, datetime | None]]] = {}
    orders: dict[int, list[datetime]] = {}
    if ids:
        for customer_id, moment, completed in session.execute(
            select(Checkout.customer_id, created, Checkout.completed_at).where(
                Checkout.shop_id == shop.id, Checkout.customer_id.in_(ids), created >= earliest
            )
        ):
            checkouts.setdefault(int(customer_id or 0), []).append((moment, completed))
        for customer_id, placed in session.execute(
            select(Order.customer_id, order_time()).where(
                Order.shop_id == shop.id, Order.customer_id.in_(ids), order_time() >= window.since
            )
        ):
            orders.setdefault(int(customer_id or 0), []).append(placed)
    by_customer: dict[int, list[tuple[str, str, datetime, bool]]] = {}
    for customer_id, kind, product, moment, marketing in events:
        by_customer.setdefault(int(customer_id or 0), []).append(
            (kind, str(product), moment, bool(marketing))
        )
    triggers: list[ReplayTrigger] = []
    for customer_id, rows in by_customer.items():
        last_start: datetime | None = None
        carted = [moment for kind, _, moment, _ in rows if kind == ADDED_TO_CART]
        for kind, _product, moment, marketing in rows:
            if kind != PRODUCT_VIEWED or not marketing or moment < window.since:
                continue
            since = moment - browse.lookback
            if last_start is not None and last_start >= since:
                continue
            distinct = {
                p for k, p, at, m in rows if k == PRODUCT_VIEWED and m and since <= at <= moment
            }
            if len(distinct) < browse.min_views:
                continue
            if any(since <= at <= moment for at in carted):
                continue
            if any(
                since <= at <= moment and (done is None or done > moment)
                for at, done in checkouts.get(customer_id, ())
            ):
                continue
            last_start = moment
            exits = [(at, "ordered") for at in orders.get(customer_id, ()) if at >= moment]
            exits += [
                (at, "cart_started") for at, _ in checkouts.get(customer_id, ()) if at >= moment
            ]
            exits += [(at, "cart_started") for at in carted if at >= moment]
            customer = customers.get(customer_id)
            triggers.append(
                ReplayTrigger(
                    label=f"views {moment:%Y-%m-%d %H:%M}",
                    started_at=moment,
                    customer=customer,
                    ineligible=None if customer is not None else "no_customer",
                    exits=tuple(sorted(exits)),
                )
            )
    return FlowPlan(enabled, config, triggers)


# --- settings and preview --------------------------------------------------------------------


FORM = FlowForm(
    BROWSE,
    steps=1,
    delays=1,
    numbers=(
        Number("min_views", 1, 20, DEFAULTS["min_views"], unit="products", section="browse"),
        Number(
            "lookback_days", 1, EVENT_RETENTION.days, DEFAULTS["lookback_days"], section="browse"
        ),
    ),
    defaults=DEFAULTS,
)


def preview_query(shop: Shop) -> Select[Any]:
    """Customers with a product view, the latest first."""
    joined = (StorefrontEvent.customer_id == Customer.id) & (StorefrontEvent.shop_id == shop.id)
    return (
        select(Customer)
        .join(StorefrontEvent, joined)
        .where(StorefrontEvent.kind == PRODUCT_VIEWED)
        .order_by(StorefrontEvent.id.desc())
    )


def preview_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    """The customer's views within the lookback, when one of the products is still on sale."""
    now = utcnow()
    run = FlowRun(id=0, shop_id=shop.id, customer_id=customer.id, started_at=now)
    viewed = load_views(session, shop.id, [run]).get(0, [])
    products = load_products(session, shop.id, set(viewed), variants=False)
    on_sale = [products[p] for p in viewed if available(products.get(p))]
    if not on_sale:
        return None
    return PreviewTarget(
        customer,
        "browse:preview",
        "flows.preview.for_product",
        {"product": on_sale[0].title},
    )


DEFINITION = FlowDefinition(
    key=BROWSE,
    form=FORM,
    priority=10,  # after the cart flow (0): a cart says more than a view
    ends_on_order=True,
    load_exits=load_exits,
    render=EMAILS.render,
    simulate=simulate,
    preview_missing="flows.preview.no_views",
    preview_query=preview_query,
    preview_target=preview_target,
    shares_content=every_step,
    sends_together=True,
    render_shared=EMAILS.render_shared,
    shared_email=EMAILS.shared_email,
    load_context=EMAILS.load_context,
    triggers=(
        Trigger(STOREFRONT_EVENTS, on_events),
        Trigger(CHECKOUTS_CHANGED, exit_on_checkouts, order=EXIT_ORDER),
        Trigger(CUSTOMERS_ORDERED, exit_on_customer_orders(BROWSE), order=EXIT_ORDER),
        Trigger(DAILY_SCAN, prune_events),
    ),
)
