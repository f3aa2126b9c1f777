"""Discount codes and consent write-back against the simulated Shopify over real HTTP, on real
PostgreSQL and Redis: single-use codes (and a retried code counting as created), the cart flow's
step 2 carrying its code (kept on its message: the Outbox renders the email again with it), an
unsubscribe reaching the platform, a refusal on the shop's last_error.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from app.queueing import EMAIL, SYNC, WEBHOOKS
from app.services.shop_tokens import shopify_client
from app.services.unsubscribe import make_token
from connectors.base import ConnectorError
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.mutations import discounts
from connectors.shopify.discounts import create_single_use_discount, message_code
from jobs.consent import write_back_consent
from jobs.flows import run_flow_step
from tests.conftest import SIMULATOR_OUTBOUND
from tests.factories import cart_flow, simulated_shopify
from tests.factories.admin import login, pages_in_both_languages, text_of, with_real_sendgrid
from tests.factories.cart_flow import checkout_body, recently, runs
from tests.factories.shopify_webhooks import DOMAIN, deliver
from tests.factories.shops import set_sender_identity

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

EMAIL_ADDRESS = "kaori@example.jp"


servers = simulated_shopify.servers
config = simulated_shopify.config_sending_mail
live_app = simulated_shopify.live_app
sendgrid = cart_flow.sendgrid


@pytest.fixture
def sandbox(servers: Any) -> Iterator[SandboxShopify]:
    yield from simulated_shopify.open_store(
        servers, DOMAIN, seed=5, customers=3, name="Discount Store"
    )


def connect(runtime: Any, sandbox: SandboxShopify, db: Session) -> Shop:
    shop = simulated_shopify.install_and_connect(runtime, db, sandbox, DOMAIN)
    shop.name, shop.locale, shop.currency, shop.timezone = "絆ストア", "ja", "JPY", "UTC"
    set_sender_identity(db, shop.id)
    return shop


def platform_customer(sandbox: SandboxShopify, db: Session, shop: Shop, **fields: Any) -> Customer:
    """A customer at the simulated Shopify and the same customer in Kizuna, subscribed."""
    created = sandbox.shop(DOMAIN).create_customer(
        email=EMAIL_ADDRESS, first_name="香織", marketing_state="SUBSCRIBED", **fields
    )
    customer = Customer(
        shop_id=shop.id,
        external_id=str(created["id"]),
        email=EMAIL_ADDRESS,
        email_normalized=EMAIL_ADDRESS,
        first_name="香織",
        locale="ja",
        email_marketing_state="SUBSCRIBED",
    )
    db.add(customer)
    db.commit()
    return customer


def test_a_single_use_discount_for_one_customer_and_a_retry_reuses_it(
    live_app: Flask, runtime: Any, db: Session, sandbox: SandboxShopify
) -> None:
    shop = connect(runtime, sandbox, db)
    customer = platform_customer(sandbox, db, shop)
    gid = f"gid://shopify/Customer/{customer.external_id}"
    ends_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    code = message_code("secret", "discount", shop.id, 42)

    with shopify_client(runtime, shop) as client:
        first = create_single_use_discount(
            client, customer_gid=gid, percent=10, ends_at=ends_at, code=code, title="Cart"
        )
        again = create_single_use_discount(
            client, customer_gid=gid, percent=10, ends_at=ends_at, code=code, title="Cart"
        )
        with pytest.raises(ConnectorError, match="does not exist"):
            create_single_use_discount(
                client,
                customer_gid="gid://shopify/Customer/1",
                percent=10,
                ends_at=ends_at,
                code=message_code("secret", "other"),
                title="Cart",
            )

    assert (first.code, first.ends_at) == (code, ends_at)
    assert first.discount_id
    assert first.discount_id.startswith("gid://shopify/DiscountCodeNode/")
    assert (again.code, again.discount_id) == (code, None)  # "taken" for our own code: success
    stored = discounts(sandbox.shop(DOMAIN))
    assert list(stored) == [code]
    discount = stored[code]
    assert discount.customer_ids == [int(customer.external_id)]
    assert (discount.usage_limit, discount.applies_once_per_customer) == (1, True)
    assert discount.percentage == Decimal("0.1")
    assert discount.ends_at == ends_at


def _cart_run(
    runtime: Any,
    sandbox: SandboxShopify,
    db: Session,
    client: Any,
    drain_jobs: Any,
    discount: dict[str, Any],
) -> tuple[Shop, Customer, FlowRun]:
    """A connected shop whose cart flow has these discount settings, and the cart run a
    platform customer's abandoned checkout started."""
    shop = connect(runtime, sandbox, db)
    customer = platform_customer(sandbox, db, shop)
    config = {"holdout_percent": 0, "quiet_hours": None, "caps": [], **discount}
    db.add(FlowSetting(shop_id=shop.id, flow_key="cart", enabled=True, config=config))
    db.commit()
    body = checkout_body(
        updated_at=recently(10),
        email=EMAIL_ADDRESS,
        customer={"id": int(customer.external_id), "email": EMAIL_ADDRESS, "first_name": "香織"},
    )
    assert deliver(client, "checkouts/create", body, webhook_id="wh-cart-1").status_code == 200
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    return shop, customer, run


