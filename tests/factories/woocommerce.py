"""WooCommerce in tests: the simulated store served over HTTP beside Kizuna (`servers`, `config`,
`live_app`: take them with `servers = woocommerce.servers`), a simulated store on its own port
(`serve_store`), and a store connected by hand (`build_connected_shop`).

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.models import Shop
from app.models.woocommerce import WooCommerceShop
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import Dispatcher, LiveServer, Served, make_test_env
from tests.factories.shops import build_shop


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Served, Served]]:
    """The simulated WooCommerce (`[0]`) and Kizuna (`[1]`), each on a loopback port."""
    served = tuple(Served(LiveServer(d), d) for d in (Dispatcher(), Dispatcher()))
    yield served  # type: ignore[misc]
    for each in served:
        each.server.stop()


def open_stores(
    servers: tuple[Served, Served], *paths: str, customers: int, seed: int = 11
) -> Iterator[SandboxWooCommerce]:
    """The simulated WooCommerce with a JPY store at each of `paths`, served on `servers[0]`
    (use with `yield from` in a test module's `sandbox` fixture)."""
    platform = SandboxWooCommerce(seed=seed)
    for path in paths:
        platform.add_store(url_path=path, customers=customers, years=1, currency="JPY")
    servers[0].dispatcher.target = platform.wsgi_app
    yield platform
    platform.close()


@pytest.fixture
def config(
    database_url: str, redis_url: str, tmp_path: Any, servers: tuple[Served, Served]
) -> Config:
    """Overrides conftest's `config`: APP_URL is Kizuna's live server."""
    env = make_test_env(database_url, redis_url, APP_URL=servers[1].url)
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def live_app(app: Flask, servers: tuple[Served, Served], sandbox: SandboxWooCommerce) -> Flask:
    """Kizuna's live server answers with this test's app."""
    servers[1].dispatcher.target = app
    return app


def serve_store(
    serve: Any, path: str, *, seed: int, customers: int
) -> Iterator[SandboxWooCommerce]:
    """The simulated WooCommerce with one JPY store at `path`, on a port of its own
    (`platform.url`); use with `yield from` in a fixture."""
    platform = SandboxWooCommerce(seed=seed)
    platform.add_store(url_path=path, customers=customers, years=1, currency="JPY")
    platform.url = serve(platform.wsgi_app).url  # type: ignore[attr-defined]
    yield platform
    platform.close()


def build_connected_shop(
    db: Session, runtime: Any, woo: SandboxWooCommerce, path: str, **columns: Any
) -> Shop:
    """The store at `path` connected with keys issued by hand (as under Settings → Advanced →
    REST API), committed; `columns` set or override any column of the shop."""
    consumer_key, consumer_secret = woo.issue_key(path)
    keys = json.dumps({"consumer_key": consumer_key, "consumer_secret": consumer_secret})
    shop = build_shop(
        db,
        f"{woo.url}/{path}",  # type: ignore[attr-defined]
        account_name="Tea",
        commit=False,
        **{
            "platform": "woocommerce",
            "currency": "JPY",
            "timezone": "UTC",
            "locale": "ja",
            "name": "絆ティー",
            "access_token_encrypted": runtime.cipher.encrypt(keys),
            **columns,
        },
    )
    db.add(WooCommerceShop(shop_id=shop.id))
    db.commit()
    return shop
