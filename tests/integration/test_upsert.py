"""Upserts of customers, orders, checkouts and products: "newer wins", consent, totals.

Integration tests, each run twice: on the real PostgreSQL test database and on a SQLite file
built with `alembic upgrade head` (the embedded mode).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Checkout,
    Customer,
    Order,
    OrderLine,
    Product,
    ProductVariant,
    TimelineEvent,
)
from app.services.upsert import (
    upsert_checkouts,
    upsert_customers,
    upsert_orders,
    upsert_products,
)
from connectors.base import (
    CheckoutRecord,
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    VariantRecord,
)
from tests.factories.shops import build_shop

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def session(db_or_sqlite: Session) -> Session:
    return db_or_sqlite


def make_shop(session: Session, domain: str = "upsert-test.myshopify.com") -> int:
    return build_shop(session, domain).id


@pytest.fixture
def shop_id(session: Session) -> int:
    return make_shop(session)


def customer(session: Session, shop_id: int, external_id: str = "100") -> Customer:
    session.expire_all()
    return session.scalars(
        select(Customer).where(Customer.shop_id == shop_id, Customer.external_id == external_id)
    ).one()


def person(**changes: object) -> CustomerRecord:
    base = CustomerRecord(
        external_id="100",
        updated_at=at(0),
        created_at=at(0),
        email="  Ada@Example.COM ",
        first_name="Ada",
        last_name="Lovelace",
        phone="+44 20 0000 0000",
        city="London",
        country_code="GB",
        locale="en",
        tags=("vip",),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def order(external_id: str = "5001", **changes: object) -> OrderRecord:
    base = OrderRecord(
        external_id=external_id,
        updated_at=at(1),
        created_at=at(1),
        processed_at=at(1),
        currency="EUR",
        total_price=Decimal("40.00"),
        name=f"#{external_id}",
        customer=CustomerRecord(external_id="100", updated_at=None, email="ada@example.com"),
        email="ada@example.com",
        billing_name="Ada Lovelace",
        lines=(
            OrderLineRecord(f"{external_id}-1", "Sencha", 2, Decimal("10.00"), "p1", "v1", "S1"),
            OrderLineRecord(f"{external_id}-2", "Teapot", 1, Decimal("20.00"), "p2", "v2", "T1"),
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- customers -------------------------------------------------------------------------------


def test_insert_normalises_email_and_stores_everything(session: Session, shop_id: int) -> None:
    assert upsert_customers(session, shop_id, [person()]) == 1
    session.commit()
    row = customer(session, shop_id)
    assert row.email == "  Ada@Example.COM "
    assert row.email_normalized == "ada@example.com"
    assert (row.first_name, row.city, row.tags) == ("Ada", "London", ["vip"])
    assert row.platform_updated_at == at(0)


def test_newer_wins_and_older_changes_nothing(session: Session, shop_id: int) -> None:
    upsert_customers(session, shop_id, [person(updated_at=at(2), first_name="Newer")])
    session.commit()
    assert upsert_customers(session, shop_id, [person(updated_at=at(1), first_name="Older")]) == 0
    session.commit()
    row = customer(session, shop_id)
    assert row.first_name == "Newer"
    assert row.platform_updated_at == at(2)
    assert upsert_customers(session, shop_id, [person(updated_at=at(3), first_name="Newest")]) == 1
    session.commit()
    assert customer(session, shop_id).first_name == "Newest"


def test_reordered_batch_ends_on_the_newest(session: Session, shop_id: int) -> None:
    records = [
        person(updated_at=at(5), first_name="Five"),
        person(updated_at=at(9), first_name="Nine"),
        person(updated_at=at(7), first_name="Seven"),
    ]
    assert upsert_customers(session, shop_id, records) == 2
    session.commit()
    assert customer(session, shop_id).first_name == "Nine"


def test_unknown_tags_keep_the_stored_tags(session: Session, shop_id: int) -> None:
    upsert_customers(session, shop_id, [person(tags=("vip", "tea"))])
    upsert_customers(session, shop_id, [person(updated_at=at(1), tags=None, first_name="B")])
    session.commit()
    row = customer(session, shop_id)
    assert (row.first_name, row.tags) == ("B", ["vip", "tea"])
    upsert_customers(session, shop_id, [person(updated_at=at(2), tags=())])
    session.commit()
    assert customer(session, shop_id).tags == []


def test_consent_is_kept_when_unknown_and_moves_only_forward(
    session: Session, shop_id: int
) -> None:
    subscribed = person(
        email_marketing_state="subscribed",
        email_marketing_opt_in_level="single_opt_in",
        email_marketing_updated_at=at(1),
    )
    upsert_customers(session, shop_id, [subscribed])
    # A newer profile update that says nothing about consent keeps it.
    upsert_customers(session, shop_id, [person(updated_at=at(3), first_name="Ada B.")])
    session.commit()
    row = customer(session, shop_id)
    assert (row.first_name, row.email_marketing_state) == ("Ada B.", "subscribed")

    # Consent dated before the stored consent is ignored, even on a newer profile record.
    stale = person(
        updated_at=at(4),
        first_name="Ada B.",
        email_marketing_state="unsubscribed",
        email_marketing_updated_at=at(0),
    )
    upsert_customers(session, shop_id, [stale])
    session.commit()
    assert customer(session, shop_id).email_marketing_state == "subscribed"

    # Newer consent applies even on an older profile record (its own clock).
    later = person(
        updated_at=at(-5), email_marketing_state="unsubscribed", email_marketing_updated_at=at(6)
    )
    assert upsert_customers(session, shop_id, [later]) == 1
    session.commit()
    row = customer(session, shop_id)
    assert row.email_marketing_state == "unsubscribed"
    assert row.email_marketing_opt_in_level is None
    assert row.email_marketing_updated_at == at(6)
    assert row.first_name == "Ada B."  # the profile did not go back in time


def test_consent_only_record_does_not_blank_the_profile(session: Session, shop_id: int) -> None:
    upsert_customers(session, shop_id, [person()])
    consent = CustomerRecord(
        external_id="100",
        updated_at=None,
        email="other@example.com",
        tags=None,
        email_marketing_state="subscribed",
        email_marketing_updated_at=at(2),
    )
    assert upsert_customers(session, shop_id, [consent]) == 1
    session.commit()
    row = customer(session, shop_id)
    assert (row.first_name, row.email, row.city) == ("Ada", "  Ada@Example.COM ", "London")
    assert row.email_marketing_state == "subscribed"


def test_record_without_time_only_fills_gaps(session: Session, shop_id: int) -> None:
    upsert_customers(session, shop_id, [person(phone=None)])
    from_order = CustomerRecord(
        external_id="100", updated_at=None, first_name="Someone", phone="+1 555 0100"
    )
    assert upsert_customers(session, shop_id, [from_order]) == 1
    session.commit()
    row = customer(session, shop_id)
    assert (row.first_name, row.phone) == ("Ada", "+1 555 0100")


def test_redacted_customer_is_never_refilled(session: Session, shop_id: int) -> None:
    upsert_customers(session, shop_id, [person()])
    session.commit()
    row = customer(session, shop_id)
    for column in ("email", "email_normalized", "first_name", "last_name", "phone", "city"):
        setattr(row, column, None)
    row.redacted_at = at(1)
    session.commit()
    upsert_customers(session, shop_id, [person(updated_at=at(10), country_code="FR")])
    upsert_customers(session, shop_id, [person(updated_at=None)])
    session.commit()
    row = customer(session, shop_id)
    assert (row.email, row.first_name, row.phone, row.city) == (None, None, None, None)
    assert row.country_code == "FR"


def test_customers_are_scoped_by_shop(session: Session, shop_id: int) -> None:
    other = make_shop(session, "other-shop.myshopify.com")
    upsert_customers(session, shop_id, [person(first_name="Mine")])
    upsert_customers(session, other, [person(first_name="Theirs", updated_at=at(9))])
    session.commit()
    assert customer(session, shop_id).first_name == "Mine"
    assert customer(session, other).first_name == "Theirs"


# --- orders ----------------------------------------------------------------------------------


def test_order_creates_its_customer_and_totals(session: Session, shop_id: int) -> None:
    cancelled = order("5002", processed_at=at(5), cancelled_at=at(6), total_price=Decimal("15"))
    assert upsert_orders(session, shop_id, [order("5001"), cancelled]) == 2
    session.commit()
    row = customer(session, shop_id)
    assert row.email_normalized == "ada@example.com"
    assert row.orders_count == 2
    assert row.total_spent == Decimal("40.00")  # the cancelled order does not count
    assert (row.first_order_at, row.last_order_at) == (at(1), at(5))
    assert row.currency == "EUR"
    stored = session.scalars(select(Order).where(Order.shop_id == shop_id)).all()
    assert {o.customer_id for o in stored} == {row.id}


def test_order_lines_are_replaced_and_older_updates_ignored(session: Session, shop_id: int) -> None:
    upsert_orders(session, shop_id, [order()])
    edited = order(
        updated_at=at(3),
        total_price=Decimal("10.00"),
        lines=(OrderLineRecord("5001-1", "Sencha", 1, Decimal("10.00")),),
    )
    assert upsert_orders(session, shop_id, [edited]) == 1
    assert upsert_orders(session, shop_id, [order(updated_at=at(2))]) == 0
    session.commit()
    lines = session.scalars(select(OrderLine).where(OrderLine.shop_id == shop_id)).all()
    assert [(line.external_id, line.quantity) for line in lines] == [("5001-1", 1)]
    assert customer(session, shop_id).total_spent == Decimal("10.00")


def test_order_placed_is_written_once(session: Session, shop_id: int) -> None:
    upsert_orders(session, shop_id, [order()])
    upsert_orders(session, shop_id, [order(updated_at=at(4), financial_status="paid")])
    upsert_orders(session, shop_id, [order(updated_at=at(4))])
    session.commit()
    events = session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.shop_id == shop_id, TimelineEvent.kind == "order_placed"
        )
    ).all()
    assert [(e.source_key, e.detail["total_price"]) for e in events] == [("5001", "40.00")]
    assert events[0].occurred_at == at(1)


def test_order_without_customer_is_stored_unlinked(session: Session, shop_id: int) -> None:
    assert upsert_orders(session, shop_id, [order(customer=None)]) == 1
    session.commit()
    stored = session.scalars(select(Order).where(Order.shop_id == shop_id)).one()
    assert stored.customer_id is None
    assert session.scalar(select(func.count(TimelineEvent.id))) == 0


def test_order_of_a_redacted_customer_keeps_personal_columns_blank(
    session: Session, shop_id: int
) -> None:
    upsert_customers(session, shop_id, [person()])
    session.commit()
    row = customer(session, shop_id)
    row.email = row.email_normalized = row.first_name = None
    row.redacted_at = at(0)
    session.commit()
    upsert_orders(session, shop_id, [order()])
    session.commit()
    stored = session.scalars(select(Order).where(Order.shop_id == shop_id)).one()
    assert (stored.email, stored.billing_name) == (None, None)
    assert customer(session, shop_id).email is None


def test_order_moving_to_another_customer_updates_both_totals(
    session: Session, shop_id: int
) -> None:
    upsert_orders(session, shop_id, [order()])
    moved = order(updated_at=at(2), customer=CustomerRecord(external_id="200", updated_at=None))
    upsert_orders(session, shop_id, [moved])
    session.commit()
    assert customer(session, shop_id, "100").orders_count == 0
    assert customer(session, shop_id, "100").last_order_at is None
    assert customer(session, shop_id, "200").orders_count == 1


# --- checkouts -------------------------------------------------------------------------------


def checkout(**changes: object) -> CheckoutRecord:
    base = CheckoutRecord(
        external_id="tok-1",
        updated_at=at(1),
        created_at=at(1),
        currency="EUR",
        total_price=Decimal("25.00"),
        email=" ADA@example.com",
        recovery_url="https://shop.example/checkouts/tok-1/recover?key=k",
        line_items=({"title": "Sencha", "quantity": 1, "price": "25.00"},),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_checkout_links_by_normalised_email(session: Session, shop_id: int) -> None:
    upsert_customers(session, shop_id, [person()])
    assert upsert_checkouts(session, shop_id, [checkout()]) == 1
    session.commit()
    stored = session.scalars(select(Checkout).where(Checkout.shop_id == shop_id)).one()
    assert stored.customer_id == customer(session, shop_id).id
    assert stored.line_items == [{"title": "Sencha", "quantity": 1, "price": "25.00"}]


def test_checkout_links_by_external_id_and_creates_the_customer(
    session: Session, shop_id: int
) -> None:
    named = checkout(
        email="someone@example.com",
        customer=CustomerRecord(external_id="300", updated_at=None, email="someone@example.com"),
    )
    upsert_checkouts(session, shop_id, [named])
    session.commit()
    stored = session.scalars(select(Checkout).where(Checkout.shop_id == shop_id)).one()
    assert stored.customer_id == customer(session, shop_id, "300").id
    assert stored.customer_external_id == "300"


def test_checkout_without_match_stays_unlinked_and_newer_wins(
    session: Session, shop_id: int
) -> None:
    upsert_checkouts(session, shop_id, [checkout(email="nobody@example.com")])
    upsert_checkouts(session, shop_id, [checkout(updated_at=at(5), completed_at=at(5))])
    upsert_checkouts(session, shop_id, [checkout(updated_at=at(2), total_price=Decimal(1))])
    session.commit()
    stored = session.scalars(select(Checkout).where(Checkout.shop_id == shop_id)).one()
    assert stored.customer_id is None
    assert stored.completed_at == at(5)
    assert stored.total_price == Decimal("25.00")


def test_checkout_email_match_ignores_other_shops(session: Session, shop_id: int) -> None:
    other = make_shop(session, "other-shop.myshopify.com")
    upsert_customers(session, other, [person()])
    upsert_checkouts(session, shop_id, [checkout()])
    session.commit()
    stored = session.scalars(select(Checkout).where(Checkout.shop_id == shop_id)).one()
    assert stored.customer_id is None


# --- products --------------------------------------------------------------------------------


def test_products_newer_wins_and_variants_follow(session: Session, shop_id: int) -> None:
    product = ProductRecord(
        external_id="p1",
        title="Sencha",
        updated_at=at(1),
        currency="EUR",
        variants=(VariantRecord("v1", Decimal("10")), VariantRecord("v2", Decimal("18"))),
    )
    assert upsert_products(session, shop_id, [product]) == 1
    newer = replace(
        product,
        title="Sencha Premium",
        updated_at=at(2),
        variants=(VariantRecord("v2", Decimal("19"), title="100 g"),),
    )
    assert upsert_products(session, shop_id, [newer]) == 1
    assert upsert_products(session, shop_id, [replace(product, title="Old")]) == 0
    session.commit()
    stored = session.scalars(select(Product).where(Product.shop_id == shop_id)).one()
    assert stored.title == "Sencha Premium"
    variants = session.scalars(
        select(ProductVariant).where(ProductVariant.shop_id == shop_id)
    ).all()
    assert [(v.external_id, v.price, v.title) for v in variants] == [("v2", Decimal(19), "100 g")]
