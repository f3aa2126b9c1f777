"""Rows to JSON for the API: money as a string with its currency, times as ISO 8601 UTC.

Layer: web presentation (pure functions over loaded rows; no queries). Amounts keep the
currency's minor units (JPY "1200", USD "12.50"), rounded half-up only where an average has
more digits than the currency has; ratios are floats in [0, 1] rounded to four places.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.formatting import minor_units
from app.models import Checkout, Customer, CustomerScore, Order, OrderLine, TimelineEvent


def money(amount: Decimal | int | None, currency: str | None) -> dict[str, str] | None:
    if amount is None:
        return None
    code = (currency or "USD").upper()
    exponent = Decimal(1).scaleb(-minor_units(code))
    return {
        "amount": str(Decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)),
        "currency": code,
    }


def ratio(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def when(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def customer_summary_json(customer: Customer) -> dict[str, Any]:
    """A row of the customer list."""
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "display_name": customer.display_name,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email_marketing_state": customer.email_marketing_state,
        "orders_count": customer.orders_count,
        "total_spent": money(customer.total_spent, customer.currency),
        "last_order_at": when(customer.last_order_at),
    }


def customer_json(customer: Customer) -> dict[str, Any]:
    """Profile, consent and totals of one customer."""
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "display_name": customer.display_name,
        "profile": {
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "phone": customer.phone,
            "city": customer.city,
            "country_code": customer.country_code,
            "locale": customer.locale,
            "tags": list(customer.tags or []),
            "created_at": when(customer.platform_created_at),
            "updated_at": when(customer.platform_updated_at),
            "deleted_at": when(customer.deleted_at),
            "redacted_at": when(customer.redacted_at),
        },
        "consent": {
            "email_marketing_state": customer.email_marketing_state,
            "opt_in_level": customer.email_marketing_opt_in_level,
            "updated_at": when(customer.email_marketing_updated_at),
        },
        "totals": {
            "orders_count": customer.orders_count,
            "total_spent": money(customer.total_spent, customer.currency),
            "first_order_at": when(customer.first_order_at),
            "last_order_at": when(customer.last_order_at),
        },
    }


def _line_json(line: OrderLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "title": line.title,
        "sku": line.sku,
        "quantity": line.quantity,
        "price": money(line.price, line.currency),
        "product_external_id": line.product_external_id,
        "variant_external_id": line.variant_external_id,
    }


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "external_id": order.external_id,
        "name": order.name,
        "placed_at": when(order.processed_at or order.platform_created_at or order.created_at),
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "cancelled_at": when(order.cancelled_at),
        "source_name": order.source_name,
        "total_price": money(order.total_price, order.currency),
        "subtotal_price": money(order.subtotal_price, order.currency),
        "lines": [_line_json(line) for line in order.lines],
    }


def checkout_json(checkout: Checkout) -> dict[str, Any]:
    return {
        "id": checkout.id,
        "external_id": checkout.external_id,
        "created_at": when(checkout.platform_created_at or checkout.created_at),
        "total_price": money(checkout.total_price, checkout.currency),
        "recovery_url": checkout.recovery_url,
        "line_items": [item for item in checkout.line_items or [] if isinstance(item, dict)],
    }


def timeline_json(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "occurred_at": when(event.occurred_at),
        "detail": event.detail if isinstance(event.detail, dict) else {},
    }


def score_json(score: CustomerScore) -> dict[str, Any]:
    return {
        "as_of": when(score.as_of),
        "r": score.r,
        "f": score.f,
        "m": score.m,
        "fm": score.fm,
        "rfm_group": score.rfm_group,
        "previous_group": score.previous_group,
        "recency_days": score.recency_days,
        "orders": score.orders,
        "monetary": money(score.monetary, score.currency),
        "probability_alive": ratio(score.probability_alive),
        "expected_orders_365": round(float(score.expected_orders_365), 4),
        "expected_next_order_at": when(score.expected_next_order_at),
        "predicted_clv": money(score.predicted_clv, score.currency),
        "confidence": score.confidence,
    }
