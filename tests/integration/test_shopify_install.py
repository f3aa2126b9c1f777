"""Installing Shopify shops end to end against the simulated Shopify, over real HTTP.

Real PostgreSQL and Redis; Kizuna is served on a loopback port and calls the sandbox through
`SHOPIFY_SANDBOX_URL`. Code grant and its refusals, managed install by token exchange, refresh
with rotation (also two at once), custom-app connect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Account, Customer, Order, Product, Shop
from app.queueing import SYNC
from app.services.shop_tokens import access_token, refresh_access_token, shopify_client
from connectors.base import AuthenticationError
from connectors.sandbox.shopify import SandboxShopify
from connectors.shopify.oauth import query_hmac
from connectors.shopify.queries import SHOP as SHOP_QUERY
from connectors.shopify.subscriptions import TOPICS, existing_topics
from tests.conftest import (
    SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET,
    SHOPIFY_API_SECRET_PREVIOUS,
    Dispatcher,
    LiveServer,
    Served,
    make_test_env,
)

# The test secrets are shorter than PyJWT's recommended HMAC key length; Shopify's are not.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DOMAIN = "demo-store.myshopify.com"
CUSTOMERS = 40


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Served, Served]]:
    """Two loopback servers for the module — the sandbox's and Kizuna's (a stop costs 0.5 s)."""
    served = tuple(Served(LiveServer(d), d) for d in (Dispatcher(), Dispatcher()))
    yield served  # type: ignore[misc]
    for each in served:
        each.server.stop()


@pytest.fixture
def sandbox_server(servers: tuple[Served, Served]) -> Served:
    return servers[0]


@pytest.fixture
def kizuna_server(servers: tuple[Served, Served]) -> Served:
    return servers[1]


@pytest.fixture
def sandbox(sandbox_server: Served, kizuna_server: Served) -> Iterator[SandboxShopify]:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=7, plan="plus")
    platform.add_shop(DOMAIN, customers=CUSTOMERS, years=1, name="Demo Store")
    platform.webhook_retry_delays = ()
    platform.set_app_url(kizuna_server.url)
    sandbox_server.dispatcher.target = platform.wsgi_app
    yield platform
    platform.close()


@pytest.fixture
def config(
    database_url: str,
    redis_url: str,
    tmp_path: Any,
    sandbox_server: Served,
    kizuna_server: Served,
) -> Config:
    """Overrides conftest's `config`: Kizuna talks to the sandbox, the sandbox knows Kizuna."""
    env = make_test_env(
        database_url, redis_url, SHOPIFY_SANDBOX_URL=sandbox_server.url, APP_URL=kizuna_server.url
    )
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def live_app(app: Flask, kizuna_server: Served, sandbox: SandboxShopify) -> Flask:
    kizuna_server.dispatcher.target = app
    return app


def _shop(db: Session) -> Shop:
    db.expire_all()
    return db.scalars(select(Shop).where(Shop.domain == DOMAIN)).one()


def _count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def _authorize(client: Any, sandbox_url: str, **overrides: str) -> str:
    """Start the install in `client` and let the sandbox approve it: the callback path+query."""
    started = client.get(f"/auth/shopify?shop={DOMAIN}")
    assert started.status_code == 302
    location = urlsplit(started.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        DOMAIN,
        "/admin/oauth/authorize",
    )
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    query.update(overrides)
    approved = httpx.get(
        f"{sandbox_url}/{DOMAIN}{location.path}?{urlencode(query)}", follow_redirects=False
    )
    assert approved.status_code == 302, approved.text
    callback = urlsplit(approved.headers["Location"])
    assert callback.path == "/auth/shopify/callback"
    return f"{callback.path}?{callback.query}"


def _install_by_code_grant(client: Any, sandbox_url: str) -> Any:
    return client.get(_authorize(client, sandbox_url))


