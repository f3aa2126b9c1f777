"""Platform-neutral records that every connector produces and the services upsert, and errors.

Layer: connectors (no Flask, no database). External ids are the platform's numeric ids as
strings (Shopify GIDs reduced to their number), so webhook and API data land on the same row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.birthdays import Birthday


class ConnectorError(Exception):
    """A platform call failed in a way the caller must surface (not retried further)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationError(ConnectorError):
    """The platform refused our credentials (401/403, invalid_client, revoked token)."""


class RetryableError(ConnectorError):
    """Worth retrying later (429, 5xx, timeouts); `retry_after` in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


@dataclass(frozen=True)
class CustomerRecord:
    external_id: str
    updated_at: datetime | None
    created_at: datetime | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    city: str | None = None
    country_code: str | None = None
    locale: str | None = None
    # None = this payload says nothing about tags (Shopify customer webhooks since 2025-01)
    tags: tuple[str, ...] | None = ()
    # None = this payload says nothing about consent (Shopify customer webhooks since 2025-01)
    email_marketing_state: str | None = None
    email_marketing_opt_in_level: str | None = None
    email_marketing_updated_at: datetime | None = None
    # None = this payload says nothing about the birthday (most do not carry it)
    birthday: Birthday | None = None


@dataclass(frozen=True)
class OrderLineRecord:
    external_id: str
    title: str
    quantity: int
    price: Decimal
    product_external_id: str | None = None
    variant_external_id: str | None = None
    sku: str | None = None


@dataclass(frozen=True)
class OrderRecord:
    external_id: str
    updated_at: datetime | None
    currency: str
    total_price: Decimal
    created_at: datetime | None = None
    processed_at: datetime | None = None
    name: str | None = None
    customer: CustomerRecord | None = None
    email: str | None = None
    billing_name: str | None = None
    subtotal_price: Decimal | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    cancelled_at: datetime | None = None
    checkout_token: str | None = None
    source_name: str | None = None
    lines: tuple[OrderLineRecord, ...] = ()
    # When the platform says the order was fulfilled (None: not said, or not fulfilled)
    fulfilled_at: datetime | None = None


@dataclass(frozen=True)
class VariantRecord:
    external_id: str
    price: Decimal
    title: str | None = None
    sku: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class CollectionRef:
    """A collection a product belongs to (Shopify collection, WooCommerce product category)."""

    external_id: str
    title: str
    handle: str | None = None


@dataclass(frozen=True)
class ProductRecord:
    external_id: str
    title: str
    updated_at: datetime | None
    currency: str
    handle: str | None = None
    product_type: str | None = None
    vendor: str | None = None
    status: str | None = None
    image_url: str | None = None
    variants: tuple[VariantRecord, ...] = ()
    # None = this payload says nothing about collections (Shopify's REST products/* webhooks):
    # the stored ones are kept. () = the product is in no collection.
    collections: tuple[CollectionRef, ...] | None = None


@dataclass(frozen=True)
class CheckoutRecord:
    external_id: str  # the checkout token
    updated_at: datetime | None
    currency: str
    total_price: Decimal
    created_at: datetime | None = None
    email: str | None = None
    customer: CustomerRecord | None = None
    recovery_url: str | None = None
    completed_at: datetime | None = None
    line_items: tuple[dict[str, Any], ...] = field(default=())
