"""The storefront script's optional birthday field (WooCommerce), over HTTP on PostgreSQL, Redis
and the simulated SendGrid: the merchant turns it on in the script URL; a birthday posted with a
ticked box is validated, waits on the opt-in request, and reaches the customer only once the
shopper confirms the email — which also starts the welcome series; the birthday flow then finds
them on their day.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.birthday import BIRTHDAY, scan_shop
from app.flows.welcome import WELCOME
from app.models import Account, Customer, Shop
from app.models.flow import FlowSetting
from app.models.opt_in import OptInRequest
from app.queueing import EMAIL
from app.storefront import capture_key
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.factories import cart_flow
from tests.factories.shops import SENDER_IDENTITY
from tests.factories.welcome import QUIET_FREE, flow_runs

config = cart_flow.config
sendgrid = cart_flow.sendgrid

STORE = "https://tea.example.com"
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def store(db: Session) -> Shop:
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id, platform="woocommerce", domain=STORE, status="active",
        currency="JPY", timezone="Asia/Tokyo", locale="ja", name="絆ティー",
        sender_identity=dict(SENDER_IDENTITY),
    )  # fmt: skip
    db.add(shop)
    db.flush()
    for key in (WELCOME, BIRTHDAY):
        db.add(FlowSetting(shop_id=shop.id, flow_key=key, enabled=True, config=dict(QUIET_FREE)))
    db.add(
        Customer(
            shop_id=shop.id, external_id="guest:aoi@example.jp", email="aoi@example.jp",
            email_normalized="aoi@example.jp", first_name="葵",
        )
    )  # fmt: skip
    db.commit()
    return shop


def _capture(client: Any, runtime: Any, shop: Shop, **changes: Any) -> Any:
    key = capture_key(runtime.config.secret_key, shop.id)
    body = {
        "email": "aoi@example.jp",
        "cart_token": "cartbirthday01",
        "currency": "JPY",
        "items": [{"title": "Sencha", "quantity": 1, "price": "1800", "product_id": 11}],
        **changes,
    }
    return client.post(
        f"/storefront/woocommerce/capture?shop={shop.id}&key={key}",
        json=body,
        headers={"Origin": STORE},
    )


def test_the_script_adds_the_birthday_field_only_when_the_merchant_asks(
    client: Any, runtime: Any, store: Shop
) -> None:
    key = capture_key(runtime.config.secret_key, store.id)
    plain = client.get(f"/storefront/woocommerce/capture.js?shop={store.id}&key={key}")
    asked = client.get(f"/storefront/woocommerce/capture.js?shop={store.id}&key={key}&birthday=1")
    assert "var askBirthday = false;" in plain.get_data(as_text=True)
    script = asked.get_data(as_text=True)
    assert "var askBirthday = true;" in script
    assert "birthday=1" in script  # the tag the merchant copies keeps it


@pytest.mark.parametrize("bad", ["2099-01-01", "1990-02-30", "13-01", "birthday", 19900101])
def test_a_birthday_that_is_no_real_date_is_refused(
    client: Any, runtime: Any, db: Session, store: Shop, bad: Any
) -> None:
    response = _capture(client, runtime, store, marketing_consent=True, birthday=bad)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_birthday"}
    assert db.scalars(select(OptInRequest)).all() == []


def test_a_confirmed_opt_in_brings_the_birthday_and_the_welcome_series(
    app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    store: Shop,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
) -> None:
    now = datetime.now(UTC)  # one moment for the whole test: its date is the birthday
    today = now.astimezone(TOKYO).date()
    born = f"1992-{today:%m-%d}"
    response = _capture(client, runtime, store, marketing_consent=True, birthday=born)
    assert response.status_code == 200
    request = db.scalars(select(OptInRequest)).one()
    assert (request.birth_year, request.birth_month, request.birth_day) == (
        1992,
        today.month,
        today.day,
    )
    customer = db.scalars(select(Customer)).one()
    assert customer.birth_month is None  # browser input alone changes no customer
    assert flow_runs(db, WELCOME) == []

    drain_jobs(EMAIL)
    [confirmation] = [m for m in sendgrid.outbox if "opt-in-confirmation" in m.categories]
    found = re.search(r"https://kizuna\.test(/opt-in/[A-Za-z0-9_.-]+)", confirmation.text or "")
    assert found is not None
    assert client.post(found.group(1)).status_code == 200

    db.expire_all()
    customer = db.scalars(select(Customer)).one()
    assert customer.email_marketing_state == "SUBSCRIBED"
    assert (customer.birth_year, customer.birth_month, customer.birth_day) == (
        1992,
        today.month,
        today.day,
    )
    [welcome] = flow_runs(db, WELCOME)  # a new subscriber
    assert welcome.customer_id == customer.id
    with app.app_context():
        scan_shop(db, store, now)
        db.commit()
    [birthday] = flow_runs(db, BIRTHDAY)
    assert (birthday.customer_id, birthday.trigger_key) == (customer.id, f"birthday:{today.year}")
