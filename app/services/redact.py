"""GDPR erasure: `customers/redact` blanks one person's data, `shop/redact` erases a shop's.

Layer: services; the caller commits. Safe to run twice. A redacted customer and an erased shop
keep a blank row (tombstone), so no replayed delivery brings the data back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.db import Base, utcnow
from app.models import Checkout, Customer, Order, Shop, WebhookEvent
from app.models.checkout import PERSONAL_COLUMNS as CHECKOUT_PERSONAL_COLUMNS
from app.models.customer import PERSONAL_COLUMNS as CUSTOMER_PERSONAL_COLUMNS
from app.models.inquiry import PERSONAL_COLUMNS as INQUIRY_PERSONAL_COLUMNS
from app.models.inquiry import Inquiry
from app.models.opt_in import OptInRequest
from app.models.order import PERSONAL_COLUMNS as ORDER_PERSONAL_COLUMNS
from app.models.storefront import StockSubscription, StorefrontEvent
from app.services.people import prune_orphans, unlink_customers
from app.services.shop_tokens import delete_tokens
from app.services.upsert import dialect_insert, normalize_email
from connectors.shopify.domains import normalize_shop_domain

log = logging.getLogger(__name__)

# Tables that are not erased row by row: the shop keeps a tombstone, the inbox keeps its audit
# trail with payloads dropped.
_KEPT_TABLES = frozenset({"shops", "webhook_events"})


@dataclass(frozen=True)
class RedactSummary:
    customers: int
    orders: int
    checkouts: int
    webhook_payloads: int


def _erase_pending_payloads(
    session: Session, shop_id: int, resource_ids: Iterable[str], keep_event_id: int | None
) -> int:
    """Drop stored payloads (pending or failed) about these customers, orders and checkouts."""
    ids = sorted({value for value in resource_ids if value})
    if not ids:
        return 0
    statement = update(WebhookEvent).where(
        WebhookEvent.shop_id == shop_id,
        WebhookEvent.resource_id.in_(ids),
        WebhookEvent.payload.is_not(None),
    )
    if keep_event_id is not None:
        statement = statement.where(WebhookEvent.id != keep_event_id)
    result = session.execute(
        statement.values(payload=None).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def redact_customer(
    session: Session,
    shop_id: int,
    customer_external_id: str | None,
    email: str | None,
    order_ids: Iterable[str] = (),
    *,
    keep_event_id: int | None = None,
) -> RedactSummary:
    """Erase one customer's personal data from customers, orders, checkouts, opt-in requests
    and the inbox.

    Customers match by external id or normalised email; orders and checkouts by that customer
    (row or external id), by email, and orders also by `order_ids` (Shopify's orders_to_redact).
    `keep_event_id` spares the payload of the delivery being processed (its caller drops it).
    """
    email_normalized = normalize_email(email)
    order_ids = [str(order_id) for order_id in order_ids]
    now = utcnow()

    customer_match = []
    if customer_external_id:
        customer_match.append(Customer.external_id == customer_external_id)
    if email_normalized:
        customer_match.append(Customer.email_normalized == email_normalized)
    customers: list[Customer] = []
    if customer_match:
        customers = list(
            session.scalars(
                select(Customer)
                .where(Customer.shop_id == shop_id, or_(*customer_match))
                .order_by(Customer.id)
                .with_for_update()
            )
        )
    if customer_external_id and all(c.external_id != customer_external_id for c in customers):
        # A tombstone: a delivery replayed later finds a redacted row and leaves it blank.
        session.execute(
            dialect_insert(session, Customer)
            .values(shop_id=shop_id, external_id=customer_external_id, tags=[], redacted_at=now)
            .on_conflict_do_nothing(index_elements=["shop_id", "external_id"])
        )
    # An opt-in request is only an address and its dates: it goes whole.
    addresses = {c.email_normalized for c in customers if c.email_normalized}
    addresses |= {email_normalized} if email_normalized else set()
    if addresses:
        session.execute(
            delete(OptInRequest).where(
                OptInRequest.shop_id == shop_id,
                OptInRequest.email_normalized.in_(sorted(addresses)),
            )
        )
        # Back-in-stock requests are an address and a product: they go whole too.
        session.execute(
            delete(StockSubscription).where(
                StockSubscription.shop_id == shop_id,
                StockSubscription.email_normalized.in_(sorted(addresses)),
            )
        )
    if customers:
        # What they looked at on the storefront is about them: it goes with them.
        session.execute(
            delete(StorefrontEvent).where(
                StorefrontEvent.shop_id == shop_id,
                StorefrontEvent.customer_id.in_([customer.id for customer in customers]),
            )
        )
    for customer in customers:
        for column in CUSTOMER_PERSONAL_COLUMNS:
            setattr(customer, column, None)
        customer.redacted_at = customer.redacted_at or now
    session.flush()
    customer_ids = [customer.id for customer in customers]
    unlink_customers(session, customer_ids)  # their emails are gone: so is their person link
    if customer_ids:
        # What the merchant typed about the customer is theirs too.
        session.execute(
            update(Inquiry)
            .where(Inquiry.shop_id == shop_id, Inquiry.customer_id.in_(customer_ids))
            .values(dict.fromkeys(INQUIRY_PERSONAL_COLUMNS, ""))
            .execution_options(synchronize_session=False)
        )
    external_ids = {c.external_id for c in customers} | (
        {customer_external_id} if customer_external_id else set()
    )

    def matching(model: type[Order] | type[Checkout], extra: list) -> list:
        conditions = list(extra)
        if customer_ids:
            conditions.append(model.customer_id.in_(customer_ids))
        if external_ids:
            conditions.append(model.customer_external_id.in_(sorted(external_ids)))
        if email_normalized:
            conditions.append(func.lower(func.trim(model.email)) == email_normalized)
        return conditions

    order_conditions = matching(Order, [Order.external_id.in_(order_ids)] if order_ids else [])
    redacted_orders: list[str] = []
    if order_conditions:
        redacted_orders = list(
            session.scalars(
                update(Order)
                .where(Order.shop_id == shop_id, or_(*order_conditions))
                .values(dict.fromkeys(ORDER_PERSONAL_COLUMNS))
                .returning(Order.external_id)
                .execution_options(synchronize_session=False)
            )
        )
    checkout_conditions = matching(Checkout, [])
    redacted_checkouts: list[str] = []
    if checkout_conditions:
        redacted_checkouts = list(
            session.scalars(
                update(Checkout)
                .where(Checkout.shop_id == shop_id, or_(*checkout_conditions))
                .values(dict.fromkeys(CHECKOUT_PERSONAL_COLUMNS))
                .returning(Checkout.external_id)
                .execution_options(synchronize_session=False)
            )
        )
    payloads = _erase_pending_payloads(
        session,
        shop_id,
        [*external_ids, *order_ids, *redacted_orders, *redacted_checkouts],
        keep_event_id,
    )
    summary = RedactSummary(
        customers=len(customers),
        orders=len(redacted_orders),
        checkouts=len(redacted_checkouts),
        webhook_payloads=payloads,
    )
    log.info(
        "customer redacted shop_id=%s customers=%s orders=%s checkouts=%s payloads=%s",
        shop_id,
        summary.customers,
        summary.orders,
        summary.checkouts,
        summary.webhook_payloads,
    )
    return summary


def redact_shop(
    session: Session,
    shop_domain: str,
    *,
    occurred_at: datetime | None = None,
    platform: str = "shopify",
) -> bool:
    """Delete every tenant row of the shop and its credentials; keep a tombstone shop row.

    Every table with a `shop_id` column is emptied for the shop (so tables added later are
    covered), webhook payloads are dropped, and the shop row loses its name, tokens and state.
    A shop/redact fired before the shop's current installation (a reinstall) changes nothing.
    Returns whether a shop was found.
    """
    domain = normalize_shop_domain(shop_domain) or shop_domain.strip().lower()
    shop = session.scalars(
        select(Shop).where(Shop.platform == platform, Shop.domain == domain).with_for_update()
    ).one_or_none()
    if shop is None:
        return False
    if (
        shop.status != "uninstalled"
        and occurred_at is not None
        and shop.installed_at is not None
        and occurred_at < shop.installed_at
    ):
        log.info("shop redact predates the current installation shop_id=%s: kept", shop.id)
        return True
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in _KEPT_TABLES or "shop_id" not in table.c:
            continue
        session.execute(delete(table).where(table.c.shop_id == shop.id))
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.shop_id == shop.id, WebhookEvent.payload.is_not(None))
        .values(payload=None)
        .execution_options(synchronize_session=False)
    )
    # People whose only customer rows were in this shop go too: a person row is an email.
    prune_orphans(session, shop.account_id)
    delete_tokens(shop)
    shop.status = "uninstalled"
    shop.uninstalled_at = shop.uninstalled_at or utcnow()
    shop.name = None
    shop.scopes = None
    shop.webhooks_subscribed = 0
    shop.erased_at = utcnow()
    shop.sync_state = {"erased_at": shop.erased_at.isoformat()}
    shop.last_error = None
    shop.last_error_at = None
    log.info("shop erased shop_id=%s", shop.id)
    return True
