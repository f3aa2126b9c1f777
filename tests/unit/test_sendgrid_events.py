"""SendGrid Event Webhook: signature vectors, parsing of the official samples, dedupe keys.

Unit tests: no database, no network. Vectors and samples are the official ones in shared/specs
(sendgrid-python and sendgrid-nodejs test vectors; the event examples of SendGrid's docs).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

from connectors.sendgrid.events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Event,
    EventPayloadError,
    event_dedupe_keys,
    parse_event,
    parse_events,
    verify_event_signature,
    verify_event_signature_any,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EVENTS_DIR = SHARED / "specs" / "sendgrid" / "event_webhook"
VECTORS = json.loads((EVENTS_DIR / "signed_event_webhook_vectors.json").read_text())
SAMPLE_FILES = sorted(EVENTS_DIR.glob("docs_*.json"))


def _payload(vector: dict[str, Any]) -> bytes:
    return vector["payload"].encode("utf-8")


def _new_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def _sign(private: ec.EllipticCurvePrivateKey, timestamp: str, payload: bytes) -> str:
    signature = private.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


# --- signature -------------------------------------------------------------------------------


def test_vector_file_has_both_kinds() -> None:
    assert len(VECTORS["valid"]) >= 2
    assert len(VECTORS["invalid"]) >= 7


def test_header_names_match_sendgrid() -> None:
    assert VECTORS["headers"] == {"signature": SIGNATURE_HEADER, "timestamp": TIMESTAMP_HEADER}


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["id"].split("/")[0])
def test_valid_vectors_are_accepted(vector: dict[str, Any]) -> None:
    payload = _payload(vector)
    assert base64.b64decode(vector["payload_base64"]) == payload
    result = verify_event_signature(
        vector["public_key"], payload, vector["signature"], vector["timestamp"]
    )
    assert result.ok, result.reason
    assert result.reason == "valid"


@pytest.mark.parametrize(
    "vector",
    VECTORS["invalid"],
    ids=lambda v: f"{v['based_on'].split('/')[0]}-{v['case']}",
)
def test_negative_vectors_are_refused(vector: dict[str, Any]) -> None:
    result = verify_event_signature(
        vector["public_key"], _payload(vector), vector["signature"], vector["timestamp"]
    )
    assert not result.ok
    assert result.reason in {"bad_signature", "malformed_timestamp"}


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["id"].split("/")[0])
def test_agrees_with_the_official_helper(vector: dict[str, Any]) -> None:
    helper = EventWebhook(vector["public_key"])
    tampered = vector["payload"] + " "
    assert helper.verify_signature(vector["payload"], vector["signature"], vector["timestamp"])
    assert not helper.verify_signature(tampered, vector["signature"], vector["timestamp"])
    ours = verify_event_signature(
        vector["public_key"], tampered.encode(), vector["signature"], vector["timestamp"]
    )
    assert not ours.ok


def test_one_changed_byte_is_refused() -> None:
    vector = VECTORS["valid"][0]
    payload = bytearray(_payload(vector))
    payload[10] ^= 0x01
    result = verify_event_signature(
        vector["public_key"], bytes(payload), vector["signature"], vector["timestamp"]
    )
    assert (result.ok, result.reason) == (False, "bad_signature")


def test_reserialized_json_is_refused() -> None:
    vector = VECTORS["valid"][0]
    reserialized = json.dumps(json.loads(vector["payload"])).encode()
    result = verify_event_signature(
        vector["public_key"], reserialized, vector["signature"], vector["timestamp"]
    )
    assert not result.ok


@pytest.mark.parametrize(
    ("key", "signature", "timestamp", "reason"),
    [
        ("good", None, "1600112502", "missing_signature"),
        ("good", "", "1600112502", "missing_signature"),
        ("good", "sig", None, "missing_timestamp"),
        ("good", "sig", "16001125O2", "malformed_timestamp"),
        ("not base64!", "good", "1600112502", "malformed_key"),
        (base64.b64encode(b"not a key").decode(), "good", "1600112502", "malformed_key"),
        ("good", "%%%not-base64%%%", "1600112502", "malformed_signature"),
        ("good", base64.b64encode(b"not DER").decode(), "1600112502", "bad_signature"),
    ],
)
def test_malformed_inputs_are_refused_not_raised(
    key: str, signature: str | None, timestamp: str | None, reason: str
) -> None:
    vector = VECTORS["valid"][0]
    key = vector["public_key"] if key == "good" else key
    signature = vector["signature"] if signature == "good" else signature
    result = verify_event_signature(key, _payload(vector), signature, timestamp)
    assert (result.ok, result.reason) == (False, reason)


def test_a_p384_key_is_refused() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature = base64.b64encode(private.sign(b"1" + b"[]", ec.ECDSA(hashes.SHA256()))).decode()
    result = verify_event_signature(base64.b64encode(der).decode(), b"[]", signature, "1")
    assert (result.ok, result.reason) == (False, "malformed_key")


def test_freshness_window_is_optional() -> None:
    vector = VECTORS["valid"][0]
    args = (vector["public_key"], _payload(vector), vector["signature"], vector["timestamp"])
    signed_at = int(vector["timestamp"])
    assert verify_event_signature(*args, max_age_seconds=300, now=signed_at + 299).ok
    stale = verify_event_signature(*args, max_age_seconds=300, now=signed_at + 301)
    assert (stale.ok, stale.reason) == (False, "stale_timestamp")
    assert verify_event_signature(*args).ok  # the 2020 vector passes without a window


def test_rotation_accepts_the_previous_key() -> None:
    old_private, old_public = _new_key()
    _, new_public = _new_key()
    payload, timestamp = b'[{"event":"delivered"}]', "1700000000"
    signature = _sign(old_private, timestamp, payload)
    assert not verify_event_signature(new_public, payload, signature, timestamp).ok
    result = verify_event_signature_any([new_public, old_public], payload, signature, timestamp)
    assert (result.ok, result.reason) == (True, "previous_key")
    current = verify_event_signature_any([old_public, new_public], payload, signature, timestamp)
    assert current.reason == "current_key"
    refused = verify_event_signature_any([new_public], payload, signature, timestamp)
    assert (refused.ok, refused.reason) == (False, "bad_signature")


# --- parsing ---------------------------------------------------------------------------------


def test_every_sample_file_is_present() -> None:
    names = {path.name for path in SAMPLE_FILES}
    assert "docs_sample_batch_all_event_types.json" in names
    assert len(names) == 13  # twelve single-event examples and the batch


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_official_samples_parse(path: Path) -> None:
    raw_events = json.loads(path.read_bytes())
    events = parse_events(path.read_bytes())
    assert len(events) == len(raw_events) > 0
    for raw, event in zip(raw_events, events, strict=True):
        assert event.event == raw["event"]
        assert event.email == raw["email"]
        assert event.timestamp == datetime.fromtimestamp(raw["timestamp"], tz=UTC)
        assert event.timestamp.tzinfo is UTC
        assert event.sg_event_id == raw["sg_event_id"]
        assert event.sg_message_id == raw["sg_message_id"]
        assert event.reason == raw.get("reason")
        assert event.type == raw.get("type")
        assert event.url == raw.get("url")
        assert event.categories == (raw["category"],)
        assert event.asm_group_id == raw.get("asm_group_id")
        assert event.custom_args == {}


def test_sample_specifics() -> None:
    (bounce,) = parse_events((EVENTS_DIR / "docs_event_bounce_2.json").read_bytes())
    assert (bounce.type, bounce.reason, bounce.status) == (
        "blocked",
        "500 unknown recipient",
        "5.0.0",
    )
    (deferred,) = parse_events((EVENTS_DIR / "docs_event_deferred.json").read_bytes())
    assert deferred.attempt == 5  # sent as the string "5"
    (click,) = parse_events((EVENTS_DIR / "docs_event_click.json").read_bytes())
    assert click.url == "http://www.sendgrid.com/"
    assert click.x_message_id == "14c5d75ce93"
    (unsubscribe,) = parse_events((EVENTS_DIR / "docs_event_group_unsubscribe.json").read_bytes())
    assert unsubscribe.asm_group_id == 10


def test_signed_vector_payload_parses() -> None:
    (dropped,) = parse_events(_payload(VECTORS["valid"][0]))
    assert (dropped.event, dropped.reason) == ("dropped", "Bounced Address")
    assert dropped.x_message_id == "LRzXl_NHStOGhQ4kofSm_A"


def test_kizuna_custom_args_and_category_lists() -> None:
    body = json.dumps(
        [
            {
                "email": "a@example.com",
                "timestamp": 1700000000,
                "event": "open",
                "sg_event_id": "e1",
                "sg_message_id": "X.filter.0",
                "category": ["abandoned_cart", "shop-7"],
                "kizuna_message_id": "msg-1",
                "kizuna_shop_id": 7,
                "other_vendor_arg": "ignored",
            }
        ]
    ).encode()
    (event,) = parse_events(body)
    assert event.custom_args == {"kizuna_message_id": "msg-1", "kizuna_shop_id": "7"}
    assert (event.kizuna_message_id, event.kizuna_shop_id) == ("msg-1", "7")
    assert event.categories == ("abandoned_cart", "shop-7")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not JSON"),
        (b'{"event": "open"}', "not a JSON array"),
        (b"[1]", "not an object"),
        (b'[{"email": "a@example.com", "timestamp": 1}]', "event is missing"),
        (b'[{"event": "open", "timestamp": 1}]', "email is missing"),
        (b'[{"event": "open", "email": "a@example.com"}]', "timestamp is missing"),
        (b'[{"event": "open", "email": "a@example.com", "timestamp": true}]', "timestamp"),
        (b'[{"event": "open", "email": "a@example.com", "timestamp": 1, "url": 3}]', "url"),
        (
            b'[{"event": "open", "email": "a@example.com", "timestamp": 1, "category": 3}]',
            "category",
        ),
    ],
)
def test_malformed_batches_raise(body: bytes, fragment: str) -> None:
    with pytest.raises(EventPayloadError, match=fragment) as caught:
        parse_events(body)
    assert "a@example.com" not in str(caught.value)


# --- dedupe keys -----------------------------------------------------------------------------


def _event(**overrides: Any) -> Event:
    item = {
        "email": "a@example.com",
        "timestamp": 1700000000,
        "event": "click",
        "sg_event_id": "first-id",
        "sg_message_id": "X.filter.0",
        "url": "https://shop.example/a",
    }
    item.update(overrides)
    return parse_event({k: v for k, v in item.items() if v is not None})


def test_duplicates_with_a_new_event_id_share_the_natural_key() -> None:
    first, second = event_dedupe_keys(_event()), event_dedupe_keys(_event(sg_event_id="other"))
    assert first.event_id == "first-id"
    assert second.event_id == "other"
    assert first.natural == second.natural
    assert len(first.natural) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"url": "https://shop.example/b"},
        {"timestamp": 1700000001},
        {"event": "open", "url": None},
        {"sg_message_id": "Y.filter.0"},
    ],
)
def test_different_events_get_different_natural_keys(change: dict[str, Any]) -> None:
    assert event_dedupe_keys(_event()).natural != event_dedupe_keys(_event(**change)).natural


def test_natural_key_without_message_id_uses_kizuna_id_then_a_digest() -> None:
    with_kizuna = event_dedupe_keys(_event(sg_message_id=None, kizuna_message_id="msg-1"))
    assert with_kizuna.natural != event_dedupe_keys(_event(sg_message_id=None)).natural
    bare = event_dedupe_keys(_event(sg_message_id=None, sg_event_id=None))
    assert bare.event_id is None
    assert "example.com" not in bare.natural
    same_address = event_dedupe_keys(_event(sg_message_id=None, email="A@Example.com"))
    assert same_address.natural == bare.natural
