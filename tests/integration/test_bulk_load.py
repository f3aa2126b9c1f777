"""The set-based bulk load (COPY into staging + merge) writes what the row-wise upserts write.

Integration tests on the real PostgreSQL test database (and SQLite, where the loaders fall back
to the row-wise upserts): the same records through both paths give the same customers, people
links, orders, lines, timeline events and totals; newer rows already stored win; a re-import
changes nothing; a bulk backfill through the simulated Shopify shows its progress as it goes.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.models import (
    Checkout,
    Customer,
    Order,
    OrderLine,
    Person,
    Product,
    ProductVariant,
    TimelineEvent,
)
from app.models.opt_in import OptInRequest
from app.models.product import ProductCollection
from app.services import bulk_load
from app.services.upsert import upsert_checkouts, upsert_customers, upsert_orders, upsert_products
from connectors.base import (
    CheckoutRecord,
    CollectionRef,
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


def make_shop(session: Session, domain: str) -> int:
    return build_shop(session, domain, account_name=f"Merchant {domain}").id


def customers(count: int, seed: int, hour: float = 0) -> list[CustomerRecord]:
    rng = random.Random(seed)
    records = []
    for n in range(count):
        consent = rng.choice([None, "SUBSCRIBED", "UNSUBSCRIBED"])
        records.append(
            CustomerRecord(
                external_id=str(1000 + n),
                updated_at=at(hour + rng.random()),
                created_at=at(-100),
                email=rng.choice([f" Buyer{n}@Example.com", f"shared{n % 7}@example.com", None]),
                first_name=rng.choice(["Aoi", "Ren", None]),
                last_name=f"Sato{n}",
                phone=None,
                city=rng.choice(["Kyoto", None]),
                country_code=rng.choice(["JP", None]),
                locale="ja",
                tags=rng.choice([(), ("vip",), ("a", "b")]),
                email_marketing_state=consent,
                email_marketing_opt_in_level="SINGLE_OPT_IN" if consent else None,
                email_marketing_updated_at=at(hour - 1) if consent else None,
            )
        )
    return records


def orders(count: int, seed: int, hour: float = 5) -> list[OrderRecord]:
    rng = random.Random(seed)
    records = []
    for n in range(count):
        buyer = rng.choice([None, *range(1000, 1030), *range(5000, 5005)])  # 5000+: order-only
        external_id = str(90000 + n)
        records.append(
            OrderRecord(
                external_id=external_id,
                updated_at=at(hour + rng.random()),
                created_at=at(hour - 50 + n),
                processed_at=rng.choice([at(hour - 50 + n), None]),
                currency="JPY",
                total_price=Decimal(rng.randint(100, 9000)) / 4,
                name=f"#{n}",
                customer=None
                if buyer is None
                else CustomerRecord(
                    external_id=str(buyer), updated_at=None, email=f"order{buyer}@example.com"
                ),
                email=f"order{buyer}@example.com",
                billing_name="Sato",
                financial_status="paid",
                fulfillment_status=rng.choice([None, "fulfilled"]),
                cancelled_at=rng.choice([None, None, at(hour)]),
                lines=tuple(
                    OrderLineRecord(
                        f"{external_id}-{k}", f"Tea {k}", k + 1, Decimal("12.50"), f"p{k}", None
                    )
                    for k in range(rng.randint(0, 4))
                ),
            )
        )
    # The same order twice in one batch (the newer one wins) and a line moving orders.
    records.append(replace(records[3], updated_at=at(hour + 2), name="#3-newer"))
    records.append(
        replace(
            records[4],
            updated_at=at(hour + 3),
            lines=(OrderLineRecord("90005-0", "Moved", 1, Decimal("1"), "p", None),),
        )
    )
    return records


def snapshot(session: Session, shop_id: int) -> dict[str, Any]:
    """Everything the product reads, keyed by external ids (no surrogate ids)."""
    session.expire_all()
    people = dict(session.execute(select(Person.id, Person.email_normalized)).all())
    ext = dict(
        session.execute(
            select(Customer.id, Customer.external_id).where(Customer.shop_id == shop_id)
        ).all()
    )
    order_ext = dict(
        session.execute(select(Order.id, Order.external_id).where(Order.shop_id == shop_id)).all()
    )
    skip = {"id", "shop_id", "created_at", "updated_at", "search_text", "person_id", "customer_id"}

    def columns(row: Any) -> dict[str, Any]:
        return {
            key: value
            for key, value in vars(row).items()
            if not key.startswith("_") and key not in skip and key != "order_id"
        }

    customer_rows = session.scalars(select(Customer).where(Customer.shop_id == shop_id)).all()
    order_rows = session.scalars(select(Order).where(Order.shop_id == shop_id)).all()
    line_rows = session.scalars(select(OrderLine).where(OrderLine.shop_id == shop_id)).all()
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.shop_id == shop_id)).all()
    return {
        "customers": {
            row.external_id: {**columns(row), "person": people.get(row.person_id)}
            for row in customer_rows
        },
        "orders": {
            row.external_id: {
                **columns(row),
                "customer": ext.get(row.customer_id),
                "fulfilled": row.fulfilled_at is not None,
            }
            for row in order_rows
        },
        "lines": {
            row.external_id: {**columns(row), "order": order_ext[row.order_id]} for row in line_rows
        },
        "events": {
            (row.kind, row.source_key): (ext[row.customer_id], row.occurred_at, row.detail)
            for row in events
        },
    }


def _drop_volatile(state: dict[str, Any]) -> dict[str, Any]:
    """`fulfilled_at` may fall back to "now" when a record has no time: compare its presence."""
    for row in state["orders"].values():
        row.pop("fulfilled_at", None)
    return state


def load_rowwise(session: Session, shop_id: int, batches: list[list[Any]]) -> None:
    for batch in batches:
        if batch and isinstance(batch[0], OrderRecord):
            upsert_orders(session, shop_id, batch)
        else:
            upsert_customers(session, shop_id, batch)
        session.commit()


def load_bulk(session: Session, shop_id: int, batches: list[list[Any]]) -> None:
    for batch in batches:
        if batch and isinstance(batch[0], OrderRecord):
            bulk_load.load_orders(session, shop_id, batch)
        else:
            bulk_load.load_customers(session, shop_id, batch)
        session.commit()


def _history() -> list[list[Any]]:
    first = customers(40, seed=1)
    later = customers(40, seed=2, hour=3)  # newer versions of the same customers
    return [first[:25], first[25:], orders(60, seed=3), later[10:30], orders(30, seed=4, hour=8)]


def test_bulk_path_writes_what_the_row_wise_path_writes(db: Session) -> None:
    rowwise_shop = make_shop(db, "rowwise.myshopify.com")
    bulk_shop = make_shop(db, "bulk.myshopify.com")
    for shop_id in (rowwise_shop, bulk_shop):  # a confirmed storefront opt-in, before the sync
        db.add(
            OptInRequest(
                shop_id=shop_id,
                email_normalized="shared3@example.com",
                requested_at=at(-300),
                confirmed_at=at(20),
            )
        )
    db.commit()
    assert bulk_load.copy_supported(db)

    load_rowwise(db, rowwise_shop, _history())
    load_bulk(db, bulk_shop, _history())

    expected = _drop_volatile(snapshot(db, rowwise_shop))
    got = _drop_volatile(snapshot(db, bulk_shop))
    assert got["customers"] == expected["customers"]
    assert got["orders"] == expected["orders"]
    assert got["lines"] == expected["lines"]
    assert got["events"] == expected["events"]
    # The comparison covers what matters: people shared by email, order-only customers, totals.
    assert len(got["customers"]) == 45
    assert any(row["person"] == "shared3@example.com" for row in got["customers"].values())
    assert any(row["orders_count"] > 1 for row in got["customers"].values())
    assert got["orders"]["90003"]["name"] == "#3-newer"
    confirmed = [
        row
        for row in got["customers"].values()
        if row["email_marketing_opt_in_level"] == "CONFIRMED_OPT_IN"
    ]
    assert confirmed
    assert all(row["email_marketing_updated_at"] == at(20) for row in confirmed)


def test_reimport_changes_nothing(session: Session) -> None:
    shop_id = make_shop(session, "again.myshopify.com")
    load_bulk(session, shop_id, _history())
    once = snapshot(session, shop_id)
    load_bulk(session, shop_id, _history())
    assert snapshot(session, shop_id) == once


def test_an_older_import_does_not_overwrite_newer_rows(session: Session) -> None:
    shop_id = make_shop(session, "newer.myshopify.com")
    old_customers, old_orders = customers(5, seed=7), orders(5, seed=8)
    newer_customer = replace(old_customers[0], updated_at=at(50), first_name="Newest")
    newer_order = replace(old_orders[0], updated_at=at(50), name="#newest", lines=())
    load_bulk(session, shop_id, [[newer_customer], [newer_order]])

    load_bulk(session, shop_id, [old_customers, old_orders])

    state = snapshot(session, shop_id)
    assert state["customers"][newer_customer.external_id]["first_name"] == "Newest"
    assert state["customers"][newer_customer.external_id]["platform_updated_at"] == at(50)
    assert state["orders"][newer_order.external_id]["name"] == "#newest"
    assert not [line for line in state["lines"].values() if line["order"] == "90000"]
    # The other, new rows went in.
    assert len(state["orders"]) == 5
    assert state["customers"][old_customers[1].external_id]["last_name"] == "Sato1"


def test_analyze_runs_on_the_loaded_tables(db: Session) -> None:
    shop_id = make_shop(db, "analyze.myshopify.com")
    load_bulk(db, shop_id, [customers(5, seed=9), orders(5, seed=10)])
    tables = sorted(set(bulk_load.LOADED_TABLES["orders"]))
    before = _analyze_counts(db, tables)

    bulk_load.analyze_loaded_tables(db, tables)
    db.commit()

    deadline = time.monotonic() + 5  # statistics are published shortly after the commit
    while (after := _analyze_counts(db, tables)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(after[name] > before[name] for name in tables), (before, after)


def test_a_long_load_refreshes_the_statistics_each_time_its_tables_double(db: Session) -> None:
    # A load planned on the empty tables' statistics would scan the whole shop per batch.
    statistics = bulk_load.GrowingStatistics(["customers", "orders"])
    counts = []
    for rows in (4_000, 5_999, 1, 9_999, 1, 20_000, 5_000):
        statistics.add(db, rows)
        db.commit()
        counts.append(_settled_analyze_counts(db, ["customers", "orders"]))
    runs = [counts[i]["orders"] - counts[0]["orders"] for i in range(len(counts))]
    # At 10,000 rows written, then 20,000, then 40,000: never between.
    assert runs == [0, 0, 1, 1, 2, 3, 3]
    assert counts[-1]["customers"] - counts[0]["customers"] == 3


def _settled_analyze_counts(session: Session, tables: list[str]) -> dict[str, int]:
    """The counts once a just-committed ANALYZE is published (it is, shortly after)."""
    seen = _analyze_counts(session, tables)
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        time.sleep(0.05)
        again = _analyze_counts(session, tables)
        if again == seen:
            return seen
        seen = again
    return seen


def _analyze_counts(session: Session, tables: list[str]) -> dict[str, int]:
    session.commit()
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    rows = session.execute(
        text("SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY(:names)"),
        {"names": tables},
    )
    return {name: int(count) for name, count in rows}


def product_batches(seed: int) -> list[list[ProductRecord]]:
    """Products in rounds (each product once a round, as a bulk result or a page holds it):
    new ones, newer versions (variants changed or moved to another product, collections
    stated, emptied or not said), replays and stale versions."""
    rng = random.Random(seed)
    batches: list[list[ProductRecord]] = []
    for round_number in range(4):
        batch = []
        for n in sorted(rng.sample(range(15), 10)):
            hour = round_number + rng.choice((0.5, 0.5, -3))  # mostly newer, some stale
            variants = tuple(
                VariantRecord(f"v{(n + k) % 18}", Decimal(rng.randint(1, 50)), f"V{k}", f"S{k}")
                for k in range(rng.randint(0, 3))
            )
            collections = rng.choice(
                (None, (), tuple(CollectionRef(f"c{k}", f"Col {k}", f"col-{k}") for k in (1, 2)))
            )
            batch.append(
                ProductRecord(
                    external_id=f"p{n}",
                    title=f"Product {n} r{round_number}",
                    updated_at=at(hour) if rng.random() < 0.9 else None,
                    currency="JPY",
                    handle=f"product-{n}",
                    status=rng.choice(("active", "draft")),
                    variants=variants,
                    collections=collections,
                )
            )
        batches.append(batch)
    return batches


def checkout_batches(seed: int) -> list[list[CheckoutRecord]]:
    """Checkouts naming a customer, or only an email (of a customer or of nobody), in rounds
    with newer and stale versions."""
    rng = random.Random(seed)
    batches: list[list[CheckoutRecord]] = []
    for round_number in range(3):
        batch = []
        for _ in range(20):
            n = rng.randint(0, 12)
            named = rng.random() < 0.4
            customer = CustomerRecord(f"k{n % 5}", updated_at=None, email=f"k{n % 5}@example.jp")
            batch.append(
                CheckoutRecord(
                    external_id=f"tok{n}",
                    updated_at=at(round_number + rng.choice((1, 1, -5))),
                    currency="JPY",
                    total_price=Decimal(rng.randint(100, 900)),
                    created_at=at(0),
                    email=f"Shared{n % 4}@Example.com" if not named else customer.email,
                    customer=customer if named else None,
                    recovery_url=f"https://shop.example/recover/{n}",
                    completed_at=at(round_number) if rng.random() < 0.2 else None,
                    line_items=({"title": f"Item {n}", "quantity": 1 + n % 3},),
                )
            )
        batches.append(batch)
    return batches


def catalogue_snapshot(session: Session, shop_id: int) -> dict[str, Any]:
    session.expire_all()
    products = dict(
        session.execute(
            select(Product.id, Product.external_id).where(Product.shop_id == shop_id)
        ).all()
    )
    customers_by_id = dict(
        session.execute(
            select(Customer.id, Customer.external_id).where(Customer.shop_id == shop_id)
        ).all()
    )

    def columns(row: Any, *skip: str) -> dict[str, Any]:
        dropped = {"id", "shop_id", "created_at", *skip}
        return {k: v for k, v in vars(row).items() if not k.startswith("_") and k not in dropped}

    return {
        "products": {
            row.external_id: columns(row, "variants")
            for row in session.scalars(select(Product).where(Product.shop_id == shop_id))
        },
        "variants": {
            row.external_id: {**columns(row, "product_id"), "product": products[row.product_id]}
            for row in session.scalars(
                select(ProductVariant).where(ProductVariant.shop_id == shop_id)
            )
        },
        "collections": sorted(
            (products[row.product_id], row.collection_external_id, row.title, row.handle)
            for row in session.scalars(
                select(ProductCollection).where(ProductCollection.shop_id == shop_id)
            )
        ),
        "checkouts": {
            row.external_id: {
                **columns(row, "customer_id"),
                "customer": customers_by_id.get(row.customer_id),
            }
            for row in session.scalars(select(Checkout).where(Checkout.shop_id == shop_id))
        },
    }


def test_products_and_checkouts_bulk_path_writes_what_the_row_wise_path_writes(
    db: Session,
) -> None:
    shops = {"rowwise": make_shop(db, "cat-rows.myshopify.com")}
    shops["bulk"] = make_shop(db, "cat-bulk.myshopify.com")
    for shop_id in shops.values():
        # Customers the checkouts' emails find: a live one, a deleted and a live one sharing
        # an address (the live one wins), and a redacted one (its checkout keeps no email).
        upsert_customers(
            db,
            shop_id,
            [CustomerRecord(f"e{k}", updated_at=at(-1), email=f"shared{k}@example.com")
             for k in range(4)] + [CustomerRecord("e9", updated_at=at(-1),
                                                  email="shared1@example.com")],
        )  # fmt: skip
        db.execute(
            text(
                "UPDATE customers SET deleted_at = now() WHERE shop_id = :shop"
                " AND external_id = 'e1'"
            ),
            {"shop": shop_id},
        )
        db.execute(
            text(
                "UPDATE customers SET redacted_at = now() WHERE shop_id = :shop"
                " AND external_id = 'e2'"
            ),
            {"shop": shop_id},
        )
        db.commit()
    for batch in product_batches(11):
        upsert_products(db, shops["rowwise"], batch)
        assert bulk_load.load_products(db, shops["bulk"], batch) >= 0
        db.commit()
    for batch in checkout_batches(12):
        upsert_checkouts(db, shops["rowwise"], batch)
        bulk_load.load_checkouts(db, shops["bulk"], batch)
        db.commit()
    expected = catalogue_snapshot(db, shops["rowwise"])
    got = catalogue_snapshot(db, shops["bulk"])
    for part in ("products", "variants", "collections", "checkouts"):
        assert got[part] == expected[part], part
    assert len(got["products"]) > 10
    assert got["collections"]
    assert any(row["customer"] == "e9" for row in got["checkouts"].values())
    assert any(
        row["customer"] == "e2" and row["email"] is None for row in got["checkouts"].values()
    )
