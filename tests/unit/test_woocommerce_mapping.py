"""Mapping WooCommerce REST v3 resources (the official docs examples) to records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.woocommerce import mapping
from connectors.woocommerce.auth import KeyGrant, authorize_url, normalize_store_url

DOCS = Path("/work/shared/specs/woocommerce/docs_examples")


def _doc(name: str) -> dict:
    if not (DOCS / name).exists():
        pytest.skip("shared specs not mounted")
    return json.loads((DOCS / name).read_text())


def test_guest_order_maps_to_order_with_guest_customer() -> None:
    order = _doc("orders__retrieve_an_order.response.json")
    record = mapping.order_from_resource(order)
    assert record.external_id == "727"
    assert record.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert record.total_price == Decimal("29.35")
    assert record.currency == "USD"
    assert record.financial_status == "paid"
    assert record.checkout_token == "727"
    assert [(line.external_id, line.quantity, line.price) for line in record.lines] == [
        ("315", 2, Decimal(3)),
        ("316", 1, Decimal(12)),
    ]
    assert record.lines[1].variant_external_id == "23"
    assert record.lines[0].variant_external_id == "93"  # a simple product is its own variant
    assert record.customer is not None
    assert record.customer.external_id == "guest:john.doe@example.com"
    assert record.customer.city == "San Francisco"


def test_registered_customer_and_embedded_customer() -> None:
    customer = mapping.customer_from_resource(_doc("customers__retrieve_a_customer.response.json"))
    assert (customer.external_id, customer.email, customer.country_code) == (
        "25",
        "john.doe@example.com",
        "US",
    )
    assert customer.updated_at == datetime(2017, 3, 21, 19, 9, 30, tzinfo=UTC)
    order = {**_doc("orders__retrieve_an_order.response.json"), "customer_id": 25}
    embedded = mapping.order_customer(order)
    assert embedded is not None
    assert (embedded.external_id, embedded.updated_at) == ("25", None)


def test_open_orders_are_checkouts_with_the_payment_url() -> None:
    order = {
        **_doc("orders__retrieve_an_order.response.json"),
        "status": "pending",
        "payment_url": "https://example.com/checkout/order-pay/727/?pay_for_order=true&key=k",
    }
    assert mapping.is_open_checkout(order)
    checkout = mapping.checkout_from_resource(order)
    assert checkout.external_id == "727"
    assert checkout.recovery_url == order["payment_url"]
    assert checkout.completed_at is None
    assert checkout.email == "john.doe@example.com"
    assert len(checkout.line_items) == 2
    for status in ("failed", "checkout-draft"):
        assert mapping.is_open_checkout({**order, "status": status})
    assert not mapping.is_open_checkout({**order, "status": "processing"})


def test_guest_customers_one_per_normalised_email_latest_wins() -> None:
    base = _doc("orders__retrieve_an_order.response.json")
    older = {**base, "id": 1, "billing": {**base["billing"], "email": "A@X.jp", "city": "Old"}}
    newer = {
        **base,
        "id": 2,
        "date_modified_gmt": "2018-01-01T00:00:00",
        "billing": {**base["billing"], "email": " a@x.jp", "city": "New"},
    }
    registered = {**base, "id": 3, "customer_id": 9}
    guests = mapping.guest_customers([older, newer, registered])
    assert [(g.external_id, g.city) for g in guests] == [("guest:a@x.jp", "New")]


def test_bad_payloads_raise_mapping_errors() -> None:
    with pytest.raises(mapping.MappingError):
        mapping.order_from_resource({"status": "processing"})
    with pytest.raises(mapping.MappingError):
        mapping.order_from_resource({"id": 1, "total": "abc"})


def test_store_url_normalisation_and_authorize_url() -> None:
    assert normalize_store_url(" Shop.Example.com/ ") == "https://shop.example.com"
    assert normalize_store_url("http://127.0.0.1:8080/shop-a/") == "http://127.0.0.1:8080/shop-a"
    for bad in ("", "ftp://x.com", "https://user@x.com", "https://x.com/?a=1", "x.com#top"):
        assert normalize_store_url(bad) is None
    # Only the form: the address check (connectors.outbound) is what refuses internal hosts.
    assert normalize_store_url("localhost") == "https://localhost"
    url = authorize_url("https://s.example", "tok", "https://k/done", "https://k/cb")
    assert url.startswith("https://s.example/wc-auth/v1/authorize?app_name=Kizuna&scope=read_write")


def test_key_grant_parsing() -> None:
    body = {
        "key_id": 1,
        "user_id": "tok",
        "consumer_key": "ck_" + "a" * 40,
        "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write",
    }
    grant = KeyGrant.parse(body)
    assert grant is not None
    assert (grant.user_id, grant.permissions) == ("tok", "read_write")
    assert KeyGrant.parse({**body, "user_id": 123}) is not None  # the docs show an int
    assert KeyGrant.parse({**body, "consumer_key": "nope"}) is None
    assert KeyGrant.parse({**body, "user_id": ["x"]}) is None
    assert KeyGrant.parse([body]) is None