def test_code_grant_install_end_to_end(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
    drain_jobs: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = _install_by_code_grant(client, sandbox_server.url)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/app"
    shop = _shop(db)
    with client.session_transaction() as session:
        assert session["account_id"] == shop.account_id
        assert session["shop_id"] == shop.id
    assert sandbox.is_installed(DOMAIN)
    assert (shop.status, shop.install_method, shop.platform) == ("active", "code_grant", "shopify")
    assert (shop.name, shop.currency, shop.timezone) == ("Demo Store", "JPY", "Asia/Tokyo")
    assert db.get(Account, shop.account_id) is not None

    # Tokens are stored encrypted: the columns hold ciphertext only.
    assert shop.access_token_encrypted is not None
    assert shop.refresh_token_encrypted is not None
    token = runtime.cipher.decrypt(shop.access_token_encrypted)
    refresh_token = runtime.cipher.decrypt(shop.refresh_token_encrypted)
    assert token.startswith("shpat_")
    assert refresh_token.startswith("shprt_")
    assert token.encode() not in shop.access_token_encrypted
    assert refresh_token.encode() not in shop.refresh_token_encrypted
    assert shop.access_token_expires_at is not None
    assert timedelta(minutes=55) < shop.access_token_expires_at - utcnow() <= timedelta(hours=1)
    assert shop.refresh_token_expires_at is not None
    assert "read_all_orders" in (shop.scopes or "")
    assert "notice" not in shop.sync_state

    # Webhooks are subscribed at the sandbox, to Kizuna's endpoint.
    assert shop.webhooks_subscribed == len(TOPICS)
    with shopify_client(runtime, shop) as shopify:
        assert existing_topics(shopify, f"{runtime.config.app_url}/webhooks/shopify") == set(TOPICS)

    # The first backfill was enqueued after commit; draining it fills the database. The bucket
    # holds a third of what reading the whole store requests and refills slower than the store
    # is read, even on a busy machine: the client has to pace itself.
    sandbox.set_rate_limit(DOMAIN, restore_rate=400, maximum=1000)
    caplog.set_level(logging.INFO, logger="connectors.shopify.client")
    job = Queue(SYNC, connection=runtime.redis).fetch_job(f"backfill-{shop.id}")
    assert job is not None
    drain_jobs(SYNC)
    assert job.get_status() == "finished"
    assert any("budget wait" in r.message or "throttled" in r.message for r in caplog.records)
    shop = _shop(db)
    assert shop.sync_state["status"] == "done", shop.sync_state
    assert _count(db, Customer) >= CUSTOMERS
    assert _count(db, Order) > 0
    assert _count(db, Product) > 0
    assert shop.sync_state["done"]["customers"] == len(sandbox.shop(DOMAIN).customers)
    assert shop.sync_state["done"]["orders"] == len(sandbox.shop(DOMAIN).orders)

    # The merchant, signed in by the callback, sees the store's customers and their orders.
    buyer = db.scalars(
        select(Customer)
        .where(
            Customer.shop_id == shop.id, Customer.orders_count > 0, Customer.last_name.is_not(None)
        )
        .order_by(Customer.id)
    ).first()
    assert buyer is not None
    listing = client.get("/app/customers", query_string={"q": buyer.last_name})
    assert listing.status_code == 200
    assert f"/app/customers/{buyer.id}" in listing.get_data(as_text=True)
    profile = client.get(f"/app/customers/{buyer.id}").get_data(as_text=True)
    first_order = db.scalars(
        select(Order).where(Order.shop_id == shop.id, Order.customer_id == buyer.id)
    ).first()
    assert first_order is not None
    assert first_order.name in profile


def test_a_code_grant_sign_in_sees_only_the_installed_shop(
    live_app: Flask, client: Any, db: Session, sandbox: SandboxShopify, sandbox_server: Served
) -> None:
    """Like a session token, a code grant speaks for its shop, not the account's other stores."""
    assert _install_by_code_grant(client, sandbox_server.url).status_code == 302
    installed = _shop(db)
    sister = Shop(
        account_id=installed.account_id,
        platform="shopify",
        domain="sister-store.myshopify.com",
        name="Sister Store",
        status="active",
    )
    db.add(sister)
    db.flush()
    stranger = Customer(
        shop_id=sister.id, external_id="sister-1", first_name="Siobhan", email="siobhan@sister.test"
    )
    db.add(stranger)
    db.commit()
    for query in ({}, {"shop_id": str(sister.id)}):
        shop = client.get("/api/v1/shop", query_string=query)
        assert shop.status_code == 200, query
        assert shop.get_json()["shop"]["domain"] == DOMAIN, query
        customers = client.get("/app/customers", query_string=query)
        assert customers.status_code == 200, query
        assert "siobhan@sister.test" not in customers.get_data(as_text=True), query
    assert "Sister Store" not in client.get("/app/stores").get_data(as_text=True)
    assert client.get(f"/app/customers/{stranger.id}").status_code == 404
    assert client.get(f"/api/v1/customers/{stranger.id}").status_code == 404
    # Connecting more stores, or the account's password, takes the account's own sign-in.
    assert client.get("/account/password").status_code == 404
    assert client.get("/connect/woocommerce").status_code == 302
    assert client.get("/connect/shopify").status_code == 302


def test_reinstall_reuses_the_shop_and_resubscribes_nothing_twice(
    live_app: Flask, client: Any, db: Session, sandbox_server: Served, sandbox: SandboxShopify
) -> None:
    assert _install_by_code_grant(client, sandbox_server.url).status_code == 302
    first = _shop(db)
    first.status = "uninstalled"
    first.uninstalled_at = utcnow()
    db.commit()
    store = sandbox.shop(DOMAIN)
    created = {s.topic: s for s in store.subscriptions.values()}
    assert created["customers/update"].metafield_namespaces == ["facts"]
    store.set_subscription_namespaces(created["customers/update"].id, [])  # an older subscription

    assert _install_by_code_grant(client, sandbox_server.url).status_code == 302
    again = _shop(db)
    assert again.id == first.id
    assert (again.status, again.uninstalled_at) == ("active", None)
    assert again.webhooks_subscribed == len(TOPICS)
    assert len(store.subscriptions) == len(TOPICS)  # none twice
    assert created["customers/update"].metafield_namespaces == ["facts"]  # updated in place
    assert _count(db, Shop) == 1
    assert _count(db, Account) == 1


def test_missing_read_all_orders_is_noted(
    live_app: Flask, client: Any, db: Session, sandbox_server: Served
) -> None:
    path = _authorize(client, sandbox_server.url, scope="read_customers,read_orders")
    assert client.get(path).status_code == 302
    assert "read_all_orders" in _shop(db).sync_state["notice"]


def test_a_foreign_state_is_refused(
    live_app: Flask, app: Flask, client: Any, db: Session, sandbox_server: Served
) -> None:
    # The attacker's own, valid callback is opened in the victim's browser.
    attacker = app.test_client()
    callback = _authorize(attacker, sandbox_server.url)
    client.get(f"/auth/shopify?shop={DOMAIN}")  # the victim has a state of their own

    refused = client.get(callback)
    assert refused.status_code == 403
    assert b"not started from this browser" in refused.data
    no_cookie = app.test_client().get(callback)
    assert no_cookie.status_code == 403
    assert _count(db, Shop) == 0


def test_a_state_is_used_only_once(
    live_app: Flask, client: Any, db: Session, sandbox_server: Served
) -> None:
    callback = _authorize(client, sandbox_server.url)
    assert client.get(callback).status_code == 302
    assert client.get(callback).status_code == 403


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: {**q, "hmac": "0" * 64},
        lambda q: {**q, "code": q["code"][:-1] + ("0" if q["code"][-1] != "0" else "1")},
        lambda q: {**q, "extra": "1"},
        lambda q: {k: v for k, v in q.items() if k != "hmac"},
    ],
)
def test_a_bad_hmac_is_refused(
    tamper: Any, live_app: Flask, client: Any, db: Session, sandbox_server: Served
) -> None:
    path, _, query = _authorize(client, sandbox_server.url).partition("?")
    params = {key: values[0] for key, values in parse_qs(query).items()}
    response = client.get(f"{path}?{urlencode(tamper(params))}")
    assert response.status_code == 403
    assert b"signature is not valid" in response.data
    assert _count(db, Shop) == 0


