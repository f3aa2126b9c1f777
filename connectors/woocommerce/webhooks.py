"""WooCommerce webhook deliveries: the signature check, the ping, the dedupe key, topics.

Layer: connectors (pure). Base64 HMAC-SHA256, constant time, current then previous secret.
Deliveries carry no stable id, so the dedupe key hashes shop, topic, resource id, modified time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
WEBHOOK_ID_HEADER = "X-WC-Webhook-ID"
DELIVERY_ID_HEADER = "X-WC-Webhook-Delivery-ID"

# What Kizuna subscribes to (created on install, re-created by the periodic reconcile).
TOPICS = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "order.created",
    "order.updated",
    "order.restored",
    "product.created",
    "product.updated",
)

_PING = re.compile(rb"^webhook_id=\d+$")


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str  # "valid", "previous_secret", "missing_signature", "malformed", "mismatch"


def expected_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_webhook_signature(
    body: bytes, signature: str | None, secret: str | Iterable[str]
) -> Verification:
    """Check a delivery against the shop's secret (or secrets, current first)."""
    if not signature:
        return Verification(False, "missing_signature")
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Verification(False, "malformed")
    secrets = [secret] if isinstance(secret, str) else [s for s in secret if s]
    for index, candidate in enumerate(secrets):
        digest = hmac.new(candidate.encode(), body, hashlib.sha256).digest()
        if hmac.compare_digest(digest, given):
            return Verification(True, "valid" if index == 0 else "previous_secret")
    return Verification(False, "mismatch")


def is_ping(body: bytes, headers: Mapping[str, str]) -> bool:
    """The unsigned `webhook_id=N` form post sent when a webhook is created."""
    return headers.get(TOPIC_HEADER) is None and bool(_PING.match(body.strip()))


def resource_id(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("id")
    return str(value) if isinstance(value, int | str) and str(value) else None


def modified_marker(payload: Mapping[str, Any]) -> str:
    return str(payload.get("date_modified_gmt") or payload.get("date_modified") or "")


def dedupe_key(shop_id: int, topic: str, payload: Mapping[str, Any], body: bytes) -> str:
    """Same resource state delivered twice → same key; a `*.deleted` ({"id": N}) once per id."""
    rid = resource_id(payload)
    if rid is None:
        material = f"{shop_id}|{topic}|body|".encode() + body
    else:
        material = f"{shop_id}|{topic}|{rid}|{modified_marker(payload)}".encode()
    return "wc:" + hashlib.sha256(material).hexdigest()
