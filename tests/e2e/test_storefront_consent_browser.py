"""The WooCommerce capture script in a real browser: on a checkout page (served by a stand-in
store on its own origin) it inserts the opt-in box in the page's language, and a ticked box with
a typed email reaches Kizuna across origins (CORS preflight included) as a request for consent:
the shopper is asked to confirm by email, and the customer's consent is unchanged until then.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Request, Response

from app.config import Config, load_config
from app.models import Account, Checkout, Customer, Shop
from app.models.opt_in import OptInRequest
from app.storefront import capture_key
from tests.conftest import Dispatcher, LiveServer, Served, make_test_env

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CART = {
    "items": [
        {
            "id": 11,
            "name": "Sencha 100g",
            "quantity": 2,
            "prices": {"price": "1800", "currency_minor_unit": 0},
            "images": [],
        }
    ],
    "totals": {"currency_code": "JPY"},
}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Served, Served]]:
    served = tuple(Served(LiveServer(d), d) for d in (Dispatcher(), Dispatcher()))
    yield served  # type: ignore[misc]
    for each in served:
        each.server.stop()


@pytest.fixture
def config(
    database_url: str, redis_url: str, tmp_path: Path, servers: tuple[Served, Served]
) -> Config:
    """Kizuna is served on the second server; its script names that URL."""
    env = make_test_env(database_url, redis_url, APP_URL=servers[1].url)
    return load_config(env, instance_path=tmp_path / "instance")


def _store_app(script_src: str, lang: str, own_box: bool) -> Any:
    box = (
        '<p class="form-row"><label><input type="checkbox" id="store_newsletter"> News</label></p>'
        if own_box
        else ""
    )
    page = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head><body>
<form class="checkout"><p class="form-row" id="billing_email_field">
<input type="email" id="billing_email" name="billing_email"></p>{box}
<p id="after">place order</p></form>
<script async src="{script_src}"></script></body></html>"""

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/wp-json/wc/store/v1/cart":
            response = Response(json.dumps(CART), content_type="application/json")
        else:
            response = Response(page, content_type="text/html; charset=utf-8")
        return response(environ, start_response)

    return app


@pytest.fixture
def shop(db: Session, servers: tuple[Served, Served]) -> Shop:
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id,
        platform="woocommerce",
        domain=servers[0].url,
        status="active",
        currency="JPY",
        timezone="UTC",
    )
    db.add(shop)
    db.flush()
    db.add(
        Customer(
            shop_id=shop.id,
            external_id="25",
            email="yui@example.jp",
            email_normalized="yui@example.jp",
        )
    )
    db.commit()
    return shop


def _wait_for(db: Session, check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        db.expire_all()
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _opt_in_request(db: Session, shop: Shop) -> OptInRequest | None:
    return db.scalars(select(OptInRequest).where(OptInRequest.shop_id == shop.id)).one_or_none()


@pytest.mark.parametrize(
    ("lang", "label"),
    [("ja-JP", "ニュースやお得な情報をメールで受け取る"), ("en-US", "Email me news and offers")],
)
def test_the_box_is_inserted_and_a_tick_asks_for_confirmation(
    app: Any,
    runtime: Any,
    db: Session,
    servers: tuple[Served, Served],
    shop: Shop,
    browser_page: Any,
    lang: str,
    label: str,
) -> None:
    key = capture_key(runtime.config.secret_key, shop.id)
    script = f"{servers[1].url}/storefront/woocommerce/capture.js?shop={shop.id}&key={key}"
    servers[0].dispatcher.target = _store_app(script, lang, own_box=False)
    servers[1].dispatcher.target = app

    page = browser_page
    page.goto(f"{servers[0].url}/checkout/")
    box = page.locator("#billing_email_field + p #kizuna_marketing_consent")
    box.wait_for()
    assert page.locator("label[for=kizuna_marketing_consent]").inner_text().strip() == label
    box.check()
    page.fill("#billing_email", "Yui@Example.jp")
    page.locator("#billing_email").dispatch_event("change")

    request = _wait_for(db, lambda: _opt_in_request(db, shop))
    assert request is not None
    assert request.email_normalized == "yui@example.jp"
    assert request.confirmed_at is None
    checkout = db.scalars(select(Checkout).where(Checkout.shop_id == shop.id)).one()
    assert checkout.marketing_opt_in_at is not None
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    assert customer.email_marketing_state is None  # until the shopper confirms


def test_the_merchants_own_box_is_read_and_unticked_means_no_change(
    app: Any,
    runtime: Any,
    db: Session,
    servers: tuple[Served, Served],
    shop: Shop,
    browser_page: Any,
) -> None:
    key = capture_key(runtime.config.secret_key, shop.id)
    script = (
        f"{servers[1].url}/storefront/woocommerce/capture.js?shop={shop.id}&key={key}"
        "&consent=%23store_newsletter"
    )
    servers[0].dispatcher.target = _store_app(script, "en", own_box=True)
    servers[1].dispatcher.target = app

    page = browser_page
    page.goto(f"{servers[0].url}/checkout/")
    page.fill("#billing_email", "yui@example.jp")
    page.locator("#billing_email").dispatch_event("change")
    checkout = _wait_for(
        db, lambda: db.scalars(select(Checkout).where(Checkout.shop_id == shop.id)).one_or_none()
    )
    assert checkout is not None
    assert checkout.marketing_opt_in_at is None
    assert page.locator("#kizuna_marketing_consent").count() == 0  # no box of ours

    assert _opt_in_request(db, shop) is None

    page.check("#store_newsletter")  # ticking it posts again: a request for confirmation
    request = _wait_for(db, lambda: _opt_in_request(db, shop))
    assert request is not None
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    assert customer.email_marketing_state is None
