"""Shopify GraphQL nodes → the platform-neutral records of `connectors.base`.

Layer: connectors (pure). Ids are GID tails, so API and webhook data meet on one row; a checkout
is keyed by its token (from `abandonedCheckoutUrl`), as checkouts/* webhooks are. Enums are
lowercased like the webhooks' REST values; consent comes only from `defaultEmailAddress`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from connectors.base import (
    CheckoutRecord,
    CollectionRef,
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    VariantRecord,
)
from connectors.birthdays import parse_birthday

Node = Mapping[str, Any]

# Shopify's standard birth-date metafield (type date): read by the GraphQL queries
# (`queries.CUSTOMER_FIELDS`) and, through the subscription's namespace, from customer webhooks.
BIRTH_DATE_NAMESPACE, BIRTH_DATE_KEY = "facts", "birth_date"


class MappingError(ValueError):
    """A node that cannot be mapped; `code` is a short reason without the node's data
    (`no_id`, `bad_amount`, `bad_currency`), fit for a sync report."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def gid_to_id(gid: str | None) -> str | None:
    """`gid://shopify/Customer/123` → `"123"` (query strings such as `?checkout=…` dropped)."""
    if not gid:
        return None
    tail = str(gid).rsplit("/", 1)[-1]
    return tail.split("?", 1)[0] or None


def _required_id(node: Node) -> str:
    external_id = gid_to_id(node.get("id"))
    if external_id is None:
        raise MappingError("Shopify node without an id", code="no_id")
    return external_id


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp from Shopify as aware UTC."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _path(node: Node | None, *keys: str) -> Any:
    value: Any = node
    for key in keys:
        # Parsed JSON is plain dicts: the exact type check spares the ABC check per key.
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation as error:
        raise MappingError("Shopify sent a malformed amount", code="bad_amount") from error


def _currency(value: Any) -> str:
    """A three-letter currency code ("" when Shopify sent none)."""
    if not value:
        return ""
    code = str(value)
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise MappingError("Shopify sent a malformed currency code", code="bad_currency")
    return code.upper()


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _nodes(node: Node | None, key: str) -> list[Node]:
    return list(_path(node, key, "nodes") or [])


def customer_from_node(node: Node) -> CustomerRecord:
    """A customer, with consent from `defaultEmailAddress` (None there: consent unknown)."""
    email = node.get("defaultEmailAddress")
    return CustomerRecord(
        external_id=_required_id(node),
        updated_at=parse_time(node.get("updatedAt")),
        created_at=parse_time(node.get("createdAt")),
        email=_path(email, "emailAddress"),
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        phone=_path(node, "defaultPhoneNumber", "phoneNumber"),
        city=_path(node, "defaultAddress", "city"),
        country_code=_path(node, "defaultAddress", "countryCodeV2"),
        locale=node.get("locale"),
        tags=tuple(node.get("tags") or ()),
        email_marketing_state=_path(email, "marketingState"),
        email_marketing_opt_in_level=_path(email, "marketingOptInLevel"),
        email_marketing_updated_at=parse_time(_path(email, "marketingUpdatedAt")),
        # Shopify's standard birth-date metafield (`facts.birth_date`, type date), when used.
        birthday=parse_birthday(_path(node, "birthDate", "value")),
    )


def _customer_reference(node: Node | None, email: str | None = None) -> CustomerRecord | None:
    """The customer an order or checkout points at: an id (and maybe an email), nothing more."""
    external_id = gid_to_id(_path(node, "id"))
    if external_id is None:
        return None
    return CustomerRecord(external_id=external_id, updated_at=None, email=email)


def _shop_money(node: Node, key: str) -> tuple[Decimal, str | None]:
    money = _path(node, key, "shopMoney")
    return _decimal(_path(money, "amount")), _path(money, "currencyCode")


def _order_line(line: Node) -> OrderLineRecord:
    price, _currency = _shop_money(line, "originalUnitPriceSet")
    return OrderLineRecord(
        external_id=_required_id(line),
        title=line.get("title") or "",
        quantity=int(line.get("quantity") or 0),
        price=price,
        product_external_id=gid_to_id(_path(line, "product", "id")),
        variant_external_id=gid_to_id(_path(line, "variant", "id")),
        sku=line.get("sku") or None,
    )