def test_the_cart_flows_second_email_carries_its_code(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    monkeypatch: Any,
) -> None:
    shop, customer, run = _cart_run(
        runtime, sandbox, db, client, drain_jobs, {"discount_percent": 15}
    )
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    assert run_flow_step(run.id, 2) == "created"
    drain_jobs(EMAIL)

    first, second = sendgrid.outbox
    db.expire_all()
    message = db.scalars(select(Message).where(Message.step == 2)).one()
    assert message.status == "sent"
    code = message_code(runtime.config.secret_key, "discount", shop.id, message.id)
    assert code not in (first.html or "")
    assert code in (second.html or "")
    assert code in (second.text or "")
    discount = discounts(sandbox.shop(DOMAIN))[code]
    assert discount.percentage == Decimal("0.15")
    assert discount.customer_ids == [int(customer.external_id)]
    assert discount.usage_limit == 1
    assert discount.ends_at is not None
    validity = discount.ends_at - discount.created_at
    assert timedelta(days=6, hours=23) < validity <= timedelta(days=7, seconds=1)

    # The Outbox with the real SendGrid (it keeps no copy) renders the email again with the
    # code the send kept on the message, and creates no other.
    assert message.coupon_code == code
    with_real_sendgrid(monkeypatch, runtime)
    login(client, runtime, db.get_one(Account, shop.account_id))
    response = client.get(f"/app/outbox/{message.id}", headers={"Accept-Language": "en"})
    page = html.unescape(text_of(response))
    assert "SendGrid keeps no copy of sent emails" in page
    assert code in page
    assert list(discounts(sandbox.shop(DOMAIN))) == [code]


@pytest.mark.parametrize(("min_total", "with_code"), [(20000, False), (12800, True)])
def test_a_cart_below_the_minimum_total_gets_email_two_without_a_code(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    min_total: int,
    with_code: bool,
) -> None:
    """The cart flow's split: email 2 carries a code only for carts of at least
    `discount_min_total` (this cart: ¥12,800)."""
    shop, _customer, run = _cart_run(
        runtime, sandbox, db, client, drain_jobs, {"discount_min_total": min_total}
    )
    assert run_flow_step(run.id, 1) == "created"
    assert run_flow_step(run.id, 2) == "created"
    drain_jobs(EMAIL)

    _first, second = sendgrid.outbox
    db.expire_all()
    message = db.scalars(select(Message).where(Message.step == 2)).one()
    assert message.status == "sent"
    code = message_code(runtime.config.secret_key, "discount", shop.id, message.id)
    assert (code in (second.html or "")) is with_code
    assert (code in discounts(sandbox.shop(DOMAIN))) is with_code
    assert message.coupon_code == (code if with_code else None)
    assert "抹茶セット" in (second.html or "")  # the reminder itself goes either way


def test_an_unsubscribe_in_kizuna_reaches_shopify(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    sandbox: SandboxShopify,
) -> None:
    shop = connect(runtime, sandbox, db)
    customer = platform_customer(sandbox, db, shop)
    store = sandbox.shop(DOMAIN)
    assert store.customer(customer.external_id).marketing_state == "SUBSCRIBED"

    token = make_token(runtime.config.secret_key, shop.id, customer.id, None)
    path = urlparse(f"https://x/unsubscribe/{token}").path
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Queue(SYNC, connection=runtime.redis).job_ids == [f"consent-{customer.id}"]
    drain_jobs(SYNC)

    platform = store.customer(customer.external_id)
    assert platform.marketing_state == "UNSUBSCRIBED"
    assert platform.marketing_opt_in_level == "SINGLE_OPT_IN"
    sandbox.wait_for_deliveries()
    consent_hooks = [
        d for d in sandbox.deliveries if d.topic == "customers_email_marketing_consent/update"
    ]
    assert [d.status for d in consent_hooks] == ["delivered"]  # Shopify tells apps, like ours
    db.expire_all()
    assert db.get_one(Shop, shop.id).last_error is None
    assert db.get_one(Customer, customer.id).email_marketing_state == "UNSUBSCRIBED"


