"""Connecting a WooCommerce store cannot aim Kizuna inside, and made-up keys bind nothing.

Real PostgreSQL, Redis and HTTP: Kizuna on a loopback port, the simulated store on another (the
test environment allow-lists `127.0.0.1` for it), and an "internal service" on a third port that
answers like one (404 with a JSON `code`) and records every connection it gets. Spellings of
that service's address other than the allow-listed one must never reach it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Account, Shop
from app.models.woocommerce import PendingWooCommerceAuth, WooCommerceShop
from app.queueing import enqueue
from app.services.woocommerce_install import KEY_REFUSED, _token_hash
from app.tasks import WOOCOMMERCE_RECONCILE_SHOP
from connectors.outbound import ADDRESS_NOT_ALLOWED, NOT_A_STORE
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import Served
from tests.factories import woocommerce

STORES = ("shop-a", "shop-b")
INTERNAL_CODE = "internal_service_detail"
KEY_REFUSED_TEXT = "The store did not accept Kizuna's key. Connect it again and approve access."


class InternalService:
    """A loopback TCP service that answers any request with 404 + a JSON code, and logs it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port: int = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = json.dumps({"code": INTERNAL_CODE, "message": "secret"}).encode()
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(1)
                try:
                    self.received.append(connection.recv(4096))
                    connection.sendall(
                        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def internal() -> Iterator[InternalService]:
    service = InternalService()
    yield service
    service.close()


servers = woocommerce.servers
config = woocommerce.config
live_app = woocommerce.live_app


@pytest.fixture
def sandbox(servers: tuple[Served, Served]) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.open_stores(servers, *STORES, customers=3)


def _merchant(app: Flask, db: Session, name: str) -> tuple[Any, int]:
    """A logged-in test client of a new account, and the account id."""
    account = Account(name=name)
    db.add(account)
    db.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["account_id"] = account.id
    return client, account.id


def _connect(client: Any, store_url: str) -> Any:
    client.get("/connect/woocommerce")
    with client.session_transaction() as session:
        csrf = session["csrf_token"]
    return client.post("/connect/woocommerce", data={"store_url": store_url, "csrf_token": csrf})


def _user_id(started: Any) -> str:
    return parse_qs(urlsplit(started.headers["Location"]).query)["user_id"][0]


def _made_up_keys(user_id: str) -> dict[str, Any]:
    return {
        "key_id": 7,
        "user_id": user_id,
        "consumer_key": "ck_" + "1" * 40,
        "consumer_secret": "cs_" + "2" * 40,
        "key_permissions": "read_write",
    }


def _shops(db: Session) -> list[Shop]:
    db.expire_all()
    return list(db.scalars(select(Shop).where(Shop.platform == "woocommerce")).all())


def _pending(db: Session, user_id: str) -> PendingWooCommerceAuth:
    db.expire_all()
    return db.scalars(
        select(PendingWooCommerceAuth).where(
            PendingWooCommerceAuth.token_hash == _token_hash(user_id)
        )
    ).one()


def _done_page(client: Any, user_id: str) -> Any:
    return client.get(f"/connect/woocommerce/done?success=1&user_id={user_id}")


# --- aimed inside -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "http://127.1:{port}",
        "https://0x7f.1:{port}",
        "https://0177.0.0.1:{port}",
        "2130706433:{port}",
        "localhost:{port}",
        "https://localhost.:{port}",
        "http://169.254.169.254",
        "https://10.0.0.1",
    ],
)
def test_connect_aimed_inside_is_refused_and_nothing_reaches_the_target(
    live_app: Flask, db: Session, internal: InternalService, drain_jobs: Any, spelling: str
) -> None:
    client, _ = _merchant(live_app, db, "Prober")
    started = _connect(client, spelling.format(port=internal.port))
    if started.status_code == 302:  # what an attacker would do next with the redirect
        client.post("/auth/woocommerce/callback", json=_made_up_keys(_user_id(started)))
        drain_jobs()
    assert started.status_code == 400
    assert ADDRESS_NOT_ALLOWED in started.get_data(as_text=True)
    assert internal.received == []
    assert _shops(db) == []


