"""Shopify webhook deliveries: signature check, headers, and payload → record mapping.

Layer: connectors (pure). Base64 HMAC-SHA256 of the raw body, constant time, current then previous
secret. Payloads of API 2026-07: checkouts keyed by `token`; customer webhooks carry no consent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import CheckoutRecord, CustomerRecord, OrderLineRecord, OrderRecord
from connectors.birthdays import Birthday, parse_birthday
from connectors.shopify.domains import normalize_shop_domain
from connectors.shopify.mapping import BIRTH_DATE_KEY, BIRTH_DATE_NAMESPACE, gid_to_id, parse_time

Payload = Mapping[str, Any]

COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
# Shopify's own spelling (enum CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE).
CONSENT_TOPICS = frozenset({"customers_email_marketing_consent/update"})
ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled"})
CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})
# A location's available quantity of one inventory item changed (back in stock).
INVENTORY_TOPICS = frozenset({"inventory_levels/update"})
SUPPORTED_TOPICS = (
    CUSTOMER_TOPICS
    | CONSENT_TOPICS
    | ORDER_TOPICS
    | CHECKOUT_TOPICS
    | INVENTORY_TOPICS
    | COMPLIANCE_TOPICS
    | {"customers/delete", "app/uninstalled", "bulk_operations/finish"}
)


class WebhookPayloadError(ValueError):
    """A verified payload lacks what its topic needs; the message names fields, never values."""


# --- signature -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str  # "current_secret" | "previous_secret" | "missing_signature" | ...


def verify_webhook_hmac(body: bytes, signature: str | None, secrets: Sequence[str]) -> Verification:
    """Check `X-Shopify-Hmac-Sha256` over the raw body with each secret, current first.

    The body must be the bytes as received: re-serialised JSON differs (escapes, big ints).
    """
    if not signature or not signature.strip():
        return Verification(False, "missing_signature")
    usable = [secret for secret in secrets if secret]
    if not usable:
        return Verification(False, "no_secret_configured")
    try:
        claimed = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return Verification(False, "malformed_signature")
    for position, secret in enumerate(usable):
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        if hmac.compare_digest(base64.b64encode(digest), claimed):
            return Verification(True, "current_secret" if position == 0 else "previous_secret")
    return Verification(False, "signature_mismatch")


# --- headers ---------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key in (f"x-shopify-{name}", f"shopify-{name}"):
        value = headers.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def _time_or_none(value: str | None) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class WebhookHeaders:
    topic: str | None
    shop_domain: str | None  # canonical `x.myshopify.com`, or None when absent or invalid
    webhook_id: str | None
    event_id: str | None
    api_version: str | None
    triggered_at: datetime | None
    signature: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> WebhookHeaders:
        """Read both header styles: `X-Shopify-*` and the newer un-prefixed `shopify-*`."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        lowered = {key.lower(): value for key, value in pairs}
        return cls(
            topic=_header(lowered, "topic"),
            shop_domain=normalize_shop_domain(_header(lowered, "shop-domain")),
            webhook_id=_header(lowered, "webhook-id"),
            event_id=_header(lowered, "event-id"),
            api_version=_header(lowered, "api-version"),
            triggered_at=_time_or_none(_header(lowered, "triggered-at")),
            signature=_header(lowered, "hmac-sha256"),
        )


# --- payload helpers -------------------------------------------------------------------------


def _get(payload: Any, *keys: str) -> Any:
    value = payload
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return gid_to_id(value) if value.startswith("gid://") else _text(value)
    if isinstance(value, int):
        return str(value)
    return None


def external_id(resource: Any) -> str | None:
    """The resource's numeric id as text, preferring `admin_graphql_api_id`.

    The GID is a string, so it survives JSON tools that round big integers (a relay that parses
    `706405506930370084` as a double re-sends `706405506930370000`); the API sync uses it too.
    """
    if not isinstance(resource, Mapping):
        return None
    return _id(resource.get("admin_graphql_api_id")) or _id(resource.get("id"))


def _required(value: str | None, what: str) -> str:
    if value is None:
        raise WebhookPayloadError(f"payload has no {what}")
    return value


def _time(payload: Payload, key: str) -> datetime | None:
    try:
        return parse_time(_text(payload.get(key)))
    except ValueError as error:
        raise WebhookPayloadError(f"payload field {key} is not a timestamp") from error


