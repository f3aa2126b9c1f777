"""WooCommerce REST v3 resources (and webhook bodies, the same JSON) → records.

Layer: connectors (pure). Times from the `*_gmt` fields. A guest becomes a customer keyed
`guest:<normalised email>`; unpaid orders become checkouts, and the paid order completes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import (
    CheckoutRecord,
    CollectionRef,
    ConnectorError,
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    VariantRecord,
)
from connectors.birthdays import WOOCOMMERCE_META_KEYS, Birthday, parse_birthday
from connectors.woocommerce.consent import consent_from_meta, meta_value

OPEN_CHECKOUT_STATUSES = frozenset({"pending", "failed", "checkout-draft"})
FINANCIAL_STATUS = {
    "processing": "paid",
    "completed": "paid",
    "on-hold": "pending",
    "refunded": "refunded",
    "cancelled": "voided",
}
GUEST_PREFIX = "guest:"


class MappingError(ConnectorError):
    """A payload that cannot be mapped (no id, unreadable dates, amounts or currency); `code`
    is a short reason without the payload's data (`no_id`, `bad_date`, `bad_amount`,
    `bad_currency`), fit for a sync report."""


def parse_gmt(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise MappingError(f"unreadable date {value!r}", code="bad_date") from error
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation as error:
        raise MappingError(f"unreadable amount {value!r}", code="bad_amount") from error


def _id(data: dict[str, Any]) -> str:
    value = data.get("id")
    if not isinstance(value, int | str) or not str(value):
        raise MappingError("payload has no id", code="no_id")
    return str(value)


def _currency(value: Any) -> str:
    """An ISO 4217-shaped code (three letters); missing → USD, WooCommerce's default."""
    if value in (None, ""):
        return "USD"
    code = str(value).strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise MappingError(f"unreadable currency {str(value)[:10]!r}", code="bad_currency")
    return code


