"""The "bought product / collection" rules read `customer_products`; it must always give the
people a recount from the orders gives.

Real PostgreSQL (see conftest). Random rounds of order records (new orders, replays, newer
versions that cancel, un-cancel, change lines or move the order to another customer, stale
versions that must lose) go through `upsert.upsert_orders`, the path every order webhook and
sync takes; after each round every product and collection rule is counted both ways.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import Account, Product, Shop
from app.models.product import ProductCollection
from app.services import bulk_load, segments, upsert
from connectors.base import CustomerRecord, OrderLineRecord, OrderRecord

pytestmark = pytest.mark.integration

START = datetime(2026, 10, 1, tzinfo=UTC)
PRODUCTS = ("p-1", "p-2", "p-3", "p-4", "p-5", "gone")  # "gone" has no product row
COLLECTIONS = {"c-tea": ("p-1", "p-2"), "c-cups": ("p-3",), "c-all": ("p-1", "p-3", "p-5")}

# The rules as they were evaluated before the aggregate: a join over orders and their lines.
BOUGHT_FROM_ORDERS = """
    EXISTS (SELECT 1 FROM orders o
      JOIN order_lines l ON l.order_id = o.id AND l.shop_id = :shop
      JOIN products p ON p.external_id = l.product_external_id AND p.shop_id = :shop
     WHERE o.shop_id = :shop AND o.customer_id = c.id AND o.cancelled_at IS NULL AND ({match}))
"""
LIVE = "c.shop_id = :shop AND c.deleted_at IS NULL AND c.redacted_at IS NULL"


def make_shop(db: Session, domain: str) -> Shop:
    account = Account(name=f"Owner of {domain}")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id,
        domain=domain,
        platform="shopify",
        name="Tea",
        status="active",
        timezone="Asia/Tokyo",
        currency="JPY",
        locale="en",
    )
    db.add(shop)
    db.flush()
    for external_id in PRODUCTS[:-1]:
        product = Product(shop_id=shop.id, external_id=external_id, title=external_id)
        db.add(product)
        db.flush()
        for collection, members in COLLECTIONS.items():
            if external_id in members:
                db.add(
                    ProductCollection(
                        shop_id=shop.id,
                        product_id=product.id,
                        collection_external_id=collection,
                        title=collection,
                    )
                )
    db.commit()
    return shop


def order_record(rng: random.Random, external_id: str, version: int) -> OrderRecord:
    customer = rng.choice((None, *(f"cust-{n}" for n in range(12))))
    lines = tuple(
        OrderLineRecord(
            external_id=f"{external_id}-{k}-{version}",
            title="Tea",
            quantity=1,
            price=Decimal(10),
            product_external_id=rng.choice((*PRODUCTS, None)),
        )
        for k in range(rng.randint(0, 3))
    )
    at = START + timedelta(hours=version)
    return OrderRecord(
        external_id=external_id,
        updated_at=at,
        currency="JPY",
        total_price=Decimal(10 * len(lines)),
        processed_at=START,
        customer=(CustomerRecord(external_id=customer, updated_at=START) if customer else None),
        cancelled_at=at if rng.random() < 0.25 else None,
        lines=lines,
    )


def ids_from_orders(
    db: Session, shop: Shop, match: str, value: int | str, negate: bool
) -> list[int]:
    bought = BOUGHT_FROM_ORDERS.format(match=match)
    condition = f"NOT {bought}" if negate else bought
    query = f"SELECT c.id FROM customers c WHERE {LIVE} AND {condition} ORDER BY c.id"  # noqa: S608
    return list(db.execute(text(query), {"shop": shop.id, "value": value}).scalars())


def check_every_rule(db: Session, shop: Shop) -> int:
    product_ids = dict(
        db.execute(
            text("SELECT external_id, id FROM products WHERE shop_id = :shop"), {"shop": shop.id}
        ).all()
    )
    checked = 0
    for external_id, product_id in product_ids.items():
        for op in ("is", "is_not"):
            rule = {
                "match": "all",
                "rules": [{"field": "product_bought", "op": op, "value": product_id}],
            }
            expected = ids_from_orders(db, shop, "p.id = :value", product_id, op == "is_not")
            assert segments.matching_customer_ids(db, shop.id, rule) == expected, (external_id, op)
            assert segments.count_matching(db, shop.id, rule) == len(expected)
            checked += 1
    for collection in COLLECTIONS:
        for op in ("is", "is_not"):
            rule = {
                "match": "all",
                "rules": [{"field": "collection_bought", "op": op, "value": collection}],
            }
            in_collection = (
                "EXISTS (SELECT 1 FROM product_collections pc WHERE pc.shop_id = :shop"
                " AND pc.product_id = p.id AND pc.collection_external_id = :value)"
            )
            expected = ids_from_orders(db, shop, in_collection, collection, op == "is_not")
            assert segments.matching_customer_ids(db, shop.id, rule) == expected, (collection, op)
            assert segments.count_matching(db, shop.id, rule) == len(expected)
            checked += 1
    return checked


def test_bought_rules_match_a_recount_from_orders_after_random_updates(db: Session) -> None:
    shop = make_shop(db, "tea.myshopify.com")
    other = make_shop(db, "other.myshopify.com")
    rng = random.Random(20261207)
    versions: dict[str, int] = {}
    nonempty_rounds = 0
    for round_number in range(12):
        records = []
        for _ in range(rng.randint(1, 15)):
            external_id = f"o-{rng.randint(0, 30)}"
            latest = versions.get(external_id, 0)
            # Mostly newer versions; some replays and stale versions, which must change nothing.
            version = rng.choice((latest + 1, latest + 1, latest + 2, latest, max(latest - 1, 0)))
            versions[external_id] = max(latest, version)
            records.append(order_record(rng, external_id, version))
        upsert.upsert_orders(db, shop.id, records)
        # The other shop gets the same external ids: its rows must never count here.
        upsert.upsert_orders(db, other.id, [order_record(rng, f"o-{round_number}", 1)])
        db.commit()
        assert check_every_rule(db, shop) == 2 * (len(PRODUCTS) - 1 + len(COLLECTIONS))
        bought = db.execute(
            text("SELECT count(*) FROM customer_products WHERE shop_id = :shop"),
            {"shop": shop.id},
        ).scalar_one()
        nonempty_rounds += bool(bought)
    # The rounds did exercise purchases (not only empty tables agreeing with each other).
    assert nonempty_rounds >= 6


RECOUNT_PRODUCTS = """
    SELECT o.customer_id, l.product_external_id, count(DISTINCT o.id),
        max(coalesce(o.processed_at, o.platform_created_at, o.created_at))
    FROM orders o JOIN order_lines l ON l.order_id = o.id AND l.shop_id = o.shop_id
    WHERE o.shop_id = :shop AND o.customer_id IS NOT NULL AND o.cancelled_at IS NULL
      AND l.product_external_id IS NOT NULL
    GROUP BY o.customer_id, l.product_external_id ORDER BY 1, 2
