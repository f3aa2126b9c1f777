"""A sync killed mid-way resumes with no gap and no duplicate (real PostgreSQL, Redis, HTTP).

The "kill" is a `BaseException` raised from inside the run after N pages were committed: like a
SIGKILL it skips every `except Exception` handler (no "failed" state, no last_error), so the
database holds exactly what the dead process had committed. The next run must then end with
the platform's own data, checked by row counts and a sha256 over (id, updated_at, total).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import jobs.sync
from app.config import Config, load_config
from app.kizuna import Kizuna
from app.models import Customer, Order, Shop
from app.models.woocommerce import WooCommerceShop
from app.services import bulk_load, woocommerce_sync
from app.services import sync as sync_service
from app.services.install_shop import connect_custom_app
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET, LiveServer, make_test_env
from tests.factories.sync_resume import PAGE, connect_woo_store, woo_small_pages

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DOMAIN = "resume-store.myshopify.com"
WOO_STORE = "resume-store"


class Killed(BaseException):
    """The worker died: not an `Exception`, so no handler records a failure."""


def checksum(rows: Iterable[tuple[str, datetime | None, Decimal | None]]) -> str:
    digest = hashlib.sha256()
    for external_id, updated_at, total in sorted(rows, key=lambda row: row[0]):
        stamp = int(updated_at.astimezone(UTC).timestamp()) if updated_at else None
        amount = format(Decimal(total).quantize(Decimal("0.01")), "f") if total is not None else ""
        digest.update(f"{external_id}|{stamp}|{amount}\n".encode())
    return digest.hexdigest()


def db_orders(db: Session, shop_id: int) -> list[tuple[str, datetime | None, Decimal | None]]:
    db.expire_all()
    return [
        (row.external_id, row.platform_updated_at, row.total_price)
        for row in db.scalars(select(Order).where(Order.shop_id == shop_id))
    ]


def db_customers(db: Session, shop_id: int) -> list[tuple[str, datetime | None, Decimal | None]]:
    db.expire_all()
    return [
        (row.external_id, row.platform_updated_at, None)
        for row in db.scalars(select(Customer).where(Customer.shop_id == shop_id))
    ]


def count(db: Session, model: Any, shop_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(model.shop_id == shop_id)))


def state(db: Session, shop_id: int) -> dict[str, Any]:
    db.expire_all()
    shop = db.get(Shop, shop_id)
    assert shop is not None
    return dict(shop.sync_state or {})


# --- Shopify ---------------------------------------------------------------------------------


@pytest.fixture
def shopify(serve: Any) -> Iterator[tuple[SandboxShopify, LiveServer]]:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=21, plan="plus")
    platform.add_shop(DOMAIN, customers=24, years=1, name="Resume Store")
    platform.webhook_retry_delays = ()
    yield platform, serve(platform.wsgi_app)
    platform.close()


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Any, request: Any) -> Config:
    extra: dict[str, str] = {}
    if "shopify" in request.fixturenames:
        extra["SHOPIFY_SANDBOX_URL"] = request.getfixturevalue("shopify")[1].url
    return load_config(make_test_env(database_url, redis_url, **extra), tmp_path / "instance")


def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Shopify stream read by pages of PAGE (several pages each)."""
    small = tuple(dataclasses.replace(spec, page_size=PAGE) for spec in sync_service.STREAMS)
    monkeypatch.setattr(sync_service, "STREAMS", small)


def kill_after(
    monkeypatch: pytest.MonkeyPatch, target: Any, name: str, pages: int, counts: Any
) -> list[int]:
    """Make `target.name` (a per-page writer, looked up at each call) die when asked to write
    page `pages + 1` of those `counts(*args)` selects."""
    original = getattr(target, name)
    written: list[int] = []

    def dying(*args: Any, **kwargs: Any) -> Any:
        if not counts(*args):
            return original(*args, **kwargs)
        if len(written) >= pages:
            raise Killed
        result = original(*args, **kwargs)
        written.append(1)
        return result

    monkeypatch.setattr(target, name, dying)
    return written


def shopify_orders(platform: SandboxShopify) -> list[tuple[str, datetime | None, Decimal | None]]:
    store = platform.shop(DOMAIN)
    with store.lock:
        return [(str(order.id), order.updated_at, order.total) for order in store.orders]


