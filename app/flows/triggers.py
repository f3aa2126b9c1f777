"""Where new platform data meets the automations: orders and checkouts upserted, the daily scan.

Layer: services, inside the caller's transaction; anything needing Redis goes after commit. Names
no flow: runs the registry's `Trigger`s of the event in their order — a new order exits cart and
win-back runs first, then post-purchase runs start. Idempotent: replays start nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import registry
from app.flows import runs as flows
from app.models import Checkout, Customer, Shop
from connectors.base import CheckoutRecord, OrderRecord


def after_orders(session: Session, shop_id: int, records: Sequence[OrderRecord]) -> None:
    """Orders arrived or changed: exit the customer's runs a purchase ends, then run every
    flow's order triggers (the cart's exit by checkout token, then the post-purchase starts)."""
    for record in records:
        if record.customer is None:
            continue
        customer_id = session.scalar(
            select(Customer.id).where(
                Customer.shop_id == shop_id, Customer.external_id == record.customer.external_id
            )
        )
        if customer_id is not None:
            placed = record.processed_at or record.created_at or utcnow()
            flows.exit_runs(
                session,
                shop_id,
                "ordered",
                customer_id=customer_id,
                started_before=placed,
                except_flows=tuple(registry.not_ended_by_orders()),
            )
    for _flow_key, trigger in registry.triggers_for(registry.ORDERS_CHANGED):
        trigger.handle(session, shop_id, records)


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
