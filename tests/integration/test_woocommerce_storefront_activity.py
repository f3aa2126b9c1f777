"""The simulated WooCommerce store's shoppers browse with Kizuna's storefront script in the theme:
their product views reach Kizuna over HTTP at the events endpoint the served script names, from
the store's own origin, and a shopper who typed their email at checkout has their views counted
as theirs (PostgreSQL, Redis, both servers on loopback ports)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Customer
from app.models.storefront import StorefrontEvent
from app.services.woocommerce_sync import run_sync
from app.storefront import capture_script_src
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.sandbox.woocommerce.storefront import script_variable, visitor_token
from tests.conftest import Served
from tests.factories import woocommerce
from tests.factories.woocommerce import build_connected_shop, open_stores

servers = woocommerce.servers
config = woocommerce.config
live_app = woocommerce.live_app

STORE = "browse-tea"


@pytest.fixture
def sandbox(servers: tuple[Served, Served]) -> Iterator[SandboxWooCommerce]:
    for platform in open_stores(servers, STORE, customers=6, seed=5):
        platform.url = servers[0].url  # type: ignore[attr-defined]
        yield platform


def test_shoppers_product_views_reach_kizuna_through_the_storefront_script(
    live_app: Flask, runtime: Any, db: Session, sandbox: SandboxWooCommerce
) -> None:
    shop = build_connected_shop(db, runtime, sandbox, STORE)
    run_sync(runtime, shop.id, incremental=False)  # Kizuna knows the customers and products
    config = runtime.config
    src = capture_script_src(config.app_url, config.secret_key, shop.id)
    sandbox.install_storefront_script(STORE, src)

    rng = random.Random(3)
    with httpx.Client(timeout=10) as client:
        posted = sum(sandbox.browse(STORE, rng, client) for _ in range(12))
        script = client.get(src).text

    installed = sandbox.scripts[STORE]
    assert installed.events_endpoint == script_variable(script, "eventsEndpoint")
    assert installed.events_endpoint == f"{config.app_url}/storefront/events?" + src.split("?")[1]
    db.expire_all()
    events = db.scalars(select(StorefrontEvent).where(StorefrontEvent.shop_id == shop.id)).all()
    assert posted > 0
    assert len(events) == posted
    assert {event.kind for event in events} <= {"product_viewed", "product_added_to_cart"}
    assert "product_viewed" in {event.kind for event in events}
    store = sandbox.store(STORE)
    tokens = {visitor_token(store, number): number for number in store.customers}
    assert {event.visitor_id for event in events} <= set(tokens)
    assert {event.product_external_id for event in events} <= {str(p) for p in store.products}

    # Shoppers who typed their email at checkout: every view of their browser is theirs.
    assert installed.identified
    ours = {
        customer.external_id: customer.id
        for customer in db.scalars(select(Customer).where(Customer.shop_id == shop.id))
    }
    for event in events:
        number = tokens[event.visitor_id]
        expected = ours[str(number)] if number in installed.identified else None
        assert event.customer_id == expected


def test_without_the_script_or_from_another_origin_nothing_arrives(
    live_app: Flask, runtime: Any, db: Session, sandbox: SandboxWooCommerce
) -> None:
    shop = build_connected_shop(db, runtime, sandbox, STORE)
    rng = random.Random(3)
    with httpx.Client(timeout=10) as client:
        assert sandbox.browse(STORE, rng, client) == 0  # no script in the theme yet
        config = runtime.config
        sandbox.install_storefront_script(
            STORE, capture_script_src(config.app_url, config.secret_key, shop.id)
        )
        sandbox.base_urls[STORE] = "http://elsewhere.invalid/shop"  # a copied tag on another site
        assert sandbox.browse(STORE, rng, client) == 0
    assert db.scalars(select(StorefrontEvent)).all() == []