def test_a_store_url_that_turns_inside_after_connect_is_never_fetched(
    live_app: Flask, db: Session, runtime: Kizuna, internal: InternalService, drain_jobs: Any
) -> None:
    """The address passed the check when the merchant typed it (DNS answered public), and now
    points inside: the key check refuses the call and says only why."""
    client, account_id = _merchant(live_app, db, "Rebinder")
    user_id = "a-pending-request-token"
    db.add(
        PendingWooCommerceAuth(
            token_hash=_token_hash(user_id),
            account_id=account_id,
            store_url=f"https://127.1:{internal.port}",
            expires_at=utcnow() + timedelta(minutes=5),
        )
    )
    db.commit()
    callback = client.post("/auth/woocommerce/callback", json=_made_up_keys(user_id))
    assert callback.status_code == 200
    drain_jobs()

    assert internal.received == []
    assert _shops(db) == []
    pending = _pending(db, user_id)
    assert (pending.outcome, pending.failure) == ("refused", "connect.address_not_allowed")
    assert pending.grant_encrypted is None
    page = _done_page(client, user_id)
    assert page.status_code == 400
    assert ADDRESS_NOT_ALLOWED in page.get_data(as_text=True)


def test_a_bound_store_pointing_inside_shows_only_the_reason(
    live_app: Flask, db: Session, runtime: Kizuna, internal: InternalService, drain_jobs: Any
) -> None:
    """A store bound before the guard existed, whose URL names an internal service: the
    worker's calls are refused, and the home page and the API show the reason class only."""
    client, account_id = _merchant(live_app, db, "Older")
    shop = Shop(
        account_id=account_id,
        platform="woocommerce",
        domain=f"http://127.1:{internal.port}",
        name="older",
        status="active",
        install_method="wc_auth",
        access_token_encrypted=runtime.cipher.encrypt(
            json.dumps({"consumer_key": "ck_x", "consumer_secret": "cs_y"})
        ),
    )
    db.add(shop)
    db.flush()
    db.add(
        WooCommerceShop(
            shop_id=shop.id,
            webhook_ids={},
            webhook_secret_encrypted=runtime.cipher.encrypt("s"),
        )
    )
    db.commit()
    enqueue(runtime.redis, WOOCOMMERCE_RECONCILE_SHOP, shop.id, job_id=f"wc-reconcile-{shop.id}")
    drain_jobs()

    assert internal.received == []
    last_error = _shops(db)[0].last_error
    assert last_error == f"Webhook setup failed: {ADDRESS_NOT_ALLOWED}"
    api = client.get("/api/v1/shop", headers={"Accept": "application/json"})
    assert api.status_code == 200
    assert api.get_json()["shop"]["last_error"] == last_error
    home = client.get("/app").get_data(as_text=True)
    assert ADDRESS_NOT_ALLOWED in home
    # Stored as a key and a reason key, so it is worded in the merchant's language.
    assert _shops(db)[0].last_error_code == "shop_error.webhook_setup_failed"
    assert _shops(db)[0].last_error_params == {"reason_key": "connect.address_not_allowed"}
    assert api.get_json()["shop"]["last_error_code"] == "shop_error.webhook_setup_failed"
    in_japanese = "Webhook の設定に失敗しました: このアドレスは使用できません。"
    ja = {"Accept-Language": "ja"}
    ja_api = client.get("/api/v1/shop", headers={**ja, "Accept": "application/json"}).get_json()
    assert ja_api["shop"]["last_error"] == in_japanese
    assert ja_api["shop"]["last_error_code"] == "shop_error.webhook_setup_failed"
    stores = client.get("/api/v1/stores", headers={**ja, "Accept": "application/json"})
    [store] = stores.get_json()["stores"]
    assert (store["last_error"], store["last_error_code"]) == (
        in_japanese,
        "shop_error.webhook_setup_failed",
    )
    for page in ("/app", "/app/stores"):
        text = client.get(page, headers=ja).get_data(as_text=True)
        assert in_japanese in text, page
        assert ADDRESS_NOT_ALLOWED not in text, page
    assert INTERNAL_CODE not in home
    assert "404" not in last_error


