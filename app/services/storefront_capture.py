"""A cart posted by the storefront script: the checkout, the opt-in it asks for, the cart flow.

Layer: services; commits. The post is unauthenticated browser input, so it never changes stored
consent (a tick only asks, `services/opt_in`); the cart flow starts only for a consenting customer.
An address that belongs to a customer identifies the script's visitor (its product views).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows import runs as flows
from app.models import Checkout
from app.services import opt_in, storefront_events, upsert
from connectors.base import CheckoutRecord
from connectors.birthdays import Birthday


@dataclass(frozen=True)
class CaptureOutcome:
    cart_run_id: int | None  # a cart flow started for a consenting customer
    confirmation_request_id: int | None  # a confirmation email queued for a ticked box


def record_capture(
    session: Session,
    shop_id: int,
    record: CheckoutRecord,
    marketing_opt_in: bool | None,
    now: datetime,
    birthday: Birthday | None = None,
) -> CaptureOutcome:
    """Store the captured cart; `marketing_opt_in` is the box (None: a script without one);
    `birthday` the optional birthday field, which travels with the opt-in's confirmation."""
    upsert.upsert_checkouts(session, shop_id, [record])
    checkout = session.scalars(
        select(Checkout).where(
            Checkout.shop_id == shop_id, Checkout.external_id == record.external_id
        )
    ).one()
    request_id = None
    if marketing_opt_in is not None:
        checkout.marketing_opt_in_at = now if marketing_opt_in else None
    if marketing_opt_in and record.email:
        request_id = opt_in.request_confirmation(
            session, shop_id, record.email, record.external_id, now, birthday=birthday
        )
    run_id = flows.start_cart_run(session, checkout, now, consent_required=True)
    if checkout.customer_id is not None:
        # The script's cart token is also its visitor id: the shopper's product views are theirs.
        visitor = record.external_id.removeprefix("capture:")
        storefront_events.identify_visitor(session, shop_id, visitor, checkout.customer_id)
    session.commit()
    return CaptureOutcome(run_id, request_id)
