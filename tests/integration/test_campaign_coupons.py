"""A campaign's coupon block on both platforms, over real HTTP to the simulated stores: each
recipient gets their own single-use code, created at send (Shopify `discountCodeBasicCreate`,
WooCommerce `POST coupons`), shown in their email, and a retried batch reuses the code; the
Outbox, rendering a sent email again, shows the recipient's own code and creates none."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import sending
from app.campaigns.coupons import create_codes
from app.config import Config, load_config
from app.db import utcnow
from app.models import Account, Customer, Shop
from app.models.campaign import CampaignRecipient
from app.models.flow import Message
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.mutations import discounts
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.sandbox.woocommerce.coupons import coupons
from tests.conftest import (
    SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET,
    Dispatcher,
    LiveServer,
    make_test_env,
)
from tests.factories import cart_flow, simulated_shopify, woocommerce
from tests.factories.admin import login, pages_in_both_languages, text_of, with_real_sendgrid
from tests.factories.campaigns import content, draft, vip_segment
from tests.factories.shops import set_sender_identity
from tests.factories.sync_resume import connect_woo_store

sendgrid = cart_flow.sendgrid

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

DOMAIN = "coupon-camp.myshopify.com"
WOO_PATH = "coupon-camp"
COUPON = {"kind": "percentage", "value": 15, "expires_days": 10}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LiveServer, Dispatcher]]:
    dispatch = Dispatcher()
    server = LiveServer(dispatch)
    yield server, dispatch
    server.stop()


@pytest.fixture
def shopify(servers: Any) -> Iterator[SandboxShopify]:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=5, plan="plus")
    platform.add_shop(DOMAIN, customers=2, years=1, name="Coupon Store")
    platform.webhook_retry_delays = ()
    servers[1].target = platform.wsgi_app
    yield platform
    platform.close()


@pytest.fixture
def config(
    database_url: str, redis_url: str, tmp_path: Path, servers: Any, sendgrid: Any
) -> Config:
    env = make_test_env(
        database_url,
        redis_url,
        SHOPIFY_SANDBOX_URL=servers[0].url,
        APP_URL="https://kizuna.test",
        SENDGRID_SANDBOX_URL=sendgrid.url,
    )
    return load_config(env, instance_path=tmp_path / "instance")


def _prepare(db: Session, shop: Shop) -> None:
    shop.name, shop.locale, shop.currency, shop.timezone = "絆ストア", "ja", "JPY", "Asia/Tokyo"
    db.commit()
    set_sender_identity(db, shop.id)


def _people(db: Session, shop: Shop, external_ids: list[str]) -> None:

    for n, external_id in enumerate(external_ids):
        db.add(
            Customer(
                shop_id=shop.id,
                external_id=external_id,
                email=f"buyer{n}@example.jp",
                email_normalized=f"buyer{n}@example.jp",
                first_name="花子",
                last_name="山田",
                locale="ja",
                email_marketing_state="SUBSCRIBED",
                tags=["vip"],
            )
        )
    db.commit()


def _send(
    db: Session, runtime: Any, app: Flask, shop: Shop, coupon: dict[str, Any] = COUPON
) -> Any:
    """A campaign with a coupon block sent to the shop's VIP segment; → (the campaign, each
    recipient's code by customer id)."""
    segment = vip_segment(db, shop)
    campaign = draft(
        db,
        shop,
        {"segments": [segment.id], "rfm_groups": []},
        body=content(coupon=coupon, extra=({"type": "coupon"},)),
    )
    with app.app_context():
        sending.start(db, shop, campaign, utcnow())
        db.commit()
        sending.send_campaign(runtime, campaign.id)
    db.expire_all()
    return campaign, {
        r.customer_id: r.coupon_code
        for r in db.scalars(
            select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
        )
    }