# --- ownership --------------------------------------------------------------------------------


def _approve(client: Any, store_url: str, drain_jobs: Any) -> str:
    """The owner's real wc-auth approval in the simulated store, then the key check."""
    started = _connect(client, store_url)
    assert started.status_code == 302, started.data
    approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302, approved.text
    drain_jobs()
    return _user_id(started)


def test_made_up_keys_never_bind_a_store_and_the_owner_still_connects(
    live_app: Flask,
    db: Session,
    runtime: Kizuna,
    servers: tuple[Served, Served],
    sandbox: SandboxWooCommerce,
    drain_jobs: Any,
) -> None:
    store_url = f"{servers[0].url}/shop-a"
    stranger, _ = _merchant(live_app, db, "Stranger")
    owner, owner_id = _merchant(live_app, db, "Owner")

    started = _connect(stranger, store_url)
    assert started.status_code == 302
    user_id = _user_id(started)
    callback = stranger.post("/auth/woocommerce/callback", json=_made_up_keys(user_id))
    assert callback.status_code == 200  # WooCommerce's contract: the key check comes after
    drain_jobs()

    assert _shops(db) == []
    assert (_pending(db, user_id).outcome, _pending(db, user_id).failure) == (
        "refused",
        KEY_REFUSED,
    )
    assert escape(KEY_REFUSED_TEXT) in _done_page(stranger, user_id).get_data(as_text=True)

    owner_request = _approve(owner, store_url, drain_jobs)
    (shop,) = _shops(db)
    assert (shop.account_id, shop.domain, shop.status) == (owner_id, store_url, "active")
    assert _pending(db, owner_request).outcome == "connected"
    key = next(iter(sandbox.store("shop-a").keys.values()))
    stored = json.loads(runtime.cipher.decrypt(shop.access_token_encrypted or b""))
    assert stored["consumer_key"] == key.consumer_key


def test_a_stranger_cannot_tell_which_stores_use_kizuna_nor_take_one(
    live_app: Flask,
    db: Session,
    runtime: Kizuna,
    servers: tuple[Served, Served],
    drain_jobs: Any,
) -> None:
    taken, free = (f"{servers[0].url}/{path}" for path in STORES)
    owner, owner_id = _merchant(live_app, db, "Owner")
    _approve(owner, taken, drain_jobs)
    (shop,) = _shops(db)
    keys_before = shop.access_token_encrypted

    stranger, _ = _merchant(live_app, db, "Stranger")
    answers = []
    for store_url in (taken, free):
        started = _connect(stranger, store_url)
        user_id = _user_id(started)
        callback = stranger.post("/auth/woocommerce/callback", json=_made_up_keys(user_id))
        drain_jobs()
        page = _done_page(stranger, user_id)
        answers.append(
            (
                started.status_code,
                urlsplit(started.headers["Location"]).path.rsplit("/", 4)[-3:],
                callback.status_code,
                callback.get_json(),
                page.status_code,
                page.get_data(as_text=True).replace(user_id, ""),
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][0] == 302
    assert "another Kizuna account" not in answers[0][5]

    (shop,) = _shops(db)
    assert (shop.account_id, shop.access_token_encrypted) == (owner_id, keys_before)
    count = db.scalar(select(func.count()).select_from(Shop))
    assert count == 1


def test_an_address_that_is_no_store_is_told_so_without_its_answer(
    live_app: Flask, db: Session, servers: tuple[Served, Served], drain_jobs: Any
) -> None:
    merchant, _ = _merchant(live_app, db, "Typo")
    started = _connect(merchant, f"{servers[0].url}/no-such-store")
    user_id = _user_id(started)
    merchant.post("/auth/woocommerce/callback", json=_made_up_keys(user_id))
    drain_jobs()
    assert _shops(db) == []
    assert (_pending(db, user_id).outcome, _pending(db, user_id).failure) == (
        "refused",
        "connect.not_a_store",
    )
    page = _done_page(merchant, user_id).get_data(as_text=True)
    assert escape(NOT_A_STORE) in page
    assert "404" not in page
    assert "rest_no_route" not in page
