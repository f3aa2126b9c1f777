"""WooCommerce webhook signature (published-derivation vectors), ping detection, dedupe keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.woocommerce.webhooks import (
    dedupe_key,
    expected_signature,
    is_ping,
    verify_webhook_signature,
)

VECTORS = Path("/work/shared/specs/woocommerce/test_vectors/webhook_signature_vectors.DERIVED.json")
SAMPLE = Path("/work/shared/specs/woocommerce/webhook_samples/customer.created.DERIVED.json")

pytestmark = pytest.mark.skipif(not VECTORS.exists(), reason="shared specs not mounted")


def _vectors() -> dict:
    return json.loads(VECTORS.read_text())


def test_valid_vectors_pass() -> None:
    for vector in _vectors()["valid"]:
        body = vector["raw_body"].encode()
        signature = vector["expected_x_wc_webhook_signature"]
        assert expected_signature(body, vector["secret"]) == signature
        assert verify_webhook_signature(body, signature, vector["secret"]).ok


def test_invalid_vectors_fail() -> None:
    for vector in _vectors()["invalid"]:
        result = verify_webhook_signature(
            vector["raw_body"].encode(), vector["header_value"], vector["secret"]
        )
        assert result.ok is vector["expected_valid"]
        assert result.reason == "mismatch"


def test_sample_delivery_verifies_with_its_headers() -> None:
    sample = json.loads(SAMPLE.read_text())
    signature = sample["headers"]["x-wc-webhook-signature"]
    assert verify_webhook_signature(sample["raw_body"].encode(), signature, sample["secret"]).ok


def test_previous_secret_accepted_during_rotation_and_reasons() -> None:
    body = b'{"id":1}'
    signature = expected_signature(body, "old")
    assert verify_webhook_signature(body, signature, ("new", "old")).reason == "previous_secret"
    assert verify_webhook_signature(body, signature, ("new",)).reason == "mismatch"
    assert verify_webhook_signature(body, None, "new").reason == "missing_signature"
    assert verify_webhook_signature(body, "%%%not-base64", "new").reason == "malformed"


def test_ping_is_recognised_only_without_topic() -> None:
    assert is_ping(b"webhook_id=12", {})
    assert not is_ping(b"webhook_id=12", {"X-WC-Webhook-Topic": "order.created"})
    assert not is_ping(b'{"id": 1}', {})


def test_dedupe_key_uses_resource_state_not_delivery() -> None:
    payload = {"id": 7, "date_modified_gmt": "2026-11-25T10:00:00"}
    key = dedupe_key(1, "order.updated", payload, b"a")
    assert key == dedupe_key(1, "order.updated", dict(payload), b"different bytes")
    assert key != dedupe_key(1, "order.updated", {**payload, "date_modified_gmt": "x"}, b"a")
    assert key != dedupe_key(2, "order.updated", payload, b"a")
    assert key != dedupe_key(1, "order.created", payload, b"a")
    assert len(key) <= 200
