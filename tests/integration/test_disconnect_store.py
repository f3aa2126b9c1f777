"""Disconnecting a WooCommerce store, over real HTTP to the simulated store: the owner types the
store's address, our webhooks are deleted on the store (`DELETE /webhooks/<id>?force=true`),
every row of the shop is erased and no job acts on it again; the key is left for the merchant
to revoke (WooCommerce has no endpoint for it) and the page says where.

Hostile input: a wrong confirmation, no CSRF token, another account's store, a staff member,
a Shopify store (guided to Shopify's uninstall, nothing erased here), a store that is down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.db import Base
from app.kizuna import Kizuna
from app.models import Customer, Shop
from app.queueing import SYNC, WEBHOOKS
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import Served
from tests.factories import woocommerce
from tests.factories.accounts import (
    connect_woocommerce_store,
    csrf_from,
    make_member,
    make_owner,
    sign_in,
)
from tests.factories.admin import make_shop

pytestmark = pytest.mark.integration

STORE = "tea-shop"
OWNER = "owner@tea-house.example"
PASSWORD = "matcha-latte-2026"


servers = woocommerce.servers
config = woocommerce.config


@pytest.fixture
def sandbox(servers: tuple[Served, Served]) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.open_stores(servers, STORE, customers=8)


@pytest.fixture
def connected(
    app: Flask,
    servers: tuple[Served, Served],
    sandbox: SandboxWooCommerce,
    client: Any,
    db: Session,
    drain_jobs: Any,
) -> Shop:
    """The owner signed in (`client`) with the simulated store connected and synced."""
    servers[1].dispatcher.target = app
    make_owner(db, OWNER, PASSWORD)
    assert sign_in(client, OWNER, PASSWORD).status_code == 302
    connect_woocommerce_store(client, f"{servers[0].url}/{STORE}", drain_jobs)
    shop = db.scalars(select(Shop).where(Shop.platform == "woocommerce")).one()
    assert shop.sync_state["status"] == "done"
    assert sandbox.store(STORE).webhooks
    return shop


def _rows_of(db: Session, shop_id: int) -> dict[str, int]:
    counts = {}
    for table in Base.metadata.sorted_tables:
        if "shop_id" in table.c and table.name not in ("shops", "webhook_events"):
            query = select(func.count()).select_from(table).where(table.c.shop_id == shop_id)
            counts[table.name] = db.scalar(query) or 0
    return {name: n for name, n in counts.items() if n}


def _disconnect(client: Any, shop: Shop, typed: str) -> Any:
    path = f"/app/stores/{shop.id}/disconnect"
    token = csrf_from(client, "/app/stores")
    return client.post(path, data={"confirm_domain": typed, "csrf_token": token})


def test_disconnect_deletes_our_webhooks_stops_work_and_erases_the_store(
    client: Any,
    db: Session,
    runtime: Kizuna,
    sandbox: SandboxWooCommerce,
    connected: Shop,
    drain_jobs: Any,
) -> None:
    shop = connected
    assert _rows_of(db, shop.id)["customers"] >= 8
    page = client.get(f"/app/stores/{shop.id}/disconnect")
    assert page.status_code == 200
    label = shop.domain.split("://", 1)[1]
    assert label.encode() in page.data

    wrong = _disconnect(client, shop, "some-other-store.example")
    assert wrong.status_code == 400
    assert b"disconnect.confirm_mismatch" in wrong.data
    no_csrf = client.post(f"/app/stores/{shop.id}/disconnect", data={"confirm_domain": label})
    assert no_csrf.status_code == 400
    assert sandbox.store(STORE).webhooks  # nothing happened yet

    done = _disconnect(client, shop, f"  {label.upper()}/ ")
    assert done.status_code == 200
    assert b"data-disconnected" in done.data
    assert b"wc-settings&amp;tab=advanced&amp;section=keys" in done.data  # where to revoke the key
    assert b"data-webhooks-left" not in done.data
    assert sandbox.store(STORE).webhooks == {}  # deleted on the store, for good
    db.expire_all()
    erased = db.get_one(Shop, shop.id)
    assert erased.status == "uninstalled"
    assert erased.erased_at is not None
    assert erased.access_token_encrypted is None
    assert _rows_of(db, shop.id) == {}
    assert db.scalar(text("SELECT count(*) FROM webhook_events WHERE payload IS NOT NULL")) == 0

    # No work for it is left: a reconcile does not pick it, a late sync job does nothing.
    from app.services.woocommerce_sync import reconcile_woocommerce, run_sync

    assert reconcile_woocommerce(runtime) == 0
    assert run_sync(runtime, shop.id, incremental=False) == {}
    drain_jobs()
    assert _rows_of(db, shop.id) == {}
    stores = client.get("/app/stores")
    assert stores.status_code == 200
    assert label.encode() not in stores.data
    assert client.get(f"/app/stores/{shop.id}/disconnect").status_code == 404
    assert _disconnect(client, shop, label).status_code == 404


def test_a_store_that_cannot_be_reached_is_still_disconnected_and_the_merchant_told(
    client: Any, db: Session, sandbox: SandboxWooCommerce, connected: Shop
) -> None:
    sandbox.fail_next(STORE, 503, count=10)
    done = _disconnect(client, connected, connected.domain)
    assert done.status_code == 200
    assert b"data-webhooks-left" in done.data
    db.expire_all()
    assert db.get_one(Shop, connected.id).erased_at is not None
    assert db.scalar(select(func.count()).select_from(Customer)) == 0


def test_only_the_owner_disconnects_and_only_their_own_store(
    app: Flask, client: Any, db: Session, connected: Shop
) -> None:
    owner_id = connected.account_id
    from app.models import Account

    member = make_member(db, db.get_one(Account, owner_id), "staff@tea-house.example", "staff-1234")
    staff = app.test_client()
    assert sign_in(staff, member.email, "staff-1234").status_code == 302
    assert staff.get(f"/app/stores/{connected.id}/disconnect").status_code == 403
    token = csrf_from(staff, "/app/stores")
    refused = staff.post(
        f"/app/stores/{connected.id}/disconnect",
        data={"confirm_domain": connected.domain, "csrf_token": token},
    )
    assert refused.status_code == 403
    stranger = make_owner(db, "stranger@else.example", PASSWORD)
    other = app.test_client()
    assert sign_in(other, stranger.email or "", PASSWORD).status_code == 302
    assert other.get(f"/app/stores/{connected.id}/disconnect").status_code == 404
    assert _disconnect(other, connected, connected.domain).status_code == 404
    db.expire_all()
    assert db.get_one(Shop, connected.id).erased_at is None


def test_a_shopify_store_is_guided_to_shopify_uninstall(client: Any, db: Session) -> None:
    owner = make_owner(db, OWNER, PASSWORD)
    shop = make_shop(db, owner, "tea-house.myshopify.com")
    assert sign_in(client, OWNER, PASSWORD).status_code == 302
    page = client.get(f"/app/stores/{shop.id}/disconnect")
    assert page.status_code == 200
    assert b"https://tea-house.myshopify.com/admin/settings/apps" in page.data
    assert b"data-disconnect-form" not in page.data
    posted = _disconnect(client, shop, shop.domain)
    assert posted.status_code == 200  # the same guidance: nothing is erased from here
    db.expire_all()
    assert db.get_one(Shop, shop.id).erased_at is None


class HoldWebhookCreation:
    """The simulated store behind a gate: the `nth` request creating a webhook waits, before the
    store sees it, until `meanwhile()` has run (what the merchant does while setup runs)."""

    def __init__(self, store: Any, nth: int, meanwhile: Callable[[], None]) -> None:
        self.store, self.nth, self.meanwhile = store, nth, meanwhile
        self.creations = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/webhooks"):
            with self.lock:
                self.creations += 1
                held = self.creations == self.nth
            if held:
                self.meanwhile()
        return self.store(environ, start_response)


def test_a_disconnect_while_the_first_setup_creates_webhooks_leaves_none_on_the_store(
    app: Flask,
    servers: tuple[Served, Served],
    sandbox: SandboxWooCommerce,
    client: Any,
    db: Session,
    drain_jobs: Any,
) -> None:
    servers[1].dispatcher.target = app
    make_owner(db, OWNER, PASSWORD)
    assert sign_in(client, OWNER, PASSWORD).status_code == 302
    token = csrf_from(client, "/connect/woocommerce")
    started = client.post(
        "/connect/woocommerce",
        data={"store_url": f"{servers[0].url}/{STORE}", "csrf_token": token},
    )
    assert started.status_code == 302
    approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302
    drain_jobs(WEBHOOKS)  # the key check binds the store; its setup job waits on the queue
    shop = db.scalars(select(Shop).where(Shop.platform == "woocommerce")).one()
    assert shop.status == "installing"
    label = shop.domain.split("://", 1)[1]

    answers: list[int] = []

    def merchant_disconnects() -> None:
        merchant = app.test_client()
        assert sign_in(merchant, OWNER, PASSWORD).status_code == 302
        answers.append(_disconnect(merchant, shop, label).status_code)

    gate = HoldWebhookCreation(sandbox.wsgi_app, nth=2, meanwhile=merchant_disconnects)
    servers[0].dispatcher.target = gate
    drain_jobs(SYNC)  # the setup: the merchant disconnects while its second webhook is created

    assert answers == [200]
    assert sandbox.store(STORE).webhooks == {}
    assert gate.creations == 2  # setup stopped at the disconnect
    db.expire_all()
    erased = db.get_one(Shop, shop.id)
    assert (erased.status, erased.erased_at is not None) == ("uninstalled", True)
    assert _rows_of(db, shop.id) == {}
