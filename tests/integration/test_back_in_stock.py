"""Back in stock end to end: shoppers ask from the storefront; an `inventory_levels/update`
from the simulated Shopify (signed, over real HTTP; the variant read back through the Admin
API) or a WooCommerce `product.updated` with stock releases the first subscribers up to the
units, each emailed once through the simulated SendGrid; real PostgreSQL and Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.back_in_stock import BACK_IN_STOCK
from app.flows.back_in_stock import DEFAULTS as STOCK_DEFAULTS
from app.flows.simulation import simulate
from app.models import Account, Customer, Order, OrderLine, Product, ProductVariant, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from app.models.woocommerce import WooCommerceShop
from app.queueing import EMAIL, SYNC, WEBHOOKS
from app.services.install_shop import connect_custom_app
from app.services.unsubscribe import suppress_address
from app.services.upsert import refresh_customer_products
from app.storefront import capture_key
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.sandbox.woocommerce.webhooks import sign
from jobs.flows import run_flow_step
from tests.factories import cart_flow, simulated_shopify
from tests.factories.shopify_webhooks import DOMAIN
from tests.factories.shops import SENDER_IDENTITY, set_sender_identity
from tests.factories.storefront import subscriptions

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

STORE = "tea-shop"


servers = simulated_shopify.servers
config = simulated_shopify.config_sending_mail
live_app = simulated_shopify.live_app
sendgrid = cart_flow.sendgrid


@pytest.fixture
def sandbox(servers: Any) -> Iterator[SandboxShopify]:
    yield from simulated_shopify.open_store(
        servers, DOMAIN, seed=5, customers=3, name="Stock Store"
    )


def connect(runtime: Any, sandbox: SandboxShopify, db: Session) -> tuple[Shop, int, int]:
    """The connected shop (no backfill) and one simulated product and variant, in Kizuna too."""
    token = sandbox.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)
    Queue(SYNC, connection=runtime.redis).empty()
    shop = db.get_one(Shop, shop_id)
    shop.name, shop.locale, shop.currency, shop.timezone = "絆ストア", "ja", "JPY", "UTC"
    set_sender_identity(db, shop.id)
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key=BACK_IN_STOCK,
            config={**STOCK_DEFAULTS, "quiet_hours": None},
        )
    )
    simulated = sandbox.shop(DOMAIN).products[0]
    variant = simulated.variants[0]
    product = Product(
        shop_id=shop.id,
        external_id=str(simulated.id),
        title="鉄瓶",
        handle="tetsubin",
        status="active",
        image_url="https://cdn.example/tetsubin.jpg",
    )
    db.add(product)
    db.flush()
    db.add(
        ProductVariant(
            shop_id=shop.id,
            product_id=product.id,
            external_id=str(variant.id),
            price=Decimal(9800),
            currency="JPY",
        )
    )
    db.commit()
    return shop, simulated.id, variant.id


def ask(client: Any, email: str, product: int, variant: int | None = None) -> Any:
    body: dict[str, Any] = {"email": email, "product": str(product), "locale": "ja"}
    if variant is not None:
        body["variant"] = str(variant)
    return client.post(f"/storefront/back-in-stock?shop_domain={DOMAIN}", json=body)


def restock(sandbox: SandboxShopify, drain_jobs: Any, variant: int, available: int) -> None:
    sandbox.shop(DOMAIN).set_inventory(variant, available)
    sandbox.wait_for_deliveries()
    drain_jobs(WEBHOOKS)


def stock_runs(db: Session) -> list[FlowRun]:
    db.expire_all()
    return list(
        db.scalars(select(FlowRun).where(FlowRun.flow_key == BACK_IN_STOCK).order_by(FlowRun.id))
    )


def customer_of(db: Session, run: FlowRun) -> Customer:
    return db.get_one(Customer, run.customer_id)


def test_first_come_first_served_up_to_the_units_and_each_once(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    shop, product, variant = connect(runtime, sandbox, db)
    # The install turned the storefront web pixel on, posting to this app.
    endpoint = f"{runtime.config.app_url}/storefront/events"
    assert sandbox.shop(DOMAIN).web_pixel == {"endpoint": endpoint}
    # A known customer without marketing consent: the request is her consent for this notice.
    db.add(
        Customer(
            shop_id=shop.id,
            external_id="9001",
            email="hanako@example.jp",
            email_normalized="hanako@example.jp",
            first_name="花子",
            last_name="山田",
            locale="ja",
            email_marketing_state="NOT_SUBSCRIBED",
        )
    )
    db.commit()
    assert ask(client, "hanako@example.jp", product, variant).status_code == 201
    assert ask(client, "Taro@Example.jp", product).status_code == 201
    assert ask(client, "jiro@example.jp", product, variant).status_code == 201
    assert ask(client, "taro@example.jp", product).status_code == 200  # already waiting
    assert len(subscriptions(db, shop)) == 3

    restock(sandbox, drain_jobs, variant, 0)  # still sold out: nothing
    assert stock_runs(db) == []
    restock(sandbox, drain_jobs, variant, 2)
    first = stock_runs(db)
    assert [customer_of(db, run).email_normalized for run in first] == [
        "hanako@example.jp",
        "taro@example.jp",
    ]
    assert [row.status for row in subscriptions(db, shop)] == ["notified", "notified", "waiting"]
    for run in first:
        assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 2
    mail = next(m for m in sendgrid.outbox if m.to_email == "hanako@example.jp")
    assert mail.subject == "鉄瓶が再入荷しました"
    assert mail.categories == ("kizuna", "flow-back_in_stock", "back_in_stock-step-1")
    for body in (mail.html or "", mail.text or ""):
        assert "山田 花子 様" in body
        assert "鉄瓶" in body
        assert "¥9,800" in body

    restock(sandbox, drain_jobs, variant, 5)  # the next restock: the one still waiting
    runs_now = stock_runs(db)
    assert len(runs_now) == 3
    assert customer_of(db, runs_now[-1]).email_normalized == "jiro@example.jp"
    assert [row.status for row in subscriptions(db, shop)] == ["notified"] * 3
    restock(sandbox, drain_jobs, variant, 9)  # nobody is notified twice
    assert len(stock_runs(db)) == 3


def test_an_unsubscribed_or_suppressed_address_passes_its_unit_on(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
) -> None:
    shop, product, variant = connect(runtime, sandbox, db)
    db.add(
        Customer(
            shop_id=shop.id,
            external_id="9002",
            email="out@example.jp",
            email_normalized="out@example.jp",
            email_marketing_state="UNSUBSCRIBED",
        )
    )
    db.commit()
    for email in ("out@example.jp", "bounced@example.jp", "next@example.jp"):
        assert ask(client, email, product).status_code == 201
    with live_app.app_context():
        suppress_address(db, shop.id, "bounced@example.jp", "bounce")
        db.commit()
    restock(sandbox, drain_jobs, variant, 1)
    [run] = stock_runs(db)
    assert customer_of(db, run).email_normalized == "next@example.jp"
    assert [row.status for row in subscriptions(db, shop)] == [
        "passed_over",
        "passed_over",
        "notified",
    ]


def test_buying_the_product_before_the_email_ends_the_run(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    shop, product, variant = connect(runtime, sandbox, db)
    assert ask(client, "buyer@example.jp", product).status_code == 201
    restock(sandbox, drain_jobs, variant, 1)
    [run] = stock_runs(db)
    placed = datetime.now(UTC)
    order = Order(
        shop_id=shop.id,
        external_id="o-1",
        customer_id=run.customer_id,
        currency="JPY",
        total_price=Decimal(9800),
        financial_status="paid",
        processed_at=placed,
        platform_updated_at=placed,
    )
    db.add(order)
    db.flush()
    db.add(
        OrderLine(
            shop_id=shop.id,
            order_id=order.id,
            external_id="o-1-1",
            product_external_id=str(product),
            title="鉄瓶",
            quantity=1,
            price=Decimal(9800),
            currency="JPY",
        )
    )
    db.flush()
    refresh_customer_products(db, shop.id, [run.customer_id])
    db.commit()
    assert run_flow_step(run.id, 1) == "exited:ordered"
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []
    [run] = stock_runs(db)
    assert run.exit_reason == "ordered"


def test_the_frequency_cap_postpones_the_notice(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    shop, product, variant = connect(runtime, sandbox, db)
    assert ask(client, "busy@example.jp", product).status_code == 201
    restock(sandbox, drain_jobs, variant, 1)
    [run] = stock_runs(db)
    earlier = FlowRun(
        shop_id=shop.id,
        flow_key="winback",
        customer_id=run.customer_id,
        trigger_key="lapse:1",
        status="completed",
    )
    db.add(earlier)
    db.flush()
    sent_at = datetime.now(UTC) - timedelta(hours=1)
    db.add(
        Message(
            shop_id=shop.id,
            flow_run_id=earlier.id,
            step=1,
            customer_id=run.customer_id,
            status="sent",
            sent_at=sent_at,
        )
    )
    db.commit()
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []
    msg = db.scalars(select(Message).where(Message.flow_run_id == run.id)).one()
    assert (msg.status, msg.not_before) == ("pending", sent_at + timedelta(hours=16))


def test_the_backtest_replays_the_notices_a_hand_count_gives(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
) -> None:
    shop, product, variant = connect(runtime, sandbox, db)
    start = datetime.now(UTC) - timedelta(hours=1)
    for email in ("a@example.jp", "b@example.jp", "c@example.jp"):
        assert ask(client, email, product).status_code == 201
    restock(sandbox, drain_jobs, variant, 2)
    result = simulate(db, shop, BACK_IN_STOCK, start)
    assert result.totals.entered == 2  # two notified, one still waiting
    assert result.totals.emails == 2
    assert sorted(e.masked_email for e in result.entries) == ["a***@example.jp", "b***@example.jp"]


# --- WooCommerce -----------------------------------------------------------------------------


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    platform = SandboxWooCommerce(seed=11)
    platform.add_store(url_path=STORE, customers=2, years=1, currency="JPY")
    platform.url = serve(platform.wsgi_app).url  # type: ignore[attr-defined]
    yield platform
    platform.close()


def test_a_woocommerce_product_back_in_stock_notifies_its_subscribers(
    client: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id,
        platform="woocommerce",
        domain=f"{woo.url}/{STORE}",  # type: ignore[attr-defined]
        status="active",
        currency="JPY",
        timezone="UTC",
        locale="ja",
        name="絆ティー",
        sender_identity=dict(SENDER_IDENTITY),
    )
    db.add(shop)
    db.flush()
    secret = "webhook-secret-0123456789"
    db.add(
        WooCommerceShop(shop_id=shop.id, webhook_secret_encrypted=runtime.cipher.encrypt(secret))
    )
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key=BACK_IN_STOCK,
            config={**STOCK_DEFAULTS, "quiet_hours": None},
        )
    )
    db.commit()
    product_id = sorted(woo.store(STORE).products)[0]

    def deliver(topic: str) -> None:
        body = json.dumps(woo.render(STORE, "products", product_id)).encode()
        response = client.post(
            f"/webhooks/woocommerce?shop={shop.id}",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Signature": sign(body, secret),
            },
        )
        assert response.status_code == 200
        drain_jobs(WEBHOOKS)

    woo.set_stock(STORE, product_id, 0)
    deliver("product.updated")  # the product, sold out, reaches Kizuna
    key = capture_key(runtime.config.secret_key, shop.id)
    origin = woo.url  # type: ignore[attr-defined]
    for email in ("one@example.jp", "two@example.jp"):
        response = client.post(
            f"/storefront/back-in-stock?shop={shop.id}&key={key}",
            json={"email": email, "product": product_id},
            headers={"Origin": origin},
        )
        assert response.status_code == 201
    woo.set_stock(STORE, product_id, 1)
    deliver("product.updated")
    [run] = stock_runs(db)
    assert customer_of(db, run).external_id == "guest:one@example.jp"
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [mail] = sendgrid.outbox
    assert mail.to_email == "one@example.jp"
    assert "再入荷" in mail.subject
