"""GDPR erasure through the real webhook path: customers/redact and shop/redact.

Integration tests on real PostgreSQL and Redis. Erasure is checked by scanning every row of the
tables that can hold personal data for the person's email and name, not by trusting the code's
own list of columns.
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
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app.models import (
    Checkout,
    Customer,
    Order,
    OrderLine,
    Product,
    Shop,
    TimelineEvent,
    WebhookEvent,
)
from app.models.opt_in import OptInRequest
from app.queueing import WEBHOOKS
from app.services.redact import redact_customer, redact_shop
from app.services.upsert import upsert_checkouts, upsert_customers, upsert_orders, upsert_products
from connectors.base import (
    CheckoutRecord,
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    VariantRecord,
)
from jobs.process_webhook import process_webhook_event
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


def assert_target_erased(db: Session, shop: Shop) -> None:
    for table in PERSONAL_TABLES:
        dump = rows_text(db, table, shop.id)
        for value in TARGET_STRINGS:
            assert value.lower() not in dump.lower(), f"{value!r} still in {table}"


def assert_bystander_intact(
    db: Session, shop: Shop, tables: tuple[str, ...] = PERSONAL_TABLES
) -> None:
    for table in tables:
        assert "mary@example.com" in rows_text(db, table, shop.id), table


def test_customer_redact_erases_the_person_everywhere(
    client: Any, db: Session, stocked: dict[str, Shop], drain_jobs: Any
) -> None:
    shop, other = stocked["shop"], stocked["other"]
    before = rows_text(db, "orders", shop.id) + rows_text(db, "webhook_events", shop.id)
    assert all(value.lower() in before.lower() for value in ("john@example.com", "Smithers"))

    deliver(client, "customers/redact", template("customers_redact.body.json"), "wh-r1", DOMAIN)
    drain_jobs(WEBHOOKS)

    assert_target_erased(db, shop)
    assert_bystander_intact(db, shop)
    # The same person in another shop is another merchant's customer: untouched.
    assert "john@example.com" in rows_text(db, "customers", other.id)
    target = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == TARGET_ID)
    ).one()
    assert target.redacted_at is not None
    assert target.orders_count == 1  # non-personal history stays
    assert db.scalar(select(func.count(OrderLine.id)).where(OrderLine.shop_id == shop.id)) == 4
    statuses = dict(db.execute(select(WebhookEvent.dedupe_key, WebhookEvent.status)).all())
    assert statuses["wh-r1"] == "processed"

    # The erased pending deliveries are finished without bringing anything back.
    pending = db.scalars(select(WebhookEvent.id).where(WebhookEvent.status == "pending")).all()
    assert len(pending) == 3
    db.execute(update(WebhookEvent).values(next_attempt_at=None))  # their retries fall due
    db.commit()
    for event_id in pending:
        assert process_webhook_event(event_id) == "processed"
    assert_target_erased(db, shop)
    assert_bystander_intact(db, shop, ("customers", "orders", "checkouts"))


def test_customer_redact_twice_and_late_replays_are_harmless(
    client: Any, db: Session, stocked: dict[str, Shop], drain_jobs: Any
) -> None:
    shop = stocked["shop"]
    body = template("customers_redact.body.json")
    deliver(client, "customers/redact", body, "wh-r1", DOMAIN)
    drain_jobs(WEBHOOKS)
    first = db.scalars(
        select(Customer.redacted_at).where(
            Customer.shop_id == shop.id, Customer.external_id == TARGET_ID
        )
    ).one()
    deliver(client, "customers/redact", body, "wh-r2", DOMAIN)
    drain_jobs(WEBHOOKS)
    assert_target_erased(db, shop)
    db.expire_all()
    again = db.scalars(
        select(Customer.redacted_at).where(
            Customer.shop_id == shop.id, Customer.external_id == TARGET_ID
        )
    ).one()
    assert again == first

    # A delayed, even newer-looking, customers/update cannot bring the data back.
    late = {
        "id": 191167,
        "admin_graphql_api_id": "gid://shopify/Customer/191167",
        "email": "john@example.com",
        "first_name": "Johnathan",
        "last_name": "Smithers",
        "updated_at": "2030-01-01T00:00:00Z",
    }
    deliver(client, "customers/update", late, "wh-late", DOMAIN)
    drain_jobs(WEBHOOKS)
    assert_target_erased(db, shop)


def test_redacting_a_customer_we_never_saw_leaves_a_blank_tombstone(
    db: Session, stocked: dict[str, Shop]
) -> None:
    shop = stocked["shop"]
    first = redact_customer(db, shop.id, "424242", "ghost@example.com", [])
    db.commit()
    second = redact_customer(db, shop.id, "424242", "ghost@example.com", [])
    db.commit()
    assert (first.customers, second.customers) == (0, 1)  # then the tombstone, already blank
    upsert_customers(db, shop.id, [person("424242", "ghost@example.com", "Ghost", "Writer")])
    db.commit()
    assert "ghost" not in rows_text(db, "customers", shop.id).lower()


def test_data_request_is_recorded_for_the_merchant(
    client: Any, db: Session, stocked: dict[str, Shop], drain_jobs: Any
) -> None:
    shop = stocked["shop"]
    body = template("customers_data_request.body.json")
    deliver(client, "customers/data_request", body, "wh-dr1", DOMAIN)
    deliver(client, "customers/data_request", body, "wh-dr2", DOMAIN)  # a redelivery
    drain_jobs(WEBHOOKS)
    db.expire_all()
    events = db.scalars(
        select(TimelineEvent).where(
            TimelineEvent.shop_id == shop.id, TimelineEvent.kind == "data_request"
        )
    ).all()
    assert [(e.source_key, e.detail["request_id"]) for e in events] == [("9999", "9999")]
    stored = db.get(Shop, shop.id)
    assert stored is not None
    assert [r["request_id"] for r in stored.sync_state["data_requests"]] == ["9999"]
    assert "john@" not in json.dumps(stored.sync_state)
    assert stored.last_error is None


def test_shop_redact_erases_the_shop_and_is_safe_twice(
    client: Any, db: Session, stocked: dict[str, Shop], drain_jobs: Any
) -> None:
    shop, other = stocked["shop"], stocked["other"]
    people_before = (
        db.execute(
            text("SELECT email_normalized FROM persons WHERE account_id = :a"),
            {"a": shop.account_id},
        )
        .scalars()
        .all()
    )
    assert "mary@example.com" in people_before
    body = template("shop_redact.body.json")
    deliver(client, "shop/redact", body, "wh-s1", DOMAIN)
    drain_jobs(WEBHOOKS)
    deliver(client, "shop/redact", body, "wh-s2", DOMAIN)
    drain_jobs(WEBHOOKS)

    for model in (Customer, Order, OrderLine, Checkout, Product, TimelineEvent):
        count = db.scalar(select(func.count(model.id)).where(model.shop_id == shop.id))
        assert count == 0, model.__tablename__
    assert "mary@example.com" not in rows_text(db, "webhook_events", shop.id)
    db.expire_all()
    tombstone = db.get(Shop, shop.id)
    assert tombstone is not None
    assert (tombstone.status, tombstone.name, tombstone.scopes) == ("uninstalled", None, None)
    assert tombstone.access_token_encrypted is None
    assert [e.status for e in db.scalars(select(WebhookEvent).order_by(WebhookEvent.id))][-2:] == [
        "processed",
        "processed",
    ]
    # The other shop keeps everything.
    assert "john@example.com" in rows_text(db, "customers", other.id)
    # No person of this shop's account outlives its customer rows.
    people_after = (
        db.execute(
            text("SELECT email_normalized FROM persons WHERE account_id = :a"),
            {"a": shop.account_id},
        )
        .scalars()
        .all()
    )
    assert "mary@example.com" not in people_after


def test_shop_redact_of_an_unknown_or_erased_shop_is_a_no_op(
    db: Session, stocked: dict[str, Shop]
) -> None:
    assert redact_shop(db, "never-here.myshopify.com") is False
    assert redact_shop(db, DOMAIN) is True
    db.commit()
    assert redact_shop(db, DOMAIN) is True
    db.commit()
    assert db.scalar(select(func.count(Customer.id))) == 1  # only the other shop's


def test_customer_redact_blanks_the_merchants_notes_about_them(
    client: Any, db: Session, stocked: dict[str, Shop], drain_jobs: Any
) -> None:
    from app.models.inquiry import Inquiry

    shop = stocked["shop"]
    target = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == TARGET_ID)
    ).one()
    db.add(
        Inquiry(
            shop_id=shop.id,
            customer_id=target.id,
            channel="email",
            kind="complaint",
            subject="Parcel for Smithers arrived late",
            notes="Reply to john@example.com before Friday",
        )
    )
    db.commit()

    deliver(client, "customers/redact", template("customers_redact.body.json"), "wh-r9", DOMAIN)
    drain_jobs(WEBHOOKS)

    dump = rows_text(db, "inquiries", shop.id).lower()
    assert "smithers" not in dump
    assert "john@example.com" not in dump
    assert "complaint" in dump  # what kind of contact it was is not personal data
