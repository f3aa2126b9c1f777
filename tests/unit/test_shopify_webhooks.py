"""Shopify webhook signatures, headers and payload mapping, on Shopify's own samples.

Unit tests: no database, no network. Samples are the 2026-07 captures and the official GDPR
template bodies in shared/specs; HMAC vectors are the derived vectors next to them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.shopify.webhooks import (
    COMPLIANCE_TOPICS,
    WebhookHeaders,
    WebhookPayloadError,
    checkout_from_payload,
    compliance_from_payload,
    consent_from_payload,
    customer_from_payload,
    order_from_payload,
    resource_id,
    verify_webhook_hmac,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SPECS = SHARED / "specs" / "shopify"
SAMPLES = SPECS / "webhook_samples" / "hookdeck_capture_2026-07"
GDPR_TEMPLATE = SPECS / "webhook_samples" / "official_template_gdpr"
VECTORS = json.loads((SPECS / "test_vectors" / "webhook_hmac_vectors.DERIVED.json").read_text())


def sample(name: str) -> dict[str, Any]:
    captured: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return captured


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# --- signature -------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["id"])
def test_published_vectors_verify(vector: dict[str, Any]) -> None:
    body = base64.b64decode(vector["raw_body_base64"])
    assert body == vector["raw_body_utf8"].encode()
    result = verify_webhook_hmac(body, vector["expected_x_shopify_hmac_sha256"], [vector["secret"]])
    assert result.ok
    assert result.reason == "current_secret"


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["id"])
def test_invalid_vectors_are_refused(vector: dict[str, Any]) -> None:
    body = vector["raw_body_utf8"].encode()
    result = verify_webhook_hmac(body, vector["header_value"], [vector["secret"]])
    assert not result.ok
    assert result.reason == "signature_mismatch"


def test_previous_secret_is_accepted_during_rotation() -> None:
    body = b'{"id": 1}'
    result = verify_webhook_hmac(body, sign(body, "old-secret"), ["new-secret", "old-secret"])
    assert result.ok
    assert result.reason == "previous_secret"
    current = verify_webhook_hmac(body, sign(body, "new-secret"), ["new-secret", "old-secret"])
    assert (current.ok, current.reason) == (True, "current_secret")


def test_a_secret_no_longer_configured_is_refused() -> None:
    body = b'{"id": 1}'
    assert not verify_webhook_hmac(body, sign(body, "retired"), ["new-secret", "old-secret"]).ok


def test_tampered_body_is_refused() -> None:
    body = b'{"id": 1, "total_price": "10.00"}'
    signature = sign(body, "secret")
    tampered = body.replace(b"10.00", b"99.00")
    result = verify_webhook_hmac(tampered, signature, ["secret"])
    assert (result.ok, result.reason) == (False, "signature_mismatch")


@pytest.mark.parametrize("signature", [None, "", "   "])
def test_missing_signature_is_refused(signature: str | None) -> None:
    result = verify_webhook_hmac(b"{}", signature, ["secret"])
    assert (result.ok, result.reason) == (False, "missing_signature")


def test_non_ascii_signature_is_refused_not_raised() -> None:
    result = verify_webhook_hmac(b"{}", "é" * 44, ["secret"])
    assert (result.ok, result.reason) == (False, "malformed_signature")


def test_no_secret_configured_never_verifies() -> None:
    body = b"{}"
    assert not verify_webhook_hmac(body, sign(body, ""), ["", ""]).ok


def test_hex_digest_is_not_accepted_for_base64() -> None:
    body = b'{"id": 1}'
    hex_digest = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert not verify_webhook_hmac(body, hex_digest, ["secret"]).ok


# --- headers ---------------------------------------------------------------------------------


def test_headers_from_a_captured_delivery() -> None:
    headers = WebhookHeaders.from_headers(sample("orders.create.json")["headers"])
    assert headers.topic == "orders/create"
    assert headers.shop_domain == "shop.myshopify.com"
    assert headers.webhook_id == "b1a20f30-63e1-4a2c-8199-5f4f15b131a2"
    assert headers.event_id == "db7c136a-7505-4d0f-b1a2-3ebad91b41a3"
    assert headers.api_version == "2026-07"
    assert headers.signature == "BQDfKbc9tSdulkoKnUlCpSmgqJkOaiSj1mwl2Ypt3NI="
    # Nanosecond precision in the header is cut to microseconds, in UTC.
    assert headers.triggered_at == datetime(2026, 8, 6, 15, 10, 33, 858118, tzinfo=UTC)


def test_headers_are_case_insensitive_and_accept_the_unprefixed_style() -> None:
    prefixed = WebhookHeaders.from_headers(
        {
            "X-Shopify-Topic": "customers/update",
            "X-Shopify-Shop-Domain": "Demo-Store.myshopify.com",
            "X-Shopify-Webhook-Id": "w-1",
            "X-Shopify-Hmac-SHA256": "abc=",
        }
    )
    events_style = WebhookHeaders.from_headers(
        [
            ("shopify-topic", "customers/update"),
            ("shopify-shop-domain", "demo-store.myshopify.com"),
            ("shopify-webhook-id", "w-1"),
            ("shopify-hmac-sha256", "abc="),
            ("shopify-event-id", "e-1"),
            ("shopify-triggered-at", "2026-08-06T15:01:47Z"),
        ]
    )
    for headers in (prefixed, events_style):
        assert headers.topic == "customers/update"
        assert headers.shop_domain == "demo-store.myshopify.com"
        assert headers.webhook_id == "w-1"
        assert headers.signature == "abc="
    assert events_style.event_id == "e-1"
    assert events_style.triggered_at == datetime(2026, 8, 6, 15, 1, 47, tzinfo=UTC)


@pytest.mark.parametrize(
    "domain", ["evil.com", "shop.myshopify.com.evil.com", "https://shop.myshopify.com", ""]
)
def test_a_bad_shop_domain_is_none(domain: str) -> None:
    headers = WebhookHeaders.from_headers({"X-Shopify-Shop-Domain": domain})
    assert headers.shop_domain is None


def test_unparseable_triggered_at_is_none() -> None:
    headers = WebhookHeaders.from_headers({"X-Shopify-Triggered-At": "yesterday"})
    assert headers.triggered_at is None


# --- payload mapping -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["customers.create.json", "customers.update.json"])
def test_customer_payload(name: str) -> None:
    captured = sample(name)
    record = customer_from_payload(captured["body"])
    # The GID keeps the exact id the capture's relay rounded in `id` (…370000).
    assert record.external_id == "706405506930370084"
    assert record.email == "bob@biller.com"
    assert (record.first_name, record.last_name) == ("Bob", "Biller")
    assert record.phone is None
    assert (record.city, record.country_code) == ("Ottawa", "CA")
    assert record.updated_at == datetime(2022, 1, 1, tzinfo=UTC)
    assert record.created_at == datetime(2022, 1, 1, tzinfo=UTC)
    # Since 2025-01 the body says nothing about tags or consent: unknown, not "none".
    assert record.tags is None
    assert record.email_marketing_state is None
    assert record.email_marketing_updated_at is None
    assert resource_id(captured["topic"], captured["body"]) == "706405506930370084"


def test_customer_payload_reads_the_birth_date_metafield() -> None:
    body = sample("customers.update.json")["body"]
    assert customer_from_payload(body).birthday is None  # no metafields: says nothing
    entry = {"namespace": "facts", "key": "birth_date", "value": "1990-07-14", "type": "date"}
    other = {"namespace": "custom", "key": "birth_date", "value": "2001-01-01", "type": "date"}
    record = customer_from_payload({**body, "metafields": [other, entry]})
    assert record.birthday is not None
    assert (record.birthday.year, record.birthday.month, record.birthday.day) == (1990, 7, 14)
    for unusable in ([{**entry, "value": "1990-02-30"}], [other], "1990-07-14", [None], None):
        assert customer_from_payload({**body, "metafields": unusable}).birthday is None


def test_customer_payload_of_an_older_version_keeps_tags_and_consent() -> None:
    body = json.loads(
        (
            SPECS / "webhook_samples" / "hookdeck_capture_2024-10" / "customers.create.json"
        ).read_text()
    )["body"]
    body = {
        **body,
        "tags": "vip, tea",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2024-10-01T10:00:00-04:00",
        },
    }
    record = customer_from_payload(body)
    assert record.tags == ("vip", "tea")
    assert record.email_marketing_state == "subscribed"
    assert record.email_marketing_opt_in_level == "single_opt_in"
    assert record.email_marketing_updated_at == datetime(2024, 10, 1, 14, tzinfo=UTC)


@pytest.mark.parametrize("name", ["orders.create.json", "orders.paid.json"])
def test_order_payload(name: str) -> None:
    captured = sample(name)
    record = order_from_payload(captured["body"])
    assert record.external_id == "820982911946154508"
    assert record.name == "#9999"
    assert record.currency == "USD"
    assert record.total_price == Decimal("404.95")
    assert record.subtotal_price == Decimal("404.95")
    assert record.email == "jon@example.com"
    assert record.billing_name == "Steve Shipper"
    assert record.financial_status == "voided"
    assert record.fulfillment_status == "unfulfilled"
    assert record.cancelled_at == datetime(2022, 1, 1, tzinfo=UTC)
    assert record.processed_at == datetime(2022, 1, 1, tzinfo=UTC)
    assert record.checkout_token is None
    assert record.source_name == "web"
    assert record.customer is not None
    assert record.customer.external_id == "115310627314723954"
    assert record.customer.email == "john@example.com"
    assert record.customer.updated_at is None
    assert [line.external_id for line in record.lines] == [
        "487817672276298554",
        "789012345678901234",
        "890123456789012345",
        "976318377106520349",
        "315789986012684393",
    ]
    first = record.lines[0]
    assert (first.title, first.quantity, first.price, first.sku) == (
        "Aviator sunglasses",
        1,
        Decimal("89.99"),
        "SKU2006-001",
    )
    assert record.lines[1].product_external_id is None
    assert resource_id(captured["topic"], captured["body"]) == "820982911946154508"


@pytest.mark.parametrize("name", ["checkouts.create.json", "checkouts.update.json"])
def test_checkout_payload_is_keyed_by_token(name: str) -> None:
    captured = sample(name)
    assert "id" not in captured["body"]  # removed in 2026-04
    record = checkout_from_payload(captured["body"])
    assert record.external_id == "123123123"
    assert record.currency == "USD"
    assert record.total_price == Decimal("421.88")
    assert record.email == "example@email.com"
    assert record.recovery_url == (
        "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"
    )
    assert record.completed_at is None
    assert record.customer is not None
    assert record.customer.external_id == "603851970716743426"
    assert len(record.line_items) == 2
    line = record.line_items[0]
    assert line["title"] == "IPod Nano - 8GB"
    assert line["price"] == "199.00"
    assert line["variant_external_id"] == "808950810"
    # Product data only: nothing from the addresses reaches the stored line items.
    assert "Shipping Street" not in json.dumps(record.line_items)
    assert resource_id(captured["topic"], captured["body"]) == "123123123"


def test_consent_payload() -> None:
    captured = sample("customers_email_marketing_consent.update.json")
    assert captured["topic"] == "customers_email_marketing_consent/update"
    headers = WebhookHeaders.from_headers(captured["headers"])
    record = consent_from_payload(captured["body"], triggered_at=headers.triggered_at)
    assert record.external_id == "706405506930370000"
    assert record.email == "bob@biller.com"
    assert record.email_marketing_state == "not_subscribed"
    assert record.email_marketing_opt_in_level is None
    # consent_updated_at is null: the delivery's trigger time dates the change.
    assert record.email_marketing_updated_at == headers.triggered_at
    assert record.updated_at is None
    assert record.tags is None
    assert resource_id(captured["topic"], captured["body"]) == "706405506930370000"


def test_consent_payload_without_state_is_an_error() -> None:
    with pytest.raises(WebhookPayloadError):
        consent_from_payload({"customer_id": 1, "email_marketing_consent": None})


@pytest.mark.parametrize(
    ("capture", "template", "topic"),
    [
        (
            "customers.data_request.json",
            "customers_data_request.body.json",
            "customers/data_request",
        ),
        ("customers.redact.json", "customers_redact.body.json", "customers/redact"),
    ],
)
def test_compliance_payloads(capture: str, template: str, topic: str) -> None:
    official = json.loads((GDPR_TEMPLATE / template).read_text())
    assert sample(capture)["body"] == official
    request = compliance_from_payload(official)
    assert request.customer_external_id == "191167"
    assert request.email == "john@example.com"
    assert request.order_ids == ("299938", "280263", "220458")
    assert topic in COMPLIANCE_TOPICS
    assert resource_id(topic, official) == "191167"


def test_data_request_id() -> None:
    body = json.loads((GDPR_TEMPLATE / "customers_data_request.body.json").read_text())
    assert compliance_from_payload(body).data_request_id == "9999"


def test_shop_redact_payload_names_no_resource() -> None:
    official = json.loads((GDPR_TEMPLATE / "shop_redact.body.json").read_text())
    assert sample("shop.redact.json")["body"] == official
    assert resource_id("shop/redact", official) is None
    assert resource_id("app/uninstalled", sample("app.uninstalled.json")["body"]) is None


def test_payload_without_id_is_an_error() -> None:
    with pytest.raises(WebhookPayloadError, match="customer id"):
        customer_from_payload({"email": "x@example.com"})
    with pytest.raises(WebhookPayloadError, match="checkout token"):
        checkout_from_payload({"id": 1, "currency": "USD"})
    with pytest.raises(WebhookPayloadError, match="total_price"):
        order_from_payload({"id": 1, "currency": "USD", "total_price": "lots"})


def test_error_messages_name_fields_not_values() -> None:
    with pytest.raises(WebhookPayloadError) as raised:
        order_from_payload({"id": 1, "currency": "USD", "updated_at": "secret@example.com"})
    assert "secret@example.com" not in str(raised.value)
