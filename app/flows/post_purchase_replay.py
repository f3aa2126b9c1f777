"""Backtest replays of the post-purchase flows (thank-you, review request, replenishment): the
triggers a past window would have started, each at the moment the live path would have seen it.

Layer: flows, read-only: SELECTs only, never a write, enqueue, send or commit. Each function is a
flow definition's `simulate`; `simulation` then replays eligibility, holdout, timing, exits, cap
and quiet hours alike through `rules.decide`. The timing here must stay the one `post_purchase`
and `replenishment.start` apply live.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

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
    expected_reorder,
    occasions,
    rebuy_intervals,
    supply_interval,
)
from app.flows.post_purchase import (
    AVAILABLE_STATUSES,
    HISTORY_LINES,
    HISTORY_WINDOW,
    OVERDUE_LIMIT,
    REVERSED_STATUSES,
    is_paid,
    placed_at,
)
from app.flows.replay import (
    FlowPlan,
    Trigger,
    Window,
    stored_settings,
)
from app.models import Customer, Order, OrderLine, Product, Shop
from app.models.order import order_time
from app.services import recommendation_settings


def _post_purchase_settings(
    session: Session, shop: Shop, flow_key: str
) -> tuple[bool, FlowConfig, PostPurchaseTiming]:
    """As `post_purchase.start_runs` would see them."""
    enabled, overrides = stored_settings(session, shop, flow_key, POST_PURCHASE_DEFAULTS[flow_key])
    return (
        enabled,
        FlowConfig.from_overrides(overrides),
        PostPurchaseTiming.from_overrides(overrides),
    )


def _first_delay(config: FlowConfig) -> timedelta:
    return config.step_delays[0] if config.steps else timedelta(0)


def _live_due(due: datetime, arrived: datetime) -> datetime | None:
    """When a post-purchase step arriving at `arrived` is scheduled: at `due`, at once when it
    is overdue, never when it is more than `OVERDUE_LIMIT` overdue (`post_purchase`'s cut-off
    for backfills and replays)."""
    if arrived - due > OVERDUE_LIMIT:
        return None
    return max(due, arrived)


def _order_name(order: Order) -> str:
    return order.name or order.external_id


def _paid_orders(session: Session, shop: Shop, *conditions: Any) -> list[Order]:
    """The shop's orders matching `conditions` that start post-purchase runs: paid (as
    `post_purchase.is_paid` reads the status) and not cancelled."""
    orders = session.scalars(
        select(Order)
        .where(Order.shop_id == shop.id, Order.cancelled_at.is_(None), *conditions)
        .order_by(order_time(), Order.id)
    ).all()
    return [order for order in orders if is_paid(order)]


def _customers_of(session: Session, shop: Shop, orders: Iterable[Order]) -> dict[int, Customer]:
    ids = sorted({order.customer_id for order in orders if order.customer_id is not None})
    if not ids:
        return {}
    rows = session.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id.in_(ids))
    )
    return {customer.id: customer for customer in rows}


def _order_trigger(
    label: str,
    started: datetime,
    order: Order,
    customers: Mapping[int, Customer],
    first_due: datetime,
    exits: Sequence[tuple[datetime, str]] = (),
) -> Trigger:
    customer = customers.get(order.customer_id) if order.customer_id is not None else None
    return Trigger(
        label=label,
        started_at=started,
        customer=customer,
        ineligible=None if customer is not None else "no_customer",
        exits=tuple(exits),
        first_due=first_due,
    )


def thank_you_triggers(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """Every paid order placed in the window that is not cancelled, replayed at its placing
    (paid on arrival): step 1 `step_delay_hours[0]` later. A new order exits nothing."""
    enabled, config, _timing = _post_purchase_settings(session, shop, THANK_YOU)
    when = order_time()
    orders = _paid_orders(session, shop, when >= window.since, when <= window.until)
    customers = _customers_of(session, shop, orders)
    triggers = []
    for order in orders:
        placed = placed_at(order)
        due = _live_due(placed + _first_delay(config), placed)
        if due is not None:
            triggers.append(
                _order_trigger(f"order {_order_name(order)}", placed, order, customers, due)
            )
    return FlowPlan(enabled, config, triggers)


def review_request_triggers(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """Every paid order fulfilled in the window that is not cancelled, replayed at its
    fulfilment: step 1 `review_delay_days` + `step_delay_hours[0]` after it. A new order exits
    nothing."""
    enabled, config, timing = _post_purchase_settings(session, shop, REVIEW_REQUEST)
    orders = _paid_orders(
        session, shop, Order.fulfilled_at >= window.since, Order.fulfilled_at <= window.until
    )
    customers = _customers_of(session, shop, orders)
    triggers = []
    for order in orders:
        fulfilled = order.fulfilled_at
        if fulfilled is None:
            continue
        arrived = max(fulfilled, placed_at(order))  # no webhook carries it before the order
        moment = fulfilled + timedelta(days=timing.review_delay_days) + _first_delay(config)
        due = _live_due(moment, arrived)
        if due is not None:
            label = f"order {_order_name(order)} fulfilled"
            triggers.append(_order_trigger(label, arrived, order, customers, due))
    return FlowPlan(enabled, config, triggers)


def _owned_purchases(session: Session, shop: Shop, *conditions: Any) -> list[Purchase]:
    """Product lines of the orders a customer owns (not cancelled, not refunded or voided, as
    `post_purchase` counts them), oldest first."""
    when = order_time()
    rows = session.execute(
        select(Order.customer_id, Order.id, OrderLine.product_external_id, when)
        .join(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.shop_id == Order.shop_id))
        .where(
            Order.shop_id == shop.id,
            Order.cancelled_at.is_(None),
            or_(
                Order.financial_status.is_(None),
                func.lower(Order.financial_status).not_in(REVERSED_STATUSES),
            ),
            OrderLine.product_external_id.is_not(None),
            *conditions,
        )
        .order_by(when, Order.id)
    )
    return [
        Purchase(customer_id, int(order_id), str(product), moment)
        for customer_id, order_id, product, moment in rows
    ]


def _at(purchase: Purchase) -> datetime:
    return purchase.at


def _known_span(purchases: Sequence[Purchase], now: datetime) -> tuple[int, int]:
    """The index range of `purchases` (oldest first) that `post_purchase.shop_purchases` reads
    at `now`: within `HISTORY_WINDOW`, placed by then."""
    return (
        bisect_left(purchases, now - HISTORY_WINDOW, key=_at),
        bisect_right(purchases, now, key=_at),
    )


def _rebuy_interval(
    shop_history: Mapping[str, Sequence[Purchase]],
    products: Collection[str],
    product: str,
    now: datetime,
) -> timedelta | None:
    """`product`'s re-buy interval as `start_replenishments` computes it at `now` for an order
    of `products`: from the newest `HISTORY_LINES` lines of those products known by then."""
    spans = {name: _known_span(shop_history.get(name, ()), now) for name in products}
    if sum(end - start for start, end in spans.values()) <= HISTORY_LINES:
        start, end = spans[product]
        lines = list(shop_history.get(product, ())[start:end])
    else:
        known = [
            purchase
            for name, (start, end) in spans.items()
            for purchase in shop_history.get(name, ())[start:end]
        ]
        known.sort(key=lambda purchase: (purchase.at, purchase.order_id), reverse=True)
        lines = [purchase for purchase in known[:HISTORY_LINES] if purchase.product_id == product]
    return rebuy_intervals(lines).get(product)


def replenishment_triggers(session: Session, shop: Shop, window: Window) -> FlowPlan:
    """For each paid order of a known customer placed in the window, each of its products with
    an expected re-order date (`expected_reorder` from the customer's own rhythm, else the
    product's re-buy interval with the orders known at the order's time, else its days of supply
    times the units ordered, as `replenishment.start` decides): step 1 `lead_days`
    before that date. A later order of the product exits the run (`reordered`), and so does
    the product no longer being on sale."""
    enabled, config, timing = _post_purchase_settings(session, shop, REPLENISHMENT)
    when = order_time()
    orders = _paid_orders(
        session,
        shop,
        when >= window.since,
        when <= window.until,
        Order.customer_id.is_not(None),
    )
    products_of: dict[int, set[str]] = {}
    quantities: dict[tuple[int, str], int] = {}
    if orders:
        for order_id, product, quantity in session.execute(
            select(OrderLine.order_id, OrderLine.product_external_id, OrderLine.quantity).where(
                OrderLine.shop_id == shop.id,
                OrderLine.order_id.in_([order.id for order in orders]),
                OrderLine.product_external_id.is_not(None),
            )
        ):
            products_of.setdefault(order_id, set()).add(str(product))
            key = (order_id, str(product))
            quantities[key] = quantities.get(key, 0) + int(quantity or 0)
    products = sorted(set().union(*products_of.values()))
    supply = recommendation_settings.supply_days(session, shop.id, products)
    customers = _customers_of(session, shop, orders)
    shop_history: dict[str, list[Purchase]] = {}
    own: dict[tuple[int | None, str], list[Purchase]] = {}
    on_sale: set[str] = set()
    if products:
        for purchase in _owned_purchases(
            session,
            shop,
            OrderLine.product_external_id.in_(products),
            when >= window.since - HISTORY_WINDOW,
            when <= window.until,
        ):
            shop_history.setdefault(purchase.product_id, []).append(purchase)
        for purchase in _owned_purchases(
            session,
            shop,
            OrderLine.product_external_id.in_(products),
            Order.customer_id.in_(sorted({order.customer_id for order in orders})),
        ):
            own.setdefault((purchase.customer_id, purchase.product_id), []).append(purchase)
        on_sale = set(
            session.scalars(
                select(Product.external_id).where(
                    Product.shop_id == shop.id,
                    Product.external_id.in_(products),
                    or_(Product.status.is_(None), Product.status.in_(AVAILABLE_STATUSES)),
                )
            )
        )
    triggers = []
    for order in orders:
        placed = placed_at(order)
        bought = sorted(products_of.get(order.id, ()))
        for product in bought:
            history = own.get((order.customer_id, product), [])
            mine = [purchase.at for purchase in history if purchase.at <= placed]
            interval = None
            if len(occasions(mine or [placed])) < 2:  # no rhythm of their own
                interval = _rebuy_interval(shop_history, bought, product, placed)
            lasts = supply_interval(supply.get(product), quantities.get((order.id, product)))
            expected = expected_reorder(mine or [placed], interval, lasts)
            if expected is None:
                continue
            moment = expected - timedelta(days=timing.lead_days) + _first_delay(config)
            if moment - placed < SAME_OCCASION:
                continue  # re-bought so often that a reminder would follow the order itself
            due = _live_due(moment, placed)
            if due is None:
                continue
            exits = [
                (purchase.at, "reordered")
                for purchase in history
                if purchase.order_id != order.id and purchase.at > placed
            ]
            if product not in on_sale:
                exits.append((placed, "product_unavailable"))
            label = f"product {product} of order {_order_name(order)}"
            triggers.append(_order_trigger(label, placed, order, customers, due, exits))
    return FlowPlan(enabled, config, triggers)
