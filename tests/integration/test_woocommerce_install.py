"""Connecting a WooCommerce store end to end against the simulated store, over real HTTP.

Real PostgreSQL and Redis; Kizuna is served on a loopback port (the store POSTs the keys and
delivers webhooks there) and calls the store through its URL. Install → keys encrypted,
webhooks created, backfill (guests included); forged and replayed callbacks; webhook
signature, ping, duplicates; a disabled webhook re-enabled and the gap backfilled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Account, Checkout, Customer, Order, Shop, WebhookEvent
from app.models.woocommerce import PendingWooCommerceAuth, WooCommerceShop
from app.queueing import SYNC
from app.services.webhook_stats import rejected_count
from connectors.sandbox.woocommerce import SandboxWooCommerce, sign
from connectors.woocommerce.webhooks import TOPICS
from jobs.woocommerce import reconcile_woocommerce
from tests.conftest import Dispatcher, LiveServer, Served, make_test_env

STORE = "shop-a"
CUSTOMERS = 12


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Served, Served]]:
    served = tuple(Served(LiveServer(d), d) for d in (Dispatcher(), Dispatcher()))
    yield served  # type: ignore[misc]
    for each in served:
        each.server.stop()


@pytest.fixture
def sandbox(servers: tuple[Served, Served]) -> Iterator[SandboxWooCommerce]:
    platform = SandboxWooCommerce(seed=7)
    platform.add_store(url_path=STORE, customers=CUSTOMERS, years=1, currency="JPY")
    servers[0].dispatcher.target = platform.wsgi_app
    yield platform
    platform.close()


@pytest.fixture
def store_url(servers: tuple[Served, Served], sandbox: SandboxWooCommerce) -> str:
    return f"{servers[0].url}/{STORE}"


@pytest.fixture
def config(
    database_url: str, redis_url: str, tmp_path: Any, servers: tuple[Served, Served]
) -> Config:
    """Overrides conftest's `config`: APP_URL is Kizuna's live server."""
    env = make_test_env(database_url, redis_url, APP_URL=servers[1].url)
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def live_app(app: Flask, servers: tuple[Served, Served], sandbox: SandboxWooCommerce) -> Flask:
    servers[1].dispatcher.target = app
    return app


@pytest.fixture
def logged_in(client: Any, db: Session) -> int:
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    with client.session_transaction() as session:
        session["account_id"] = account.id
    return account.id


def _csrf(client: Any) -> str:
    form = client.get("/connect/woocommerce")
    assert form.status_code == 200
    with client.session_transaction() as session:
        token: str = session["csrf_token"]
    return token


def _count(db: Session, model: Any, *where: Any) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _shop(db: Session) -> Shop:
    db.expire_all()
    return db.scalars(select(Shop).where(Shop.platform == "woocommerce")).one()


def _start(client: Any, store_url: str) -> str:
    started = client.post(
        "/connect/woocommerce", data={"store_url": store_url + "/", "csrf_token": _csrf(client)}
    )
    assert started.status_code == 302, started.data
    location = started.headers["Location"]
    assert location.startswith(f"{store_url}/wc-auth/v1/authorize?")
    return location


def _install(client: Any, store_url: str, drain_jobs: Any) -> str:
    location = _start(client, store_url)
    approved = requests.get(location, allow_redirects=False, timeout=30)
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["Location"])
    assert back.path == "/connect/woocommerce/done"
    assert parse_qs(back.query)["success"] == ["1"]
    drain_jobs()
    return location


def test_install_end_to_end(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxWooCommerce,
    store_url: str,
    logged_in: int,
    drain_jobs: Any,
) -> None:
    location = _start(client, store_url)
    user_id = parse_qs(urlsplit(location).query)["user_id"][0]
    approved = requests.get(location, allow_redirects=False, timeout=30)
    assert approved.status_code == 302

    # The callback only keeps the key, encrypted, until it has been tried against the store.
    key = next(iter(sandbox.store(STORE).keys.values()))
    assert _count(db, Shop) == 0
    pending = db.scalars(select(PendingWooCommerceAuth)).one()
    assert (pending.used_at is not None, pending.outcome) == (True, "checking")
    assert user_id not in pending.token_hash  # only its hash is stored
    assert pending.grant_encrypted is not None
    assert key.consumer_secret.encode() not in pending.grant_encrypted
    back = urlsplit(approved.headers["Location"])
    waiting = client.get(f"{back.path}?{back.query}")
    assert waiting.status_code == 200
    assert b"Checking the key" in waiting.data

    drain_jobs()

    shop = _shop(db)
    assert (shop.account_id, shop.domain) == (logged_in, store_url)
    assert shop.access_token_encrypted is not None
    assert key.consumer_secret.encode() not in shop.access_token_encrypted
    assert json.loads(runtime.cipher.decrypt(shop.access_token_encrypted)) == {
        "consumer_key": key.consumer_key,
        "consumer_secret": key.consumer_secret,
    }
    db.expire_all()
    pending = db.scalars(select(PendingWooCommerceAuth)).one()
    assert (pending.outcome, pending.shop_id, pending.grant_encrypted) == (
        "connected",
        shop.id,
        None,
    )
    done = client.get(f"{back.path}?{back.query}")
    assert (done.status_code, urlsplit(done.headers["Location"]).path) == (302, "/app")
    assert shop.status == "active"
    assert shop.currency == "JPY"
    assert shop.sync_state["status"] == "done", shop.sync_state
    assert shop.webhooks_subscribed == len(TOPICS)
    hooks = sandbox.store(STORE).webhooks.values()
    delivery_url = f"{runtime.config.app_url}/webhooks/woocommerce?shop={shop.id}"
    assert sorted(h.topic for h in hooks) == sorted(TOPICS)
    assert all(h.delivery_url == delivery_url and h.status == "active" for h in hooks)
    wc = db.get(WooCommerceShop, shop.id)
    assert wc is not None
    assert wc.webhook_secret_encrypted is not None
    assert {h.secret for h in hooks} == {runtime.cipher.decrypt(wc.webhook_secret_encrypted)}
    assert wc.synced_until is not None

    store = sandbox.store(STORE)
    open_orders = [
        o for o in store.orders.values() if o["status"] in ("pending", "failed", "checkout-draft")
    ]
    guest_emails = {o["billing"]["email"] for o in store.orders.values() if not o["customer_id"]}
    assert _count(db, Order, Order.shop_id == shop.id) == len(store.orders) - len(open_orders)
    assert _count(db, Checkout, Checkout.shop_id == shop.id) == len(open_orders)
    guests = _count(db, Customer, Customer.external_id.like("guest:%"))
    registered = _count(db, Customer, Customer.external_id.not_like("guest:%"))
    assert registered == CUSTOMERS
    # Guests with only an open checkout get a customer row too (from the checkout's email).
    assert guests == len(guest_emails)
    checkout = db.scalars(select(Checkout).where(Checkout.completed_at.is_(None))).first()
    assert checkout is not None
    assert checkout.recovery_url is not None
    assert "/checkout/order-pay/" in checkout.recovery_url
    assert shop.sync_state["done"]["orders"] == len(store.orders)
    # The first backfill wrote set-wise: every customer's totals (recomputed once, after the
    # last page of orders) match its stored orders, and customers with an email have a person.
    params = {"shop": shop.id}
    assert not db.scalar(
        text(
            "SELECT count(*) FROM customers c LEFT JOIN (SELECT customer_id, count(*) AS n"
            " FROM orders WHERE shop_id = :shop GROUP BY customer_id) t ON t.customer_id = c.id"
            " WHERE c.shop_id = :shop AND c.orders_count <> coalesce(t.n, 0)"
        ),
        params,
    )
    assert db.scalar(
        text("SELECT count(*) FROM customers WHERE shop_id = :shop AND orders_count > 0"), params
    )
    assert not db.scalar(
        text(
            "SELECT count(*) FROM customers WHERE shop_id = :shop AND person_id IS NULL"
            " AND email_normalized IS NOT NULL"
        ),
        params,
    )


def test_forged_expired_and_replayed_callbacks_store_nothing(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxWooCommerce,
    store_url: str,
    logged_in: int,
    drain_jobs: Any,
) -> None:
    body = {
        "key_id": 1,
        "user_id": "forged-user-id",
        "consumer_key": "ck_" + "a" * 40,
        "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write",
    }
    assert client.post("/auth/woocommerce/callback", json=body).status_code == 400
    assert client.post("/auth/woocommerce/callback", data="nope").status_code == 400

    location = _start(client, store_url)
    user_id = parse_qs(urlsplit(location).query)["user_id"][0]
    db.execute(update(PendingWooCommerceAuth).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    expired = client.post("/auth/woocommerce/callback", json={**body, "user_id": user_id})
    assert expired.status_code == 400
    assert _count(db, Shop) == 0

    # A real approval, then the same callback again: refused, the stored keys unchanged.
    location = _start(client, store_url)
    user_id = parse_qs(urlsplit(location).query)["user_id"][0]
    assert requests.get(location, allow_redirects=False, timeout=30).status_code == 302
    drain_jobs()
    stored = _shop(db).access_token_encrypted
    replay = client.post("/auth/woocommerce/callback", json={**body, "user_id": user_id})
    assert replay.status_code == 400
    assert _shop(db).access_token_encrypted == stored
    assert _count(db, Shop) == 1


def test_connect_needs_login_and_csrf(client: Any, live_app: Flask, store_url: str) -> None:
    anonymous = client.post("/connect/woocommerce", data={"store_url": store_url})
    assert anonymous.status_code == 302
    assert urlsplit(anonymous.headers["Location"]).path == "/login"
    with client.session_transaction() as session:
        session["account_id"] = 1
    refused = client.post("/connect/woocommerce", data={"store_url": store_url, "csrf_token": "x"})
    assert refused.status_code == 400


def _signed_post(
    client: Any, shop_id: int, secret: str, payload: dict[str, Any], topic: str = "order.updated"
) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/woocommerce?shop={shop_id}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": sign(body, secret),
            "X-WC-Webhook-Delivery-ID": "same-second-delivery",
        },
    )


def test_webhooks_signature_ping_and_duplicates(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxWooCommerce,
    store_url: str,
    logged_in: int,
    drain_jobs: Any,
) -> None:
    _install(client, store_url, drain_jobs)
    shop = _shop(db)
    wc = db.get(WooCommerceShop, shop.id)
    assert wc is not None
    assert wc.webhook_secret_encrypted is not None
    secret = runtime.cipher.decrypt(wc.webhook_secret_encrypted)
    events_before = _count(db, WebhookEvent)

    # A real delivery from the store: a new guest order lands in the database.
    order = sandbox.create_order(STORE, guest_email="Fresh.Guest@example.jp")
    sandbox.wait_for_deliveries()
    drain_jobs()
    db.expire_all()
    assert _count(db, WebhookEvent) == events_before + 1
    row = db.scalars(select(Order).where(Order.external_id == str(order["id"]))).one()
    assert row.customer_id is not None
    guest = db.get(Customer, row.customer_id)
    assert guest is not None
    assert guest.external_id == "guest:fresh.guest@example.jp"

    # Bad signature, unknown shop: 401, nothing stored.
    payload = sandbox.render(STORE, "orders", order["id"])
    bad = _signed_post(client, shop.id, "wrong-secret", payload)
    assert bad.status_code == 401
    assert _signed_post(client, shop.id + 999, secret, payload).status_code == 401
    assert _count(db, WebhookEvent) == events_before + 1
    # The bad signature counts on the store's status page; the unknown shop creates no key.
    assert rejected_count(runtime.redis, shop.id) == 1
    assert list(runtime.redis.scan_iter("kizuna:webhooks:rejected:*")) == [
        f"kizuna:webhooks:rejected:{shop.id}".encode()
    ]

    # The creation ping: acknowledged, not recorded.
    ping = client.post(
        f"/webhooks/woocommerce?shop={shop.id}",
        data="webhook_id=3",
        content_type="application/x-www-form-urlencoded",
    )
    assert ping.status_code == 200
    assert _count(db, WebhookEvent) == events_before + 1

    # The same resource state twice (same delivery id or not): processed once.
    sandbox.update_order(STORE, order["id"], status="completed")
    sandbox.wait_for_deliveries()
    payload = sandbox.render(STORE, "orders", order["id"])
    first = _signed_post(client, shop.id, secret, payload)
    second = _signed_post(client, shop.id, secret, payload)
    assert first.status_code == second.status_code == 200
    assert second.get_json()["duplicate"] is True
    drain_jobs()
    db.expire_all()
    updated = db.scalars(
        select(WebhookEvent).where(WebhookEvent.resource_id == str(order["id"]))
    ).all()
    # order.created + one order.updated (the store's own delivery and ours were the same state)
    assert len(updated) == 2
    assert {e.status for e in updated} == {"processed"}
    row = db.scalars(select(Order).where(Order.external_id == str(order["id"]))).one()
    assert row.fulfillment_status == "fulfilled"


def test_disabled_webhook_is_reenabled_and_the_gap_backfilled(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxWooCommerce,
    store_url: str,
    logged_in: int,
    drain_jobs: Any,
    servers: tuple[Served, Served],
) -> None:
    _install(client, store_url, drain_jobs)
    assert _shop(db).status == "active"

    def down(environ: Any, start_response: Any) -> Any:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]

    servers[1].dispatcher.target = down
    missed = [sandbox.create_order(STORE, guest_email=f"gap{i}@example.jp") for i in range(5)]
    sandbox.wait_for_deliveries()
    servers[1].dispatcher.target = live_app
    hook = next(h for h in sandbox.store(STORE).webhooks.values() if h.topic == "order.created")
    assert hook.status == "disabled"
    missed.append(sandbox.create_order(STORE, guest_email="gap-late@example.jp"))
    sandbox.wait_for_deliveries()
    ids = [str(o["id"]) for o in missed]
    assert _count(db, Order, Order.external_id.in_(ids)) == 0

    reconcile_woocommerce(900.0)  # what the scheduler runs; fans out one job per shop
    drain_jobs(SYNC)

    assert hook.status == "active"
    db.expire_all()
    assert _count(db, Order, Order.external_id.in_(ids)) == len(ids)
    assert _shop(db).sync_state["mode"] == "incremental"
    assert _count(db, Customer, Customer.external_id == "guest:gap-late@example.jp") == 1


def test_webhook_customer_and_checkout_then_paid(
    live_app: Flask,
    client: Any,
    db: Session,
    sandbox: SandboxWooCommerce,
    store_url: str,
    logged_in: int,
    drain_jobs: Any,
) -> None:
    _install(client, store_url, drain_jobs)
    customer = sandbox.create_customer(STORE, email="new.member@example.jp")
    order = sandbox.create_order(STORE, customer_id=customer["id"], status="pending")
    sandbox.wait_for_deliveries()
    drain_jobs()
    db.expire_all()
    member = db.scalars(select(Customer).where(Customer.external_id == str(customer["id"]))).one()
    assert member.email == "new.member@example.jp"
    checkout = db.scalars(select(Checkout).where(Checkout.external_id == str(order["id"]))).one()
    assert checkout.completed_at is None
    assert checkout.customer_id == member.id
    assert checkout.recovery_url is not None
    assert _count(db, Order, Order.external_id == str(order["id"])) == 0

    sandbox.update_order(STORE, order["id"], status="processing")
    sandbox.wait_for_deliveries()
    drain_jobs()
    db.expire_all()
    paid = db.scalars(select(Order).where(Order.external_id == str(order["id"]))).one()
    assert paid.customer_id == member.id
    assert paid.financial_status == "paid"


def test_reconcile_is_in_the_schedule() -> None:
    from jobs.schedule import PERIODIC

    assert "jobs.woocommerce.reconcile_woocommerce" in {job.task.path for job in PERIODIC}


def test_store_deliveries_of_every_subscribed_topic(
    live_app: Flask,
    client: Any,
    db: Session,
    sandbox: SandboxWooCommerce,
    store_url: str,
    logged_in: int,
    drain_jobs: Any,
) -> None:
    _install(client, store_url, drain_jobs)
    customer = sandbox.create_customer(STORE, email="all.topics@example.jp")
    sandbox.set_meta(STORE, "customers", customer["id"], "visits", 2)
    order = sandbox.create_order(STORE, customer_id=customer["id"])
    sandbox.update_order(STORE, order["id"], status="completed")
    sandbox.trash_order(STORE, order["id"])
    sandbox.restore_order(STORE, order["id"])
    product = sandbox.create_product(STORE, "Gyokuro")
    sandbox.update_product(STORE, product["id"], price=2700)
    sandbox.wait_for_deliveries()  # a delivery renders the resource when it goes: delete after
    sandbox.delete_customer(STORE, customer["id"])
    sandbox.wait_for_deliveries()
    drain_jobs()
    db.expire_all()

    events = db.scalars(select(WebhookEvent).where(WebhookEvent.platform == "woocommerce")).all()
    assert sorted(e.topic for e in events) == sorted(TOPICS)  # order.deleted: not subscribed
    assert {e.status for e in events} == {"processed"}
    restored = db.scalars(select(Order).where(Order.external_id == str(order["id"]))).one()
    assert restored.fulfillment_status == "fulfilled"
    member = db.scalars(select(Customer).where(Customer.external_id == str(customer["id"]))).one()
    assert member.deleted_at is not None
    # The trashed order is no longer listed, as WooCommerce's `status=any` leaves trash out.
    sandbox.trash_order(STORE, order["id"])
    listed = requests.get(
        f"{store_url}/wp-json/wc/v3/orders",
        params={"per_page": 100},
        auth=next((k.consumer_key, k.consumer_secret) for k in sandbox.store(STORE).keys.values()),
        timeout=30,
    ).json()
    assert order["id"] not in {o["id"] for o in listed}
