"""A small Japanese tea store for the merchant's browser tours: named customers (one Japanese,
one English), a catalogue with a collection, a two-year order history scored into RFM cells, and
an abandoned checkout for the cart flow's backtest.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import (
    Account,
    Checkout,
    Customer,
    CustomerProduct,
    Product,
    ProductCollection,
    Shop,
)
from app.services.scoring import score_shop
from tests.factories.admin import make_customer, make_order, make_shop
from tests.factories.scoring import build_history


@dataclass
class TeaStore:
    account: Account
    shop: Shop
    hinata: Customer  # 森 陽葵: family name 森, given name 陽葵
    hanako: Customer  # Hanako Tanaka
    sencha: Product
    genmaicha: Product


def build_tea_store(db: Session, *, history: int = 30) -> TeaStore:
    """The store, scored; 森 陽葵 bought Sencha (in the "Green tea" collection) and left a cart
    two days ago; Hanako Tanaka bought Genmaicha."""
    account = Account(name="Tea House")
    db.add(account)
    db.commit()
    shop = make_shop(db, account, "tea-house.myshopify.com", name="Tea House")
    now = utcnow()
    build_history(db, shop, history, seed=31, as_of=now)
    hinata = make_customer(
        db,
        shop,
        first_name="陽葵",
        last_name="森",
        email="hinata@example.jp",
        email_marketing_state="SUBSCRIBED",
        country_code="JP",
        locale="ja",
    )
    hanako = make_customer(
        db,
        shop,
        first_name="Hanako",
        last_name="Tanaka",
        email="hanako@example.com",
        email_marketing_state="SUBSCRIBED",
        country_code="JP",
    )
    sencha = Product(shop_id=shop.id, external_id="p-sencha", title="Sencha 100g")
    genmaicha = Product(shop_id=shop.id, external_id="p-genmaicha", title="Genmaicha 200g")
    db.add_all([sencha, genmaicha])
    db.flush()
    db.add(
        ProductCollection(
            shop_id=shop.id,
            product_id=sencha.id,
            collection_external_id="c-green",
            title="Green tea",
        )
    )
    make_order(
        db,
        shop,
        hinata,
        "#1001",
        [("Sencha 100g", 2, "3354")],
        processed_at=now - timedelta(days=40),
    )
    make_order(
        db,
        shop,
        hanako,
        "#1002",
        [("Genmaicha 200g", 1, "1800")],
        processed_at=now - timedelta(days=20),
    )
    db.add_all(
        [
            CustomerProduct(shop_id=shop.id, product_external_id="p-sencha", customer_id=hinata.id),
            CustomerProduct(
                shop_id=shop.id, product_external_id="p-genmaicha", customer_id=hanako.id
            ),
        ]
    )
    db.add(_abandoned_cart(shop, hinata, now - timedelta(days=2)))
    db.commit()
    score_shop(db, shop.id)
    db.commit()
    return TeaStore(account, shop, hinata, hanako, sencha, genmaicha)


def _abandoned_cart(shop: Shop, customer: Customer, started: Any) -> Checkout:
    return Checkout(
        shop_id=shop.id,
        external_id="tok-tour-0001",
        customer_id=customer.id,
        email=customer.email,
        recovery_url=f"https://{shop.domain}/checkouts/tok-tour-0001/recover?key=k",
        total_price=Decimal(6708),
        currency="JPY",
        line_items=[{"title": "Sencha 100g", "quantity": 2, "price": "3354"}],
        platform_created_at=started,
        platform_updated_at=started,
    )
