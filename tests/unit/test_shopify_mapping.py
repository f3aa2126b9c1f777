"""GraphQL nodes → records: ids, money, consent, lowercase enums, checkout tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.shopify.mapping import (
    checkout_from_node,
    checkout_token_from_url,
    customer_from_node,
    gid_to_id,
    order_from_node,
    product_from_node,
)


def _money(amount: str, currency: str = "JPY") -> dict[str, dict[str, str]]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


CUSTOMER = {
    "id": "gid://shopify/Customer/1001",
    "firstName": "Hanako",
    "lastName": "Yamada",
    "locale": "ja",
    "tags": ["vip", "tokyo"],
    "createdAt": "2025-01-02T03:04:05Z",
    "updatedAt": "2026-02-03T04:05:06Z",
    "defaultEmailAddress": {
        "emailAddress": "hanako@example.com",
        "marketingState": "SUBSCRIBED",
        "marketingOptInLevel": "CONFIRMED_OPT_IN",
        "marketingUpdatedAt": "2025-06-01T00:00:00+09:00",
    },
    "defaultPhoneNumber": {"phoneNumber": "+81312345678"},
    "defaultAddress": {"city": "Shibuya", "countryCodeV2": "JP"},
}


def test_gid_to_id() -> None:
    assert gid_to_id("gid://shopify/Customer/123") == "123"
    assert gid_to_id("gid://shopify/LineItem/9?checkout=abc") == "9"
    assert gid_to_id(None) is None
    assert gid_to_id("") is None


def test_customer_with_consent() -> None:
    record = customer_from_node(CUSTOMER)
    assert record.external_id == "1001"
    assert record.email == "hanako@example.com"
    assert (record.first_name, record.last_name) == ("Hanako", "Yamada")
    assert record.phone == "+81312345678"
    assert (record.city, record.country_code, record.locale) == ("Shibuya", "JP", "ja")
    assert record.tags == ("vip", "tokyo")
    assert record.updated_at == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert record.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert record.email_marketing_state == "SUBSCRIBED"
    assert record.email_marketing_opt_in_level == "CONFIRMED_OPT_IN"
    assert record.email_marketing_updated_at == datetime(2025, 5, 31, 15, tzinfo=UTC)


def test_customer_without_email_says_nothing_about_consent() -> None:
    node = {
        **CUSTOMER,
        "defaultEmailAddress": None,
        "defaultPhoneNumber": None,
        "defaultAddress": None,
    }
    record = customer_from_node(node)
    assert record.email is None
    assert record.email_marketing_state is None
    assert record.email_marketing_updated_at is None
    assert record.phone is None
    assert record.city is None


def test_a_node_without_id_is_refused() -> None:
    with pytest.raises(ValueError, match="without an id"):
        customer_from_node({**CUSTOMER, "id": None})


ORDER = {
    "id": "gid://shopify/Order/5001",
    "name": "#1001",
    "email": "hanako@example.com",
    "createdAt": "2026-03-01T10:00:00Z",
    "updatedAt": "2026-03-02T10:00:00Z",
    "processedAt": "2026-03-01T10:00:01Z",
    "cancelledAt": None,
    "currencyCode": "JPY",
    "displayFinancialStatus": "PARTIALLY_REFUNDED",
    "displayFulfillmentStatus": "FULFILLED",
    "checkoutToken": "tok123",
    "sourceName": "web",
    "totalPriceSet": _money("12345.00"),
    "subtotalPriceSet": _money("11000.50"),
    "customer": {"id": "gid://shopify/Customer/1001"},
    "billingAddress": {"name": "Hanako Yamada"},
    "lineItems": {
        "nodes": [
            {
                "id": "gid://shopify/LineItem/7001",
                "title": "Matcha",
                "quantity": 2,
                "sku": "MT-1",
                "originalUnitPriceSet": _money("5000.25"),
                "product": {"id": "gid://shopify/Product/300"},
                "variant": {"id": "gid://shopify/ProductVariant/301"},
            },
            {
                "id": "gid://shopify/LineItem/7002",
                "title": "Custom engraving",
                "quantity": 1,
                "sku": "",
                "originalUnitPriceSet": _money("1000"),
                "product": None,
                "variant": None,
            },
        ]
    },
}


def test_order_with_lines() -> None:
    record = order_from_node(ORDER)
    assert record.external_id == "5001"
    assert record.name == "#1001"
    assert record.currency == "JPY"
    assert record.total_price == Decimal("12345.00")
    assert record.subtotal_price == Decimal("11000.50")
    assert record.customer is not None
    assert record.customer.external_id == "1001"
    assert record.billing_name == "Hanako Yamada"
    assert record.financial_status == "partially_refunded"
    assert record.fulfillment_status == "fulfilled"
    assert record.checkout_token == "tok123"
    assert record.cancelled_at is None
    assert record.processed_at == datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)
    first, second = record.lines
    assert (first.external_id, first.title, first.quantity) == ("7001", "Matcha", 2)
    assert first.price == Decimal("5000.25")
    assert (first.product_external_id, first.variant_external_id, first.sku) == (
        "300",
        "301",
        "MT-1",
    )
    assert (second.product_external_id, second.variant_external_id, second.sku) == (
        None,
        None,
        None,
    )


def test_guest_order_has_no_customer() -> None:
    record = order_from_node({**ORDER, "customer": None, "subtotalPriceSet": None})
    assert record.customer is None
    assert record.subtotal_price is None


def test_product_with_variants_in_the_shop_currency() -> None:
    node = {
        "id": "gid://shopify/Product/300",
        "title": "Matcha",
        "handle": "matcha",
        "productType": "Tea",
        "vendor": "Uji",
        "status": "ACTIVE",
        "updatedAt": "2026-01-01T00:00:00Z",
        "featuredMedia": {"preview": {"image": {"url": "https://cdn.example/m.png"}}},
        "variants": {
            "nodes": [
                {
                    "id": "gid://shopify/ProductVariant/301",
                    "title": "100g",
                    "sku": "MT-1",
                    "price": "5000.25",
                }
            ]
        },
    }
    record = product_from_node(node, "JPY")
    assert (record.external_id, record.title, record.currency) == ("300", "Matcha", "JPY")
    assert record.status == "active"
    assert record.image_url == "https://cdn.example/m.png"
    (variant,) = record.variants
    assert (variant.external_id, variant.price, variant.sku) == ("301", Decimal("5000.25"), "MT-1")
    bare = product_from_node({**node, "featuredMedia": None, "variants": {"nodes": []}}, "USD")
    assert bare.image_url is None
    assert bare.variants == ()


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("https://demo.myshopify.com/7/checkouts/abc123/recover?key=k", "abc123"),
        ("https://demo.myshopify.com/7/checkouts/ac/Z2NwLXVz/recover?key=k&locale=ja", "Z2NwLXVz"),
        ("https://demo.myshopify.com/7/checkouts/abc123", None),
        ("https://demo.myshopify.com/recover", None),
        (None, None),
    ],
)
def test_checkout_token_from_url(url: str | None, token: str | None) -> None:
    assert checkout_token_from_url(url) == token


CHECKOUT = {
    "id": "gid://shopify/AbandonedCheckout/900",
    "abandonedCheckoutUrl": "https://demo.myshopify.com/7/checkouts/ac/tok-900/recover?key=k",
    "createdAt": "2026-04-01T00:00:00Z",
    "updatedAt": "2026-04-01T01:00:00Z",
    "completedAt": None,
    "totalPriceSet": _money("7000"),
    "customer": {
        "id": "gid://shopify/Customer/1001",
        "defaultEmailAddress": {"emailAddress": "hanako@example.com"},
    },
    "lineItems": {
        "nodes": [
            {
                "id": "gid://shopify/AbandonedCheckoutLineItem/1",
                "title": "Matcha",
                "quantity": 1,
                "sku": "MT-1",
                "originalUnitPriceSet": _money("7000"),
                "product": {"id": "gid://shopify/Product/300"},
                "variant": {"id": "gid://shopify/ProductVariant/301"},
                "image": {"url": "https://cdn.example/m.png"},
            }
        ]
    },
}


def test_checkout_is_keyed_by_its_token() -> None:
    record = checkout_from_node(CHECKOUT)
    assert record.external_id == "tok-900"
    assert record.email == "hanako@example.com"
    assert record.customer is not None
    assert record.customer.external_id == "1001"
    assert record.total_price == Decimal("7000")
    assert record.currency == "JPY"
    assert record.recovery_url == CHECKOUT["abandonedCheckoutUrl"]
    (line,) = record.line_items
    assert line == {
        "external_id": "1",
        "title": "Matcha",
        "quantity": 1,
        "price": "7000",
        "sku": "MT-1",
        "product_external_id": "300",
        "variant_external_id": "301",
        "image_url": "https://cdn.example/m.png",
    }


def test_checkout_without_a_recovery_token_falls_back_to_its_gid() -> None:
    record = checkout_from_node({**CHECKOUT, "abandonedCheckoutUrl": None, "customer": None})
    assert record.external_id == "900"
    assert record.customer is None
    assert record.email is None
