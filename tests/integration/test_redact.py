"""GDPR erasure through the real webhook path: customers/redact and shop/redact.

Integration tests on real PostgreSQL and Redis. Erasure is checked by scanning every row of the
tables that can hold personal data for the person's email and name, not by trusting the code's
own list of columns.
"""

from __future__ import annotations

import json
from typing import Any

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
from app.queueing import WEBHOOKS
from app.services.redact import redact_customer, redact_shop
from app.services.upsert import upsert_customers
from jobs.process_webhook import process_webhook_event
from tests.factories.redact import (
    DOMAIN,
    PERSONAL_TABLES,
    TARGET_ID,
    TARGET_STRINGS,
    deliver,
    person,
    rows_text,
    stocked,
    template,
)

__all__ = ["stocked"]  # the fixture, from the redact factories


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