def shopify_customers(
    platform: SandboxShopify,
) -> list[tuple[str, datetime | None, Decimal | None]]:
    store = platform.shop(DOMAIN)
    with store.lock:
        return [(str(customer.id), customer.updated_at, None) for customer in store.customers]


def test_a_shopify_backfill_killed_mid_way_resumes_without_gap_or_duplicate(
    app: Any,
    runtime: Kizuna,
    db: Session,
    shopify: tuple[SandboxShopify, LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform, _server = shopify
    token = platform.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)
    store = platform.shop(DOMAIN)
    small_pages(monkeypatch)
    # A backfill writes each page of orders set-wise: the worker dies as the third page loads.
    written = kill_after(monkeypatch, bulk_load, "load_orders", 2, lambda *_: True)

    with pytest.raises(Killed):
        jobs.sync.backfill_shop(shop_id, True, False)

    # What the dead worker left: customers, products, two pages of orders, "running".
    assert len(written) == 2
    killed = state(db, shop_id)
    assert killed["status"] == "running"
    assert killed["done"]["orders"] == 2 * PAGE
    assert count(db, Order, shop_id) == 2 * PAGE < len(store.orders)
    assert "orders" in killed["cursors"]  # the orders cursor followed the committed pages

    # While it was down, the shop kept changing (webhooks lost with the worker).
    with platform.webhooks_muted(DOMAIN):
        store.update_customer(store.customers[3].id, first_name="WhileDown")
        store.create_order(store.customers[5].id)
    monkeypatch.undo()
    small_pages(monkeypatch)
    # A SIGKILLed worker would leave the lock until it expires; this one released it.
    assert runtime.redis.get(f"kizuna:sync-lock:{shop_id}") is None

    jobs.sync.backfill_shop(shop_id, False, False)  # the next run: from the saved cursors

    resumed = state(db, shop_id)
    assert resumed["status"] == "done"
    assert resumed["done"]["orders"] < len(store.orders)  # resumed, not started over
    assert count(db, Order, shop_id) == len(store.orders)
    assert checksum(db_orders(db, shop_id)) == checksum(shopify_orders(platform))
    assert count(db, Customer, shop_id) == len(store.customers)
    assert checksum(db_customers(db, shop_id)) == checksum(shopify_customers(platform))


# --- WooCommerce -----------------------------------------------------------------------------


@pytest.fixture
def woo(serve: Any) -> Iterator[tuple[SandboxWooCommerce, LiveServer]]:
    platform = SandboxWooCommerce(seed=21)
    platform.add_store(WOO_STORE, customers=24, years=1, currency="JPY")
    yield platform, serve(platform.wsgi_app)
    platform.close()


def woo_orders(platform: SandboxWooCommerce) -> list[tuple[str, datetime | None, Decimal | None]]:
    store = platform.store(WOO_STORE)
    with store.lock:
        return [
            (
                str(order["id"]),
                order["modified"],
                Decimal(sum(line["price"] * line["quantity"] for line in order["lines"])),
            )
            for order in store.orders.values()
            if order["status"] not in ("pending", "failed", "checkout-draft")
        ]


def test_a_woocommerce_sync_killed_mid_way_resumes_without_gap_or_duplicate(
    app: Any,
    runtime: Kizuna,
    db: Session,
    woo: tuple[SandboxWooCommerce, LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform, server = woo
    shop_id = connect_woo_store(runtime, platform, server.url, WOO_STORE)
    woo_small_pages(monkeypatch)
    written = kill_after(monkeypatch, woocommerce_sync, "_apply_orders", 2, lambda *_: True)

    with pytest.raises(Killed):
        woocommerce_sync.run_sync(runtime, shop_id, incremental=True)

    assert len(written) == 2
    killed = state(db, shop_id)
    assert killed["status"] == "running"
    assert killed["done"]["orders"] == 2 * PAGE
    wc = db.get(WooCommerceShop, shop_id)
    assert wc is not None
    assert wc.synced_until is None  # the watermark only moves once a sync ends

    store = platform.store(WOO_STORE)
    first = min(store.customers)
    platform.create_order(WOO_STORE, customer_id=first)  # placed while the worker was down
    monkeypatch.undo()
    woo_small_pages(monkeypatch)

    woocommerce_sync.run_sync(runtime, shop_id, incremental=True)

    assert state(db, shop_id)["status"] == "done"
    expected = woo_orders(platform)
    assert count(db, Order, shop_id) == len(expected)
    assert checksum(db_orders(db, shop_id)) == checksum(expected)
