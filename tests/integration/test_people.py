"""One person across an account's stores: linking on normalised email through the upsert service.

Real PostgreSQL (the `db` fixture) and a SQLite database built with `app.migrate.upgrade`: a
Shopify and a WooCommerce shop of one account share a person and its orders; a shop of another
account never does; a redact or an email change unlinks, and an orphaned person is deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import make_engine
from app.migrate import upgrade
from app.models import Account, Customer, Person, Shop
from app.services import people
from app.services.redact import redact_customer
from app.services.upsert import upsert_customers, upsert_orders
from connectors.base import CustomerRecord, OrderRecord
from tests.factories.shops import build_shop

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _shop(session: Session, account: Account, platform: str, domain: str) -> Shop:
    return build_shop(session, domain, account=account, commit=False, platform=platform)


def _customer(external_id: str, email: str | None, at: datetime = T0) -> CustomerRecord:
    return CustomerRecord(external_id=external_id, updated_at=at, created_at=T0, email=email)


def _order(external_id: str, customer: CustomerRecord, days: int) -> OrderRecord:
    return OrderRecord(
        external_id=external_id,
        updated_at=T0 + timedelta(days=days),
        processed_at=T0 + timedelta(days=days),
        created_at=T0 + timedelta(days=days),
        currency="JPY",
        total_price=Decimal(1000 + days),
        customer=customer,
        email=customer.email,
    )


def _row(session: Session, shop: Shop, external_id: str) -> Customer:
    session.expire_all()
    return session.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == external_id)
    ).one()


def _person_id(customer: Customer) -> int | None:
    value: int | None = customer.person_id  # type: ignore[attr-defined]
    return value


def _persons(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Person)) or 0


class World:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.merchant = Account(name="Merchant")
        self.other = Account(name="Other merchant")
        session.add_all([self.merchant, self.other])
        session.flush()
        self.shopify = _shop(session, self.merchant, "shopify", "a.myshopify.com")
        self.woo = _shop(session, self.merchant, "woocommerce", "https://woo.example")
        self.foreign = _shop(session, self.other, "shopify", "b.myshopify.com")


def _populate(session: Session) -> World:
    world = World(session)
    # Same shopper, emails differing only in case and spaces; one order in each store.
    shopify_customer = _customer("101", "Ann@Example.com")
    woo_customer = _customer("7", "  ann@example.COM ")
    upsert_orders(session, world.shopify.id, [_order("5001", shopify_customer, 1)])
    upsert_customers(session, world.woo.id, [woo_customer])
    upsert_orders(session, world.woo.id, [_order("9001", woo_customer, 2)])
    # Another account's store, same email.
    foreign_customer = _customer("101", "ann@example.com")
    upsert_orders(session, world.foreign.id, [_order("5001", foreign_customer, 3)])
    # Another shopper in the Shopify store.
    upsert_customers(session, world.shopify.id, [_customer("102", "bob@example.com")])
    session.commit()
    return world


def _check_linking(session: Session) -> None:
    world = _populate(session)
    ann_shopify = _row(session, world.shopify, "101")
    ann_woo = _row(session, world.woo, "7")
    ann_foreign = _row(session, world.foreign, "101")
    bob = _row(session, world.shopify, "102")

    person = _person_id(ann_shopify)
    assert person is not None
    assert _person_id(ann_woo) == person
    assert _person_id(ann_foreign) not in (None, person)
    assert _person_id(bob) not in (None, person)
    assert _persons(session) == 3

    orders = people.person_orders(session, world.merchant.id, person)
    assert [(o.shop_id, o.external_id) for o in orders] == [
        (world.shopify.id, "5001"),
        (world.woo.id, "9001"),
    ]
    # Scoped by account: the merchant's person is invisible from the other account.
    assert people.person_orders(session, world.other.id, person) == []
    foreign_orders = people.person_orders(session, world.other.id, _person_id(ann_foreign) or 0)
    assert [(o.shop_id, o.external_id) for o in foreign_orders] == [(world.foreign.id, "5001")]
    found = people.person_of(session, world.woo.id, ann_woo.id)
    assert found is not None
    assert found.id == person
    assert found.email_normalized == "ann@example.com"
    assert {c.id for c in people.person_customers(session, world.merchant.id, person)} == {
        ann_shopify.id,
        ann_woo.id,
    }


def _check_redact_and_email_change(session: Session) -> None:
    world = _populate(session)
    person = _person_id(_row(session, world.shopify, "101"))

    redact_customer(session, world.shopify.id, "101", "ann@example.com")
    session.commit()
    assert _person_id(_row(session, world.shopify, "101")) is None
    assert _person_id(_row(session, world.woo, "7")) == person  # the other store keeps it
    assert person is not None
    orders = people.person_orders(session, world.merchant.id, person)
    assert [o.external_id for o in orders] == ["9001"]
    # A replayed delivery of the redacted customer does not link it again.
    upsert_customers(session, world.shopify.id, [_customer("101", "ann@example.com", T0)])
    session.commit()
    assert _person_id(_row(session, world.shopify, "101")) is None

    # The last customer of the person changes email: the new person replaces the old one.
    later = T0 + timedelta(days=10)
    upsert_customers(session, world.woo.id, [_customer("7", "ann.new@example.com", later)])
    session.commit()
    moved = _person_id(_row(session, world.woo, "7"))
    assert moved not in (None, person)
    assert session.get(Person, person) is None  # orphaned person (an email) deleted
    assert people.person_orders(session, world.merchant.id, moved or 0)[0].external_id == "9001"

    # The platform blanks the email: unlinked, person deleted.
    upsert_customers(session, world.woo.id, [_customer("7", None, later + timedelta(days=1))])
    session.commit()
    assert _person_id(_row(session, world.woo, "7")) is None
    assert session.get(Person, moved) is None


def test_customers_with_one_email_share_a_person_within_one_account(db: Session) -> None:
    _check_linking(db)


def test_redact_and_email_change_unlink(db: Session) -> None:
    _check_redact_and_email_change(db)


def test_link_shop_links_customers_synced_before_people(db: Session) -> None:
    world = World(db)
    db.add(Customer(shop_id=world.woo.id, external_id="1", email="x@y.z", email_normalized="x@y.z"))
    db.add(Customer(shop_id=world.shopify.id, external_id="1", email_normalized="x@y.z"))
    db.commit()
    assert _person_id(_row(db, world.woo, "1")) is None
    people.link_shop(db, world.woo.id)
    people.link_shop(db, world.shopify.id)
    people.link_shop(db, world.shopify.id)  # idempotent
    db.commit()
    assert _person_id(_row(db, world.woo, "1")) == _person_id(_row(db, world.shopify, "1"))
    assert _persons(db) == 1


@pytest.fixture
def sqlite_session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'people.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_people_on_sqlite(sqlite_session: Session) -> None:
    _check_linking(sqlite_session)


def test_redact_and_email_change_on_sqlite(sqlite_session: Session) -> None:
    _check_redact_and_email_change(sqlite_session)


def test_the_migration_links_customers_that_already_exist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    upgrade(url, "0006_merge")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO accounts (id, name, created_at) VALUES (1, 'a', '2026-11-01'),"
            " (2, 'b', '2026-11-01')"
        )
        for shop_id, account_id, platform in (
            (1, 1, "shopify"),
            (2, 1, "woocommerce"),
            (3, 2, "x"),
        ):
            connection.exec_driver_sql(
                "INSERT INTO shops (id, account_id, platform, domain, status, timezone, currency,"
                " locale, webhooks_subscribed, sync_state, created_at) VALUES"
                " (?, ?, ?, ?, 'active', 'UTC', 'JPY', 'en', 0, '{}', '2026-11-01')",
                (shop_id, account_id, platform, f"d{shop_id}"),
            )
        for customer_id, shop_id, email, redacted in (
            (1, 1, "ann@example.com", None),
            (2, 2, "ann@example.com", None),
            (3, 3, "ann@example.com", None),
            (4, 1, None, "2026-11-02"),
        ):
            connection.exec_driver_sql(
                "INSERT INTO customers (id, shop_id, external_id, email_normalized, tags,"
                " orders_count, total_spent, redacted_at, created_at, updated_at) VALUES"
                " (?, ?, ?, ?, '[]', 0, 0, ?, '2026-11-01', '2026-11-01')",
                (customer_id, shop_id, str(customer_id), email, redacted),
            )
    engine.dispose()

    upgrade(url)

    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.execute(select(Customer.id, Customer.person_id))  # type: ignore[attr-defined]
        linked = {row.id: row.person_id for row in rows}
        assert linked[1] is not None
        assert linked[1] == linked[2]
        assert linked[3] not in (None, linked[1])
        assert linked[4] is None
        assert _persons(session) == 2
    engine.dispose()
