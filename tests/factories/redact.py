"""What the redact and data-request tests share: the GDPR webhook samples, a signed delivery,
a shop stocked with a target customer and a bystander in every table that holds personal data.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import (
    Shop,
    WebhookEvent,
)
from app.models.opt_in import OptInRequest
from app.services.upsert import upsert_checkouts, upsert_customers, upsert_orders, upsert_products
from connectors.base import (
    CheckoutRecord,
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    VariantRecord,
)
from tests.conftest import SHOPIFY_API_SECRET
from tests.factories.shops import build_shop

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
GDPR = SHARED / "specs" / "shopify" / "webhook_samples" / "official_template_gdpr"
DOMAIN = "redact-test.myshopify.com"
OTHER_DOMAIN = "bystander-shop.myshopify.com"
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

# The official template's customer: id 191167, john@example.com, orders 299938/280263/220458.
TARGET_ID = "191167"
TARGET_STRINGS = ("john@example.com", "JOHN@EXAMPLE.COM", "Johnathan", "Smithers", "555-625-1199")
BYSTANDER_STRINGS = ("mary@example.com", "Mary", "Major")
PERSONAL_TABLES = ("customers", "orders", "checkouts", "opt_in_requests", "webhook_events")


def template(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((GDPR / name).read_text())
    return body


def deliver(client: Any, topic: str, body: dict[str, Any], webhook_id: str, domain: str) -> Any:
    raw = json.dumps({**body, "shop_domain": domain}).encode()
    signature = base64.b64encode(
        hmac.new(SHOPIFY_API_SECRET.encode(), raw, hashlib.sha256).digest()
    ).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": "2026-08-06T15:02:23Z",
    }
    response = client.post("/webhooks/shopify", data=raw, headers=headers)
    assert response.status_code == 200
    return response


def rows_text(db: Session, table: str, shop_id: int | None = None) -> str:
    """Every value of every row of `table` (optionally one shop's), as one string."""
    db.expire_all()
    query = f"SELECT * FROM {table}"  # noqa: S608 - table names are this file's constants
    if shop_id is not None:
        query += " WHERE shop_id = :shop_id"
    rows = db.execute(text(query), {"shop_id": shop_id}).all()
    return "\n".join(repr(tuple(row)) for row in rows)


def make_shop(db: Session, domain: str) -> Shop:
    return build_shop(
        db,
        domain,
        name="Tea Shop",
        scopes="read_customers",
        access_token_encrypted=b"ciphertext",
        installed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def person(external_id: str, email: str, first: str, last: str) -> CustomerRecord:
    return CustomerRecord(
        external_id=external_id,
        updated_at=T0,
        email=email,
        first_name=first,
        last_name=last,
        phone="555-625-1199" if external_id == TARGET_ID else None,
        city="Ottawa",
    )


def an_order(external_id: str, who: CustomerRecord | None, email: str, name: str) -> OrderRecord:
    return OrderRecord(
        external_id=external_id,
        updated_at=T0,
        currency="USD",
        total_price=Decimal("12.50"),
        processed_at=T0,
        customer=who,
        email=email,
        billing_name=name,
        lines=(OrderLineRecord(f"{external_id}-1", "Genmaicha", 1, Decimal("12.50")),),
    )


def a_checkout(token: str, who: CustomerRecord | None, email: str) -> CheckoutRecord:
    return CheckoutRecord(
        external_id=token,
        updated_at=T0,
        currency="USD",
        total_price=Decimal("8.00"),
        email=email,
        customer=who,
        line_items=({"title": "Hojicha", "quantity": 1, "price": "8.00"},),
    )


def pending_event(db: Session, shop: Shop, topic: str, resource: str, payload: dict) -> None:
    """A delivery still pending: waiting for its retry, an hour from now."""
    db.add(
        WebhookEvent(
            platform="shopify",
            dedupe_key=f"pending-{topic}-{resource}",
            shop_id=shop.id,
            shop_domain=shop.domain,
            topic=topic,
            resource_id=resource,
            payload=json.dumps(payload),
            status="pending",
            next_attempt_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )


@pytest.fixture
def stocked(db: Session) -> dict[str, Shop]:
    """Two shops; in the first, the target (by id, as a guest by email, in orders_to_redact)
    and a bystander; the second shop has the same person, who must not be touched."""
    shop = make_shop(db, DOMAIN)
    other = make_shop(db, OTHER_DOMAIN)
    target = person(TARGET_ID, "John@Example.com", "Johnathan", "Smithers")
    bystander = person("777", "mary@example.com", "Mary", "Major")
    upsert_customers(db, shop.id, [target, bystander])
    upsert_orders(
        db,
        shop.id,
        [
            an_order("1001", target, "john@example.com", "Johnathan Smithers"),
            an_order("1002", None, " JOHN@EXAMPLE.COM", "Johnathan Smithers"),  # guest checkout
            an_order("299938", None, "old-address@example.net", "Johnathan Smithers"),
            an_order("2001", bystander, "mary@example.com", "Mary Major"),
        ],
    )
    upsert_checkouts(
        db,
        shop.id,
        [
            a_checkout("tok-target", target, "john@example.com"),
            a_checkout("tok-guest", None, "john@example.com"),
            a_checkout("tok-mary", None, "mary@example.com"),
        ],
    )
    upsert_products(
        db,
        shop.id,
        [ProductRecord("p1", "Genmaicha", T0, "USD", variants=(VariantRecord("v1", Decimal(5)),))],
    )
    pending_event(
        db, shop, "customers/update", TARGET_ID, {"id": 191167, "email": "john@example.com"}
    )
    pending_event(
        db,
        shop,
        "orders/updated",
        "299938",
        {"id": 299938, "billing_address": "Johnathan Smithers"},
    )
    pending_event(db, shop, "customers/update", "777", {"id": 777, "email": "mary@example.com"})
    upsert_customers(db, other.id, [person(TARGET_ID, "john@example.com", "Johnathan", "Smithers")])
    for address in ("john@example.com", "mary@example.com"):  # storefront opt-ins asked for
        db.add(OptInRequest(shop_id=shop.id, email_normalized=address, requested_at=T0))
    db.commit()
    return {"shop": shop, "other": other}
