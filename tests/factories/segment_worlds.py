"""A seeded world of customers, orders, products and scores for segment rules
(ANALYZE after the load).

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.models import (
    Account,
    Customer,
    CustomerScore,
    Order,
    OrderLine,
    Product,
    ProductCollection,
    Shop,
)
from app.services.upsert import refresh_customer_products
from tests.conftest import analyze_after_bulk_load
from tests.factories.admin import login, text_of
from tests.factories.shops import build_shop

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


GROUPS = ("champions", "loyal", "at_risk", "lost", "new", "hibernating")


TAGS = ("vip", "wholesale", "gift", "VIP", "ギフト")


STATES = ("SUBSCRIBED", "subscribed", "UNSUBSCRIBED", "NOT_SUBSCRIBED", "PENDING", None)


COUNTRIES = ("JP", "US", "DE", None)


@dataclass
class World:
    shop: Shop
    other: Shop
    products: list[Product]
    customers: list[Customer]


def _shop(db: Session, account: Account, domain: str) -> Shop:
    return build_shop(
        db,
        domain,
        account=account,
        commit=False,
        name=domain.split(".")[0],
        timezone="Asia/Tokyo",
        currency="JPY",
        locale="en",
    )


def _populate(db: Session, shop: Shop, rng: random.Random, count: int) -> tuple[list[Any], ...]:
    products = [
        Product(shop_id=shop.id, external_id=f"p{shop.id}-{n}", title=f"Tea {n}") for n in range(8)
    ]
    db.add_all(products)
    db.flush()
    for product in products[:5]:
        for collection in ("c-green", "c-black", "c-gift"):
            if rng.random() < 0.5:
                db.add(
                    ProductCollection(
                        shop_id=shop.id,
                        product_id=product.id,
                        collection_external_id=collection,
                        title=collection,
                    )
                )
    customers = []
    for n in range(count):
        orders = rng.choice((0, 0, 1, 1, 2, 3, 5))
        first = NOW - timedelta(days=rng.randint(0, 900), hours=rng.randint(0, 23))
        last = min(NOW, first + timedelta(days=rng.randint(0, 400)))
        customer = Customer(
            shop_id=shop.id,
            external_id=f"{shop.id}-{n}",
            email=rng.choice((f"c{n}@example.com", f"=HYPERLINK(c{n})", None)),
            first_name=rng.choice(("Aiko", "+Ben", "@Chie", None)),
            last_name=f"L{n}",
            country_code=rng.choice(COUNTRIES),
            tags=rng.sample(TAGS, rng.randint(0, 3)),
            email_marketing_state=rng.choice(STATES),
            orders_count=orders,
            total_spent=Decimal(rng.randint(0, 100_000)) / 100 if orders else Decimal(0),
            currency="JPY",
            first_order_at=first if orders else None,
            last_order_at=last if orders else None,
            deleted_at=NOW if rng.random() < 0.05 else None,
            redacted_at=NOW if rng.random() < 0.05 else None,
        )
        customers.append(customer)
    db.add_all(customers)
    db.flush()
    for customer in customers:
        for k in range(customer.orders_count):
            order = Order(
                shop_id=shop.id,
                external_id=f"{customer.external_id}-{k}",
                customer_id=customer.id,
                currency="JPY",
                total_price=Decimal(10),
                processed_at=customer.last_order_at,
                cancelled_at=NOW if rng.random() < 0.15 else None,
            )
            for line in range(rng.randint(1, 3)):
                product_ref = rng.choice([*(p.external_id for p in products), "gone", None])
                order.lines.append(
                    OrderLine(
                        shop_id=shop.id,
                        external_id=f"{order.external_id}-{line}",
                        product_external_id=product_ref,
                        title="x",
                        currency="JPY",
                    )
                )
            db.add(order)
        if customer.orders_count and rng.random() < 0.9:
            db.add(
                CustomerScore(
                    shop_id=shop.id,
                    customer_id=customer.id,
                    as_of=NOW.date(),
                    r=1,
                    f=1,
                    m=1,
                    fm=1,
                    rfm_group=rng.choice(GROUPS),
                    recency_days=1,
                    orders=customer.orders_count,
                    monetary=customer.total_spent,
                    probability_alive=round(rng.random(), 3),
                    expected_orders_365=round(rng.random() * 4, 3),
                    expected_next_order_at=(
                        NOW + timedelta(days=rng.randint(-30, 200)) if rng.random() < 0.8 else None
                    ),
                    predicted_clv=Decimal(rng.randint(0, 2000)),
                    currency="JPY",
                    confidence="low",
                )
            )
    # A guest order (no customer) buying product 3: must not disturb "not bought" counts.
    guest = Order(shop_id=shop.id, external_id=f"guest-{shop.id}", currency="JPY")
    guest.lines.append(
        OrderLine(
            shop_id=shop.id,
            external_id=f"guest-{shop.id}-0",
            product_external_id=products[3].external_id,
            title="x",
            currency="JPY",
        )
    )
    db.add(guest)
    db.flush()
    # What the order upserts keep current when orders arrive: the products each customer bought.
    refresh_customer_products(db, shop.id, [customer.id for customer in customers])
    return products, customers


# The tables `_populate` fills: their statistics are refreshed once a world is built.
BULK_TABLES = (
    "customers",
    "orders",
    "order_lines",
    "products",
    "product_collections",
    "customer_products",
    "customer_scores",
)


def build_world(db: Session, count: int = 300) -> World:
    rng = random.Random(20261202)
    account = Account(name="Merchant")
    db.add(account)
    db.flush()
    shop = _shop(db, account, "tea.myshopify.com")
    other = _shop(db, account, "other.myshopify.com")
    products, customers = _populate(db, shop, rng, count)
    # Shop B: the same kinds of rows, sharing external ids of products and collections.
    _populate(db, other, rng, count // 3)
    db.commit()
    analyze_after_bulk_load(db, *BULK_TABLES)
    db.commit()
    return World(shop, other, products, customers)


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


JP_RULE = {"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]}


def _signed_in(client: Any, runtime: Any, db: Session, world: World) -> str:
    """Log in as the shops' account; → the session's CSRF token."""
    login(client, runtime, db.get_one(Account, world.shop.account_id))
    page = text_of(client.get("/app/segments/saved/new"))
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)
