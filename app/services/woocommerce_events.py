"""WooCommerce webhook topics and their handlers, applied by the webhook job.

Layer: services, inside the caller's transaction (the caller claims, commits and retries). Unpaid
orders are checkouts, the rest orders; both reach `flows.triggers` as Shopify's do. A product
update in stock releases its back-in-stock subscribers (`stock_subscriptions.restock`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import triggers as flow_triggers
from app.flows.definition import Restock
from app.models import Shop, WebhookEvent
from app.services import stock_subscriptions, upsert
from connectors.shopify.webhooks import WebhookPayloadError
from connectors.woocommerce import mapping

Payload = dict[str, Any]
Handler = Callable[[Session, WebhookEvent, Shop | None, Payload], None]


class _Skip(Exception):
    pass


def _shop_id(shop: Shop | None) -> int:
    if shop is None or shop.status == "uninstalled":
        # Recorded as processed with nothing applied: the shop is gone.
        raise _Skip
    return shop.id


def _guarded(handler: Handler) -> Handler:
    def wrapper(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
        try:
            handler(session, event, shop, payload)
        except _Skip:
            return
        except mapping.MappingError as error:
            raise WebhookPayloadError(str(error)) from error

    return wrapper


@_guarded
def _customer(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    record = mapping.customer_from_resource(payload)
    upsert.upsert_customers(session, _shop_id(shop), [record])
    flow_triggers.after_customers(session, _shop_id(shop), [record.external_id])


@_guarded
def _customer_deleted(
    session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload
) -> None:
    customer_id = payload.get("id")
    if not customer_id:
        raise WebhookPayloadError("payload has no customer id")
    upsert.mark_customer_deleted(session, _shop_id(shop), str(customer_id), utcnow())


@_guarded
def _order(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    shop_id = _shop_id(shop)
    if mapping.is_open_checkout(payload):
        checkout = mapping.checkout_from_resource(payload)
        upsert.upsert_checkouts(session, shop_id, [checkout])
        flow_triggers.after_checkouts(session, shop_id, [checkout])
        return
    order = mapping.order_from_resource(payload)
    upsert.upsert_orders(session, shop_id, [order])
    flow_triggers.after_orders(session, shop_id, [order])


@_guarded
def _product(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    shop_id = _shop_id(shop)
    currency = shop.currency if shop is not None else "USD"
    upsert.upsert_products(session, shop_id, [mapping.product_from_resource(payload, currency)])
    available = in_stock(payload)
    if available and stock_subscriptions.has_waiting(session, shop_id):
        product = str(payload.get("id") or "")
        stock_subscriptions.restock(session, shop_id, [Restock(product, None, available)])


# Stock not managed by quantity but "instock": every waiting subscriber may have one.
UNLIMITED_STOCK = 1_000_000


def in_stock(payload: Payload) -> int:
    """Units a product.updated delivery says are for sale: its managed `stock_quantity`, or
    `UNLIMITED_STOCK` for an in-stock product without managed stock; 0 when out of stock."""
    if payload.get("stock_status") != "instock":
        return 0
    quantity = payload.get("stock_quantity")
    if payload.get("manage_stock") and isinstance(quantity, int) and not isinstance(quantity, bool):
        return max(quantity, 0)
    return UNLIMITED_STOCK


HANDLERS: dict[str, Handler] = {
    "customer.created": _customer,
    "customer.updated": _customer,
    "customer.deleted": _customer_deleted,
    "order.created": _order,
    "order.updated": _order,
    "order.restored": _order,
    "product.created": _product,
    "product.updated": _product,
}