def _signed_callback(client: Any, secret: str, timestamp: int) -> Any:
    """A callback signed like Shopify would, for the state the client holds."""
    started = client.get(f"/auth/shopify?shop={DOMAIN}")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    params = {"code": "not-a-real-code", "shop": DOMAIN, "state": state}
    params["timestamp"] = str(timestamp)
    params["hmac"] = query_hmac(params, secret)
    return client.get(f"/auth/shopify/callback?{urlencode(params)}")


def test_a_stale_timestamp_is_refused(live_app: Flask, client: Any, db: Session) -> None:
    response = _signed_callback(client, SHOPIFY_API_SECRET, int(time.time()) - 600)
    assert response.status_code == 403
    assert b"too old" in response.data
    assert _count(db, Shop) == 0


def test_the_previous_secret_still_signs_and_a_bad_code_stores_nothing(
    live_app: Flask, client: Any, db: Session
) -> None:
    response = _signed_callback(client, SHOPIFY_API_SECRET_PREVIOUS, int(time.time()))
    # Past every check; the sandbox then refuses the made-up code.
    assert response.status_code == 400
    assert b"did not accept the authorization code" in response.data
    assert _count(db, Shop) == 0


@pytest.mark.parametrize(
    "shop", ["evil.com", "x.myshopify.com.evil.com", "-x.myshopify.com", "https://x.myshopify.com"]
)
def test_evil_shop_domains_are_refused(
    shop: str, live_app: Flask, client: Any, db: Session
) -> None:
    started = client.get("/auth/shopify", query_string={"shop": shop})
    assert started.status_code == 400
    assert "Set-Cookie" not in started.headers
    params = {"code": "c", "shop": shop, "state": "s", "timestamp": str(int(time.time()))}
    params["hmac"] = query_hmac(params, SHOPIFY_API_SECRET)
    assert client.get("/auth/shopify/callback", query_string=params).status_code == 400
    assert _count(db, Shop) == 0


