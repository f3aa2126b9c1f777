"""Webhook bodies of the simulated Shopify have exactly the shape of Shopify's 2026-07 samples,
and are serialized and signed the way Shopify does it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox.shopify import SandboxShopify, SandboxStore
from connectors.sandbox.shopify.webhooks import serialize, sign, topic_enum, topic_from_enum

SAMPLES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "shopify" / "webhook_samples"
)
CAPTURE = SAMPLES / "hookdeck_capture_2026-07"
GDPR = SAMPLES / "official_template_gdpr"


def sample(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURE / name).read_text())["body"]
    return body


@pytest.fixture(scope="module")
def store() -> SandboxStore:
    sandbox = SandboxShopify("key", "secret", seed=3)
    return sandbox.add_shop("payload-shop.myshopify.com", customers=60)


def test_customer_payload_matches_the_2026_07_sample(store: SandboxStore) -> None:
    customer = next(c for c in store.customers if c.address is not None)
    body = store.shapes.customer(customer)
    expected = sample("customers.create.json")
    assert set(body) == set(expected)
    assert set(body["default_address"]) == set(expected["default_address"])
    assert "email_marketing_consent" not in body
    assert "tags" not in body
    assert body["admin_graphql_api_id"] == f"gid://shopify/Customer/{customer.id}"
    assert set(store.shapes.customer(customer)) == set(sample("customers.update.json"))


def test_consent_payload_matches_the_sample(store: SandboxStore) -> None:
    customer = next(c for c in store.customers if c.marketing_state == "SUBSCRIBED")
    body = store.shapes.email_consent(customer)
    expected = sample("customers_email_marketing_consent.update.json")
    assert set(body) == set(expected)
    assert set(body["email_marketing_consent"]) == set(expected["email_marketing_consent"])
    assert body["email_marketing_consent"]["state"] == "subscribed"


def test_order_payload_matches_the_sample(store: SandboxStore) -> None:
    order = next(o for o in store.orders if o.customer_id and o.customer_id is not None)
    customer = store.customer_by_id(order.customer_id)
    body = store.shapes.order(order, customer)
    expected = sample("orders.create.json")
    assert set(body) == set(expected)
    assert set(body["customer"]) == set(expected["customer"])
    assert set(body["line_items"][0]) == set(expected["line_items"][0])
    assert set(body["shipping_lines"][0]) == set(expected["shipping_lines"][0])
    assert set(body["total_price_set"]) == {"shop_money", "presentment_money"}
    assert body["checkout_token"] == order.checkout_token
    assert body["customer"]["id"] == customer.id  # type: ignore[union-attr]
    assert isinstance(body["total_price"], str)
    assert Decimal(body["total_price"]) == order.total
    assert body["updated_at"].endswith("+09:00")  # the shop's local time, as Shopify sends it


def test_checkout_payload_has_a_token_and_no_id(store: SandboxStore) -> None:
    checkout = next(c for c in store.checkouts if c.customer_id)
    body = store.shapes.checkout(checkout, store.customer_by_id(checkout.customer_id))
    expected = sample("checkouts.create.json")
    assert "id" not in body
    assert set(body) == set(expected)
    assert set(body["line_items"][0]) == set(expected["line_items"][0])
    assert body["token"] == checkout.token
    url = body["abandoned_checkout_url"]
    assert url.startswith(f"https://{store.domain}/{store.info.id}/checkouts/ac/{checkout.token}/")
    assert "recover?key=" in url


def test_shop_and_privacy_payloads_match_their_samples(store: SandboxStore) -> None:
    assert set(store.shapes.shop_body()) == set(sample("app.uninstalled.json"))
    customer = store.customers[0]
    official = {
        "customers_data_request": store.shapes.customer_data_request(customer, [1, 2], 9),
        "customers_redact": store.shapes.customer_redact(customer, [1]),
        "shop_redact": store.shapes.shop_redact(),
    }
    for name, body in official.items():
        expected = json.loads((GDPR / f"{name}.body.json").read_text())
        assert set(body) == set(expected), name
        if "customer" in body:
            assert set(body["customer"]) == set(expected["customer"])


def test_body_bytes_escape_slashes_and_are_signed_over_exactly_those_bytes() -> None:
    payload = {"admin_graphql_api_id": "gid://shopify/Order/1", "name": "抹茶", "total": "3480"}
    body = serialize(payload)
    assert b"gid:\\/\\/shopify\\/Order\\/1" in body
    assert "抹茶".encode() in body
    assert json.loads(body) == payload
    expected = base64.b64encode(hmac.new(b"secret", body, hashlib.sha256).digest()).decode()
    assert sign(body, "secret") == expected
    assert sign(body + b" ", "secret") != expected


@pytest.mark.parametrize(
    ("enum", "topic"),
    [
        ("ORDERS_CREATE", "orders/create"),
        ("APP_UNINSTALLED", "app/uninstalled"),
        ("CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE", "customers_email_marketing_consent/update"),
        ("CUSTOMER_TAGS_ADDED", "customer.tags_added"),
    ],
)
def test_topic_names_round_trip(enum: str, topic: str) -> None:
    assert topic_from_enum(enum) == topic
    assert topic_enum(topic) == enum
