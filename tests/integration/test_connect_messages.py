"""What a merchant connecting a store is told, in their language: the WooCommerce and Shopify
connect forms, the page after a WooCommerce key check, the Shopify install link and the home
page's notice, each in English and Japanese (`Accept-Language`), on real PostgreSQL and Redis.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Account
from app.models.woocommerce import PendingWooCommerceAuth
from app.services.sync import READ_ALL_ORDERS_NOTICE
from app.services.woocommerce_install import KEY_REFUSED, _token_hash
from tests.factories.accounts import csrf_from, make_owner, sign_in
from tests.factories.shops import build_shop

pytestmark = pytest.mark.integration

OWNER = "owner@tea-house.example"
PASSWORD = "matcha-latte-2026"

# (language, what the WooCommerce form says of a typo, of an internal address, of a refused key)
WOOCOMMERCE = {
    "en": (
        "That is not a store address. Use the address of your WordPress site.",
        "This address is not allowed.",
        "The store did not accept Kizuna's key. Connect it again and approve access.",
    ),
    "ja": (
        "ストアのアドレスではありません。WordPress サイトのアドレスを入力してください。",
        "このアドレスは使用できません。",
        "ストアが Kizuna のキーを受け付けませんでした。"
        "もう一度接続し、アクセスを承認してください。",
    ),
}
# (what the Shopify custom-app form says of a missing domain, a missing token; the install link
# of a bad shop; the home page's notice)
SHOPIFY = {
    "en": (
        "Enter the shop's myshopify.com domain, e.g. my-store.myshopify.com.",
        "Enter the Admin API access token of the custom app.",
        "That is not a Shopify store address. Use the store's myshopify.com domain",
        "only orders from the last 60 days can be imported.",
    ),
    "ja": (
        "ストアの myshopify.com ドメインを入力してください（例: my-store.myshopify.com）。",
        "カスタムアプリの Admin API アクセストークンを入力してください。",
        "Shopify ストアのアドレスではありません。",
        "取り込めるのは過去60日間の注文のみです。",
    ),
}


def _owner_client(app: Flask, db: Session, language: str, email: str = OWNER) -> Any:
    """A client signed in as a new owner whose browser asks for `language`."""
    make_owner(db, email, PASSWORD)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    assert sign_in(client, email, PASSWORD).status_code == 302
    return client


def _connect_woocommerce(client: Any, store_url: str) -> Any:
    token = csrf_from(client, "/connect/woocommerce")
    return client.post("/connect/woocommerce", data={"store_url": store_url, "csrf_token": token})


@pytest.mark.parametrize("language", ["en", "ja"])
def test_woocommerce_connect_errors_are_in_the_merchants_language(
    app: Flask, db: Session, language: str
) -> None:
    typo, not_allowed, key_refused = WOOCOMMERCE[language]
    client = _owner_client(app, db, language)

    page = _connect_woocommerce(client, "not a store")
    assert page.status_code == 400
    assert escape(typo) in page.get_data(as_text=True)
    page = _connect_woocommerce(client, "https://10.0.0.1")
    assert page.status_code == 400
    assert escape(not_allowed) in page.get_data(as_text=True)

    # A key check the store refused (written by the job, in no language): worded on the page.
    user_id = "pending-request-token"
    other = _owner_client(app, db, language, "other@tea-house.example")
    account = db.scalars(select(Account).where(Account.email == "other@tea-house.example")).one()
    db.add(
        PendingWooCommerceAuth(
            token_hash=_token_hash(user_id),
            account_id=account.id,
            store_url="https://tea.example",
            expires_at=utcnow() + timedelta(minutes=5),
            outcome="refused",
            failure=KEY_REFUSED,
        )
    )
    db.commit()
    done = other.get(f"/connect/woocommerce/done?success=1&user_id={user_id}")
    assert done.status_code == 400
    body = done.get_data(as_text=True)
    assert escape(key_refused) in body
    assert KEY_REFUSED not in body  # the key itself is never shown


@pytest.mark.parametrize("language", ["en", "ja"])
def test_shopify_connect_errors_and_notice_are_in_the_merchants_language(
    app: Flask, db: Session, language: str
) -> None:
    no_domain, no_token, bad_shop, notice = SHOPIFY[language]
    client = _owner_client(app, db, language)

    token = csrf_from(client, "/connect/shopify")
    page = client.post("/connect/shopify", data={"domain": "", "token": "", "csrf_token": token})
    assert page.status_code == 400
    assert escape(no_domain) in page.get_data(as_text=True)
    token = csrf_from(client, "/connect/shopify")
    page = client.post(
        "/connect/shopify",
        data={"domain": "tea-house.myshopify.com", "token": " ", "csrf_token": token},
    )
    assert page.status_code == 400
    assert escape(no_token) in page.get_data(as_text=True)

    install = client.get("/auth/shopify?shop=not-a-shop.example")
    assert install.status_code == 400
    assert escape(bad_shop) in install.get_data(as_text=True)

    build_shop(
        db,
        "tea-house.myshopify.com",
        account=db.scalars(select(Account).where(Account.email == OWNER)).one(),
        sync_state={"status": "done", "notice": READ_ALL_ORDERS_NOTICE},
    )
    home = client.get("/app").get_data(as_text=True)
    assert notice in home
    assert READ_ALL_ORDERS_NOTICE not in home
