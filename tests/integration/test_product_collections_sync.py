"""Product collections end to end: a Shopify sync (paged and bulk) and a WooCommerce install fill
`product_collections` from the simulated platforms over real HTTP; the upsert replaces a product's
rows only when a not-older record lists them, and keeps them when a payload is silent.

Real PostgreSQL and Redis (see conftest); jobs drained in-process. The upsert rules also run on
SQLite (embedded mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.kizuna import Kizuna
from app.models import Account, Product, Shop
from app.models.product import ProductCollection
from app.queueing import SYNC
from app.services import sync as sync_service
from app.services.install_shop import connect_custom_app
from app.services.upsert import upsert_products
from connectors.base import CollectionRef, ProductRecord, VariantRecord
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import (
    SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET,
    Dispatcher,
    LiveServer,
    make_test_env,
)

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DOMAIN = "collections-store.myshopify.com"
WOO_STORE = "collections-woo"

Memberships = dict[str, set[tuple[str, str, str | None]]]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LiveServer, Dispatcher, LiveServer, Dispatcher]]:
    platform_dispatch, kizuna_dispatch = Dispatcher(), Dispatcher()
    platform_server, kizuna_server = LiveServer(platform_dispatch), LiveServer(kizuna_dispatch)
    yield platform_server, platform_dispatch, kizuna_server, kizuna_dispatch
    platform_server.stop()
    kizuna_server.stop()


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Any, servers: Any) -> Config:
    platform_server, _, kizuna_server, _ = servers
    env = make_test_env(
        database_url,
        redis_url,
        SHOPIFY_SANDBOX_URL=platform_server.url,
        APP_URL=kizuna_server.url,
    )
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def shopify(servers: Any, app: Flask) -> Iterator[SandboxShopify]:
    _, platform_dispatch, kizuna_server, kizuna_dispatch = servers
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=3, plan="plus")
    platform.add_shop(DOMAIN, customers=12, years=1, name="Collections Store")
    platform.webhook_retry_delays = ()
    platform.set_app_url(kizuna_server.url)
    platform_dispatch.target = platform.wsgi_app
    kizuna_dispatch.target = app
    yield platform
    platform.close()


@pytest.fixture
def woocommerce(servers: Any, app: Flask) -> Iterator[SandboxWooCommerce]:
    _, platform_dispatch, _, kizuna_dispatch = servers
    platform = SandboxWooCommerce(seed=3)
    platform.add_store(url_path=WOO_STORE, customers=4, years=1, currency="JPY")
    platform_dispatch.target = platform.wsgi_app
    kizuna_dispatch.target = app
    yield platform
    platform.close()


def stored(db: Session, shop_id: int) -> Memberships:
    """product external id → {(collection external id, title, handle)} as Kizuna holds them."""
    db.expire_all()
    rows = db.execute(
        select(Product.external_id, ProductCollection)
        .join(ProductCollection, ProductCollection.product_id == Product.id)
        .where(Product.shop_id == shop_id, ProductCollection.shop_id == shop_id)
    ).all()
    found: Memberships = {}
    for external_id, row in rows:
        found.setdefault(external_id, set()).add(
            (row.collection_external_id, row.title, row.handle)
        )
    return found


def shopify_catalogue(platform: SandboxShopify) -> Memberships:
    store = platform.shop(DOMAIN)
    with store.lock:
        return {
            str(product.id): {(str(c.id), c.title, c.handle) for c in product.collections}
            for product in store.products
            if product.collections
        }


def _sync_shopify(runtime: Kizuna, platform: SandboxShopify, drain_jobs: Any) -> int:
    token = platform.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)
    drain_jobs(SYNC)
    return shop_id


def test_a_paged_shopify_sync_fills_product_collections(
    runtime: Kizuna, db: Session, shopify: SandboxShopify, drain_jobs: Any
) -> None:
    expected = shopify_catalogue(shopify)
    # The simulated catalogue: a collection per product type plus cross-type ones; an archived
    # product in none.
    titles = {title for members in expected.values() for _, title, _ in members}
    assert {"Green Tea", "Ceramics", "Tea Ceremony", "Gift Ideas"} <= titles
    assert len(expected) < len(shopify.shop(DOMAIN).products)

    shop_id = _sync_shopify(runtime, shopify, drain_jobs)

    state = db.get_one(Shop, shop_id, populate_existing=True).sync_state
    assert state["status"] == "done", state
    assert "products" not in state.get("bulk", {})  # read page by page
    assert stored(db, shop_id) == expected


def test_a_bulk_shopify_sync_fills_product_collections(
    runtime: Kizuna,
    db: Session,
    shopify: SandboxShopify,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_service, "BULK_THRESHOLD", 1)  # products go through a bulk operation
    shop_id = _sync_shopify(runtime, shopify, drain_jobs)

    state = db.get_one(Shop, shop_id, populate_existing=True).sync_state
    assert state["status"] == "done", state
    assert "products" in state["bulk"]
    assert stored(db, shop_id) == shopify_catalogue(shopify)


def test_a_woocommerce_install_fills_product_collections_from_categories(
    client: Any, db: Session, servers: Any, woocommerce: SandboxWooCommerce, drain_jobs: Any
) -> None:
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    with client.session_transaction() as session:
        session["account_id"] = account.id
    client.get("/connect/woocommerce")
    with client.session_transaction() as session:
        csrf = session["csrf_token"]
    store_url = f"{servers[0].url}/{WOO_STORE}"
    started = client.post("/connect/woocommerce", data={"store_url": store_url, "csrf_token": csrf})
    assert started.status_code == 302, started.data
    approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302, approved.text
    drain_jobs()

    shop = db.scalars(select(Shop).where(Shop.platform == "woocommerce")).one()
    store = woocommerce.store(WOO_STORE)
    with store.lock:
        expected = {
            str(number): {(str(c["id"]), c["name"], c["slug"]) for c in product["categories"]}
            for number, product in store.products.items()
        }
    assert {"Tea", "Teaware", "Home & Gifts"} <= {
        title for members in expected.values() for _, title, _ in members
    }
    assert stored(db, shop.id) == expected
    matcha = next(n for n, p in store.products.items() if p["name"] == "Matcha Set")
    assert {title for _, title, _ in stored(db, shop.id)[str(matcha)]} == {"Tea", "Teaware"}


# --- the upsert's rules ------------------------------------------------------------------------

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
GREEN = CollectionRef("1", "Green Tea", "green-tea")
GIFTS = CollectionRef("2", "Gift Ideas", "gift-ideas")
CEREMONY = CollectionRef("3", "Tea Ceremony", None)


@pytest.fixture
def session(db_or_sqlite: Session) -> Session:
    return db_or_sqlite


def product(hours: float, collections: tuple[CollectionRef, ...] | None) -> ProductRecord:
    return ProductRecord(
        external_id="77",
        title="Uji Ceremonial Matcha",
        updated_at=T0 + timedelta(hours=hours),
        currency="JPY",
        variants=(VariantRecord(external_id="770", price=Decimal(3200)),),
        collections=collections,
    )


def test_collections_are_replaced_by_a_newer_record_and_kept_when_it_is_silent(
    session: Session,
) -> None:
    account = Account(name="Merchant")
    session.add(account)
    session.flush()
    shop = Shop(account_id=account.id, platform="shopify", domain="c.myshopify.com")
    session.add(shop)
    session.commit()

    def titles() -> set[str]:
        return {title for _, title, _ in stored(session, shop.id).get("77", set())}

    def apply(record: ProductRecord) -> None:
        upsert_products(session, shop.id, [record])
        session.commit()

    apply(product(0, (GREEN, GIFTS)))
    assert titles() == {"Green Tea", "Gift Ideas"}
    apply(product(1, None))  # a products/update webhook: no collections in the payload
    assert titles() == {"Green Tea", "Gift Ideas"}
    apply(product(2, (GREEN, CollectionRef("2", "Gifts", "gifts"), CEREMONY)))
    assert stored(session, shop.id)["77"] == {
        ("1", "Green Tea", "green-tea"),
        ("2", "Gifts", "gifts"),
        ("3", "Tea Ceremony", None),
    }
    apply(product(1.5, ()))  # older than the stored product: changes nothing
    assert titles() == {"Green Tea", "Gifts", "Tea Ceremony"}
    apply(product(2, (CEREMONY,)))  # the same time again (a re-read): applied
    assert titles() == {"Tea Ceremony"}
    apply(product(3, ()))  # taken out of every collection
    assert titles() == set()
    # In one batch, a newer silent record keeps what the record before it listed.
    upsert_products(session, shop.id, [product(4, (GREEN,)), product(5, None)])
    session.commit()
    assert titles() == {"Green Tea"}
