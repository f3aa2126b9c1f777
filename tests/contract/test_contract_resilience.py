"""Connector resilience with the real stack: PostgreSQL, Redis, HTTP to the simulated platforms.

Shopify: THROTTLED answers during a whole backfill are waited out; a 401 mid-read (the access
token expired) makes one refresh, the read completes and the rotated refresh token is stored.
WooCommerce: the sync's watermark never passes its start, so an order changed during a sync
(on a page already read) is picked up by the next incremental run. The Shopify counterpart of
that last one is `tests/integration/test_shopify_sync.py::
test_a_change_during_the_sync_is_picked_up_by_the_next_reconcile`; 429 + Retry-After on both
platforms is in `test_connector_contract.py`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import jobs.sync
from app.config import Config, load_config
from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Order, Shop
from app.models.woocommerce import WooCommerceShop
from app.services import shop_tokens, woocommerce_sync
from app.services.install_shop import connect_custom_app
from app.services.shop_tokens import shopify_client, store_grant
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.cost import MAX_QUERY_COST
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.shopify import reading
from connectors.shopify.oauth import TokenGrant
from connectors.shopify.streams import CUSTOMERS
from tests.conftest import (
    SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET,
    LiveServer,
    make_test_env,
)
from tests.factories.sync_resume import connect_woo_store, woo_small_pages

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DOMAIN = "resilient-store.myshopify.com"
WOO_STORE = "resilient-store"
PAGE = 5


@pytest.fixture
def shopify(serve: Any) -> Iterator[tuple[SandboxShopify, LiveServer]]:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=41, plan="plus")
    platform.add_shop(DOMAIN, customers=23, years=1, name="Resilient Store")
    platform.webhook_retry_delays = ()
    yield platform, serve(platform.wsgi_app)
    platform.close()


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Any, request: Any) -> Config:
    extra: dict[str, str] = {}
    if "shopify" in request.fixturenames:
        extra["SHOPIFY_SANDBOX_URL"] = request.getfixturevalue("shopify")[1].url
    return load_config(make_test_env(database_url, redis_url, **extra), tmp_path / "instance")


def _shop(db: Session, shop_id: int) -> Shop:
    db.expire_all()
    shop = db.get(Shop, shop_id)
    assert shop is not None
    return shop


def _connect_expiring(runtime: Kizuna, platform: SandboxShopify) -> tuple[int, dict[str, Any]]:
    """A shop holding an expiring access token and its refresh token."""
    body = platform.install_app(DOMAIN, expiring=True)
    shop_id = connect_custom_app(runtime, DOMAIN, body["access_token"])
    now = utcnow()
    grant = TokenGrant(
        access_token=body["access_token"],
        scope=body["scope"],
        expires_at=now + timedelta(seconds=float(body["expires_in"])),
        refresh_token=body["refresh_token"],
        refresh_token_expires_at=now + timedelta(seconds=float(body["refresh_token_expires_in"])),
    )
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        store_grant(session, runtime, shop, grant)
        session.commit()
    return shop_id, body


def test_shopify_401_mid_read_refreshes_once_and_stores_the_rotated_refresh_token(
    app: Any,
    runtime: Kizuna,
    db: Session,
    shopify: tuple[SandboxShopify, LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform, _server = shopify
    shop_id, granted = _connect_expiring(runtime, platform)
    refreshes: list[str] = []
    refresh_grant = shop_tokens.refresh_grant

    def counting(*args: Any, **kwargs: Any) -> Any:
        refreshes.append("refresh")
        return refresh_grant(*args, **kwargs)

    monkeypatch.setattr(shop_tokens, "refresh_grant", counting)
    shop = _shop(db, shop_id)

    with shopify_client(runtime, shop) as client:
        stream = dataclasses.replace(CUSTOMERS, page_size=PAGE)
        pages: list[list[Any]] = []
        for nodes in reading.read_pages(client, stream, None):
            pages.append([stream.to_record(node, "JPY") for node in nodes])
            assert len(pages) < 50
            if len(pages) == 1:  # mid-read: every access token is now refused
                platform.expire_access_tokens(DOMAIN)

    ids = [record.external_id for page in pages for record in page]
    store = platform.shop(DOMAIN)
    with store.lock:
        expected = sorted(str(customer.id) for customer in store.customers)
    assert sorted(ids) == expected
    assert len(ids) == len(set(ids))
    assert refreshes == ["refresh"]  # one refresh for the whole rest of the read
    shop = _shop(db, shop_id)
    assert shop.refresh_token_encrypted is not None
    assert shop.access_token_encrypted is not None
    assert runtime.cipher.decrypt(shop.refresh_token_encrypted) != granted["refresh_token"]
    assert runtime.cipher.decrypt(shop.access_token_encrypted) != granted["access_token"]
    assert shop.status != "error"


def test_shopify_throttled_backfill_waits_and_completes(
    app: Any,
    runtime: Kizuna,
    db: Session,
    shopify: tuple[SandboxShopify, LiveServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform, _server = shopify
    token = platform.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)
    # The smallest bucket every query fits in (its maximum = the single-query limit), refilling
    # at 500 points a second: the backfill drains it and must wait for it to refill.
    platform.set_rate_limit(DOMAIN, restore_rate=500.0, maximum=float(MAX_QUERY_COST))
    caplog.set_level(logging.INFO, logger="connectors.shopify.client")

    jobs.sync.backfill_shop(shop_id, True, False)

    state = _shop(db, shop_id).sync_state
    assert state["status"] == "done", state
    store = platform.shop(DOMAIN)
    stored = db.scalar(select(func.count()).select_from(Order).where(Order.shop_id == shop_id))
    assert stored == len(store.orders)
    waits = [r for r in caplog.records if "throttled" in r.message or "budget wait" in r.message]
    assert waits, "the client never waited for the bucket"


@pytest.fixture
def woo(serve: Any) -> Iterator[tuple[SandboxWooCommerce, LiveServer]]:
    platform = SandboxWooCommerce(seed=41)
    platform.add_store(WOO_STORE, customers=23, years=1, currency="JPY")
    yield platform, serve(platform.wsgi_app)
    platform.close()


def test_woocommerce_watermark_never_passes_the_sync_start(
    app: Any,
    runtime: Kizuna,
    db: Session,
    woo: tuple[SandboxWooCommerce, LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform, server = woo
    shop_id = connect_woo_store(runtime, platform, server.url, WOO_STORE)
    store = platform.store(WOO_STORE)
    with store.lock:
        target = min(number for number, o in store.orders.items() if o["status"] == "processing")
    woo_small_pages(monkeypatch)
    apply_orders = woocommerce_sync._apply_orders
    pages: list[int] = []

    def change_after_first_page(*args: Any, **kwargs: Any) -> int:
        result = apply_orders(*args, **kwargs)
        pages.append(1)
        if len(pages) == 2:  # the target's page (lowest ids) is already written
            platform.update_order(WOO_STORE, target, status="completed")
        return result

    monkeypatch.setattr(woocommerce_sync, "_apply_orders", change_after_first_page)
    woocommerce_sync.run_sync(runtime, shop_id, incremental=False)
    monkeypatch.setattr(woocommerce_sync, "_apply_orders", apply_orders)

    def row() -> Order:
        db.expire_all()
        return db.scalars(
            select(Order).where(Order.shop_id == shop_id, Order.external_id == str(target))
        ).one()

    assert len(pages) > 2
    assert row().fulfillment_status is None  # the first sync read it before the change
    state = _shop(db, shop_id).sync_state
    wc = db.get(WooCommerceShop, shop_id)
    assert wc is not None
    assert wc.synced_until is not None
    assert wc.synced_until.isoformat() == state["started_at"]  # not the sync's end
    # The next window (watermark minus overlap) covers the change.
    since = wc.synced_until - woocommerce_sync.WATERMARK_OVERLAP
    assert since < store.orders[target]["modified"]

    with app.app_context():  # as in a worker: a fulfilled order starts a post-purchase flow
        woocommerce_sync.run_sync(runtime, shop_id, incremental=True)

    assert _shop(db, shop_id).sync_state["mode"] == "incremental"
    assert row().fulfillment_status == "fulfilled"
