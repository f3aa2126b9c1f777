"""Back-in-stock requests: a shopper's subscription to a product (variant), and the restocks
that release them.

Layer: services; `subscribe` commits, `restock` runs inside the caller's transaction. A
subscription is the shopper's request for one notice about one product: its own consent for
that email (no marketing consent needed; an unsubscribe or suppression still stops it,
`FlowDefinition.requested`). The address is linked
to the store's customer with that email, or becomes a guest customer (`guest:<email>`, as
WooCommerce guests are) so that the notice is a flow run like any other. At most
`MAX_WAITING_PER_ADDRESS` waiting requests per address and store bound what a stranger can
sign someone up for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.flows import triggers
from app.flows.definition import Restock
from app.models import Customer, Product, ProductVariant, Shop
from app.models.storefront import WAITING, StockSubscription
from app.services import upsert
from app.services.upsert import dialect_insert, normalize_email
from connectors.base import CustomerRecord

GUEST_PREFIX = "guest:"
MAX_WAITING_PER_ADDRESS = 20


class UnknownProduct(LookupError):
    """The store has no such product (or the variant is not one of its variants)."""


@dataclass(frozen=True)
class Subscribed:
    created: bool


def _customer_id(session: Session, shop: Shop, email: str, locale: str | None) -> int:
    """The store's live customer with this address (the oldest), else a guest customer."""
    address = normalize_email(email)
    assert address is not None  # noqa: S101 - the caller checked the address
    found = session.scalar(
        select(Customer.id)
        .where(
            Customer.shop_id == shop.id,
            Customer.email_normalized == address,
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
        )
        .order_by(Customer.id)
        .limit(1)
    )
    if found is not None:
        return int(found)
    external_id = GUEST_PREFIX + address
    upsert.upsert_customers(
        session,
        shop.id,
        [CustomerRecord(external_id=external_id, updated_at=None, email=address, locale=locale)],
    )
    return int(
        session.scalars(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.external_id == external_id
            )
        ).one()
    )


def subscribe(
    session: Session,
    shop: Shop,
    *,
    email: str,
    product_external_id: str,
    variant_external_id: str | None,
    locale: str | None,
    source: str,
    now: datetime,
) -> Subscribed:
    """Record the request (once while it waits); UnknownProduct for a product the store does
    not have. Commits."""
    product_id = session.scalar(
        select(Product.id).where(
            Product.shop_id == shop.id, Product.external_id == product_external_id
        )
    )
    if product_id is None:
        raise UnknownProduct(product_external_id)
    if variant_external_id is not None:
        variant = session.scalar(
            select(ProductVariant.id).where(
                ProductVariant.shop_id == shop.id,
                ProductVariant.product_id == product_id,
                ProductVariant.external_id == variant_external_id,
            )
        )
        if variant is None:
            raise UnknownProduct(variant_external_id)
    address = normalize_email(email)
    assert address is not None  # noqa: S101 - the caller checked the address
    waiting = session.scalar(
        select(func.count()).where(
            StockSubscription.shop_id == shop.id,
            StockSubscription.email_normalized == address,
            StockSubscription.status == WAITING,
        )
    )
    if (waiting or 0) >= MAX_WAITING_PER_ADDRESS:
        session.rollback()
        return Subscribed(False)
    customer_id = _customer_id(session, shop, address, locale)
    inserted = session.scalar(
        dialect_insert(session, StockSubscription)
        .values(
            shop_id=shop.id,
            customer_id=customer_id,
            email_normalized=address,
            product_external_id=product_external_id,
            variant_external_id=variant_external_id or "",
            locale=locale,
            source=source,
            status=WAITING,
            subscribed_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[
                "shop_id",
                "email_normalized",
                "product_external_id",
                "variant_external_id",
            ],
            index_where=text("status = 'waiting'"),
        )
        .returning(StockSubscription.id)
    )
    session.commit()
    return Subscribed(inserted is not None)


def has_waiting(session: Session, shop_id: int) -> bool:
    """Whether anyone waits for a product of the shop (one indexed read)."""
    return (
        session.scalar(
            select(StockSubscription.id)
            .where(StockSubscription.shop_id == shop_id, StockSubscription.status == WAITING)
            .limit(1)
        )
        is not None
    )


def restock(session: Session, shop_id: int, restocks: Sequence[Restock]) -> list[int]:
    """Products came back: the flows' restock triggers run (inside the caller's transaction);
    → the runs started."""
    wanted = [item for item in restocks if item.available > 0]
    if not wanted:
        return []
    return triggers.after_restocks(session, shop_id, wanted)