def _blank(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def normalise_email(email: Any) -> str | None:
    return email.strip().lower() or None if isinstance(email, str) else None


def guest_external_id(email: str) -> str:
    return GUEST_PREFIX + email


def customer_from_resource(data: dict[str, Any]) -> CustomerRecord:
    billing = data.get("billing") or {}
    return CustomerRecord(
        external_id=_id(data),
        updated_at=parse_gmt(data.get("date_modified_gmt")),
        created_at=parse_gmt(data.get("date_created_gmt")),
        email=_blank(data.get("email")) or _blank(billing.get("email")),
        first_name=_blank(data.get("first_name")) or _blank(billing.get("first_name")),
        last_name=_blank(data.get("last_name")) or _blank(billing.get("last_name")),
        phone=_blank(billing.get("phone")),
        city=_blank(billing.get("city")),
        country_code=_blank(billing.get("country")),
        tags=None,
        # Consent is read from meta (see consent.py); its time is the customer's modification.
        **_consent_fields(data),
        birthday=birthday_from_meta(data.get("meta_data")),
    )


def birthday_from_meta(meta_data: Any) -> Birthday | None:
    """The birthday a birthday plugin keeps in customer meta (`WOOCOMMERCE_META_KEYS`, the
    first that holds a real date), or None."""
    for key in WOOCOMMERCE_META_KEYS:
        found, value = meta_value(meta_data, key)
        birthday = parse_birthday(value) if found else None
        if birthday is not None:
            return birthday
    return None


def _consent_fields(data: dict[str, Any]) -> dict[str, Any]:
    consent = consent_from_meta(data.get("meta_data"))
    if consent is None:
        return {"email_marketing_state": None, "email_marketing_opt_in_level": None}
    return {
        "email_marketing_state": consent.state,
        "email_marketing_opt_in_level": consent.opt_in_level,
    }


def order_customer(data: dict[str, Any]) -> CustomerRecord | None:
    """The order's buyer: the registered customer (fills blanks only) or the guest."""
    billing = data.get("billing") or {}
    email = normalise_email(billing.get("email"))
    customer_id = data.get("customer_id") or 0
    profile: dict[str, Any] = {
        "email": _blank(billing.get("email")),
        "first_name": _blank(billing.get("first_name")),
        "last_name": _blank(billing.get("last_name")),
        "phone": _blank(billing.get("phone")),
        "city": _blank(billing.get("city")),
        "country_code": _blank(billing.get("country")),
        "tags": None,
    }
    if customer_id:
        return CustomerRecord(external_id=str(customer_id), updated_at=None, **profile)
    if email is None:
        return None
    return CustomerRecord(
        external_id=guest_external_id(email),
        updated_at=parse_gmt(data.get("date_modified_gmt")),
        created_at=parse_gmt(data.get("date_created_gmt")),
        **profile,
        **_consent_fields(data),  # a guest's consent is on the order's meta
    )


def guest_customers(orders: list[dict[str, Any]]) -> list[CustomerRecord]:
    """Customers built from guest orders' billing data (one per normalised email)."""
    found: dict[str, CustomerRecord] = {}
    for order in orders:
        if order.get("customer_id"):
            continue
        record = order_customer(order)
        if record is None:
            continue
        current = found.get(record.external_id)
        if current is None or (record.updated_at or datetime.min.replace(tzinfo=UTC)) > (
            current.updated_at or datetime.min.replace(tzinfo=UTC)
        ):
            found[record.external_id] = record
    return list(found.values())


def is_open_checkout(data: dict[str, Any]) -> bool:
    return data.get("status") in OPEN_CHECKOUT_STATUSES


def _lines(data: dict[str, Any]) -> tuple[OrderLineRecord, ...]:
    lines = []
    for line in data.get("line_items") or []:
        quantity = int(line.get("quantity") or 0)
        subtotal = _money(line.get("subtotal"))
        price = (
            _money(line.get("price"))
            if line.get("price") not in (None, "")
            else (subtotal / quantity if quantity else subtotal)
        )
        product_id = line.get("product_id") or None
        variation_id = line.get("variation_id") or product_id
        lines.append(
            OrderLineRecord(
                external_id=_id(line),
                title=str(line.get("name") or ""),
                quantity=quantity,
                price=price,
                product_external_id=str(product_id) if product_id else None,
                variant_external_id=str(variation_id) if variation_id else None,
                sku=_blank(line.get("sku")),
            )
        )
    return tuple(lines)


def order_from_resource(data: dict[str, Any]) -> OrderRecord:
    billing = data.get("billing") or {}
    status = data.get("status")
    lines = _lines(data)
    updated = parse_gmt(data.get("date_modified_gmt"))
    name = " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p)
    return OrderRecord(
        external_id=_id(data),
        updated_at=updated,
        currency=_currency(data.get("currency")),
        total_price=_money(data.get("total")),
        created_at=parse_gmt(data.get("date_created_gmt")),
        processed_at=parse_gmt(data.get("date_paid_gmt"))
        or parse_gmt(data.get("date_created_gmt")),
        name=f"#{data.get('number') or data.get('id')}",
        customer=order_customer(data),
        email=_blank(billing.get("email")),
        billing_name=name or None,
        subtotal_price=sum((line.price * line.quantity for line in lines), Decimal(0)),
        financial_status=FINANCIAL_STATUS.get(str(status), "pending"),
        fulfillment_status="fulfilled" if status == "completed" else None,
        cancelled_at=updated if status == "cancelled" else None,
        checkout_token=_id(data),
        source_name=_blank(data.get("created_via")),
        lines=lines,
        fulfilled_at=parse_gmt(data.get("date_completed_gmt")) if status == "completed" else None,
    )


def checkout_from_resource(data: dict[str, Any]) -> CheckoutRecord:
    """An unpaid order as a checkout; a paid one as the same checkout, completed."""
    billing = data.get("billing") or {}
    paid_at = None
    if not is_open_checkout(data):
        paid_at = parse_gmt(data.get("date_paid_gmt")) or parse_gmt(data.get("date_modified_gmt"))
    return CheckoutRecord(
        external_id=_id(data),
        updated_at=parse_gmt(data.get("date_modified_gmt")),
        currency=_currency(data.get("currency")),
        total_price=_money(data.get("total")),
        created_at=parse_gmt(data.get("date_created_gmt")),
        email=_blank(billing.get("email")),
        customer=order_customer(data),
        recovery_url=_blank(data.get("payment_url")),
        completed_at=paid_at,
        line_items=tuple(
            {
                "title": line.title,
                "quantity": line.quantity,
                "price": str(line.price),
                "product_id": line.product_external_id,
                "variant_id": line.variant_external_id,
                "sku": line.sku,
            }
            for line in _lines(data)
        ),
    )


def _categories(data: dict[str, Any]) -> tuple[CollectionRef, ...] | None:
    """The product's categories as collections; None when the resource does not list them."""
    categories = data.get("categories")
    if not isinstance(categories, list):
        return None
    return tuple(
        CollectionRef(
            external_id=_id(category),
            title=str(category.get("name") or ""),
            handle=_blank(category.get("slug")),
        )
        for category in categories
        if isinstance(category, dict) and category.get("id") not in (None, "")
    )


def product_from_resource(data: dict[str, Any], currency: str) -> ProductRecord:
    """A product; a simple product is its own single variant (variable ones list none here:
    their variations need one more call per product). Its `categories` are its collections."""
    images = data.get("images") or []
    image = images[0].get("src") if images and isinstance(images[0], dict) else None
    variants: tuple[VariantRecord, ...] = ()
    if data.get("type", "simple") == "simple":
        variants = (
            VariantRecord(
                external_id=_id(data),
                price=_money(data.get("price")),
                title=_blank(data.get("name")),
                sku=_blank(data.get("sku")),
                image_url=image,
            ),
        )
    return ProductRecord(
        external_id=_id(data),
        title=str(data.get("name") or ""),
        updated_at=parse_gmt(data.get("date_modified_gmt")),
        currency=currency,
        handle=_blank(data.get("slug")),
        product_type=_blank(data.get("type")),
        status=_blank(data.get("status")),
        image_url=image,
        variants=variants,
        collections=_categories(data),
    )
