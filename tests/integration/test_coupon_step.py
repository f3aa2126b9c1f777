"""The coupon step any flow can turn on, against the simulated Shopify and WooCommerce over real
HTTP and the simulated SendGrid, on real PostgreSQL and Redis: the send step creates one
single-use code per message on the platform (Shopify discount, WooCommerce coupon) for that
customer only and the email shows it; a retried send reuses the code; the preview shows a
sample code and creates nothing; the Outbox, rendering a sent email again, shows the code its
recipient got and creates none.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows import preview
from app.flows.coupons import SAMPLE_CODE, create_step_coupon, message_coupon_code
from app.flows.triggers import changed_customers
from app.flows.welcome import WELCOME
from app.models import Account, Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from app.models.woocommerce import WooCommerceShop
from app.queueing import EMAIL
from app.services.woocommerce_sync import run_sync
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.mutations import discounts
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.sandbox.woocommerce.coupons import coupons
from jobs.flows import dispatch_due_steps
from tests.factories import cart_flow, simulated_shopify, woocommerce
from tests.factories.admin import login, pages_in_both_languages, text_of, with_real_sendgrid
from tests.factories.shopify_webhooks import DOMAIN
from tests.factories.shops import set_sender_identity
from tests.factories.welcome import QUIET_FREE, flow_messages, flow_runs

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

STORE = "coupon-tea"
EN = {"Accept-Language": "en"}
COUPON_SERIES = {**QUIET_FREE, "caps": [], "step_delay_hours": [0, 72, 168], "coupon_step": 1}


servers = simulated_shopify.servers
config = simulated_shopify.config_sending_mail
live_app = simulated_shopify.live_app
sendgrid = cart_flow.sendgrid


@pytest.fixture
def sandbox(servers: Any) -> Iterator[SandboxShopify]:
    yield from simulated_shopify.open_store(
        servers, DOMAIN, seed=9, customers=2, name="Coupon Store"
    )


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.serve_store(serve, STORE, seed=19, customers=3)


def _welcome_with_coupon(db: Session, shop: Shop, **coupon: Any) -> None:
    config = {**COUPON_SERIES, **coupon}
    db.add(FlowSetting(shop_id=shop.id, flow_key=WELCOME, enabled=True, config=config))
    set_sender_identity(db, shop.id)
    db.commit()


def _subscribe_now(db: Session, customers: list[Customer]) -> None:
    for customer in customers:
        customer.email_marketing_state = "SUBSCRIBED"
        customer.email_marketing_updated_at = datetime.now(UTC)
    db.commit()


def _start_and_send(
    app: Flask, db: Session, shop: Shop, customers: list[Customer], drain_jobs: Any
) -> None:
    with app.app_context():  # the new subscribers' trigger, as a customer webhook runs it
        changed_customers(db, shop.id, [customer.id for customer in customers])
        db.commit()
    runs = flow_runs(db, WELCOME)
    assert len(runs) == len(customers)
    outcome = dispatch_due_steps(shop.id, WELCOME, 1, now=max(run.started_at for run in runs))
    assert outcome == {"created": len(customers)}  # a coupon step is sent message by message
    drain_jobs(EMAIL)


def test_shopify_codes_are_one_per_message_reused_on_retry_and_never_made_by_the_preview(
    live_app: Flask,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    client: Any,
    monkeypatch: Any,
) -> None:
    shop = simulated_shopify.install_and_connect(runtime, db, sandbox, DOMAIN)
    shop.name, shop.locale, shop.currency, shop.timezone = "絆ストア", "ja", "JPY", "Asia/Tokyo"
    _welcome_with_coupon(db, shop, coupon_kind="fixed", coupon_value=500, coupon_days=14)
    store = sandbox.shop(DOMAIN)
    customers = []
    for n in (1, 2):
        made = store.create_customer(email=f"k{n}@example.jp", marketing_state="SUBSCRIBED")
        customers.append(
            Customer(
                shop_id=shop.id, external_id=str(made["id"]), email=f"k{n}@example.jp",
                email_normalized=f"k{n}@example.jp", first_name="香織", locale="ja",
            )
        )  # fmt: skip
    db.add_all(customers)
    _subscribe_now(db, customers)

    # The preview shows a sample code and creates nothing.
    target = preview.preview_target(db, shop, WELCOME, customers[0])
    assert target is not None
    with live_app.app_context():
        now = datetime.now(UTC)
        shown = preview.render_previews(db, runtime.config, shop, WELCOME, target, now)
    assert SAMPLE_CODE in shown[0].html
    assert SAMPLE_CODE not in shown[1].html
    assert discounts(store) == {}

    _start_and_send(live_app, db, shop, customers, drain_jobs)
    sent = flow_messages(db, WELCOME)
    assert [m.status for m in sent] == ["sent", "sent"]
    codes = [message_coupon_code(runtime.config.secret_key, shop.id, m.id) for m in sent]
    assert len(set(codes)) == 2
    made = discounts(store)
    assert sorted(made) == sorted(codes)
    for message, code in zip(sent, codes, strict=True):
        customer = db.get_one(Customer, message.customer_id)
        discount = made[code]
        assert discount.customer_ids == [int(customer.external_id)]
        assert (discount.usage_limit, discount.amount) == (1, Decimal(500))
        [email] = [e for e in sendgrid.outbox if e.to_email == customer.email]
        assert code in (email.html or "")
        assert code in (email.text or "")
        assert "￥500" in (email.html or "") or "¥500" in (email.html or "")

    # A retried send asks for the same code; the platform's "taken" counts as created.
    first = sent[0]
    run = db.get_one(FlowRun, first.flow_run_id)
    with live_app.app_context():
        assert create_step_coupon(db, shop, run, first) == codes[0]
    assert len(discounts(store)) == 2
    db.expire_all()
    assert db.get_one(Shop, shop.id).last_error is None

    # The send kept each code on its message; the Outbox, with the real SendGrid (no copy to
    # show), renders the email again with that code and creates none.
    assert [m.coupon_code for m in flow_messages(db, WELCOME)] == codes
    with_real_sendgrid(monkeypatch, runtime)
    login(client, runtime, db.get_one(Account, shop.account_id))
    for message, code in zip(sent, codes, strict=True):
        page = html.unescape(text_of(client.get(f"/app/outbox/{message.id}", headers=EN)))
        assert "SendGrid keeps no copy of sent emails" in page
        assert code in page
        assert "￥500" in page or "¥500" in page
        assert SAMPLE_CODE not in page
    assert sorted(discounts(store)) == sorted(codes)


def test_a_code_the_store_refuses_sends_the_email_without_it_and_tells_the_merchant(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
) -> None:
    shop = simulated_shopify.install_and_connect(runtime, db, sandbox, DOMAIN)
    shop.locale, shop.currency = "ja", "JPY"
    _welcome_with_coupon(db, shop, coupon_kind="percentage", coupon_value=10, coupon_days=14)
    unknown = Customer(
        shop_id=shop.id, external_id="999999999", email="gone@example.jp",
        email_normalized="gone@example.jp", first_name="香織", locale="ja",
    )  # fmt: skip
    db.add(unknown)
    _subscribe_now(db, [unknown])

    _start_and_send(live_app, db, shop, [unknown], drain_jobs)
    [sent] = flow_messages(db, WELCOME)
    assert sent.status == "sent"  # without a code rather than not at all
    assert discounts(sandbox.shop(DOMAIN)) == {}
    db.expire_all()
    refused = db.get_one(Shop, shop.id)
    assert refused.last_error_code == "shop_error.coupon_refused"
    assert "999999999" not in f"{refused.last_error} {json.dumps(refused.last_error_params)}"
    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert (
        f"An email of the Welcome series flow (message {sent.id}) went out without its discount "
        "code: The store rejected the change."
    ) in pages["en"]
    assert (
        f"ウェルカムシリーズ フローのメール（メッセージ {sent.id}）"
        "は割引コードなしで送信されました: ストアが変更を受け付けませんでした。"
    ) in pages["ja"]


def test_woocommerce_coupons_are_one_per_message_for_the_customers_email(
    app: Flask,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    woo: SandboxWooCommerce,
    sendgrid: SandboxSendGrid,
) -> None:
    consumer_key, consumer_secret = woo.issue_key(STORE)
    keys = json.dumps({"consumer_key": consumer_key, "consumer_secret": consumer_secret})
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id, platform="woocommerce",
        domain=f"{woo.url}/{STORE}",  # type: ignore[attr-defined]
        status="active", currency="JPY", timezone="Asia/Tokyo", locale="ja", name="絆ティー",
        access_token_encrypted=runtime.cipher.encrypt(keys),
    )  # fmt: skip
    db.add(shop)
    db.flush()
    db.add(WooCommerceShop(shop_id=shop.id))
    db.commit()
    emails = ["new1@example.jp", "new2@example.jp"]
    for email in emails:
        woo.create_customer(STORE, email=email)
    run_sync(runtime, shop.id, incremental=False)
    _welcome_with_coupon(db, shop, coupon_kind="percentage", coupon_value=15)
    registered = db.scalars(
        select(Customer)
        .where(Customer.shop_id == shop.id, Customer.email_normalized.in_(emails))
        .order_by(Customer.id)
    ).all()
    assert len(registered) == 2
    _subscribe_now(db, list(registered))

    _start_and_send(app, db, shop, list(registered), drain_jobs)
    sent = flow_messages(db, WELCOME)
    assert [m.status for m in sent] == ["sent", "sent"]
    made = coupons(woo.store(STORE))
    assert len(made) == 2
    by_code = {coupon["code"].upper(): coupon for coupon in made.values()}  # stored lowercased
    for message in sent:
        code = message_coupon_code(runtime.config.secret_key, shop.id, message.id)
        customer = db.get_one(Customer, message.customer_id)
        coupon = by_code[code]
        assert (coupon["discount_type"], coupon["amount"]) == ("percent", "15")
        assert (coupon["usage_limit"], coupon["email_restrictions"]) == (1, [customer.email])
        [email] = [e for e in sendgrid.outbox if e.to_email == customer.email]
        assert code in (email.html or "")
        run = db.get_one(FlowRun, message.flow_run_id)
        with app.app_context():
            assert create_step_coupon(db, shop, run, message) == code  # a retry reuses it
    assert len(coupons(woo.store(STORE))) == 2
    assert db.scalars(select(Message).where(Message.status != "sent")).all() == []
