"""Signed Shopify webhook deliveries from the captured samples, and the shop they go to.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.models import Shop
from tests.conftest import SHOPIFY_API_SECRET
from tests.factories.shops import build_shop

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


SAMPLES = SHARED / "specs" / "shopify" / "webhook_samples" / "hookdeck_capture_2026-07"


DOMAIN = "kizuna-test.myshopify.com"


def sample_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SAMPLES / name).read_text())["body"]
    return body


def sign(body: bytes, secret: str = SHOPIFY_API_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    topic: str,
    body: bytes,
    *,
    webhook_id: str | None,
    domain: str = DOMAIN,
    secret: str = SHOPIFY_API_SECRET,
    triggered_at: str = "2026-08-06T15:01:47.637175100Z",
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Event-Id": f"event-{webhook_id}",
        "X-Shopify-Triggered-At": triggered_at,
    }
    if webhook_id is not None:
        headers["X-Shopify-Webhook-Id"] = webhook_id
    return headers


def deliver(client: Any, topic: str, body: dict[str, Any] | bytes, **options: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    options.setdefault("webhook_id", f"wh-{hashlib.sha1(raw).hexdigest()[:12]}-{topic}")  # noqa: S324
    return client.post(
        "/webhooks/shopify", data=raw, headers=shopify_headers(topic, raw, **options)
    )


def make_shop(session: Session, domain: str = DOMAIN, status: str = "active") -> Shop:
    return build_shop(
        session,
        domain,
        status=status,
        access_token_encrypted=b"ciphertext-access",
        refresh_token_encrypted=b"ciphertext-refresh",
        installed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def shop(db: Session) -> Shop:
    return make_shop(db)