"""
RECOUNT_TOTALS = """
    SELECT c.id, count(o.id),
        coalesce(sum(CASE WHEN o.cancelled_at IS NULL THEN o.total_price ELSE 0 END), 0),
        min(coalesce(o.processed_at, o.platform_created_at, o.created_at)),
        max(coalesce(o.processed_at, o.platform_created_at, o.created_at))
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.shop_id = c.shop_id
    WHERE c.shop_id = :shop GROUP BY c.id ORDER BY c.id
"""


@pytest.mark.parametrize(
    "write", [upsert.upsert_orders, bulk_load.load_orders], ids=["row-wise", "set-wise"]
)
def test_counts_times_and_totals_kept_by_counting_match_a_recount(
    db: Session, write: Callable[..., int]
) -> None:
    """Each order write, row-wise or a set-wise batch, adds only its own difference
    (`purchase_stats.record_orders`); after random rounds — new orders, replays, edits of lines
    and totals, cancellations, orders moving to another customer or another time — the counts,
    latest times and customer totals are what a recount from every order gives."""
    shop = make_shop(db, f"counted-{write.__name__.replace('_', '-')}.myshopify.com")
    rng = random.Random(7)
    versions: dict[str, int] = {}
    for _round in range(15):
        records = []
        for _ in range(rng.randint(1, 12)):
            external_id = f"o-{rng.randint(0, 25)}"
            latest = versions.get(external_id, 0)
            version = rng.choice((latest + 1, latest + 1, latest, max(latest - 1, 0)))
            versions[external_id] = max(latest, version)
            record = order_record(rng, external_id, version)
            if rng.random() < 0.2:  # an edit of the order's time
                record = replace(record, processed_at=START + timedelta(days=rng.randint(0, 9)))
            records.append(record)
        write(db, shop.id, records)
        db.commit()
        stored = db.execute(
            text(
                "SELECT customer_id, product_external_id, orders, last_ordered_at"
                " FROM customer_products WHERE shop_id = :shop ORDER BY 1, 2"
            ),
            {"shop": shop.id},
        ).all()
        assert [tuple(row) for row in stored] == [
            tuple(row) for row in db.execute(text(RECOUNT_PRODUCTS), {"shop": shop.id})
        ]
        totals = db.execute(
            text(
                "SELECT id, orders_count, total_spent, first_order_at, last_order_at"
                " FROM customers WHERE shop_id = :shop ORDER BY id"
            ),
            {"shop": shop.id},
        ).all()
        assert [tuple(row) for row in totals] == [
            tuple(row) for row in db.execute(text(RECOUNT_TOTALS), {"shop": shop.id})
        ]
