"""Storefront events: product views and adds to cart from the Shopify web pixel and the
WooCommerce storefront script, stored set-wise and handed to the flows.

Layer: services; `record_events` commits. A post is unauthenticated browser input: only events
the shopper's consent allowed reach here (analytics processing), a view names a customer only by
the id the platform's storefront gave it (a signed-in Shopify customer) or once the visitor has
identified (their email at checkout, `identify_visitor`; later views of that visitor are then
theirs), and a view of an anonymous visitor is
kept against the visitor id alone (the browse flow's daily scan deletes rows after
`models.storefront.EVENT_RETENTION`).
Each post costs a fixed number of statements, whatever the shop's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.flows import triggers
from app.models import Customer
from app.models.storefront import StorefrontEvent
from app.services.upsert import dialect_insert


@dataclass(frozen=True)
class StorefrontView:
    """One validated event of a post (`kind`: `models.storefront.EVENT_KINDS`)."""

    event_key: str
    kind: str
    visitor_id: str
    customer_external_id: str | None
    product_external_id: str
    variant_external_id: str | None
    occurred_at: datetime
    marketing_allowed: bool


def _customer_ids(
    session: Session, shop_id: int, events: Sequence[StorefrontView]
) -> dict[str, int]:
    """Platform customer id → our id, for the customers the events name (one query); deleted
    or redacted customers are not linked."""
    wanted = {event.customer_external_id for event in events if event.customer_external_id}
    if not wanted:
        return {}
    return {
        str(external_id): int(customer_id or 0)
        for external_id, customer_id in session.execute(
            select(Customer.external_id, Customer.id).where(
                Customer.shop_id == shop_id,
                Customer.external_id.in_(sorted(wanted)),
                Customer.deleted_at.is_(None),
                Customer.redacted_at.is_(None),
            )
        )
    }


def _known_visitors(
    session: Session, shop_id: int, events: Sequence[StorefrontView]
) -> dict[str, int]:
    """Visitors of the post already identified (an earlier view linked to a customer): visitor
    id → customer id, by the visitor index."""
    visitors = {event.visitor_id for event in events if not event.customer_external_id}
    if not visitors:
        return {}
    return {
        str(visitor): int(customer_id or 0)
        for visitor, customer_id in session.execute(
            select(StorefrontEvent.visitor_id, func.max(StorefrontEvent.customer_id))
            .where(
                StorefrontEvent.shop_id == shop_id,
                StorefrontEvent.visitor_id.in_(sorted(visitors)),
                StorefrontEvent.customer_id.is_not(None),
            )
            .group_by(StorefrontEvent.visitor_id)
        )
    }


def identify_visitor(session: Session, shop_id: int, visitor_id: str, customer_id: int) -> int:
    """The visitor turned out to be this customer: their anonymous views become the customer's
    (one indexed update); → rows linked. Inside the caller's transaction."""
    result = session.execute(
        update(StorefrontEvent)
        .where(
            StorefrontEvent.shop_id == shop_id,
            StorefrontEvent.visitor_id == visitor_id,
            StorefrontEvent.customer_id.is_(None),
        )
        .values(customer_id=customer_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def record_events(
    session: Session, shop_id: int, events: Sequence[StorefrontView], now: datetime
) -> int:
    """Store the post's events once each (a resent event id is ignored), link the visitor's
    earlier anonymous views when the post names a customer, run the flows' storefront
    triggers on the new rows, and commit; → the number of new rows."""
    if not events:
        return 0
    customers = _customer_ids(session, shop_id, events)
    known = _known_visitors(session, shop_id, events)
    for visitor, customer_id in {
        (event.visitor_id, customers[event.customer_external_id])
        for event in events
        if event.customer_external_id in customers
    }:
        identify_visitor(session, shop_id, visitor, customer_id)
    rows = [
        {
            "shop_id": shop_id,
            "event_key": event.event_key,
            "kind": event.kind,
            "visitor_id": event.visitor_id,
            "customer_id": customers.get(event.customer_external_id or "")
            or known.get(event.visitor_id),
            "product_external_id": event.product_external_id,
            "variant_external_id": event.variant_external_id,
            "marketing_allowed": event.marketing_allowed,
            "occurred_at": event.occurred_at,
            "received_at": now,
        }
        for event in events
    ]
    new_ids = list(
        session.scalars(
            dialect_insert(session, StorefrontEvent)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["shop_id", "event_key"])
            .returning(StorefrontEvent.id)
        )
    )
    if new_ids:
        stored = session.scalars(
            select(StorefrontEvent)
            .where(StorefrontEvent.shop_id == shop_id, StorefrontEvent.id.in_(new_ids))
            .order_by(StorefrontEvent.occurred_at, StorefrontEvent.id)
        ).all()
        triggers.after_storefront_events(session, shop_id, stored)
    session.commit()
    return len(new_ids)