def _open_embedded_app(sandbox_server: Served) -> httpx.Response:
    """The merchant opens the app in the Shopify admin; Shopify loads it with an id_token."""
    opened = httpx.get(
        f"{sandbox_server.url}/{DOMAIN}/admin/apps/{SHOPIFY_API_KEY}", follow_redirects=False
    )
    assert opened.status_code == 302
    assert parse_qs(urlsplit(opened.headers["Location"]).query)["embedded"] == ["1"]
    return httpx.get(opened.headers["Location"], follow_redirects=False, timeout=30)


def test_embedded_entry_performs_a_managed_install(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
) -> None:
    page = _open_embedded_app(sandbox_server)

    assert page.status_code == 200, page.text[:500]
    # The simulated admin (the sandbox's origin) frames the app in the demo and the tests.
    sandbox_origin = runtime.config.shopify_sandbox_url
    assert page.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{DOMAIN} https://admin.shopify.com {sandbox_origin};"
    )
    shop = _shop(db)
    assert (shop.status, shop.install_method) == ("active", "managed")
    assert shop.refresh_token_encrypted is not None
    assert shop.webhooks_subscribed == 0  # app-specific subscriptions come from shopify.app.toml
    assert sandbox.is_installed(DOMAIN)
    assert Queue(SYNC, connection=runtime.redis).fetch_job(f"backfill-{shop.id}") is not None

    # The next load uses the stored token: no second exchange.
    assert _open_embedded_app(sandbox_server).status_code == 200
    assert sandbox.access_token_count(DOMAIN) == 1


def test_embedded_requests_with_bad_tokens(
    live_app: Flask, client: Any, db: Session, sandbox: SandboxShopify
) -> None:
    bad_tokens = {
        "expired": sandbox.mint_session_token(DOMAIN, ttl=-60),
        "foreign secret": sandbox.mint_session_token(DOMAIN, secret="x" * 40),
        "iss names another shop": sandbox.mint_session_token(
            DOMAIN, iss="https://other-shop.myshopify.com/admin"
        ),
    }
    for name, token in bad_tokens.items():
        fetch = client.get("/app/status.json", headers={"Authorization": f"Bearer {token}"})
        assert fetch.status_code == 401, name
        assert fetch.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1", name
        document = client.get(
            "/app", query_string={"embedded": "1", "shop": DOMAIN, "host": "h", "id_token": token}
        )
        assert document.status_code == 302, name
        bounce = urlsplit(document.headers["Location"])
        assert bounce.path == "/auth/session-token-bounce"
        bounce_query = parse_qs(bounce.query)
        assert "id_token" not in bounce_query
        assert bounce_query["shopify-reload"] == [f"/app?embedded=1&shop={DOMAIN}&host=h"]
    assert _count(db, Shop) == 0

    page = client.get(document.headers["Location"])
    assert page.status_code == 200
    assert b"app-bridge.js" in page.data
    assert b'data-api-key="test-api-key"' in page.data
    assert page.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{DOMAIN} https://admin.shopify.com "
        f"{live_app.extensions['kizuna'].config.shopify_sandbox_url};"
    )
    assert (
        client.get("/auth/session-token-bounce?shop=evil.com&shopify-reload=/app").status_code
        == 400
    )
    open_redirect = f"/auth/session-token-bounce?shop={DOMAIN}&shopify-reload=//evil.com/app"
    assert client.get(open_redirect).status_code == 400


