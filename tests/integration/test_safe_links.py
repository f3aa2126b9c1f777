"""Only http(s) URLs from platform or shopper data reach an email's links and images.

Integration tests on real PostgreSQL and Redis; emails go over HTTP to the simulated SendGrid
and are read back from its outbox, on the one-run path and the set-wise (shared content) path.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows.post_purchase import product_cards
from app.models import Customer, Product, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from app.models.product import ProductVariant
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import dispatch_due_steps, run_flow_step
from jobs.send_email import send_message
from tests.factories import cart_flow
from tests.factories.flow_dispatch import LINE_ITEMS, _cart, _shop
from tests.factories.shops import build_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid


HOSTILE_URLS = (
    "javascript:alert(document.cookie)",
    " JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "//evil.example/phish",
    "vbscript:msgbox(1)",
)
LINK = re.compile(r'(?:href|src)="([^"]*)"')


def links(html: str | None) -> list[str]:
    return LINK.findall(html or "")


def assert_only_web_links(html: str | None, text: str | None) -> None:
    assert links(html), "the email has links"
    for link in links(html):
        assert link.startswith(("https://", "http://")), link
    for hostile in ("javascript:", "data:", "vbscript:", "evil.example"):
        assert hostile not in (html or "").lower()
        assert hostile not in (text or "").lower()


def send_one_by_one(db: Session, runs: list[FlowRun], step: int = 1) -> None:
    for run in runs:
        assert run_flow_step(run.id, step) == "created"
    ids = {run.id for run in runs}
    for message in db.scalars(select(Message).where(Message.status == "pending")).all():
        if message.flow_run_id in ids:
            send_message(message.id)


def test_cart_emails_send_hostile_checkout_and_image_urls_to_the_shop_home(
    db: Session, runtime: Any, sendgrid: SandboxSendGrid
) -> None:
    hostile_item = {**LINE_ITEMS[0], "image_url": "javascript:alert(1)"}
    one_shop = _shop(db, "links-one.myshopify.com")
    set_shop = _shop(db, "links-set.myshopify.com")
    home_of: dict[str, str] = {}  # recipient → the shop home their button must open
    one_runs = []
    for n, url in enumerate(HOSTILE_URLS):
        for shop, offset in ((one_shop, 100), (set_shop, 200)):
            customer, checkout, run = _cart(db, shop, offset + n, line_items=[hostile_item])
            checkout.recovery_url = url
            home_of[customer.email or ""] = f"https://{shop.domain}"
            if shop is one_shop:
                one_runs.append(run)
    _, fine, _ = _cart(db, set_shop, 999)
    db.commit()

    send_one_by_one(db, one_runs)
    outcomes = dispatch_due_steps(set_shop.id, "cart", 1)
    assert outcomes.get("sent:sent") == len(HOSTILE_URLS) + 1  # one batch, shared content

    outbox = sendgrid.outbox
    assert len(outbox) == 2 * len(HOSTILE_URLS) + 1
    for sent in outbox:
        assert_only_web_links(sent.html, sent.text)
        if sent.to_email == "c999@example.jp":  # a good recovery link is kept as it is
            assert f'href="{fine.recovery_url}"'.replace("&", "&amp;") in (sent.html or "")
            continue
        home = home_of[sent.to_email]
        assert f'href="{home}"' in (sent.html or ""), sent.to_email
        assert home in (sent.text or "")
        assert "<img" not in (sent.html or "")  # the hostile image is dropped, the row stays
        assert "抹茶セット" in (sent.html or "")


def _winback_run(db: Session, shop: Shop) -> FlowRun:
    db.add(
        FlowSetting(
            shop_id=shop.id, flow_key="winback", config={"holdout_percent": 0, "quiet_hours": None}
        )
    )
    customer = Customer(
        shop_id=shop.id,
        external_id=f"wb-{shop.id}",
        email=f"wb{shop.id}@example.jp",
        email_normalized=f"wb{shop.id}@example.jp",
        first_name="Hanako",
        locale="en",
        email_marketing_state="SUBSCRIBED",
    )
    db.add(customer)
    db.flush()
    run = FlowRun(
        shop_id=shop.id,
        flow_key="winback",
        customer_id=customer.id,
        trigger_key="lapse:1",
        status="running",
        next_step=1,
        next_step_at=utcnow() - timedelta(seconds=5),
        started_at=utcnow() - timedelta(minutes=1),
    )
    db.add(run)
    db.commit()
    return run


def _woocommerce_shop(db: Session, url: str) -> Shop:
    return build_shop(
        db,
        url,
        account_name="Woo merchant",
        commit=False,
        platform="woocommerce",
        name="Woo Tea",
        timezone="UTC",
        locale="en",
        currency="JPY",
    )


@pytest.mark.parametrize(
    ("platform", "address", "home"),
    [
        ("shopify", "wb-links.myshopify.com", "https://wb-links.myshopify.com"),
        ("woocommerce", "http://woo-tea.example:8080/shop", "http://woo-tea.example:8080/shop"),
        ("woocommerce", "https://woo-tea.example", "https://woo-tea.example"),
    ],
)
def test_winback_emails_link_to_the_store_home_on_both_platforms(
    db: Session, runtime: Any, sendgrid: SandboxSendGrid, platform: str, address: str, home: str
) -> None:
    shop = _shop(db, address) if platform == "shopify" else _woocommerce_shop(db, address)
    send_one_by_one(db, [_winback_run(db, shop)])
    [sent] = sendgrid.outbox
    assert_only_web_links(sent.html, sent.text)
    store_links = re.findall(r'href="([^"]*)"[^>]*>Visit the store<', sent.html or "")
    assert store_links == [home]
    assert "https://http" not in (sent.html or "") + (sent.text or "")


def test_product_cards_drop_hostile_images_and_link_to_the_store(db: Session, app: Any) -> None:
    shop = _woocommerce_shop(db, "http://woo-tea.example")
    product = Product(
        shop_id=shop.id,
        external_id="41",
        title="Sencha",
        handle="sencha",
        image_url="javascript:alert(1)",
    )
    product.variants.append(
        ProductVariant(
            shop_id=shop.id,
            external_id="41-1",
            price=Decimal(900),
            currency="JPY",
            image_url="data:image/svg+xml,<svg onload=alert(1)>",
        )
    )
    db.add(product)
    db.commit()
    with app.app_context():
        [card] = product_cards(db, shop, ["41"], "en")
    assert card["image_url"] is None
    assert card["url"] == "http://woo-tea.example/?post_type=product&p=41"
