"""Where new platform data meets the automations: after orders and checkouts are upserted.

Layer: services, inside the caller's transaction; anything needing Redis goes after commit.
Idempotent: a checkout delivered five times starts one run; exiting twice is a no-op. A new order
exits cart and win-back runs, never post-purchase ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import post_purchase, registry
from app.flows import runs as flows
from app.models import Checkout, Customer
from connectors.base import CheckoutRecord, OrderRecord


def after_orders(session: Session, shop_id: int, records: Sequence[OrderRecord]) -> None:
    """Orders arrived or changed: exit cart flows they complete, start post-purchase flows."""
    for record in records:
        if record.checkout_token:
            flows.exit_runs(session, shop_id, "ordered", trigger_key=record.checkout_token)
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
    post_purchase.start_runs(session, shop_id, {record.external_id for record in records})


def after_checkouts(session: Session, shop_id: int, records: Sequence[CheckoutRecord]) -> None:
    """Checkouts arrived or changed: start or exit cart-abandonment flows."""
    tokens = sorted({record.external_id for record in records})
    if not tokens:
        return
    checkouts = session.scalars(
        select(Checkout).where(Checkout.shop_id == shop_id, Checkout.external_id.in_(tokens))
    ).all()
    for checkout in checkouts:
        if checkout.completed_at is not None:
            flows.exit_runs(
                session, shop_id, "checkout_completed", trigger_key=checkout.external_id
            )
        else:
            flows.start_cart_run(session, checkout)
