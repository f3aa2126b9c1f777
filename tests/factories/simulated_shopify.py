"""A simulated Shopify store served over HTTP, with Kizuna on a second port it calls back
(webhooks): `servers`, `config` and `live_app` (take them with `servers =
simulated_shopify.servers`), `open_store` for a test module's own `sandbox` fixture, and
`install_and_connect` for a shop of a simulated store connected to Kizuna. `config_sending_mail`
is `config` that also sends through the simulated SendGrid (take it with `config =
simulated_shopify.config_sending_mail` and `sendgrid = cart_flow.sendgrid`).

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.kizuna import Kizuna
from app.models import Shop
from app.queueing import SYNC
from app.services.install_shop import connect_custom_app
from connectors.sandbox.shopify import SandboxShopify
from tests.conftest import (
    SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET,
    Dispatcher,
    LiveServer,
    make_test_env,
)

Servers = tuple[LiveServer, Dispatcher, LiveServer, Dispatcher]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """The simulated Shopify's server and dispatcher, then Kizuna's."""
    sandbox_dispatch, kizuna_dispatch = Dispatcher(), Dispatcher()
    sandbox_server, kizuna_server = LiveServer(sandbox_dispatch), LiveServer(kizuna_dispatch)
    yield sandbox_server, sandbox_dispatch, kizuna_server, kizuna_dispatch
    sandbox_server.stop()
    kizuna_server.stop()


def open_store(
    servers: Servers, domain: str, *, seed: int, customers: int, name: str
) -> Iterator[SandboxShopify]:
    """The simulated Shopify (Plus plan, no webhook retries) with one shop on `domain`, served on
    `servers`, calling Kizuna's server back; use with `yield from` in a `sandbox` fixture."""
    _, sandbox_dispatch, kizuna_server, _ = servers
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=seed, plan="plus")
    platform.add_shop(domain, customers=customers, years=1, name=name)
    platform.webhook_retry_delays = ()
    platform.set_app_url(kizuna_server.url)
    sandbox_dispatch.target = platform.wsgi_app
    yield platform
    platform.close()


def install_and_connect(
    runtime: Kizuna, db: Session, platform: SandboxShopify, domain: str
) -> Shop:
    """The shop on `domain` with Kizuna installed as a custom app (a non-expiring token) and
    connected; its first sync's job is dropped from the queue, so the test adds its own rows."""
    token = platform.install_app(domain, expiring=False)["access_token"]
    shop = db.get_one(Shop, connect_custom_app(runtime, domain, token))
    Queue(SYNC, connection=runtime.redis).empty()
    return shop


def load_app_config(
    database_url: str, redis_url: str, tmp_path: Any, servers: Servers, **extra: str
) -> Config:
    """The app configured to call the simulated Shopify, at Kizuna's live server's URL."""
    sandbox_server, _, kizuna_server, _ = servers
    env = make_test_env(
        database_url,
        redis_url,
        SHOPIFY_SANDBOX_URL=sandbox_server.url,
        APP_URL=kizuna_server.url,
        **extra,
    )
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Any, servers: Servers) -> Config:
    return load_app_config(database_url, redis_url, tmp_path, servers)


@pytest.fixture
def config_sending_mail(
    database_url: str, redis_url: str, tmp_path: Any, servers: Servers, sendgrid: Any
) -> Config:
    return load_app_config(
        database_url,
        redis_url,
        tmp_path,
        servers,
        SENDGRID_SANDBOX_URL=sendgrid.url,
        SENDGRID_EVENT_PUBLIC_KEY=sendgrid.public_key_b64,
    )


@pytest.fixture
def live_app(app: Flask, servers: Servers, sandbox: SandboxShopify) -> Flask:
    """Kizuna's live server answers with this test's app."""
    servers[3].target = app
    return app
