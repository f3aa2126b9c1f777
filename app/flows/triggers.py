"""Where new platform data meets the automations: orders, checkouts and customers upserted,
customers who ordered, the daily scan.

Layer: flows, above the registry; inside the caller's transaction, anything needing Redis goes
after commit. Names no flow: runs the registry's `Trigger`s of each event in their order — a new
order exits cart and win-back runs first, then post-purchase runs start. Idempotent: replays
start nothing new.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import registry
from app.flows.definition import CustomerOrder, Restock
from app.models import Checkout, Customer, Shop
from connectors.base import CheckoutRecord, OrderRecord


def after_orders(session: Session, shop_id: int, records: Sequence[OrderRecord]) -> None:
    """Orders arrived or changed: first their customers' orders (`after_customer_orders`: the
    runs a purchase ends exit), then every flow's order triggers (the cart's exit by checkout
    token, then the post-purchase starts)."""
    external_ids = {record.customer.external_id for record in records if record.customer}
    rows = (
        session.execute(
            select(Customer.external_id, Customer.id).where(
                Customer.shop_id == shop_id, Customer.external_id.in_(external_ids)
            )
        ).all()
        if external_ids
        else []
    )
    customer_ids: dict[str, int] = dict(rows)
    ordered = [
        CustomerOrder(
            shop_id,
            customer_ids[record.customer.external_id],
            record.processed_at or record.created_at or utcnow(),
        )
        for record in records
        if record.customer is not None and record.customer.external_id in customer_ids
    ]
    after_customer_orders(session, ordered)
    for _flow_key, trigger in registry.triggers_for(registry.ORDERS_CHANGED):
        trigger.handle(session, shop_id, records)


def after_customer_orders(session: Session, orders: Sequence[CustomerOrder]) -> None:
    """Known customers placed these orders (shop, customer, when): every flow's
    `CUSTOMERS_ORDERED` triggers run (cart and win-back exit the customer's runs started
    before the order). Safe to run twice."""
    if not orders:
        return
    for _flow_key, trigger in registry.triggers_for(registry.CUSTOMERS_ORDERED):
        trigger.handle(session, orders)


def after_customers(
    session: Session, shop_id: int, external_ids: Collection[str], now: datetime | None = None
) -> None:
    """Customers arrived or changed (created, consent given): every flow's `CUSTOMERS_CHANGED`
    triggers run with their ids (the welcome series starts for a new subscriber). Safe twice."""
    if not external_ids:
        return
    ids = sorted(
        session.scalars(
            select(Customer.id).where(
                Customer.shop_id == shop_id, Customer.external_id.in_(sorted(external_ids))
            )
        )
    )
    changed_customers(session, shop_id, ids, now)


def changed_customers(
    session: Session, shop_id: int, customer_ids: Sequence[int], now: datetime | None = None
) -> None:
    """`after_customers` for customers known by id (a confirmed storefront opt-in)."""
    if not customer_ids:
        return
    moment = now or utcnow()
    for _flow_key, trigger in registry.triggers_for(registry.CUSTOMERS_CHANGED):
        trigger.handle(session, shop_id, customer_ids, moment)


def after_checkouts(session: Session, shop_id: int, records: Sequence[CheckoutRecord]) -> None:
    """Checkouts arrived or changed: hand their stored rows to every flow's checkout triggers
    (the cart flow starts or exits its runs)."""
    tokens = sorted({record.external_id for record in records})
    if not tokens:
        return
    checkouts = session.scalars(
        select(Checkout).where(Checkout.shop_id == shop_id, Checkout.external_id.in_(tokens))
    ).all()
    for _flow_key, trigger in registry.triggers_for(registry.CHECKOUTS_CHANGED):
        trigger.handle(session, shop_id, checkouts)


def after_storefront_events(session: Session, shop_id: int, events: Sequence[Any]) -> None:
    """Storefront events were stored (new rows only): every flow's storefront triggers (browse
    abandonment starts for consenting customers; add-to-cart ends it)."""
    if not events:
        return
    for _flow_key, trigger in registry.triggers_for(registry.STOREFRONT_EVENTS):
        trigger.handle(session, shop_id, events)


def after_restocks(session: Session, shop_id: int, restocks: Sequence[Restock]) -> list[int]:
    """Products came back in stock: every flow's restock triggers (back in stock notifies its
    waiting subscribers); → the new runs' ids."""
    started: list[int] = []
    if not restocks:
        return started
    for _flow_key, trigger in registry.triggers_for(registry.RESTOCKED):
        started.extend(trigger.handle(session, shop_id, restocks) or ())
    return started


def daily_scan(session: Session, shop: Shop, now: datetime) -> list[int]:
    """The shop's daily scan (at its local hour): every flow's scan trigger (win-back's lapsing
    customers); → the new runs' ids. Safe to run twice."""
    started: list[int] = []
    for _flow_key, trigger in registry.triggers_for(registry.DAILY_SCAN):
        started.extend(trigger.handle(session, shop, now))
    return started


def daily_scan_active_shops(session: Session, now: datetime) -> int:
    """The daily scan over every active shop at once; → runs started. Safe to run twice."""
    shops = session.scalars(
        select(Shop).where(Shop.status.in_(("installing", "active"))).order_by(Shop.id)
    ).all()
    return sum(len(daily_scan(session, shop, now)) for shop in shops)