def test_a_refused_write_back_lands_on_the_shops_last_error(
    live_app: Flask, client: Any, runtime: Any, db: Session, sandbox: SandboxShopify
) -> None:
    shop = connect(runtime, sandbox, db)
    ghost = Customer(
        shop_id=shop.id,
        external_id="999999999",  # unknown to Shopify → userError
        email="ghost@example.jp",
        email_normalized="ghost@example.jp",
        email_marketing_state="UNSUBSCRIBED",
        email_marketing_updated_at=datetime.now(UTC),
    )
    db.add(ghost)
    db.commit()

    assert write_back_consent(ghost.id) == "failed"

    db.expire_all()
    refreshed = db.get_one(Shop, shop.id)
    assert refreshed.last_error is not None
    assert refreshed.last_error_at is not None
    assert refreshed.last_error_code == "shop_error.consent_write_back_refused"
    # Neither the customer nor Shopify's own words are kept: the refusal's class is.
    kept = f"{refreshed.last_error} {json.dumps(refreshed.last_error_params)}"
    assert "999999999" not in kept
    assert "ghost" not in kept
    assert "Customer does not exist" not in kept

    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert (
        "Shopify did not record a customer's unsubscribe: The store rejected the change. "
        "The customer stays unsubscribed in Kizuna."
    ) in pages["en"]
    assert (
        "Shopify に顧客の配信停止を記録できませんでした: ストアが変更を受け付けませんでした。"
        "この顧客は Kizuna では配信停止のままです。"
    ) in pages["ja"]
    assert "did not record" not in pages["ja"]


def test_a_woocommerce_guest_has_no_record_so_nothing_is_written(
    app: Flask, runtime: Any, db: Session
) -> None:
    from tests.factories.shopify_webhooks import make_shop

    shop = make_shop(db, domain="woo.example")
    shop.platform = "woocommerce"
    customer = Customer(
        shop_id=shop.id,
        external_id="guest:w@example.jp",  # registered ones: test_woocommerce_marketing_consent.py
        email="w@example.jp",
        email_normalized="w@example.jp",
        email_marketing_state="UNSUBSCRIBED",
    )
    db.add(customer)
    db.commit()
    assert write_back_consent(customer.id) == "unsupported"
    db.expire_all()
    assert db.get_one(Shop, shop.id).last_error is None


def test_a_woocommerce_coupon_over_http_and_a_retry_reuses_it(serve: Any) -> None:
    from connectors.sandbox.woocommerce import SandboxWooCommerce
    from connectors.sandbox.woocommerce.coupons import coupons
    from connectors.woocommerce.client import WooCommerceClient
    from connectors.woocommerce.coupons import create_coupon

    platform = SandboxWooCommerce(seed=7)
    platform.add_store(url_path="shop-c", customers=2, years=1, currency="JPY")
    try:
        key, secret = platform.issue_key("shop-c")
        url = f"{serve(platform.wsgi_app).url}/shop-c"
        expires = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
        with WooCommerceClient(
            url, key, secret, sleep=lambda _s: None, outbound=SIMULATOR_OUTBOUND
        ) as wc:
            first = create_coupon(
                wc, email="w@example.jp", percent=10, expires_at=expires, code="KZ-WOO23456"
            )
            again = create_coupon(
                wc, email="w@example.jp", percent=10, expires_at=expires, code="KZ-WOO23456"
            )
        assert first.discount_id is not None
        assert (again.code, again.discount_id) == ("KZ-WOO23456", None)
        [coupon] = coupons(platform.store("shop-c")).values()
        assert (coupon["discount_type"], coupon["amount"]) == ("percent", "10")
        assert (coupon["usage_limit"], coupon["email_restrictions"]) == (1, ["w@example.jp"])
        assert coupon["date_expires_gmt"] == "2026-12-08T00:00:00"
    finally:
        platform.close()