def test_without_a_token_an_embedded_load_bounces(live_app: Flask, client: Any) -> None:
    response = client.get("/app", query_string={"embedded": "1", "shop": DOMAIN, "host": "h"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/session-token-bounce"


def _installed_shop_id(client: Any, sandbox_server: Served, db: Session) -> int:
    assert _install_by_code_grant(client, sandbox_server.url).status_code == 302
    return _shop(db).id


def test_an_expired_access_token_is_refreshed_on_the_next_call(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
) -> None:
    shop_id = _installed_shop_id(client, sandbox_server, db)
    before = _shop(db)
    old_access = runtime.cipher.decrypt(before.access_token_encrypted)  # type: ignore[arg-type]
    old_refresh = runtime.cipher.decrypt(before.refresh_token_encrypted)  # type: ignore[arg-type]
    sandbox.expire_access_tokens(DOMAIN)

    with shopify_client(runtime, before) as shopify:
        assert shopify.execute(SHOP_QUERY)["shop"]["name"] == "Demo Store"

    after = _shop(db)
    assert after.id == shop_id
    assert runtime.cipher.decrypt(after.access_token_encrypted) != old_access  # type: ignore[arg-type]
    new_refresh = runtime.cipher.decrypt(after.refresh_token_encrypted)  # type: ignore[arg-type]
    assert new_refresh != old_refresh
    assert sandbox.access_token_count(DOMAIN) == 2


def test_a_token_expiring_within_five_minutes_is_refreshed_first(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
) -> None:
    shop_id = _installed_shop_id(client, sandbox_server, db)
    shop = _shop(db)
    old_access = runtime.cipher.decrypt(shop.access_token_encrypted)  # type: ignore[arg-type]
    for remaining in (timedelta(seconds=30), timedelta(minutes=4)):  # shopify_app's window, ours
        shop.access_token_expires_at = utcnow() + remaining
        db.commit()
        fresh = access_token(runtime, shop_id)
        assert fresh != old_access
        old_access = fresh
        shop = _shop(db)
        assert shop.access_token_expires_at - utcnow() > timedelta(minutes=55)  # type: ignore[operator]
    assert access_token(runtime, shop_id) == old_access  # fresh enough: no refresh
    assert sandbox.access_token_count(DOMAIN) == 3


def test_two_refreshes_at_once_rotate_once(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
) -> None:
    shop_id = _installed_shop_id(client, sandbox_server, db)
    shop = _shop(db)
    rejected = runtime.cipher.decrypt(shop.access_token_encrypted)  # type: ignore[arg-type]
    sandbox.expire_access_tokens(DOMAIN)
    start = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        start.wait()
        try:
            results.append(refresh_access_token(runtime, shop_id, stale_token=rejected))
        except BaseException as error:  # surfaced by the assertions below
            errors.append(error)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 2
    assert results[0] == results[1] != rejected
    assert sandbox.access_token_count(DOMAIN) == 2  # the install's token and one refresh
    stored = runtime.cipher.decrypt(_shop(db).access_token_encrypted)  # type: ignore[arg-type]
    assert stored == results[0]
    with shopify_client(runtime, _shop(db)) as shopify:
        assert shopify.execute(SHOP_QUERY)["shop"]["name"] == "Demo Store"


def test_a_revoked_refresh_token_marks_the_shop_for_reinstall(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
) -> None:
    shop_id = _installed_shop_id(client, sandbox_server, db)
    sandbox.revoke_tokens(DOMAIN)

    with pytest.raises(AuthenticationError):
        refresh_access_token(runtime, shop_id)

    shop = _shop(db)
    assert shop.status == "error"
    assert "reinstall" in (shop.last_error or "")


def _non_expiring_token(sandbox: SandboxShopify, sandbox_server: Served) -> str:
    """What a custom app's Admin API token is: an offline token that never expires."""
    answer = httpx.post(
        f"{sandbox_server.url}/{DOMAIN}/admin/oauth/access_token",
        json={
            "client_id": SHOPIFY_API_KEY,
            "client_secret": SHOPIFY_API_SECRET,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": sandbox.mint_session_token(DOMAIN),
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
            "expiring": 0,
        },
    )
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture
def logged_in(client: Any, db: Session) -> int:
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    with client.session_transaction() as session:
        session["account_id"] = account.id
    return account.id


def _csrf(client: Any) -> str:
    form = client.get("/connect/shopify")
    assert form.status_code == 200
    with client.session_transaction() as session:
        token: str = session["csrf_token"]
    assert token.encode() in form.data
    return token


def test_custom_app_connect_with_a_good_token(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
    logged_in: int,
) -> None:
    token = _non_expiring_token(sandbox, sandbox_server)
    response = client.post(
        "/connect/shopify",
        data={"domain": " Demo-Store.myshopify.com ", "token": token, "csrf_token": _csrf(client)},
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/app"
    shop = _shop(db)
    assert (shop.account_id, shop.install_method, shop.status) == (
        logged_in,
        "custom_app",
        "active",
    )
    assert runtime.cipher.decrypt(shop.access_token_encrypted) == token  # type: ignore[arg-type]
    assert shop.access_token_expires_at is None
    assert shop.refresh_token_encrypted is None
    assert shop.webhooks_subscribed == len(TOPICS)
    assert shop.name == "Demo Store"
    with client.session_transaction() as session:
        assert session["shop_id"] == shop.id


def test_a_refused_custom_app_token_marks_the_shop_for_reconnect(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
    logged_in: int,
) -> None:
    token = _non_expiring_token(sandbox, sandbox_server)
    form = {"domain": DOMAIN, "token": token, "csrf_token": _csrf(client)}
    assert client.post("/connect/shopify", data=form).status_code == 302
    sandbox.revoke_tokens(DOMAIN)

    with shopify_client(runtime, _shop(db)) as shopify, pytest.raises(AuthenticationError):
        shopify.execute(SHOP_QUERY)

    shop = _shop(db)
    assert shop.status == "error"
    assert "reconnect" in (shop.last_error or "")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"domain": DOMAIN, "token": "shpat_wrong"}, b"Shopify refused this access token"),
        ({"domain": "evil.com", "token": "shpat_wrong"}, b"myshopify.com domain"),
        ({"domain": DOMAIN, "token": ""}, b"Enter the Admin API access token"),
        ({"domain": "unknown-shop.myshopify.com", "token": "shpat_x"}, b"Could not reach"),
    ],
)
def test_custom_app_connect_refusals_store_nothing(
    form: dict[str, str],
    message: bytes,
    live_app: Flask,
    client: Any,
    db: Session,
    logged_in: int,
) -> None:
    response = client.post("/connect/shopify", data={**form, "csrf_token": _csrf(client)})
    assert response.status_code == 400
    assert message in response.data
    assert b"shpat_" not in response.data  # the token is never echoed back
    assert _count(db, Shop) == 0


def test_custom_app_connect_needs_the_csrf_token_and_a_login(
    live_app: Flask,
    app: Flask,
    client: Any,
    db: Session,
    sandbox: SandboxShopify,
    sandbox_server: Served,
    logged_in: int,
) -> None:
    token = _non_expiring_token(sandbox, sandbox_server)
    _csrf(client)
    forged = client.post("/connect/shopify", data={"domain": DOMAIN, "token": token})
    assert forged.status_code == 400
    anonymous = app.test_client().post("/connect/shopify", data={"domain": DOMAIN, "token": token})
    assert anonymous.status_code == 302
    assert urlsplit(anonymous.headers["Location"]).path == "/login"
    assert _count(db, Shop) == 0


def test_backfill_of_an_uninstalled_shop_does_nothing(
    live_app: Flask, client: Any, db: Session, sandbox_server: Served, drain_jobs: Any
) -> None:
    _installed_shop_id(client, sandbox_server, db)
    shop = _shop(db)
    shop.status = "uninstalled"
    db.commit()
    drain_jobs(SYNC)
    assert _count(db, Customer) == 0
    assert _shop(db).sync_state.get("status") is None