def order_from_node(node: Node) -> OrderRecord:
    """An order with its lines, priced in the shop's currency (`shopMoney`)."""
    total, currency = _shop_money(node, "totalPriceSet")
    subtotal_money = _path(node, "subtotalPriceSet", "shopMoney")
    return OrderRecord(
        external_id=_required_id(node),
        updated_at=parse_time(node.get("updatedAt")),
        currency=_currency(currency or node.get("currencyCode")),
        total_price=total,
        created_at=parse_time(node.get("createdAt")),
        processed_at=parse_time(node.get("processedAt")),
        name=node.get("name"),
        customer=_customer_reference(node.get("customer")),
        email=node.get("email"),
        billing_name=_path(node, "billingAddress", "name"),
        subtotal_price=_decimal(_path(subtotal_money, "amount")) if subtotal_money else None,
        financial_status=_lower(node.get("displayFinancialStatus")),
        fulfillment_status=_lower(node.get("displayFulfillmentStatus")),
        cancelled_at=parse_time(node.get("cancelledAt")),
        checkout_token=node.get("checkoutToken"),
        source_name=node.get("sourceName"),
        lines=tuple(_order_line(line) for line in _nodes(node, "lineItems")),
    )


def _collections(node: Node) -> tuple[CollectionRef, ...] | None:
    """The product's collections; None when the node was read without them."""
    if "collections" not in node:
        return None
    return tuple(
        CollectionRef(
            external_id=_required_id(collection),
            title=collection.get("title") or "",
            handle=collection.get("handle") or None,
        )
        for collection in _nodes(node, "collections")
    )


def product_from_node(node: Node, currency: str) -> ProductRecord:
    """A product with its variants and collections; the Products query carries no currency, so
    the shop's. A node read without `collections` leaves the stored collections as they are."""
    variants = tuple(
        VariantRecord(
            external_id=_required_id(variant),
            price=_decimal(variant.get("price")),
            title=variant.get("title"),
            sku=variant.get("sku") or None,
        )
        for variant in _nodes(node, "variants")
    )
    return ProductRecord(
        external_id=_required_id(node),
        title=node.get("title") or "",
        updated_at=parse_time(node.get("updatedAt")),
        currency=currency,
        handle=node.get("handle"),
        product_type=node.get("productType") or None,
        vendor=node.get("vendor") or None,
        status=_lower(node.get("status")),
        image_url=_path(node, "featuredMedia", "preview", "image", "url"),
        variants=variants,
        collections=_collections(node),
    )


def checkout_token_from_url(url: str | None) -> str | None:
    """The checkout token in `…/checkouts/{token}/recover?key=…` (the segment before recover)."""
    if not url:
        return None
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    if "recover" not in segments:
        return None
    index = segments.index("recover")
    return segments[index - 1] if index > 0 else None


def _checkout_line(line: Node) -> dict[str, Any]:
    price, _currency = _shop_money(line, "originalUnitPriceSet")
    return {
        "external_id": gid_to_id(line.get("id")),
        "title": line.get("title") or "",
        "quantity": int(line.get("quantity") or 0),
        "price": str(price),
        "sku": line.get("sku") or None,
        "product_external_id": gid_to_id(_path(line, "product", "id")),
        "variant_external_id": gid_to_id(_path(line, "variant", "id")),
        "image_url": _path(line, "image", "url"),
    }


def checkout_from_node(node: Node) -> CheckoutRecord:
    """An abandoned checkout keyed by its token, so it meets the checkouts/* webhooks' rows.

    Should the recovery URL ever lack a token, the GID's number keeps the row addressable.
    """
    recovery_url = node.get("abandonedCheckoutUrl")
    token = checkout_token_from_url(recovery_url) or _required_id(node)
    total, currency = _shop_money(node, "totalPriceSet")
    email = _path(node, "customer", "defaultEmailAddress", "emailAddress")
    return CheckoutRecord(
        external_id=token,
        updated_at=parse_time(node.get("updatedAt")),
        currency=_currency(currency),
        total_price=total,
        created_at=parse_time(node.get("createdAt")),
        email=email,
        customer=_customer_reference(node.get("customer"), email),
        recovery_url=recovery_url,
        completed_at=parse_time(node.get("completedAt")),
        line_items=tuple(_checkout_line(line) for line in _nodes(node, "lineItems")),
    )