def _money(value: Any, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as error:
        raise WebhookPayloadError(f"payload field {what} is not an amount") from error
    if not amount.is_finite():
        raise WebhookPayloadError(f"payload field {what} is not an amount")
    return amount


def _shop_money(payload: Payload, key: str) -> tuple[Decimal | None, str | None]:
    """An amount in the shop's currency: `<key>_set.shop_money`, else the plain `<key>`."""
    money = _get(payload, f"{key}_set", "shop_money")
    if isinstance(money, Mapping) and money.get("amount") not in (None, ""):
        return _money(money.get("amount"), key), _text(money.get("currency_code"))
    return _money(payload.get(key), key), None


def _tags(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return None
    return tuple(tag for item in items if (tag := str(item).strip()))


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _birthday(payload: Payload) -> Birthday | None:
    """Shopify's standard birth date among the body's `metafields` entries, which a customer
    webhook carries when its subscription names the metafield's namespace; None when absent
    or not a date (the stored birthday then stays)."""
    entries = payload.get("metafields")
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if (
            isinstance(entry, Mapping)
            and entry.get("namespace") == BIRTH_DATE_NAMESPACE
            and entry.get("key") == BIRTH_DATE_KEY
        ):
            return parse_birthday(entry.get("value"))
    return None


# --- mappers ---------------------------------------------------------------------------------


def customer_from_payload(payload: Payload) -> CustomerRecord:
    """A customers/create|update body (or a customer embedded in an order or checkout).

    Since API 2025-01 these bodies carry neither tags nor consent: both map to None ("not
    said"), so the stored values stay. Older bodies that still carry them are honoured. The
    birthday comes from the `facts.birth_date` entry of `metafields` (subscriptions.py asks for
    the namespace).
    """
    address = payload.get("default_address")
    consent = payload.get("email_marketing_consent")
    if _text(_get(consent, "state")) is None:
        consent = None
    return CustomerRecord(
        external_id=_required(external_id(payload), "customer id"),
        updated_at=_time(payload, "updated_at"),
        created_at=_time(payload, "created_at"),
        email=_text(payload.get("email")),
        first_name=_text(payload.get("first_name")),
        last_name=_text(payload.get("last_name")),
        phone=_text(payload.get("phone")),
        city=_text(_get(address, "city")),
        country_code=_text(_get(address, "country_code")),
        locale=_text(payload.get("locale")),
        tags=_tags(payload.get("tags")) if "tags" in payload else None,
        email_marketing_state=_text(_get(consent, "state")),
        email_marketing_opt_in_level=_text(_get(consent, "opt_in_level")),
        email_marketing_updated_at=_time(consent, "consent_updated_at") if consent else None,
        birthday=_birthday(payload),
    )


def consent_from_payload(payload: Payload, triggered_at: datetime | None = None) -> CustomerRecord:
    """A customers_email_marketing_consent/update body as a consent-only customer record.

    `consent_updated_at` is often null (a customer who never subscribed); the delivery's
    `X-Shopify-Triggered-At` then dates the change, so an older event cannot undo a newer one.
    The record has no `updated_at`: it never overrides profile data, only fills an empty email.
    """
    consent = payload.get("email_marketing_consent")
    if not isinstance(consent, Mapping) or _text(consent.get("state")) is None:
        raise WebhookPayloadError("payload has no email_marketing_consent.state")
    return CustomerRecord(
        external_id=_required(_id(payload.get("customer_id")), "customer_id"),
        updated_at=None,
        email=_text(payload.get("email_address")),
        tags=None,
        email_marketing_state=_text(consent.get("state")),
        email_marketing_opt_in_level=_text(consent.get("opt_in_level")),
        email_marketing_updated_at=_time(consent, "consent_updated_at") or triggered_at,
    )


def _embedded_customer(payload: Payload) -> CustomerRecord | None:
    customer = payload.get("customer")
    if not isinstance(customer, Mapping) or external_id(customer) is None:
        return None
    return customer_from_payload(customer)


def _order_line(line: Payload) -> OrderLineRecord:
    price, _currency = _shop_money(line, "price")
    return OrderLineRecord(
        external_id=_required(external_id(line), "line item id"),
        title=_text(line.get("title")) or _text(line.get("name")) or "",
        quantity=_int(line.get("quantity")),
        price=price or Decimal(0),
        product_external_id=_id(line.get("product_id")),
        variant_external_id=_id(line.get("variant_id")),
        sku=_text(line.get("sku")),
    )


# REST spells fulfilment states differently from GraphQL's displayFulfillmentStatus, which the
# sync stores lowercased; one spelling keeps webhook and sync rows identical.
_FULFILLMENT_STATUS = {None: "unfulfilled", "partial": "partially_fulfilled"}


def order_from_payload(payload: Payload) -> OrderRecord:
    """An orders/create|updated|paid|cancelled body, priced in the shop's currency."""
    total, currency = _shop_money(payload, "total_price")
    subtotal, _subtotal_currency = _shop_money(payload, "subtotal_price")
    currency = currency or _text(payload.get("currency"))
    billing = payload.get("billing_address")
    billing_name = _text(_get(billing, "name")) or _text(
        " ".join(part for part in (_get(billing, "first_name"), _get(billing, "last_name")) if part)
    )
    fulfillment = _text(payload.get("fulfillment_status"))
    lines = payload.get("line_items")
    return OrderRecord(
        external_id=_required(external_id(payload), "order id"),
        updated_at=_time(payload, "updated_at"),
        currency=_required(currency, "currency"),
        total_price=total or Decimal(0),
        created_at=_time(payload, "created_at"),
        processed_at=_time(payload, "processed_at"),
        name=_text(payload.get("name")),
        customer=_embedded_customer(payload),
        email=_text(payload.get("email")) or _text(payload.get("contact_email")),
        billing_name=billing_name,
        subtotal_price=subtotal,
        financial_status=_text(payload.get("financial_status")),
        fulfillment_status=_FULFILLMENT_STATUS.get(fulfillment, fulfillment),
        cancelled_at=_time(payload, "cancelled_at"),
        checkout_token=_text(payload.get("checkout_token")),
        source_name=_text(payload.get("source_name")),
        lines=tuple(_order_line(line) for line in lines if isinstance(line, Mapping))
        if isinstance(lines, list)
        else (),
        fulfilled_at=_fulfilled_at(payload) if fulfillment == "fulfilled" else None,
    )


def _fulfilled_at(payload: Payload) -> datetime | None:
    """The latest fulfilment's `created_at`: the moment the order became fully fulfilled."""
    fulfillments = payload.get("fulfillments")
    if not isinstance(fulfillments, list):
        return None
    moments = [
        moment
        for item in fulfillments
        if isinstance(item, Mapping) and (moment := _time(item, "created_at")) is not None
    ]
    return max(moments, default=None)


def _checkout_line(line: Payload) -> dict[str, Any]:
    """Product data only (no addresses, no properties), in the shape the API sync stores."""
    price, _currency = _shop_money(line, "price")
    return {
        "external_id": external_id(line) or _text(line.get("key")),
        "title": _text(line.get("title")) or _text(line.get("presentment_title")) or "",
        "variant_title": _text(line.get("variant_title")),
        "quantity": _int(line.get("quantity")),
        "price": str(price or Decimal(0)),
        "sku": _text(line.get("sku")),
        "product_external_id": _id(line.get("product_id")),
        "variant_external_id": _id(line.get("variant_id")),
        "image_url": None,
    }


def checkout_from_payload(payload: Payload) -> CheckoutRecord:
    """A checkouts/create|update body keyed by `token` (2026-07 bodies have no `id`)."""
    total, currency = _shop_money(payload, "total_price")
    currency = (
        currency or _text(payload.get("currency")) or _text(payload.get("presentment_currency"))
    )
    lines = payload.get("line_items")
    return CheckoutRecord(
        external_id=_required(_text(payload.get("token")), "checkout token"),
        updated_at=_time(payload, "updated_at"),
        currency=_required(currency, "currency"),
        total_price=total or Decimal(0),
        created_at=_time(payload, "created_at"),
        email=_text(payload.get("email")),
        customer=_embedded_customer(payload),
        recovery_url=_text(payload.get("abandoned_checkout_url")),
        completed_at=_time(payload, "completed_at"),
        line_items=tuple(_checkout_line(line) for line in lines if isinstance(line, Mapping))
        if isinstance(lines, list)
        else (),
    )


@dataclass(frozen=True)
class ComplianceRequest:
    """What a customers/data_request or customers/redact body names."""

    customer_external_id: str | None
    email: str | None
    order_ids: tuple[str, ...]
    data_request_id: str | None


def compliance_from_payload(payload: Payload) -> ComplianceRequest:
    """The customer, email and orders named by a customers/data_request|redact body."""
    orders = payload.get("orders_to_redact")
    if orders is None:
        orders = payload.get("orders_requested")
    order_ids = tuple(
        order_id for item in (orders if isinstance(orders, list) else []) if (order_id := _id(item))
    )
    return ComplianceRequest(
        customer_external_id=_id(_get(payload, "customer", "id")),
        email=_text(_get(payload, "customer", "email")),
        order_ids=order_ids,
        data_request_id=_id(_get(payload, "data_request", "id")),
    )


def resource_id(topic: str | None, payload: Payload) -> str | None:
    """The id of the record a delivery is about, as stored on our rows (None for shop topics).

    Customer-facing topics name the customer, orders the order, checkouts the token; a
    customers/redact can then find pending deliveries about that customer.
    """
    if topic in CUSTOMER_TOPICS or topic == "customers/delete":
        return external_id(payload)
    if topic in CONSENT_TOPICS:
        return _id(payload.get("customer_id"))
    if topic in ORDER_TOPICS or (topic or "").startswith("orders/"):
        return external_id(payload)
    if topic in CHECKOUT_TOPICS:
        return _text(payload.get("token"))
    if topic in ("customers/data_request", "customers/redact"):
        return _id(_get(payload, "customer", "id"))
    if topic in INVENTORY_TOPICS:
        return _id(payload.get("inventory_item_id"))
    return None


def inventory_level_from_payload(payload: Payload) -> tuple[str, int]:
    """An `inventory_levels/update` delivery → (inventory item id, available at the location);
    a missing or non-numeric field raises `WebhookPayloadError` naming it."""
    item = _id(payload.get("inventory_item_id"))
    if item is None:
        raise WebhookPayloadError("inventory_levels/update without inventory_item_id")
    available = payload.get("available")
    if isinstance(available, bool) or not isinstance(available, int):
        raise WebhookPayloadError("inventory_levels/update without a numeric available")
    return item, available