def test_shopify_codes_are_single_use_one_per_recipient_and_reused_on_retry(
    db: Session,
    runtime: Any,
    app: Flask,
    shopify: SandboxShopify,
    sendgrid: SandboxSendGrid,
    client: Any,
    monkeypatch: Any,
) -> None:
    shop = simulated_shopify.install_and_connect(runtime, db, shopify, DOMAIN)
    _prepare(db, shop)
    created = [
        shopify.shop(DOMAIN).create_customer(email=f"buyer{n}@example.jp", first_name="花子")
        for n in range(3)
    ]
    _people(db, shop, [str(c["id"]) for c in created])

    campaign, codes = _send(db, runtime, app, shop)
    assert len(set(codes.values())) == 3
    assert all(code and code.startswith("KZ-") for code in codes.values())
    made = discounts(shopify.shop(DOMAIN))
    assert set(made) == {code.upper() for code in codes.values() if code}
    for discount in made.values():
        assert discount.usage_limit == 1
        assert len(discount.customer_ids) == 1
        assert discount.percentage is not None
        assert float(discount.percentage) == 0.15
    by_address = {m.to_email: m for m in sendgrid.outbox}
    assert len(by_address) == 3
    for message in by_address.values():
        shown = [code for code in codes.values() if code and code in (message.html or "")]
        assert len(shown) == 1  # their own code, and only theirs
        assert "15％OFF" in (message.html or "")  # the terms, in the recipient's Japanese

    # A retried batch (the platform already has every code): the same codes, nothing new.
    customers = list(db.scalars(select(Customer).where(Customer.shop_id == shop.id)))
    with app.app_context():
        again, failures = create_codes(runtime, shop, campaign.id, COUPON, customers, utcnow())
    assert failures == {}
    assert again == codes
    assert len(discounts(shopify.shop(DOMAIN))) == 3

    # The Outbox with the real SendGrid (no copy kept): each email rendered again with its
    # recipient's own code, and no code created.
    with_real_sendgrid(monkeypatch, runtime)
    login(client, runtime, db.get_one(Account, shop.account_id))
    sent = db.scalars(select(Message).where(Message.campaign_id == campaign.id)).all()
    assert len(sent) == 3
    for message in sent:
        response = client.get(f"/app/outbox/{message.id}", headers={"Accept-Language": "en"})
        page = html.unescape(text_of(response))
        assert "SendGrid keeps no copy of sent emails" in page
        code = codes[message.customer_id]
        assert code
        assert code in page
        assert [other for other in codes.values() if other and other in page] == [code]
        assert "15％OFF" in page
    assert len(discounts(shopify.shop(DOMAIN))) == 3


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.serve_store(serve, WOO_PATH, seed=7, customers=0)


def test_woocommerce_coupons_are_single_use_one_per_recipient(
    db: Session, runtime: Any, app: Flask, woo: SandboxWooCommerce, sendgrid: SandboxSendGrid
) -> None:
    url = woo.url  # type: ignore[attr-defined]
    shop = db.get_one(Shop, connect_woo_store(runtime, woo, url, WOO_PATH))
    _prepare(db, shop)
    _people(db, shop, ["101", "102"])
    fixed = {"kind": "fixed_amount", "value": 500, "expires_days": 7}
    _campaign, by_customer = _send(db, runtime, app, shop, fixed)
    codes = list(by_customer.values())
    assert len(set(codes)) == 2
    made = coupons(woo.store(WOO_PATH))
    assert set(made) == {code.lower() for code in codes if code}
    for coupon in made.values():
        assert (coupon["discount_type"], coupon["amount"]) == ("fixed_cart", "500")
        assert coupon["usage_limit"] == 1
        assert len(coupon["email_restrictions"]) == 1
    for message in sendgrid.outbox:
        assert sum(1 for code in codes if code and code in (message.html or "")) == 1
        assert "￥500" in (message.html or "") or "¥500" in (message.html or "")


def test_a_code_the_store_refuses_skips_its_recipient_and_tells_the_merchant(
    db: Session,
    runtime: Any,
    app: Flask,
    shopify: SandboxShopify,
    sendgrid: SandboxSendGrid,
    client: Any,
) -> None:
    shop = simulated_shopify.install_and_connect(runtime, db, shopify, DOMAIN)
    _prepare(db, shop)
    known = shopify.shop(DOMAIN).create_customer(email="buyer0@example.jp", first_name="花子")
    _people(db, shop, [str(known["id"]), "999999999"])  # the second is unknown to the store

    campaign, codes = _send(db, runtime, app, shop)
    assert [code for code in codes.values() if code] == list(discounts(shopify.shop(DOMAIN)))
    assert [m.to_email for m in sendgrid.outbox] == ["buyer0@example.jp"]
    skipped = db.scalars(
        select(CampaignRecipient).where(
            CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "skipped"
        )
    ).all()
    assert len(skipped) == 1
    db.refresh(shop)
    assert shop.last_error_code == "shop_error.campaign_coupons_failed"
    assert "999999999" not in f"{shop.last_error} {shop.last_error_params}"
    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert (
        f"Campaign “{campaign.name}”: no coupon code could be created for 1 of its recipients"
    ) in pages["en"]
    assert (
        f"キャンペーン「{campaign.name}」: 1 人分のクーポンコードを作成できなかった"
        in (pages["ja"])
    )
